/**
 * The access-control table (design "MQTT topics") as one pure decision:
 * `authorize(identity, action, topic)`. Default deny: only what a rule names is allowed.
 *
 * 'subscribe' means "may read": it is asked for SUBSCRIBE filters (wildcards allowed) and, as a second
 * line, for every concrete topic the broker is about to deliver. A filter is allowed only when one
 * rule pattern covers every topic the filter can match, so `fedwear/v1/#` or `updates/+` from a
 * gateway is refused even though some of the topics it matches would be fine.
 */
import type { Identity, Role } from './identity.ts';
import { filterCovers, topicFilterError, topicNameError } from './topic-filter.ts';
import { parseTopic, TOPIC_PREFIX } from './topics.ts';

export type Action = 'publish' | 'subscribe';

export interface Decision {
  allow: boolean;
  reason: string;
}

interface RoleRules {
  publish: string[];
  subscribe: string[];
}

const P = TOPIC_PREFIX;

/** The patterns each role may publish to and read, with the identity's own ids filled in. */
export function rulesFor(identity: Identity): RoleRules {
  switch (identity.role) {
    case 'gateway': {
      const u = identity.userId;
      return {
        publish: [`${P}/updates/${identity.username}`, `${P}/privacy/${u}/ledger`, `${P}/privacy/${u}/budget`],
        subscribe: [`${P}/model/current`, `${P}/rounds/current`, `${P}/audit/${u}`, `${P}/privacy/${u}/#`],
      };
    }
    case 'aggregator':
      return {
        // shards/#: a root and its shards talk through the broker (broker/README.md, "Shards").
        publish: [`${P}/model/current`, `${P}/rounds/current`, `${P}/audit/+`, `${P}/metrics/rounds`, `${P}/shards/#`],
        subscribe: [`${P}/updates/+`, `${P}/privacy/+/#`, `${P}/shards/#`],
      };
    case 'auditor':
      // metrics/rounds holds aggregate figures only (participants, rejections by reason, bytes,
      // norms): the live dashboard, logged in as the auditor, shows them beside the budgets.
      return {
        publish: [],
        subscribe: [`${P}/privacy/+/ledger`, `${P}/privacy/+/budget`, `${P}/audit/+`, `${P}/model/current`, `${P}/metrics/rounds`],
      };
    case 'operator':
      // $SYS carries every client id the broker sees: operators only.
      return { publish: [], subscribe: [`${P}/metrics/rounds`, `${P}/status/+`, '$SYS/#'] };
  }
}

const PUBLISH_SUMMARY: Record<Role, string> = {
  gateway: 'a gateway publishes only its own updates/<username> and privacy/<its userId>/ledger|budget',
  aggregator: 'the aggregator publishes only model/current, rounds/current, audit/+, metrics/rounds and shards/#',
  auditor: 'auditors publish nothing',
  operator: 'operators publish nothing',
};

const READ_SUMMARY: Record<Role, string> = {
  gateway: 'a gateway reads only model/current, rounds/current, audit/<its userId> and privacy/<its userId>/#',
  aggregator: 'the aggregator reads only updates/+, privacy/+/# and shards/#',
  auditor: 'auditors read only privacy/+/ledger, privacy/+/budget, audit/+, model/current and metrics/rounds',
  operator: 'operators read only metrics/rounds, status/+ and $SYS/#',
};

export function authorize(identity: Identity, action: Action, topic: string): Decision {
  const who = `${identity.role} ${identity.username}`;
  const rules = rulesFor(identity);
  if (action === 'publish') {
    const malformed = topicNameError(topic);
    if (malformed) return deny(`${who} may not publish "${topic}": ${malformed}`);
    if (topic.startsWith('$')) return deny(`${who} may not publish "${topic}": $-topics are the broker's`);
    const parsed = parseTopic(topic);
    if (!parsed) return deny(`${who} may not publish "${topic}": not a ${P}/ topic of the design table`);
    if (parsed.kind === 'status') return deny(`${who} may not publish "${topic}": status/+ is published by the broker only`);
    const rule = rules.publish.find((p) => filterCovers(p, topic));
    return rule
      ? { allow: true, reason: `${who} may publish "${topic}" (rule ${rule})` }
      : deny(`${who} may not publish "${topic}": ${PUBLISH_SUMMARY[identity.role]}`);
  }
  const malformed = topicFilterError(topic);
  if (malformed) return deny(`${who} may not subscribe to "${topic}": ${malformed}`);
  const rule = rules.subscribe.find((p) => filterCovers(p, topic));
  return rule
    ? { allow: true, reason: `${who} may read "${topic}" (rule ${rule})` }
    : deny(`${who} may not subscribe to "${topic}": ${READ_SUMMARY[identity.role]}`);
}

function deny(reason: string): Decision {
  return { allow: false, reason };
}
