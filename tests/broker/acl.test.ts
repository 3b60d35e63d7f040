import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { authorize, filterCovers, type Identity, topicFilterError, rulesFor } from '../../broker/index.ts';

const gateway: Identity = { role: 'gateway', username: 'gw-alice', userId: 'alice' };
const aggregator: Identity = { role: 'aggregator', username: 'aggregator' };
const auditor: Identity = { role: 'auditor', username: 'auditor' };
const operator: Identity = { role: 'operator', username: 'operator' };
const ROLES = { gateway, aggregator, auditor, operator } as const;
type Who = keyof typeof ROLES;

const T = (s: string): string => `fedwear/v1/${s}`;

// Each row: topic class, topic, and the roles allowed. Every role not listed must be refused.
const PUBLISH: Array<[string, string, Who[]]> = [
  ['model', T('model/current'), ['aggregator']],
  ['rounds', T('rounds/current'), ['aggregator']],
  ['own updates', T('updates/gw-alice'), ['gateway']],
  ["another gateway's updates", T('updates/gw-bob'), []],
  ['own ledger', T('privacy/alice/ledger'), ['gateway']],
  ["another user's ledger", T('privacy/bob/ledger'), []],
  ['own budget', T('privacy/alice/budget'), ['gateway']],
  ["another user's budget", T('privacy/bob/budget'), []],
  ['unknown privacy subtopic', T('privacy/alice/notes'), []],
  ['own audit', T('audit/alice'), ['aggregator']],
  ["another user's audit", T('audit/bob'), ['aggregator']],
  ['metrics', T('metrics/rounds'), ['aggregator']],
  ['own status', T('status/gw-alice'), []],
  ['operator status', T('status/operator'), []],
  ['outside the namespace', 'wearables/alice/update', []],
  ['other version', 'fedwear/v2/updates/gw-alice', []],
  ['$SYS', '$SYS/broker/clients', []],
  ['wildcard in a topic name', T('updates/+'), []],
  ['empty id level', T('updates/'), []],
  // Aggregator shards (broker/README.md, "Shards").
  ['shard progress', T('shards/shard-1/progress'), ['aggregator']],
  ['shard partial', T('shards/shard-1/partial'), ['aggregator']],
  ['shards close', T('shards/close'), ['aggregator']],
  ['unknown shard subtopic', T('shards/shard-1/notes'), []],
  ['bad shard id', T('shards/-x/progress'), []],
];

const SUBSCRIBE: Array<[string, string, Who[]]> = [
  ['model', T('model/current'), ['gateway', 'auditor']],
  ['rounds', T('rounds/current'), ['gateway']],
  ['own updates', T('updates/gw-alice'), ['aggregator']],
  ["another gateway's updates", T('updates/gw-bob'), ['aggregator']],
  ['all updates', T('updates/+'), ['aggregator']],
  ['updates #', T('updates/#'), []],
  ['own ledger', T('privacy/alice/ledger'), ['gateway', 'aggregator', 'auditor']],
  ["another user's ledger", T('privacy/bob/ledger'), ['aggregator', 'auditor']],
  ['own budget', T('privacy/alice/budget'), ['gateway', 'aggregator', 'auditor']],
  ["another user's budget", T('privacy/bob/budget'), ['aggregator', 'auditor']],
  ['own privacy #', T('privacy/alice/#'), ['gateway', 'aggregator']],
  ["another user's privacy #", T('privacy/bob/#'), ['aggregator']],
  ['own privacy +', T('privacy/alice/+'), ['gateway', 'aggregator']],
  ['all ledgers', T('privacy/+/ledger'), ['aggregator', 'auditor']],
  ['all budgets', T('privacy/+/budget'), ['aggregator', 'auditor']],
  ['all privacy', T('privacy/+/#'), ['aggregator']],
  ['privacy #', T('privacy/#'), []],
  ['own audit', T('audit/alice'), ['gateway', 'auditor']],
  ["another user's audit", T('audit/bob'), ['auditor']],
  ['all audits', T('audit/+'), ['auditor']],
  // Aggregate round figures: the auditor's live dashboard shows them.
  ['metrics', T('metrics/rounds'), ['auditor', 'operator']],
  ['metrics +', T('metrics/+'), []],
  ['own status', T('status/gw-alice'), ['operator']],
  ['all status', T('status/+'), ['operator']],
  ['the whole namespace', T('#'), []],
  ['+/current', T('+/current'), []],
  ['everything', '#', []],
  ['+/#', '+/#', []],
  ['$SYS', '$SYS/#', ['operator']],
  ['outside the namespace', 'wearables/#', []],
  ['malformed +', T('updates/gw+'), []],
  ['malformed #', T('#/updates'), []],
  ['shards #', T('shards/#'), ['aggregator']],
  ['all shard progress', T('shards/+/progress'), ['aggregator']],
  ['all shard partials', T('shards/+/partial'), ['aggregator']],
  ['shards close', T('shards/close'), ['aggregator']],
  ['shared updates', '$share/fedwear-aggregators/fedwear/v1/updates/+', []],
];

