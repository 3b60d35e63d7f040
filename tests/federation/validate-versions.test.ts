/** validateUpdate's modelVersionOfRound: buffered mode, where a stale update names its own round's model. */
import { describe, expect, it } from 'vitest';
import { SeenUpdates, validateUpdate, type ValidationContext } from '../../federation/index.ts';
import { BODY_SHAPES, BODY_SIZE, gaussianVector, makeKeys, sealUpdate } from './helpers.ts';

const alice = makeKeys();
const delta = gaussianVector(BODY_SIZE, 5, 0.05);
const versions = new Map([
  [5, 'global-4'],
  [6, 'global-5'],
  [7, 'global-6'],
]);

function ctx(over: Partial<ValidationContext> = {}): ValidationContext {
  return {
    modelVersion: 'global-6',
    shapes: BODY_SHAPES,
    openRound: 7,
    maxStaleness: 2,
    modelVersionOfRound: (r) => versions.get(r),
    normBound: 10,
    maxBytes: 64 * 1024,
    publicKeyOf: (id) => (id === 'gw-alice' ? alice.publicKey : undefined),
    seen: new SeenUpdates(),
    ...over,
  };
}

describe('validateUpdate with modelVersionOfRound', () => {
  it('accepts a stale update that names the model its round announced, with its staleness', () => {
    const r = validateUpdate(sealUpdate(alice, delta, { roundId: 5, modelVersion: 'global-4' }), ctx());
    expect(r.ok && r.update.staleness).toBe(2);
  });

  it('refuses a stale update that names the current model instead of its round\'s', () => {
    const r = validateUpdate(sealUpdate(alice, delta, { roundId: 6, modelVersion: 'global-6' }), ctx());
    expect(r).toMatchObject({ ok: false, reason: 'model-version' });
    expect(!r.ok && r.detail).toMatch(/round 6 announced "global-5"/);
  });

  it('still wants the current version for the open round', () => {
    expect(validateUpdate(sealUpdate(alice, delta, { roundId: 7, modelVersion: 'global-6' }), ctx()).ok).toBe(true);
    expect(validateUpdate(sealUpdate(alice, delta, { roundId: 7, modelVersion: 'global-5' }), ctx())).toMatchObject({ ok: false, reason: 'model-version' });
  });

  it('outside the window the current version is expected, as without the option', () => {
    const r = validateUpdate(sealUpdate(alice, delta, { roundId: 4, modelVersion: 'global-3' }), ctx());
    expect(r).toMatchObject({ ok: false, reason: 'model-version' });
    const same = validateUpdate(sealUpdate(alice, delta, { roundId: 4, modelVersion: 'global-6' }), ctx());
    expect(same).toMatchObject({ ok: false, reason: 'stale-round' });
  });
});
