/** The aggregator's Prometheus counters: on the broker's registry in-process, their own otherwise. */
import { Counter, Gauge, Registry } from 'prom-client';

export interface AggregatorMetrics {
  registry: Registry;
  accepted: Counter;
  rejected: Counter<'reason'>;
  rounds: Counter<'closed_by'>;
  openRound: Gauge;
  roundAccepted: Gauge;
  verdicts: Counter<'ok'>;
  /** Takes these metrics off the registry (an aggregator stopped inside a broker that keeps running). */
  remove(): void;
}

export function createAggregatorMetrics(registry = new Registry()): AggregatorMetrics {
  const registers = [registry];
  const names: string[] = [];
  const track = <M extends Counter<string> | Gauge<string>>(m: M): M => (names.push((m as unknown as { name: string }).name), m);
  return {
    registry,
    remove: () => names.forEach((n) => registry.removeSingleMetric(n)),
    accepted: track(new Counter({ name: 'fedwear_aggregator_updates_accepted_total', help: 'Updates validated and durably counted into a round', registers })),
    rejected: track(new Counter({ name: 'fedwear_aggregator_updates_rejected_total', help: 'Updates refused, by reason (federation REJECT_REASONS, privacy-audit)', labelNames: ['reason'], registers })),
    rounds: track(new Counter({ name: 'fedwear_aggregator_rounds_total', help: 'Rounds aggregated, by what closed them (quorum, deadline, buffer)', labelNames: ['closed_by'], registers })),
    openRound: track(new Gauge({ name: 'fedwear_aggregator_open_round', help: 'Id of the open round', registers })),
    roundAccepted: track(new Gauge({ name: 'fedwear_aggregator_round_accepted', help: 'Updates accepted into the open round so far', registers })),
    verdicts: track(new Counter({ name: 'fedwear_aggregator_audit_verdicts_total', help: 'Privacy audit verdicts published, by outcome', labelNames: ['ok'], registers })),
  };
}
