import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fuzzTarget, loadCorpus } from './targets.ts';
import { fuzz } from './harness.ts';
import { fuzzRandom, generateInput } from './mutate.ts';
import { GatewayConfigError, loadGatewayConfig } from '../../gateway/index.ts';
import { loadBrokerConfig } from '../../broker/index.ts';

// Fixed-seed runs of the text parsers (YAML + schema is ~1-2 ms an input, so fewer here).
const RUNS: Record<string, number> = { ledger: 1500, 'gateway-config': 200, 'broker-config': 300 };

describe('fuzz: text parsers', () => {
  it.each(Object.entries(RUNS))('%s: %i mutated and random inputs, no failure', (name, n) => {
    const tally = fuzz(fuzzTarget(name), 20261128, n);
    expect(tally.inputs).toBe(n);
    expect(tally.examples).toEqual([]);
    expect(tally.failures).toBe(0);
  });

  it.each(Object.keys(RUNS))('%s: the corpus samples are accepted', (name) => {
    for (const sample of loadCorpus(name)) expect(fuzzTarget(name).run(sample)).toBeUndefined();
  });

  it('the ledger parser refuses malformed lines with a reason and keeps the torn tail apart', async () => {
    const { parseLedgerText } = await import('../../privacy/index.ts');
    const [good, torn] = loadCorpus('ledger');
    expect(parseLedgerText(good).lines.every((l) => l.check.ok)).toBe(true);
    expect(parseLedgerText(torn).tornTail).not.toBeNull();
    const flipped = Uint8Array.from(good);
    flipped[10] = 0xff; // invalid UTF-8 in line 1
    expect(parseLedgerText(flipped).lines[0].check).toMatchObject({ ok: false, kind: 'malformed' });
  });

  it('the real loaders (file, YAML, schema) give their clear error for mutated files', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fedwear-fuzz-'));
    try {
      const rng = fuzzRandom(11);
      const cases: [string, (f: string) => unknown, (e: Error) => boolean][] = [
        ['gateway-config', loadGatewayConfig, (e) => e instanceof GatewayConfigError],
        ['broker-config', loadBrokerConfig, (e) => e.constructor === Error && /broker config/.test(e.message)],
      ];
      for (const [name, load, documented] of cases) {
        const corpus = loadCorpus(name);
        let refused = 0;
        for (let i = 0; i < 60; i++) {
          const file = path.join(dir, `${name}-${i}.yaml`);
          writeFileSync(file, generateInput(rng, corpus, 8192));
          try {
            load(file);
          } catch (e) {
            expect(documented(e as Error), (e as Error).stack).toBe(true);
            expect((e as Error).message.length).toBeGreaterThan(10);
            refused++;
          }
        }
        expect(refused).toBeGreaterThan(30);
      }
      // An alias to an unknown anchor: yaml throws a bare ReferenceError, the loader names the file.
      const alias = path.join(dir, 'alias.yaml');
      writeFileSync(alias, 'clientId: *nowhere\n');
      expect(() => loadGatewayConfig(alias)).toThrow(GatewayConfigError);
      // Billion laughs: yaml's alias-count cap refuses it instead of expanding.
      const laughs = path.join(dir, 'laughs.yaml');
      const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
      for (let i = 1; i < 9; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill('*' + String.fromCharCode(96 + i)).join(',')}]`);
      writeFileSync(laughs, lines.join('\n') + '\n');
      expect(() => loadGatewayConfig(laughs)).toThrow(/does not parse: Excessive alias count/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
