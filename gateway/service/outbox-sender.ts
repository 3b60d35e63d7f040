/**
 * Drains the outbox in order through the MQTT link, one message at a time: the next one leaves only
 * after the broker PUBACKed the previous one and its ACK record is durable. Updates whose round
 * closed (sync) or went too stale (buffered) while they waited are dropped instead of sent.
 */
import type { Logger } from 'pino';
import type { MqttLink } from './mqtt-link.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { Outbox, OutboxEntry } from './outbox.ts';
import type { StaleDecision } from './round-rules.ts';
import { faultPoint } from './fault-point.ts';

export interface OutboxSenderDeps {
  outbox: Outbox;
  link: MqttLink;
  /** For update entries: may it still be sent? */
  decide: (entry: OutboxEntry) => StaleDecision;
  metrics: GatewayMetrics;
  log: Logger;
  onSent?: (entry: OutboxEntry) => void;
  onDropped?: (entry: OutboxEntry, reason: string) => void;
  onRefused?: (entry: OutboxEntry) => void;
}

export class OutboxSender {
  private running: Promise<void> | null = null;
  private stopped = false;
  private again = false;
  failure: Error | null = null;

  constructor(private readonly d: OutboxSenderDeps) {}

  /** Starts draining if it is not already (call on enqueue and when the link comes online). */
  kick(): void {
    if (this.stopped || this.failure) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop()
      .catch((err: Error) => {
        // A failed fsync leaves the outbox's state unknown: stop sending rather than guess.
        this.failure = err;
        this.d.log.error({ err }, 'outbox sender stopped: outbox write failed');
      })
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async loop(): Promise<void> {
    const { outbox, link, metrics, log } = this.d;
    for (;;) {
      this.again = false;
      if (this.stopped || !link.online) return;
      const e = outbox.head();
      if (!e) return;
      if (e.kind === 'update') {
        const decision = this.d.decide(e);
        if (!decision.send) {
          outbox.ack(e.seq, 'dropped', decision.reason);
          metrics.outboxDropped.inc({ reason: decision.reason });
          metrics.outboxDepth.set(outbox.depth);
          log.warn({ seq: e.seq, round: e.roundId, reason: decision.reason }, `update not sent: ${decision.detail}`);
          this.d.onDropped?.(e, decision.reason);
          continue;
        }
      }
      const outcome = await link.publish(e.topic, e.payload, e.retain);
      if (outcome === 'acked') {
        faultPoint(`acked:${e.kind}`, { seq: e.seq, round: e.roundId });
        outbox.ack(e.seq, 'acked');
        metrics.bytesSent.inc({ kind: e.kind }, e.payload.length);
        metrics.messagesSent.inc({ kind: e.kind });
        log.debug({ seq: e.seq, kind: e.kind, bytes: e.payload.length, round: e.roundId }, 'sent');
        this.d.onSent?.(e);
      } else if (outcome === 'refused') {
        outbox.ack(e.seq, 'refused', 'the broker dropped the connection right after this publish');
        metrics.publishRefused.inc({ kind: e.kind });
        log.error({ seq: e.seq, kind: e.kind, topic: e.topic }, 'publish refused by the broker: set aside in refused.jsonl, not re-sent');
        this.d.onRefused?.(e);
      } else {
        return; // interrupted: the link's next 'online' kicks again
      }
      metrics.outboxDepth.set(outbox.depth);
    }
  }

  /** Stops after the message in flight (if any) is settled, waiting at most `timeoutMs`. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopped = true;
    const r = this.running;
    if (!r) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([r, new Promise<void>((resolve) => (t = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(t);
  }
}
