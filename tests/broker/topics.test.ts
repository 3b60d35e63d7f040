import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTopic, parseTopic, topicFilters, topics, type FedwearTopic, usernameOfClientId, isValidClientId } from '../../broker/index.ts';

describe('topics', () => {
  it('builds the design table\'s topics under fedwear/v1', () => {
    expect(topics.modelCurrent()).toBe('fedwear/v1/model/current');
    expect(topics.roundsCurrent()).toBe('fedwear/v1/rounds/current');
    expect(topics.updates('gw-alice')).toBe('fedwear/v1/updates/gw-alice');
    expect(topics.privacyLedger('alice')).toBe('fedwear/v1/privacy/alice/ledger');
    expect(topics.privacyBudget('alice')).toBe('fedwear/v1/privacy/alice/budget');
    expect(topics.audit('alice')).toBe('fedwear/v1/audit/alice');
    expect(topics.metricsRounds()).toBe('fedwear/v1/metrics/rounds');
    expect(topics.status('aggregator:shard-1')).toBe('fedwear/v1/status/aggregator:shard-1');
    expect(topicFilters.allUpdates).toBe('fedwear/v1/updates/+');
    expect(topicFilters.privacyOf('bob')).toBe('fedwear/v1/privacy/bob/#');
  });

  it('refuses ids that would change the topic structure, naming the id', () => {
    for (const bad of ['a/b', '+', '#', '', 'a b', '-lead', 'x'.repeat(65)]) {
      expect(() => topics.updates(bad)).toThrow(`gateway username "${bad}" is not usable in a topic`);
      expect(() => topics.privacyLedger(bad)).toThrow(`userId "${bad}"`);
    }
    expect(() => topics.status('gw:a:b')).toThrow(/clientId "gw:a:b"/);
  });

  it('parses every kind and returns null for anything else', () => {
    expect(parseTopic('fedwear/v1/updates/gw-alice')).toEqual({ kind: 'updates', gateway: 'gw-alice' });
    expect(parseTopic('fedwear/v1/privacy/alice/budget')).toEqual({ kind: 'privacy-budget', userId: 'alice' });
    expect(parseTopic('fedwear/v1/status/gw-alice:tool')).toEqual({ kind: 'status', clientId: 'gw-alice:tool' });
    for (const other of [
      'fedwear/v1/model/next', 'fedwear/v1/updates/', 'fedwear/v1/updates/a/b', 'fedwear/v1/privacy/alice', 'fedwear/v1/privacy/alice/notes',
      'fedwear/v1/updates/+', 'fedwear/v2/model/current', 'fedwear/v1', 'fedwear/v1/', '$SYS/x', 'fedwear/v1/audit/a:b',
    ]) {
      expect(parseTopic(other), other).toBeNull();
    }
  });

  it('parse and format are inverses', () => {
    const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,10}$/);
    const topicArb: fc.Arbitrary<FedwearTopic> = fc.oneof(
      fc.constant({ kind: 'model-current' as const }),
      fc.constant({ kind: 'rounds-current' as const }),
      fc.constant({ kind: 'metrics-rounds' as const }),
      id.map((gateway) => ({ kind: 'updates' as const, gateway })),
      id.map((userId) => ({ kind: 'privacy-ledger' as const, userId })),
      id.map((userId) => ({ kind: 'privacy-budget' as const, userId })),
      id.map((userId) => ({ kind: 'audit' as const, userId })),
      fc.tuple(id, fc.option(id)).map(([u, s]) => ({ kind: 'status' as const, clientId: s ? `${u}:${s}` : u })),
    );
    fc.assert(
      fc.property(topicArb, (t) => {
        expect(parseTopic(formatTopic(t))).toEqual(t);
      }),
    );
  });

  it('client ids are the username with an optional :session', () => {
    expect(usernameOfClientId('aggregator:shard-2')).toBe('aggregator');
    expect(usernameOfClientId('gw-alice')).toBe('gw-alice');
    expect(isValidClientId('gw-alice:')).toBe(false);
    expect(isValidClientId('gw/alice')).toBe(false);
  });
});
