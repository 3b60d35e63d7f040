/**
 * Accountants by name. The PRV accountant lives in privacy/prv/ (another module, loaded lazily so this
 * package works before and without it).
 */
import type { Accountant, AccountantName } from './types.ts';
import { rdpAccountant } from './rdp.ts';

/** Returns the named accountant; 'prv' needs privacy/prv/index.ts to export `prvAccountant`. */
export async function loadAccountant(name: AccountantName): Promise<Accountant> {
  if (name === 'rdp') return rdpAccountant;
  if (name === 'prv') {
    let mod: Record<string, unknown>;
    try {
      // A computed specifier keeps the type checker (and bundlers) from requiring the module to exist.
      mod = (await import(new URL('./prv/index.ts', import.meta.url).href)) as Record<string, unknown>;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new Error('prv accountant not available yet');
      throw err;
    }
    const prv = mod.prvAccountant as Accountant | undefined;
    if (!prv || typeof prv.epsilon !== 'function') throw new Error('prv accountant not available yet (privacy/prv/index.ts does not export prvAccountant)');
    return prv;
  }
  throw new RangeError(`accountant must be 'rdp' or 'prv' (got ${String(name)})`);
}
