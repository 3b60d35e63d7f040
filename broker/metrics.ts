/** The broker's Prometheus counters, in a registry of their own so several brokers can share a process. */
import { Counter, Gauge, Registry } from 'prom-client';

export type Transport = 'tcp' | 'tls' | 'ws';

export interface BrokerMetrics {
  registry: Registry;
  connectionsAccepted: Counter<'transport'>;
  connectionsRefused: Counter<'transport' | 'reason'>;
  connectionsOpen: Gauge;
  clientsConnected: Gauge;
  authRefused: Counter<'reason'>;
  publishDenied: Counter<'role'>;
  subscribeDenied: Counter<'role'>;
  forwardDenied: Counter<'role'>;
  oversizePackets: Counter<'transport'>;
  malformedPackets: Counter<'transport'>;
}

export function createBrokerMetrics(): BrokerMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    connectionsAccepted: new Counter({ name: 'fedwear_broker_connections_total', help: 'Connections admitted, by transport', labelNames: ['transport'], registers }),
    connectionsRefused: new Counter({
      name: 'fedwear_broker_connections_refused_total',
      help: 'Connections closed before MQTT: over the connection cap or the per-IP rate',
      labelNames: ['transport', 'reason'],
      registers,
    }),
    connectionsOpen: new Gauge({ name: 'fedwear_broker_connections_open', help: 'Open connections, all transports', registers }),
    clientsConnected: new Gauge({ name: 'fedwear_broker_clients_connected', help: 'Authenticated MQTT sessions', registers }),
    authRefused: new Counter({
      name: 'fedwear_broker_auth_refused_total',
      help: 'CONNECTs refused: bad_credentials (code 4), client_id (code 2), will_topic (code 5)',
      labelNames: ['reason'],
      registers,
    }),
    publishDenied: new Counter({ name: 'fedwear_broker_publish_denied_total', help: 'PUBLISHes refused by the ACL (connection dropped)', labelNames: ['role'], registers }),
    subscribeDenied: new Counter({ name: 'fedwear_broker_subscribe_denied_total', help: 'Subscriptions refused by the ACL (SUBACK 128)', labelNames: ['role'], registers }),
    forwardDenied: new Counter({ name: 'fedwear_broker_forward_denied_total', help: 'Deliveries withheld because the receiver may not read the topic', labelNames: ['role'], registers }),
    oversizePackets: new Counter({ name: 'fedwear_broker_oversize_packets_total', help: 'Connections cut at a packet header over the size limit', labelNames: ['transport'], registers }),
    malformedPackets: new Counter({ name: 'fedwear_broker_malformed_packets_total', help: 'Connections cut at bytes that are not MQTT 3.1.1 (bad fixed header or packet)', labelNames: ['transport'], registers }),
  };
}

/** Sum of a counter or gauge over all label values (or the ones matching `labels`). */
export async function metricTotal(metric: Counter<string> | Gauge<string>, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}
