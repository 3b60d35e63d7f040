/**
 * install.sh / uninstall.sh in a fake root (--root): idempotent, an upgrade keeps the data and the
 * config and leaves the previous release to roll back to. The package here is the real skeleton
 * (scripts, unit, rule, templates, model) without the bundle, which these scripts never run.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeChecksums, writePackageSkeleton } from '../../gateway/package/index.ts';
import { removeTempDirs, tempDir } from './helpers.ts';

afterAll(removeTempDirs);

function fakePackage(version: string): string {
  const dir = path.join(tempDir(`pkg-${version}`), `fedwear-gateway-${version}-linux-x64`);
  writePackageSkeleton(dir, { version, arch: 'x64' });
  writeChecksums(dir);
  return dir;
}

function sh(script: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync('sh', [script, ...args], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** The tree below `root`: files with their content hash-free size and mode, links with their targets. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const ent of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const r = `${rel}/${ent.name}`;
      const full = path.join(d, ent.name);
      const st = fs.lstatSync(full);
      if (st.isSymbolicLink()) out.push(`${r} -> ${fs.readlinkSync(full)}`);
      else if (st.isDirectory()) {
        out.push(`${r}/ ${(st.mode & 0o777).toString(8)}`);
        walk(full, r);
      } else out.push(`${r} ${st.size} ${(st.mode & 0o777).toString(8)}`);
    }
  };
  walk(root, '');
  return out;
}

describe('install.sh and uninstall.sh in a fake root', () => {
  const root = tempDir('root');
  const v1 = fakePackage('1.0.0');
  const v2 = fakePackage('1.1.0');
  const opt = path.join(root, 'opt/fedwear');

  it('installs, and a second run changes nothing', () => {
    const first = sh(path.join(v1, 'install.sh'), ['--root', root]);
    expect(first.out).toContain('installed release 1.0.0');
    expect(first.status).toBe(0);
    expect(fs.readlinkSync(path.join(opt, 'current'))).toBe('releases/1.0.0');
    expect(fs.existsSync(path.join(opt, 'previous'))).toBe(false);
    expect(fs.readFileSync(path.join(opt, 'current/VERSION'), 'utf8').trim()).toBe('1.0.0');
    expect(fs.existsSync(path.join(root, 'etc/systemd/system/fedwear-gateway.service'))).toBe(true);
    expect(fs.existsSync(path.join(root, 'etc/udev/rules.d/99-fedwear-wearable.rules'))).toBe(true);
    expect(fs.readlinkSync(path.join(root, 'usr/local/bin/fedwear-gateway'))).toBe('/opt/fedwear/current/bin/fedwear-gateway');
    expect(fs.statSync(path.join(root, 'var/lib/fedwear')).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(root, 'etc/fedwear/gateway.yaml')).mode & 0o777).toBe(0o640);

    const before = snapshot(root);
    const second = sh(path.join(v1, 'install.sh'), ['--root', root]);
    expect(second.status).toBe(0);
    expect(second.out).toContain('release 1.0.0 already installed');
    expect(snapshot(root)).toEqual(before);
  });

  it('upgrades without touching the data, the keys or the edited config; the old release stays', () => {
    const data = path.join(root, 'var/lib/fedwear/data');
    fs.mkdirSync(path.join(data, 'keys'), { recursive: true });
    fs.writeFileSync(path.join(data, 'ledger.jsonl'), '{"index":0}\n');
    fs.writeFileSync(path.join(data, 'keys/ledger-key.pem'), 'PRIVATE', { mode: 0o600 });
    const config = path.join(root, 'etc/fedwear/gateway.yaml');
    fs.writeFileSync(config, 'userId: bob # edited\n');

    const up = sh(path.join(v2, 'install.sh'), ['--root', root]);
    expect(up.status).toBe(0);
    expect(fs.readlinkSync(path.join(opt, 'current'))).toBe('releases/1.1.0');
    expect(fs.readlinkSync(path.join(opt, 'previous'))).toBe('releases/1.0.0');
    expect(fs.readFileSync(path.join(opt, 'releases/1.0.0/VERSION'), 'utf8').trim()).toBe('1.0.0');
    expect(fs.readFileSync(path.join(data, 'ledger.jsonl'), 'utf8')).toBe('{"index":0}\n');
    expect(fs.readFileSync(path.join(data, 'keys/ledger-key.pem'), 'utf8')).toBe('PRIVATE');
    expect(fs.statSync(path.join(data, 'keys/ledger-key.pem')).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(config, 'utf8')).toBe('userId: bob # edited\n');

    const before = snapshot(root);
    expect(sh(path.join(v2, 'install.sh'), ['--root', root]).status).toBe(0);
    expect(snapshot(root)).toEqual(before);
  });

  it('rolls back to the previous release and forward again', () => {
    const back = sh(path.join(v2, 'install.sh'), ['--root', root, '--rollback']);
    expect(back.status).toBe(0);
    expect(fs.readlinkSync(path.join(opt, 'current'))).toBe('releases/1.0.0');
    expect(fs.readlinkSync(path.join(opt, 'previous'))).toBe('releases/1.1.0');
    expect(sh(path.join(v1, 'install.sh'), ['--root', root, '--rollback']).status).toBe(0);
    expect(fs.readlinkSync(path.join(opt, 'current'))).toBe('releases/1.1.0');
    expect(fs.readFileSync(path.join(root, 'var/lib/fedwear/data/ledger.jsonl'), 'utf8')).toBe('{"index":0}\n');
  });

  it('keeps only --keep releases, never current or previous', () => {
    const extra = tempDir('keep-root');
    for (const v of [v1, v2, fakePackage('1.2.0'), fakePackage('1.3.0')]) expect(sh(path.join(v, 'install.sh'), ['--root', extra, '--keep', '2']).status).toBe(0);
    const releases = path.join(extra, 'opt/fedwear/releases');
    expect(fs.readdirSync(releases).sort()).toEqual(['1.2.0', '1.3.0']);
    expect(fs.readlinkSync(path.join(extra, 'opt/fedwear/current'))).toBe('releases/1.3.0');
    expect(fs.readlinkSync(path.join(extra, 'opt/fedwear/previous'))).toBe('releases/1.2.0');
    // --keep 1 still keeps current and previous.
    expect(sh(path.join(v1, 'install.sh'), ['--root', extra, '--keep', '1']).status).toBe(0);
    expect(fs.readdirSync(releases).sort()).toEqual(['1.0.0', '1.3.0']);
  });

  it('refuses a package whose files do not match SHA256SUMS', () => {
    const v3 = fakePackage('1.2.0-tampered');
    fs.appendFileSync(path.join(v3, 'share/gateway.yaml'), '# tampered\n');
    const r = sh(path.join(v3, 'install.sh'), ['--root', root]);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('does not match SHA256SUMS');
    expect(fs.existsSync(path.join(opt, 'releases/1.2.0-tampered'))).toBe(false);
    expect(fs.readlinkSync(path.join(opt, 'current'))).toBe('releases/1.1.0');
  });

  it('uninstalls twice, keeping the data and config; --purge removes them', () => {
    for (let i = 0; i < 2; i++) {
      const r = sh(path.join(v2, 'uninstall.sh'), ['--root', root]);
      expect(r.status, r.out).toBe(0);
      expect(fs.existsSync(opt)).toBe(false);
      expect(fs.existsSync(path.join(root, 'etc/systemd/system/fedwear-gateway.service'))).toBe(false);
      expect(fs.existsSync(path.join(root, 'etc/udev/rules.d/99-fedwear-wearable.rules'))).toBe(false);
      expect(fs.existsSync(path.join(root, 'usr/local/bin/fedwear-gateway'))).toBe(false);
      expect(fs.readFileSync(path.join(root, 'var/lib/fedwear/data/ledger.jsonl'), 'utf8')).toBe('{"index":0}\n');
      expect(fs.existsSync(path.join(root, 'etc/fedwear/gateway.yaml'))).toBe(true);
    }
    // Reinstalling after an uninstall finds the data where it was.
    expect(sh(path.join(v2, 'install.sh'), ['--root', root]).status).toBe(0);
    expect(fs.readFileSync(path.join(root, 'etc/fedwear/gateway.yaml'), 'utf8')).toBe('userId: bob # edited\n');
    expect(sh(path.join(v2, 'uninstall.sh'), ['--root', root, '--purge']).status).toBe(0);
    expect(fs.existsSync(path.join(root, 'var/lib/fedwear'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'etc/fedwear'))).toBe(false);
    expect(sh(path.join(v2, 'uninstall.sh'), ['--root', root, '--purge']).status).toBe(0);
  });
});
