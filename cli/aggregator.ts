import { readFileSync } from 'node:fs';
import type { Command } from 'commander';

/**
 * `fedwear aggregator`: the aggregator as an MQTT client of any broker (ours, mosquitto 2, ...), alone
 * or sharded (`--root`, `--shard <id>`; broker/README.md, "Shards").
 */
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
    .option('--shard <id>', 'run as shard <id>: take a share of the updates (MQTT 5 shared subscription) and answer the root with partial sums')
    .option('--root', 'run as the shard root: announce rounds, combine the partial sums of the shards in --expect or shards.expect')
    .option('--expect <ids>', 'the root: comma-separated shard ids that must answer every round')
    .option('--metrics-port <port>', 'serve Prometheus text at /metrics on this port (0 picks a free one)')
    .option('--metrics-host <host>', 'address for --metrics-port', '127.0.0.1')
    .action(async (flags: { broker: string; config: string; username: string; passwordFile?: string; clientId?: string; credentials?: string; shard?: string; root?: boolean; expect?: string; metricsPort?: string; metricsHost: string }) => {
      const { loadAggregatorConfig, startAggregator, startRoot, startShard, clientTransport, withShardRole, serveMetrics } = await import('../broker/index.ts');
      const { pino } = await import('pino');
      const { Registry } = await import('prom-client');
      if (flags.shard !== undefined && flags.root) throw new Error('--shard and --root exclude each other');
      if (flags.expect !== undefined && !flags.root) throw new Error('--expect is for --root');
      let metricsPort: number | undefined;
      if (flags.metricsPort !== undefined) {
        metricsPort = Number(flags.metricsPort);
        if (!/^\d+$/.test(flags.metricsPort) || metricsPort > 65535) throw new Error(`--metrics-port: expected a port 0..65535, got ${JSON.stringify(flags.metricsPort)}`);
      }
      let config = loadAggregatorConfig(flags.config);
      if (flags.shard !== undefined) config = withShardRole(config, { role: 'shard', id: flags.shard }, `aggregator config ${flags.config} with --shard`);
      if (flags.root) {
        const expect = flags.expect?.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
        config = withShardRole(config, { role: 'root', ...(expect ? { expect } : {}) }, `aggregator config ${flags.config} with --root`);
      }
      const role = config.shards?.role ?? 'aggregator';
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
      const registry = new Registry();
      const session = role === 'shard' ? `${flags.username}:${config.shards!.id}` : role === 'root' ? `${flags.username}:root` : flags.username;
      const broker = { url: flags.broker, username: flags.username, password, clientId: flags.clientId ?? session };
      // Listening first: a port in use fails the command before any MQTT session is opened.
      const metricsServer = metricsPort === undefined ? undefined : await serveMetrics(registry, { host: flags.metricsHost, port: metricsPort, listenError: '--metrics-port: cannot listen' });
      let handle: { round?: { id: number }; roundId?: number; model?: { version: string }; restoredUpdates: number; reloadCredentials(): void; stop(): Promise<void> };
      try {
        if (role === 'shard') handle = await startShard({ config, broker, credentialsFile, log, registry });
        else if (role === 'root') handle = await startRoot({ config, broker, credentialsFile, log, registry });
        else handle = await startAggregator({ config, transport: clientTransport({ ...broker, log, audit: config.audit.enabled }), credentialsFile, log, registry });
      } catch (err) {
        // An open listener would keep the failed command alive.
        await metricsServer?.close();
        throw err;
      }
      process.stdout.write(
        JSON.stringify({
          event: 'aggregator-ready',
          role,
          ...(role === 'shard' ? { shard: config.shards!.id } : {}),
          round: handle.round?.id ?? handle.roundId,
          model: handle.model?.version,
          restored: handle.restoredUpdates,
          metrics: metricsServer?.port,
        }) + '\n',
      );
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
      await metricsServer?.close();
    });
}
