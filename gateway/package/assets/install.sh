#!/bin/sh
# fedwear gateway installer: run from the unpacked package, as root.
#   sudo ./install.sh              install or upgrade to this package's version
#   sudo ./install.sh --rollback   switch back to the previously installed version
# Idempotent. Never touches /etc/fedwear/gateway.yaml once it exists, nor /var/lib/fedwear
# (records, ledger, keys, outbox): an upgrade only adds a release and moves the `current` link.
#
# Layout: /opt/fedwear/releases/<version>/, /opt/fedwear/current -> releases/<version>,
#         /opt/fedwear/previous -> the version before; config /etc/fedwear; data /var/lib/fedwear.
#
# Options: --root DIR   install below DIR instead of / (a fake root: no user, chown, systemctl
#                       or udevadm; for tests and image builders)
#          --no-start   do not enable or (re)start the service
#          --keep N     releases to keep (default 3; never fewer than current and previous)
#          --rollback   see above
set -eu

ROOT=/
ROLLBACK=0
START=1
KEEP=3
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    --rollback) ROLLBACK=1; shift ;;
    --no-start) START=0; shift ;;
    --keep) KEEP=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

PKG=$(cd "$(dirname "$0")" && pwd)
R=${ROOT%/}
OPT=$R/opt/fedwear
ETC=$R/etc/fedwear
STATE=$R/var/lib/fedwear
UNIT_DIR=$R/etc/systemd/system
RULES_DIR=$R/etc/udev/rules.d
BIN_DIR=$R/usr/local/bin
SERVICE=fedwear-gateway.service
SYSTEM=1
[ -n "$R" ] && SYSTEM=0

say() { echo "fedwear install: $*"; }
system() {
  if [ "$SYSTEM" = 1 ]; then "$@"; else say "fake root, skipped: $*"; fi
}
service_active() { [ "$SYSTEM" = 1 ] && systemctl is-active --quiet "$SERVICE"; }

