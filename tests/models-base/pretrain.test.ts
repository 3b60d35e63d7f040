/**
 * Pretraining is a pure function of its configuration: a tiny configuration (every stage, seconds)
 * run twice in-process, and once through the real `fedwear model pretrain` command, gives the same bytes.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MODEL_FILES,
  type PretrainResult,
  checkPretrainConfig,
  evaluateModelDir,
  loadModelDir,
  parseManifest,
  pretrainBaseModel,
  sha256Hex,
  tinyPretrainConfig,
  writeModelFiles,
} from '../../models/index.ts';
import { runCli } from '../helpers/run-cli.ts';

const decode = (b: Uint8Array) => new TextDecoder().decode(b);
let first: PretrainResult;
let second: PretrainResult;
const tmp = mkdtempSync(path.join(tmpdir(), 'fedwear-pretrain-'));

beforeAll(async () => {
  first = await pretrainBaseModel(tinyPretrainConfig(4));
  second = await pretrainBaseModel(tinyPretrainConfig(4));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('pretrain (tiny configuration)', () => {
  it('writes every model-directory file', () => {
    expect(Object.keys(first.files).sort()).toEqual(Object.values(MODEL_FILES).sort());
  });

  it('is deterministic: same configuration, identical bytes in every file', () => {
    for (const [name, bytes] of Object.entries(first.files)) expect(sha256Hex(second.files[name]), name).toBe(sha256Hex(bytes));
  });

  it('depends on the seed', async () => {
    const other = await pretrainBaseModel(tinyPretrainConfig(5));
    expect(sha256Hex(other.files[MODEL_FILES.int8Onnx])).not.toBe(sha256Hex(first.files[MODEL_FILES.int8Onnx]));
    expect(other.manifest.modelVersion).toBe('base-5');
  });

  it('produces a manifest that hashes its ONNX, and a directory that loads and cross-checks', async () => {
    const m = parseManifest(JSON.parse(decode(first.files[MODEL_FILES.manifest])));
    expect(m.onnx.sha256).toBe(sha256Hex(first.files[MODEL_FILES.int8Onnx]));
    expect(m.modelVersion).toBe('base-4');
    const dir = path.join(tmp, 'in-process');
    await writeModelFiles(dir, first.files);
    const loaded = await loadModelDir(dir);
    expect(Array.from(loaded.params.model.params)).toEqual(Array.from(first.model.params));
  });

  it('evaluates every predictor and says so in the markdown', () => {
    const md = decode(first.files[MODEL_FILES.evaluationMd]);
    for (const p of ['Keytel', 'Keytel+VO2max', 'steps', 'base float', 'base int8']) expect(md).toContain(`${p} MAE (MAPE)`);
    expect(first.evaluation.tables.map((t) => t.id)).toContain('heldOutUsers-all');
    const all = first.evaluation.tables.find((t) => t.id === 'heldOutUsers-all')!;
    expect(all.report.metrics['base int8'].overall.n).toBeGreaterThan(1000);
  });

  it('rejects a bad configuration naming the option', () => {
    expect(() => checkPretrainConfig({ ...tinyPretrainConfig(1), hidden: [] })).toThrow(/hidden/);
    expect(() => checkPretrainConfig({ ...tinyPretrainConfig(1), population: { ...tinyPretrainConfig(1).population, trainDays: 0 } })).toThrow(/trainDays/);
  });

  it('`fedwear model pretrain` writes the same bytes, and evaluating the directory re-runs the same tables', async () => {
    const dir = path.join(tmp, 'cli');
    const r = await runCli([
      'model', 'pretrain', '--seed', '4', '--out', dir,
      '--users', '5', '--days', '1', '--eval-days', '1', '--eval-day-users', '1', '--held-out-users', '1', '--held-out-days', '1',
      '--hidden', '8,4', '--epochs', '3', '--qat-epochs', '1',
    ]);
    expect(r.stderr).toContain('wrote model.onnx');
    expect(r.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(Object.values(MODEL_FILES).sort());
    for (const [name, bytes] of Object.entries(first.files)) expect(sha256Hex(new Uint8Array(readFileSync(path.join(dir, name)))), name).toBe(sha256Hex(bytes));

    // What `fedwear model evaluate --model DIR` prints (in-process: one process spawn per test is enough).
    const ev = await evaluateModelDir(dir);
    expect(ev.markdown).toBe(decode(first.files[MODEL_FILES.evaluationMd]));
  });
});
