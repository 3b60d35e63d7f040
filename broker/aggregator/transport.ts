/**
 * The aggregator's two edges to MQTT, behind one interface so the same service runs inside the
 * broker or as a client of any broker. Either way an inbound update or ledger entry is acknowledged
 * only after its handler resolved, i.e. after it was durably stored (or refused):
 *
 * - in-process: a publish gate (broker/publish-gate.ts) runs the handler before aedes sends the
 *   gateway its PUBACK; budgets, which need no durability beyond the retained message, come through
 *   aedes.subscribe. Both bypass the ACL by design; publishes use aedes.publish.
 * - client: mqtt.js with a persistent session (clean: false); the PUBACK to the broker is sent when
 *   the handler resolves (mqtt.js `handleMessage`), so a crash before that leaves the message queued
 *   in the broker for redelivery.
 */
import type { Aedes, AedesPublishPacket } from 'aedes';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { PublishGates } from '../publish-gate.ts';
import { parseTopic, topicFilters } from '../topics.ts';


/** How long closing waits for in-flight publishes before it cuts the connection. */
const CLOSE_GRACE_MS = 3_000;
export interface InboundHandlers {
  /** An envelope published on updates/<gateway>. */
  update(gateway: string, payload: Uint8Array): Promise<void>;
  /** One ledger entry published on privacy/<userId>/ledger. */
  ledger(userId: string, payload: Uint8Array): Promise<void>;
  /** A (retained) budget summary on privacy/<userId>/budget. */
  budget(userId: string, payload: Uint8Array): Promise<void>;
}

export interface AggregatorTransport {
  readonly kind: 'in-process' | 'client';
  start(handlers: InboundHandlers): Promise<void>;
  /** QoS 1; resolves when the broker has it. */
  publish(topic: string, payload: Uint8Array | string, opts: { retain: boolean }): Promise<void>;
  close(): Promise<void>;
}

function route(handlers: InboundHandlers, topic: string, payload: Uint8Array): Promise<void> | undefined {
  const t = parseTopic(topic);
  if (t?.kind === 'updates') return handlers.update(t.gateway, payload);
  if (t?.kind === 'privacy-ledger') return handlers.ledger(t.userId, payload);
  if (t?.kind === 'privacy-budget') return handlers.budget(t.userId, payload);
  return undefined;
}

export interface InProcessTransportOptions {
  aedes: Aedes;
  publishGates: PublishGates;
  log: Logger;
  /** Gate ledger entries and read budgets (the privacy auditor is on). */
  audit: boolean;
}

export function inProcessTransport(opts: InProcessTransportOptions): AggregatorTransport {
  const { aedes, publishGates, log } = opts;
  const removers: Array<() => void> = [];
  let onBudget: ((packet: AedesPublishPacket, cb: () => void) => void) | undefined;
  return {
    kind: 'in-process',
    async start(handlers) {
      // A failed handler drops the publisher's connection (no PUBACK): say why here.
      const gate = (packet: { topic: string; payload: Buffer | string }): Promise<void> =>
        (route(handlers, packet.topic, Buffer.from(packet.payload)) ?? Promise.resolve()).catch((err: Error) => {
          log.error({ err, topic: packet.topic }, 'inbound message not handled; not acknowledged');
          throw err;
        });
      removers.push(publishGates.add(topicFilters.allUpdates, gate));
      if (!opts.audit) return;
      removers.push(publishGates.add(topicFilters.allLedgers, gate));
      const deliver = (packet: AedesPublishPacket, cb: () => void): void => {
        // aedes wants cb before returning, or other subscribers of the topic may starve.
        cb();
        route(handlers, packet.topic, packet.payload as Buffer)?.catch((err: Error) => log.error({ err, topic: packet.topic }, 'budget summary handling failed'));
      };
      onBudget = deliver;
      await new Promise<void>((resolve) => aedes.subscribe(topicFilters.allBudgets, deliver, () => resolve()));
      // An in-process subscription gets no retained messages: read the ones already stored.
      const persistence = (aedes as unknown as { persistence: { createRetainedStream(pattern: string): AsyncIterable<{ topic: string; payload: Buffer }> } }).persistence;
      for await (const p of persistence.createRetainedStream(topicFilters.allBudgets)) await route(handlers, p.topic, p.payload);
    },
    publish(topic, payload, { retain }) {
      return new Promise((resolve, reject) =>
        aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain, dup: false }, (err) => (err ? reject(err) : resolve())),
      );
    },
    async close() {
      for (const r of removers.splice(0)) r();
      if (onBudget) {
        const fn = onBudget;
        onBudget = undefined;
        await new Promise<void>((resolve) => aedes.unsubscribe(topicFilters.allBudgets, fn, () => resolve()));
      }
    },
  };
}

