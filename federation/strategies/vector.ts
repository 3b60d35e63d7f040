/** Small vector helpers shared by the strategies. */
import type { ClientUpdate } from './types.ts';

export function l2Norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

/** θ + lr·step, rounded once to float32. */
export function applyStep(globalParams: Float32Array, step: ArrayLike<number>, lr = 1): Float32Array {
  const out = new Float32Array(globalParams.length);
  for (let i = 0; i < out.length; i++) out[i] = globalParams[i] + lr * step[i];
  return out;
}

/** Throws a RangeError naming the update and field that is wrong. */
export function checkUpdates(strategy: string, globalParams: Float32Array, updates: readonly ClientUpdate[]): void {
  if (!(globalParams instanceof Float32Array)) throw new TypeError(`${strategy}: globalParams must be a Float32Array`);
  if (!Array.isArray(updates) || updates.length === 0) throw new RangeError(`${strategy}: no updates to aggregate`);
  updates.forEach((u, k) => {
    const who = `update ${k} (client ${u?.clientId})`;
    if (!(u?.delta instanceof Float32Array)) throw new TypeError(`${strategy}: ${who} delta must be a Float32Array`);
    if (u.delta.length !== globalParams.length) throw new RangeError(`${strategy}: ${who} delta has ${u.delta.length} values, the model has ${globalParams.length}`);
    if (u.staleness !== undefined && !(Number.isInteger(u.staleness) && u.staleness >= 0)) {
      throw new RangeError(`${strategy}: ${who} staleness must be a non-negative integer (got ${u.staleness})`);
    }
  });
}

export function checkPositive(strategy: string, name: string, v: number): void {
  if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`${strategy}: ${name} must be positive and finite (got ${v})`);
}

export function meanStaleness(updates: readonly ClientUpdate[]): number {
  return updates.reduce((a, u) => a + (u.staleness ?? 0), 0) / updates.length;
}
