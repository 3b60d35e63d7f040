#!/bin/sh
# fedwear gateway uninstaller. Idempotent.
#   sudo ./uninstall.sh          remove the program, service and udev rule; KEEP the data
#                                (/var/lib/fedwear: records, ledger, keys), the config and the user
#   sudo ./uninstall.sh --purge  also delete /var/lib/fedwear, /etc/fedwear and the fedwear user
# Options: --root DIR (as install.sh: a fake root, no systemctl/udevadm/userdel)
set -eu

ROOT=/
PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
R=${ROOT%/}
SERVICE=fedwear-gateway.service
SYSTEM=1
[ -n "$R" ] && SYSTEM=0
say() { echo "fedwear uninstall: $*"; }
system() {
  if [ "$SYSTEM" = 1 ]; then "$@"; else say "fake root, skipped: $*"; fi
}
if [ "$SYSTEM" = 1 ] && [ "$(id -u)" != 0 ]; then
  echo "uninstall.sh: run as root (sudo), or use --root DIR" >&2
  exit 1
fi

if [ "$SYSTEM" = 1 ] && systemctl list-unit-files "$SERVICE" >/dev/null 2>&1; then
  systemctl disable --now "$SERVICE" 2>/dev/null || true
fi
rm -f "$R/etc/systemd/system/$SERVICE" "$R/etc/udev/rules.d/99-fedwear-wearable.rules"
if [ -L "$R/usr/local/bin/fedwear-gateway" ]; then rm -f "$R/usr/local/bin/fedwear-gateway"; fi
rm -rf "$R/opt/fedwear"
system systemctl daemon-reload
system udevadm control --reload-rules

if [ "$PURGE" = 1 ]; then
  rm -rf "$R/var/lib/fedwear" "$R/etc/fedwear"
  if [ "$SYSTEM" = 1 ] && getent passwd fedwear >/dev/null; then userdel fedwear || true; fi
  if [ "$SYSTEM" = 1 ] && getent group fedwear >/dev/null; then groupdel fedwear || true; fi
  say "removed the program, its data, keys and configuration"
else
  [ -d "$R/var/lib/fedwear" ] && say "kept $R/var/lib/fedwear (data, ledger, keys) and $R/etc/fedwear; --purge deletes them"
  say "removed the program"
fi
