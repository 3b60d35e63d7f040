import fs from 'node:fs';
import path from 'node:path';

/**
 * Reads a JSON fixture with JSON.parse. Some fixtures hold strings that are valid JSON but that
 * vite's JSON import rejects (a lone surrogate escape, kept on purpose to test UTF-8 refusal).
 */
export function loadFixture<T>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '..', 'fixtures', name), 'utf8')) as T;
}