if [ "$SYSTEM" = 1 ] && [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (sudo), or use --root DIR" >&2
  exit 1
fi

switch_link() { # name target: replace the link in one rename, so `current` is never missing
  ln -sfn "$2" "$OPT/.$1.tmp"
  mv -T "$OPT/.$1.tmp" "$OPT/$1"
}

if [ "$ROLLBACK" = 1 ]; then
  [ -L "$OPT/previous" ] || { echo "install.sh: no previous version to roll back to" >&2; exit 1; }
  cur=$(readlink "$OPT/current")
  prev=$(readlink "$OPT/previous")
  [ -d "$OPT/$prev" ] || { echo "install.sh: previous version $prev is missing" >&2; exit 1; }
  switch_link current "$prev"
  switch_link previous "$cur"
  say "current -> $prev (previous -> $cur)"
  if service_active; then system systemctl restart "$SERVICE"; fi
  exit 0
fi

VERSION=$(cat "$PKG/VERSION")
case "$VERSION" in ''|*/*|.*) echo "install.sh: bad VERSION '$VERSION'" >&2; exit 1 ;; esac

# The package must be what was built: every file against SHA256SUMS.
if command -v sha256sum >/dev/null 2>&1; then
  (cd "$PKG" && sha256sum --quiet --strict -c SHA256SUMS) || { echo "install.sh: the package does not match SHA256SUMS" >&2; exit 1; }
fi

if [ "$SYSTEM" = 1 ]; then
  if ! command -v node >/dev/null 2>&1; then
    echo "install.sh: Node.js >= 20.11 is needed (see README.md, 'Node.js')" >&2; exit 1
  fi
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=11)?0:1)' \
    || { echo "install.sh: Node.js >= 20.11 is needed, found $(node --version)" >&2; exit 1; }
  if ! getent group fedwear >/dev/null; then groupadd --system fedwear; fi
  if ! getent passwd fedwear >/dev/null; then
    useradd --system --gid fedwear --home-dir /var/lib/fedwear --no-create-home --shell /usr/sbin/nologin fedwear
    say "created the system user fedwear"
  fi
fi

# The release: copied once; a re-install of the same version with the same files is a no-op.
mkdir -p "$OPT/releases"
DEST=$OPT/releases/$VERSION
if [ -d "$DEST" ] && cmp -s "$DEST/SHA256SUMS" "$PKG/SHA256SUMS"; then
  say "release $VERSION already installed"
else
  rm -rf "$OPT/releases/.$VERSION.tmp"
  cp -R "$PKG" "$OPT/releases/.$VERSION.tmp"
  rm -rf "$DEST"
  mv "$OPT/releases/.$VERSION.tmp" "$DEST"
  say "installed release $VERSION"
fi
# Root owns the code the service runs, whoever unpacked the tarball.
system chown -R root:root "$DEST"
chmod -R go-w "$DEST"

OLD=""
[ -L "$OPT/current" ] && OLD=$(readlink "$OPT/current")
if [ "$OLD" != "releases/$VERSION" ]; then
  if [ -n "$OLD" ]; then switch_link previous "$OLD"; fi
  switch_link current "releases/$VERSION"
  say "current -> releases/$VERSION${OLD:+ (previous -> $OLD)}"
fi

# Old releases go, oldest install first, keeping KEEP of them and always current and previous.
case "$KEEP" in ''|*[!0-9]*) echo "install.sh: --keep expects a number" >&2; exit 2 ;; esac
CUR=$(readlink "$OPT/current" 2>/dev/null || true)
PREV=$(readlink "$OPT/previous" 2>/dev/null || true)
COUNT=$(ls -1 "$OPT/releases" | wc -l)
for v in $(ls -1tr "$OPT/releases"); do
  [ "$COUNT" -le "$KEEP" ] && break
  case "releases/$v" in "$CUR"|"$PREV") continue ;; esac
  rm -rf "${OPT:?}/releases/$v"
  COUNT=$((COUNT - 1))
  say "removed old release $v"
done

# Configuration: the template only if there is none; the user's edits are never replaced.
mkdir -p "$ETC"
if [ ! -e "$ETC/gateway.yaml" ]; then
  cp "$PKG/share/gateway.yaml" "$ETC/gateway.yaml"
  chmod 0640 "$ETC/gateway.yaml"
  system chgrp fedwear "$ETC/gateway.yaml"
  say "wrote $ETC/gateway.yaml: edit userId, clientId, broker.url and profile before starting"
  FRESH_CONFIG=1
else
  FRESH_CONFIG=0
fi

# Data: created empty once (systemd's StateDirectory would too); never modified here.
if [ ! -d "$STATE" ]; then
  mkdir -p "$STATE"
  chmod 0700 "$STATE"
  system chown fedwear:fedwear "$STATE"
fi

mkdir -p "$UNIT_DIR" "$RULES_DIR" "$BIN_DIR"
cp "$PKG/share/systemd/$SERVICE" "$UNIT_DIR/$SERVICE.tmp" && mv "$UNIT_DIR/$SERVICE.tmp" "$UNIT_DIR/$SERVICE"
cp "$PKG/share/udev/99-fedwear-wearable.rules" "$RULES_DIR/.99-fedwear-wearable.rules.tmp" && mv "$RULES_DIR/.99-fedwear-wearable.rules.tmp" "$RULES_DIR/99-fedwear-wearable.rules"
ln -sfn /opt/fedwear/current/bin/fedwear-gateway "$BIN_DIR/fedwear-gateway"

system systemctl daemon-reload
# Without a running udev (containers, chroots) the rule still takes effect at the next boot.
system udevadm control --reload-rules || say "udevadm failed; the udev rule applies after a reboot"
system udevadm trigger --subsystem-match=tty --action=add || true
if [ "$START" = 1 ]; then
  system systemctl enable "$SERVICE"
  if service_active; then
    system systemctl restart "$SERVICE"
    say "restarted $SERVICE on $VERSION"
  elif [ "$FRESH_CONFIG" = 0 ]; then
    system systemctl start "$SERVICE"
  else
    say "edit $ETC/gateway.yaml, then: sudo systemctl start $SERVICE"
  fi
fi
say "done ($VERSION)"