export interface ClientTransportOptions {
  url: string;
  username: string;
  password?: string;
  /** `aggregator` or `aggregator:<shard>` on our broker (broker/README.md, client ids). */
  clientId: string;
  log: Logger;
  audit: boolean;
  /**
   * Where updates come from: `updates/+` by default, an MQTT 5 shared subscription
   * (`topicFilters.sharedUpdates(group)`) for a shard, null for a shard root, which takes none.
   */
  updates?: string | null;
  /** More filters, and the handler of what they deliver (a root's or shard's control topics). */
  extra?: { filters: readonly string[]; handle(topic: string, payload: Buffer): Promise<void> | void };
  mqtt?: IClientOptions;
}

export function clientTransport(opts: ClientTransportOptions): AggregatorTransport {
  let client: MqttClient | undefined;
  return {
    kind: 'client',
    async start(handlers) {
      const c = mqtt.connect(opts.url, {
        clientId: opts.clientId,
        username: opts.username,
        password: opts.password,
        // A persistent session: what the aggregator has not acknowledged stays queued in the broker.
        clean: false,
        reconnectPeriod: 1000,
        ...opts.mqtt,
      });
      client = c;
      c.handleMessage = (packet, done) => {
        const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
        const handled = route(handlers, packet.topic, payload) ?? (opts.extra ? Promise.resolve(opts.extra.handle(packet.topic, payload)) : undefined);
        if (!handled) return done();
        handled.then(
          () => done(),
          (err: Error) => {
            // Not acknowledged: the broker redelivers it on the next session.
            opts.log.error({ err, topic: packet.topic }, 'inbound message not handled; dropping the connection so it is redelivered');
            done(err);
            c.stream?.destroy();
          },
        );
      };
      c.on('error', (err) => opts.log.warn({ err: err.message }, 'mqtt client error'));
      c.on('reconnect', () => opts.log.info('reconnecting to the broker'));
      await new Promise<void>((resolve, reject) => {
        c.once('connect', () => resolve());
        c.once('error', reject);
      });
      const updates = opts.updates === undefined ? topicFilters.allUpdates : opts.updates;
      const filters = [...(updates === null ? [] : [updates]), ...(opts.audit ? [topicFilters.allLedgers, topicFilters.allBudgets] : []), ...(opts.extra?.filters ?? [])];
      // One filter per SUBSCRIBE: mqtt.js misreports a partial refusal (broker/README.md).
      for (const f of filters) {
        const granted = await c.subscribeAsync(f, { qos: 1 });
        // 128 in MQTT 3.1.1; MQTT 5 refuses with any reason code >= 0x80.
        if (granted.some((g) => g.qos >= 128)) throw new Error(`the broker refused the subscription to ${f}`);
      }
    },
    async publish(topic, payload, { retain }) {
      if (!client) throw new Error('client transport not started');
      await client.publishAsync(topic, Buffer.from(payload), { qos: 1, retain });
    },
    async close() {
      const c = client;
      client = undefined;
      if (!c) return;
      // A graceful end waits for in-flight QoS 1 publishes, which never finish when the broker is
      // gone (and with reconnects stopped the process would just exit mid-await). Everything the
      // aggregator publishes is re-published on its next start, so after a grace it is cut.
      let timer: NodeJS.Timeout | undefined;
      const graceful = c.endAsync().then(() => true);
      const cut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), CLOSE_GRACE_MS)));
      const ended = await Promise.race([graceful, cut]);
      clearTimeout(timer);
      if (!ended) await c.endAsync(true);
    },
  };
}
