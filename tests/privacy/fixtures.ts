import fs from 'node:fs';
import path from 'node:path';

/** Reads tests/fixtures/<name> (copied from shared/vectors; tests/fixtures/README.md says from where). */
export function loadFixture<T = unknown>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '..', 'fixtures', name), 'utf8')) as T;
}

export function relErr(actual: number, expected: number): number {
  return expected === 0 ? Math.abs(actual) : Math.abs(actual - expected) / Math.abs(expected);
}
