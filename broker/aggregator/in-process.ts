/** The aggregator inside the broker process, on the aedes instance startBroker returned. */
import type { BrokerHandle } from '../server.ts';
import { startAggregator, type AggregatorHandle } from './aggregator.ts';
import type { AggregatorConfig } from './config.ts';
import { inProcessTransport } from './transport.ts';

export async function startInProcessAggregator(broker: BrokerHandle, config: AggregatorConfig | undefined = broker.config.aggregator): Promise<AggregatorHandle> {
  if (!config) throw new Error('broker config: aggregator: missing (no aggregator section to start)');
  const credentialsFile = config.credentialsFile ?? broker.config.credentialsFile;
  if (!credentialsFile) throw new Error('aggregator: credentialsFile: expected the credentials file with the gateways\' public keys (or set the broker\'s credentialsFile)');
  const log = broker.log.child({ component: 'aggregator' });
  if (config.logLevel) log.level = config.logLevel;
  const handle = await startAggregator({
    config,
    credentialsFile,
    transport: inProcessTransport({ aedes: broker.aedes, publishGates: broker.publishGates, log, audit: config.audit.enabled }),
    log,
    registry: broker.metrics.registry,
  });
  // Its gates are installed: updates held since the broker started listening may now be judged.
  broker.releaseAggregatorHold();
  return handle;
}
