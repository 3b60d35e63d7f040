/**
 * The gateway's MQTT connection (mqtt.js, MQTT 3.1.1 against aedes): fixed client id, persistent
 * session (clean: false), QoS 1, TLS when the URL is mqtts://, reconnects with exponential backoff
 * and jitter. No last will: status/<clientId> is published by the broker (broker/README.md).
 *
 * Publishing is one message at a time, and mqtt.js never re-sends anything by itself. The outbox is
 * the only source of retries, because a re-send is not always safe: aedes answers a publish it
 * refuses (ACL, size guard) by dropping the connection (MQTT 3.1.1 has no negative PUBACK), and
 * mqtt.js keeps the unacknowledged QoS 1 packet in its outgoing store and re-sends it after every
 * reconnect, to be dropped again, forever (shared/notes/edge-stack.md §4). So when the connection
 * closes with our publish unacknowledged, the packet is taken out of mqtt.js's store (before the next
 * CONNACK, when mqtt.js would replay it) and the outcome is decided here:
 *
 * - 'refused': the connection closed within `refusalWindowMs` after the PUBLISH was written, and an
 *   immediate reconnection (no backoff) succeeded. The broker was up and listening, and dropped us
 *   right after our publish: it refused it. Never re-send it.
 * - 'interrupted': anything else: closed later (keepalive timeout, a network gone away), or the
 *   immediate reconnection failed (the broker itself is going down: a stopping broker closes its
 *   listener before its connections, a crashed one loses both, and either way it drops every
 *   connection, publish in flight or not). The outbox sends it again after reconnecting.
 *
 * The rule mistakes a refusal for an interruption only if the broker is unreachable right after
 * refusing (the re-send is then refused again and caught), and an interruption for a refusal only if
 * the connection breaks within the window and a new one works a moment later; such an entry is set
 * aside (refused.jsonl), not lost.
 */
import { readFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient, type Packet } from 'mqtt';
import type { Logger } from 'pino';

export type PublishOutcome = 'acked' | 'refused' | 'interrupted';

export interface MqttLinkOptions {
  url: string;
  clientId: string;
  username: string;
  password: string;
  caFile?: string;
  servername?: string;
  keepaliveS: number;
  connectTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  refusalWindowMs: number;
  /** After the subscriptions are granted, wait this long for retained messages before going online. */
  settleMs: number;
  /** Topics to subscribe (QoS 1), one SUBSCRIBE each: a refused one must not take the others down. */
  subscriptions: readonly string[];
  log: Logger;
}

export interface MqttLinkEvents {
  /** Connected, subscribed, settled: the outbox may send. */
  online: [sessionPresent: boolean];
  offline: [reason: string];
  message: [topic: string, payload: Buffer];
  /** A reconnection attempt is about to start. */
  reconnecting: [attempt: number, delayMs: number];
  refused: [topic: string];
}

interface InFlight {
  topic: string;
  messageId?: number;
  /** performance.now() when the PUBLISH was written. */
  writtenAt?: number;
  resolve: (o: PublishOutcome) => void;
  settled: boolean;
}

export class MqttLink extends EventEmitter<MqttLinkEvents> {
  private client: MqttClient | null = null;
  private inflight: InFlight | null = null;
  /** A publish whose connection dropped inside the refusal window: decided by the next attempt. */
  private suspect: InFlight | null = null;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  /** Bumped on every new connection, so a late settle timer of an old one does nothing. */
  private generation = 0;
  online = false;
  lastConnectedAt: number | null = null;

  constructor(private readonly opts: MqttLinkOptions) {
    super();
  }

  start(): void {
    const o = this.opts;
    const options: IClientOptions = {
      clientId: o.clientId,
      username: o.username,
      password: o.password,
      clean: false,
      protocolVersion: 4,
      keepalive: o.keepaliveS,
      connectTimeout: o.connectTimeoutMs,
      // Backoff is ours (mqtt.js retries at a fixed period), and so are re-subscriptions.
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
    };
    if (o.url.startsWith('mqtts:')) {
      if (o.caFile) options.ca = readFileSync(o.caFile);
      options.rejectUnauthorized = true;
      if (o.servername) options.servername = o.servername;
    }
    const client = mqtt.connect(o.url, options);
    this.client = client;
    client.on('connect', (connack) => this.onConnect(client, connack.sessionPresent === true));
    client.on('close', () => this.onClose(client));
    client.on('error', (err) => {
      // CONNACK refusals (bad credentials) and socket errors both end in 'close'; log here only.
      o.log.warn({ err: err.message, code: (err as { code?: unknown }).code }, 'mqtt error');
    });
    client.on('message', (topic, payload) => this.emit('message', topic, payload));
    client.on('packetsend', (p: Packet) => {
      const f = this.inflight;
      if (p.cmd === 'publish' && f && f.messageId === undefined && p.topic === f.topic) {
        f.messageId = p.messageId;
        // A duration, so a monotonic clock: a wall-clock jump back would make a dropped
        // connection look like a refusal (set aside) rather than an interruption (re-sent).
        f.writtenAt = performance.now();
      }
    });
  }

