/**
 * The fedwear MQTT topic namespace (design table "MQTT topics"): builders, filters and a parser.
 * Every id that becomes a topic level is checked here, so no id can smuggle in a '/' or a wildcard.
 */

export const TOPIC_PREFIX = 'fedwear/v1';

/** Usernames and user ids: safe as a single topic level and in file names. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * A client id is the username, or `username:session` so one identity can hold several sessions
 * (aggregator shards, a gateway's side tool) without taking each other's session over.
 */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(:[A-Za-z0-9_.-]{1,64})?$/;

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

export function isValidClientId(clientId: string): boolean {
  return CLIENT_ID_PATTERN.test(clientId);
}

/** The username part of a client id (the part before any `:session`). */
export function usernameOfClientId(clientId: string): string {
  const colon = clientId.indexOf(':');
  return colon === -1 ? clientId : clientId.slice(0, colon);
}

function checkId(kind: string, id: string, pattern: RegExp = ID_PATTERN): string {
  if (!pattern.test(id)) {
    throw new RangeError(`${kind} "${id}" is not usable in a topic: expected ${pattern.source}`);
  }
  return id;
}

export const topics = {
  modelCurrent: (): string => `${TOPIC_PREFIX}/model/current`,
  roundsCurrent: (): string => `${TOPIC_PREFIX}/rounds/current`,
  /** A gateway's updates; the level is the gateway's username (its client id without a session). */
  updates: (gateway: string): string => `${TOPIC_PREFIX}/updates/${checkId('gateway username', gateway)}`,
  privacyLedger: (userId: string): string => `${TOPIC_PREFIX}/privacy/${checkId('userId', userId)}/ledger`,
  privacyBudget: (userId: string): string => `${TOPIC_PREFIX}/privacy/${checkId('userId', userId)}/budget`,
  audit: (userId: string): string => `${TOPIC_PREFIX}/audit/${checkId('userId', userId)}`,
  metricsRounds: (): string => `${TOPIC_PREFIX}/metrics/rounds`,
  status: (clientId: string): string => `${TOPIC_PREFIX}/status/${checkId('clientId', clientId, CLIENT_ID_PATTERN)}`,
  /** Aggregator shards (broker/README.md, "Shards"): a shard's progress in the open round. */
  shardProgress: (shard: string): string => `${TOPIC_PREFIX}/shards/${checkId('shard id', shard)}/progress`,
  /** A shard's partial sum for a round, answering a close request. */
  shardPartial: (shard: string): string => `${TOPIC_PREFIX}/shards/${checkId('shard id', shard)}/partial`,
  /** The root's close (and resume) requests to every shard. */
  shardsClose: (): string => `${TOPIC_PREFIX}/shards/close`,
} as const;

/** Wildcard filters the aggregator, auditors and operators subscribe with. */
export const topicFilters = {
  allUpdates: `${TOPIC_PREFIX}/updates/+`,
  allPrivacy: `${TOPIC_PREFIX}/privacy/+/#`,
  allLedgers: `${TOPIC_PREFIX}/privacy/+/ledger`,
  allBudgets: `${TOPIC_PREFIX}/privacy/+/budget`,
  allAudits: `${TOPIC_PREFIX}/audit/+`,
  allStatus: `${TOPIC_PREFIX}/status/+`,
  privacyOf: (userId: string): string => `${TOPIC_PREFIX}/privacy/${checkId('userId', userId)}/#`,
  allShardProgress: `${TOPIC_PREFIX}/shards/+/progress`,
  allShardPartials: `${TOPIC_PREFIX}/shards/+/partial`,
  /** MQTT 5 shared subscription: the broker hands each update to one member of `group`. */
  sharedUpdates: (group: string): string => `$share/${checkId('shared subscription group', group)}/${TOPIC_PREFIX}/updates/+`,
} as const;

export type FedwearTopic =
  | { kind: 'model-current' }
  | { kind: 'rounds-current' }
  | { kind: 'updates'; gateway: string }
  | { kind: 'privacy-ledger'; userId: string }
  | { kind: 'privacy-budget'; userId: string }
  | { kind: 'audit'; userId: string }
  | { kind: 'metrics-rounds' }
  | { kind: 'status'; clientId: string }
  | { kind: 'shard-progress'; shard: string }
  | { kind: 'shard-partial'; shard: string }
  | { kind: 'shards-close' };

/** Recognises a concrete fedwear topic; null for anything else (other prefixes, wildcards, bad ids). */
export function parseTopic(topic: string): FedwearTopic | null {
  const prefix = `${TOPIC_PREFIX}/`;
  if (!topic.startsWith(prefix)) return null;
  const levels = topic.slice(prefix.length).split('/');
  const [head, a, b] = levels;
  switch (levels.length) {
    case 2:
      if (head === 'model' && a === 'current') return { kind: 'model-current' };
      if (head === 'rounds' && a === 'current') return { kind: 'rounds-current' };
      if (head === 'metrics' && a === 'rounds') return { kind: 'metrics-rounds' };
      if (head === 'updates' && isValidId(a)) return { kind: 'updates', gateway: a };
      if (head === 'audit' && isValidId(a)) return { kind: 'audit', userId: a };
      if (head === 'status' && isValidClientId(a)) return { kind: 'status', clientId: a };
      if (head === 'shards' && a === 'close') return { kind: 'shards-close' };
      return null;
    case 3:
      if (head === 'shards' && isValidId(a)) {
        if (b === 'progress') return { kind: 'shard-progress', shard: a };
        if (b === 'partial') return { kind: 'shard-partial', shard: a };
        return null;
      }
      if (head !== 'privacy' || !isValidId(a)) return null;
      if (b === 'ledger') return { kind: 'privacy-ledger', userId: a };
      if (b === 'budget') return { kind: 'privacy-budget', userId: a };
      return null;
    default:
      return null;
  }
}

/** The inverse of parseTopic. */
export function formatTopic(t: FedwearTopic): string {
  switch (t.kind) {
    case 'model-current': return topics.modelCurrent();
    case 'rounds-current': return topics.roundsCurrent();
    case 'updates': return topics.updates(t.gateway);
    case 'privacy-ledger': return topics.privacyLedger(t.userId);
    case 'privacy-budget': return topics.privacyBudget(t.userId);
    case 'audit': return topics.audit(t.userId);
    case 'metrics-rounds': return topics.metricsRounds();
    case 'status': return topics.status(t.clientId);
    case 'shard-progress': return topics.shardProgress(t.shard);
    case 'shard-partial': return topics.shardPartial(t.shard);
    case 'shards-close': return topics.shardsClose();
  }
}