describe('authorize: every role × action × topic class of the design table', () => {
  for (const [action, table] of [['publish', PUBLISH], ['subscribe', SUBSCRIBE]] as const) {
    for (const [label, topic, allowed] of table) {
      for (const who of Object.keys(ROLES) as Who[]) {
        const expected = allowed.includes(who);
        it(`${who} ${expected ? 'may' : 'may not'} ${action} ${label} (${topic})`, () => {
          const d = authorize(ROLES[who], action, topic);
          expect(d.allow).toBe(expected);
          expect(d.reason).toContain(topic);
          if (!expected) expect(d.reason).toMatch(/may not/);
        });
      }
    }
  }

  it('names the broker as the only publisher of status topics', () => {
    expect(authorize(gateway, 'publish', T('status/gw-alice')).reason).toMatch(/published by the broker only/);
  });

  it('uses the identity\'s own ids: gw-bob cannot use alice\'s topics', () => {
    const bob: Identity = { role: 'gateway', username: 'gw-bob', userId: 'bob' };
    expect(authorize(bob, 'publish', T('updates/gw-bob')).allow).toBe(true);
    expect(authorize(bob, 'publish', T('updates/gw-alice')).allow).toBe(false);
    expect(authorize(bob, 'subscribe', T('privacy/alice/#')).allow).toBe(false);
    expect(authorize(bob, 'subscribe', T('privacy/bob/#')).allow).toBe(true);
  });
});

// An independent reference matcher: a filter as a regular expression over topic names.
function matches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && !filter.startsWith('$')) return false;
  const parts = filter.split('/').map((l) => (l === '#' ? null : l === '+' ? '[^/]*' : l.replace(/[.*?^${}()|[\]\\]/g, '\\$&')));
  // '#' matches the parent level too: "a/#" matches "a"; a lone "#" matches everything.
  const re = parts[0] === null ? '.*' : parts.reduce<string>((acc, part, i) => (part === null ? `${acc}(/.*)?` : i === 0 ? part : `${acc}/${part}`), '');
  return new RegExp(`^${re}$`).test(topic);
}

const level = fc.constantFrom('a', 'b', 'fedwear', 'v1', 'updates', 'privacy', '');
const topicArb = fc.array(level, { minLength: 1, maxLength: 5 }).map((l) => l.join('/'));
const filterArb = fc
  .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([levels, hash]) => (hash ? [...levels, '#'] : levels).join('/'));

describe('filterCovers', () => {
  it('the reference matcher agrees with MQTT examples', () => {
    expect(matches('a/#', 'a')).toBe(true);
    expect(matches('a/+', 'a/b')).toBe(true);
    expect(matches('a/+', 'a/b/c')).toBe(false);
    expect(matches('#', '$SYS/x')).toBe(false);
  });

  it('is sound: whenever pattern covers filter, every topic the filter matches, the pattern matches', () => {
    fc.assert(
      fc.property(filterArb, filterArb, topicArb, (pattern, filter, topic) => {
        fc.pre(topicFilterError(pattern) === null && topicFilterError(filter) === null);
        if (filterCovers(pattern, filter) && matches(filter, topic)) expect(matches(pattern, topic)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('on topic names (no wildcards) is exactly MQTT matching', () => {
    fc.assert(
      fc.property(filterArb, topicArb, (pattern, topic) => {
        expect(filterCovers(pattern, topic)).toBe(matches(pattern, topic));
      }),
      { numRuns: 3000 },
    );
  });

  it('an allowed subscription never matches a topic the same identity may not read', () => {
    const nsLevel = fc.constantFrom('model', 'current', 'rounds', 'updates', 'gw-alice', 'gw-bob', 'privacy', 'alice', 'bob', 'ledger', 'budget', 'audit', 'status', 'metrics');
    const nsTopic = fc.array(nsLevel, { minLength: 1, maxLength: 3 }).map((l) => T(l.join('/')));
    const nsFilter = fc
      .tuple(fc.array(fc.oneof(nsLevel, fc.constant('+')), { minLength: 0, maxLength: 3 }), fc.boolean())
      .map(([l, hash]) => T([...l, ...(hash || l.length === 0 ? ['#'] : [])].join('/')));
    fc.assert(
      fc.property(fc.constantFrom(...(Object.keys(ROLES) as Who[])), nsFilter, nsTopic, (who, filter, topic) => {
        if (authorize(ROLES[who], 'subscribe', filter).allow && matches(filter, topic)) {
          expect(authorize(ROLES[who], 'subscribe', topic).allow).toBe(true);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('rulesFor fills in the gateway\'s own ids', () => {
    expect(rulesFor(gateway).publish).toContain(T('updates/gw-alice'));
    expect(rulesFor(gateway).subscribe).toContain(T('privacy/alice/#'));
  });
});
