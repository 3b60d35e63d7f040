/** The gateway's Prometheus metrics, in a registry of its own (several gateways can share a process in tests and benches). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface GatewayMetrics {
  registry: Registry;
  recordsIngested: Counter;
  frameErrors: Counter<'kind'>;
  windows: Counter<'labelled'>;
  roundsJoined: Counter;
  roundsSkipped: Counter<'reason'>;
  epsilonSpent: Gauge;
  epsilonMax: Gauge;
  bytesSent: Counter<'kind'>;
  messagesSent: Counter<'kind'>;
  updateBytes: Histogram;
  compressionRatio: Gauge;
  outboxDepth: Gauge;
  outboxDropped: Counter<'reason'>;
  publishRefused: Counter<'kind'>;
  mqttConnected: Gauge;
  mqttReconnects: Counter;
  modelsRejected: Counter;
  inferenceLatency: Histogram;
  estimates: Counter;
}

export function createGatewayMetrics(opts: { processMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (opts.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'fedwear_gateway_' });
  return {
    registry,
    recordsIngested: new Counter({ name: 'fedwear_gateway_records_ingested_total', help: 'Device records decoded and appended to the local store', registers }),
    frameErrors: new Counter({ name: 'fedwear_gateway_frame_errors_total', help: 'Bad frames from the device, by the decoder error kind', labelNames: ['kind'], registers }),
    windows: new Counter({ name: 'fedwear_gateway_windows_total', help: 'Feature windows cut from the record stream', labelNames: ['labelled'], registers }),
    roundsJoined: new Counter({ name: 'fedwear_gateway_rounds_joined_total', help: 'Rounds trained locally (a ledger entry was written)', registers }),
    roundsSkipped: new Counter({ name: 'fedwear_gateway_rounds_skipped_total', help: 'Rounds not trained, by reason (over-budget, budget-exhausted, incompatible-round, round-closed, model-rejected, ...)', labelNames: ['reason'], registers }),
    epsilonSpent: new Gauge({ name: 'fedwear_gateway_epsilon_spent', help: "Cumulative epsilon of the user's ledger at the budget's delta", registers }),
    epsilonMax: new Gauge({ name: 'fedwear_gateway_epsilon_max', help: "The user's lifetime epsilon budget", registers }),
    bytesSent: new Counter({ name: 'fedwear_gateway_bytes_sent_total', help: 'Payload bytes PUBACKed by the broker, by message kind', labelNames: ['kind'], registers }),
    messagesSent: new Counter({ name: 'fedwear_gateway_messages_sent_total', help: 'Messages PUBACKed by the broker, by kind', labelNames: ['kind'], registers }),
    updateBytes: new Histogram({ name: 'fedwear_gateway_update_bytes', help: 'Size of each sealed update envelope', buckets: [512, 1024, 2048, 4096, 8192, 16384, 65536, 262144, 1048576], registers }),
    compressionRatio: new Gauge({ name: 'fedwear_gateway_update_compression_ratio', help: 'Last update: dense float32 envelope bytes over the sent envelope bytes', registers }),
    outboxDepth: new Gauge({ name: 'fedwear_gateway_outbox_depth', help: 'Messages waiting in the durable outbox', registers }),
    outboxDropped: new Counter({ name: 'fedwear_gateway_outbox_dropped_total', help: 'Outbox updates not sent because their round closed or went too stale', labelNames: ['reason'], registers }),
    publishRefused: new Counter({ name: 'fedwear_gateway_publish_refused_total', help: 'Publishes the broker refused (connection dropped right after them); set aside, never re-sent', labelNames: ['kind'], registers }),
    mqttConnected: new Gauge({ name: 'fedwear_gateway_mqtt_connected', help: '1 while connected to the broker', registers }),
    mqttReconnects: new Counter({ name: 'fedwear_gateway_mqtt_reconnects_total', help: 'Reconnection attempts after a lost or failed connection', registers }),
    modelsRejected: new Counter({ name: 'fedwear_gateway_models_rejected_total', help: 'model/current messages that failed verification', registers }),
    inferenceLatency: new Histogram({
      name: 'fedwear_gateway_inference_latency_seconds',
      help: 'onnxruntime latency per batch of windows',
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
      registers,
    }),
    estimates: new Counter({ name: 'fedwear_gateway_estimates_total', help: 'Windows estimated by the live model', registers }),
  };
}
