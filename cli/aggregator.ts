import { readFileSync } from 'node:fs';
import type { Command } from 'commander';

/** `fedwear aggregator`: the aggregator as an MQTT client of any broker (ours, mosquitto 2, ...). */
export function registerAggregator(program: Command): void {
  program
    .command('aggregator')
    .description('the federated aggregator as an MQTT client of any broker: rounds, strategies, update validation, privacy audit')
    .requiredOption('--broker <url>', 'broker URL, e.g. mqtt://127.0.0.1:1883')
    .requiredOption('--config <file>', 'aggregator config, YAML or JSON (the `aggregator:` section of broker/broker.example.yaml)')
    .option('--username <name>', 'MQTT username (an identity with the aggregator role)', 'aggregator')
    .option('--password-file <file>', 'file holding the MQTT password (one line)')
    .option('--client-id <id>', 'MQTT client id: the username or username:<session>')
    .option('--credentials <file>', "credentials file with the gateways' public keys (default: the config's credentialsFile)")
    .action(async (flags: { broker: string; config: string; username: string; passwordFile?: string; clientId?: string; credentials?: string }) => {
      const { loadAggregatorConfig, startAggregator, clientTransport } = await import('../broker/index.ts');
      const { pino } = await import('pino');
      const config = loadAggregatorConfig(flags.config);
      const credentialsFile = flags.credentials ?? config.credentialsFile;
      if (!credentialsFile) throw new Error("--credentials FILE or credentialsFile in the config is required (the gateways' public keys)");
      let password: string | undefined;
      if (flags.passwordFile) {
        try {
          password = readFileSync(flags.passwordFile, 'utf8').replace(/\r?\n$/, '');
        } catch (err) {
          throw new Error(`--password-file: cannot read ${flags.passwordFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
        }
      }
      const log = pino({ name: 'fedwear-aggregator', level: config.logLevel ?? 'info' }, pino.destination(2));
      const transport = clientTransport({ url: flags.broker, username: flags.username, password, clientId: flags.clientId ?? flags.username, log, audit: config.audit.enabled });
      const handle = await startAggregator({ config, transport, credentialsFile, log });
      process.stdout.write(JSON.stringify({ event: 'aggregator-ready', round: handle.round.id, model: handle.model.version, restored: handle.restoredUpdates }) + '\n');
      process.on('SIGHUP', () => {
        try {
          handle.reloadCredentials();
        } catch (err) {
          log.error({ err }, 'credentials reload failed; keeping the previous ones');
        }
      });
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await handle.stop();
    });
}