  private onConnect(client: MqttClient, sessionPresent: boolean): void {
    this.attempt = 0;
    this.lastConnectedAt = Date.now();
    const gen = ++this.generation;
    // The first attempt after a drop inside the refusal window succeeded: the broker was there.
    if (this.suspect) {
      const s = this.suspect;
      this.suspect = null;
      this.opts.log.error({ topic: s.topic }, 'the broker dropped the connection right after this publish: refused, not re-sent');
      this.emit('refused', s.topic);
      this.settle(s, 'refused');
    }
    void this.subscribeAll(client).then((ok) => {
      if (gen !== this.generation || !client.connected) return;
      if (!ok) this.opts.log.error('a subscription was refused; check the broker ACL for this gateway');
      const goOnline = (): void => {
        if (gen !== this.generation || !client.connected) return;
        this.online = true;
        this.emit('online', sessionPresent);
      };
      if (this.opts.settleMs > 0) setTimeout(goOnline, this.opts.settleMs).unref();
      else goOnline();
    });
  }

  /** One SUBSCRIBE per topic; SUBACK codes are read from the wire (mqtt.js misreports 128). */
  private async subscribeAll(client: MqttClient): Promise<boolean> {
    let ok = true;
    for (const topic of this.opts.subscriptions) {
      const code = await new Promise<number>((resolve) => {
        const onPacket = (p: Packet): void => {
          if (p.cmd !== 'suback') return;
          client.off('packetreceive', onPacket);
          const g = (p.granted as Array<number | { qos: number }>)[0];
          resolve(typeof g === 'number' ? g : g.qos);
        };
        client.on('packetreceive', onPacket);
        client.subscribe(topic, { qos: 1 }, (err) => {
          if (err && !client.connected) {
            client.off('packetreceive', onPacket);
            resolve(-1);
          }
        });
      });
      if (code === 128 || code < 0) ok = false;
      if (!client.connected) return false;
    }
    return ok;
  }

  private onClose(client: MqttClient): void {
    if (client !== this.client) return;
    const wasOnline = this.online;
    this.online = false;
    this.generation++;
    const f = this.inflight;
    if (f && !f.settled) {
      this.inflight = null;
      this.forget(client, f);
      const soon = f.writtenAt !== undefined && performance.now() - f.writtenAt <= this.opts.refusalWindowMs;
      if (soon && !this.stopping) this.suspect = f;
      else this.settle(f, 'interrupted');
    } else if (this.suspect) {
      // The attempt after a suspect drop failed too: the broker (or the network) was away.
      const s = this.suspect;
      this.suspect = null;
      this.settle(s, 'interrupted');
    }
    if (wasOnline) this.emit('offline', 'connection closed');
    // After a suspect drop, probe at once: a broker that refused us is still listening, one that
    // is going away has closed its listener before its connections (and a crashed one has neither).
    if (!this.stopping) this.scheduleReconnect(this.suspect ? 0 : undefined);
  }

  /** Takes our packet out of mqtt.js's outgoing store so it never replays it on the next CONNACK. */
  private forget(client: MqttClient, f: InFlight): void {
    if (f.messageId === undefined) return;
    const id = f.messageId;
    delete client.outgoing[id];
    client.outgoingStore.del({ messageId: id } as Packet, () => undefined);
  }

  private settle(f: InFlight, outcome: PublishOutcome): void {
    if (f.settled) return;
    f.settled = true;
    f.resolve(outcome);
  }

  private scheduleReconnect(immediate?: 0): void {
    if (this.timer || this.stopping) return;
    const { reconnectMinMs: min, reconnectMaxMs: max } = this.opts;
    const base = Math.min(max, min * 2 ** Math.min(this.attempt, 20));
    // Jitter on the upper half, so many gateways coming back with their broker do not reconnect in step.
    const delay = immediate ?? Math.round(base / 2 + (Math.random() * base) / 2);
    this.attempt++;
    this.emit('reconnecting', this.attempt, delay);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.stopping || !this.client) return;
      this.client.reconnect();
    }, delay);
  }

  /**
   * Publishes one QoS 1 message and resolves when its fate is known: 'acked' (PUBACK), 'refused'
   * (never re-send) or 'interrupted' (re-send after reconnecting). Only when online, one at a time.
   */
  publish(topic: string, payload: Uint8Array, retain: boolean): Promise<PublishOutcome> {
    const client = this.client;
    // Not connected: mqtt.js would queue the packet itself and replay it later, which we do not want.
    if (!client || !client.connected || !this.online) return Promise.resolve('interrupted');
    if (this.inflight && !this.inflight.settled) throw new Error('MqttLink.publish: one publish at a time');
    return new Promise((resolve) => {
      const f: InFlight = { topic, resolve, settled: false };
      this.inflight = f;
      client.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: 1, retain }, (err) => {
        if (this.inflight === f) this.inflight = null;
        if (!err) this.settle(f, 'acked');
        // An error here comes from a forced close; onClose has settled (or will settle) it.
      });
    });
  }

  /** Stops reconnecting and disconnects cleanly (DISCONNECT), waiting at most `timeoutMs`. */
  async stop(timeoutMs = 2000): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const client = this.client;
    if (!client) return;
    const f = this.inflight;
    if (f) this.settle(f, 'interrupted');
    if (this.suspect) this.settle(this.suspect, 'interrupted');
    this.online = false;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        client.end(true, () => resolve());
      }, timeoutMs);
      client.end(false, () => {
        clearTimeout(t);
        resolve();
      });
    });
    this.client = null;
  }
}
