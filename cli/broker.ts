import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { Role } from '../broker/index.ts';

const ROLE_CHOICES = ['gateway', 'aggregator', 'auditor', 'operator'];

/** All of stdin, minus one trailing newline; '' when stdin is a terminal or empty. */
async function readStdinPassword(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** `--public-key` takes a PEM file path or the PEM text itself. */
function readPublicKey(value: string): string {
  if (value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch (err) {
    throw new Error(`--public-key: cannot read ${value} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

export function registerBroker(program: Command): void {
  const broker = program
    .command('broker')
    .description('the MQTT broker (aedes): credentials, per-topic access control, TCP/TLS/WebSocket, durable sessions')
    .option('--config <file>', 'broker config, YAML or JSON (template: broker/broker.example.yaml)')
    .action(async (flags: { config?: string }) => {
      if (!flags.config) throw new Error('--config FILE is required (template: broker/broker.example.yaml)');
      const { loadBrokerConfig, startBroker, startInProcessAggregator } = await import('../broker/index.ts');
      const handle = await startBroker(loadBrokerConfig(flags.config));
      // With an `aggregator:` section the aggregator runs in this process, on the aedes instance.
      const aggregator = handle.config.aggregator ? await startInProcessAggregator(handle).catch(async (err: Error) => {
        await handle.close();
        throw err;
      }) : undefined;
      // One machine-readable line for scripts and tests: the ports actually bound.
      process.stdout.write(JSON.stringify({ event: 'listening', tcp: handle.tcpPort, tls: handle.tlsPort, ws: handle.wsPort, metrics: handle.metricsPort, ...(aggregator ? { round: aggregator.round.id, model: aggregator.model.version } : {}) }) + '\n');
      process.on('SIGHUP', () => {
        try {
          handle.reloadCredentials();
          aggregator?.reloadCredentials();
        } catch (err) {
          handle.log.error({ err }, 'credentials reload failed; keeping the previous ones');
        }
      });
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await aggregator?.stop();
      await handle.close();
    });

  broker
    .command('passwd')
    .description('add or update an identity in the credentials file; the password is read from stdin, or generated and printed once')
    .requiredOption('--file <file>', 'credentials file (.yaml, .yml or .json; created if missing)')
    .requiredOption('--user <username>', 'the username, which is also the MQTT client id')
    .addOption(new Option('--role <role>', 'what the identity may do').choices(ROLE_CHOICES).makeOptionMandatory())
    .option('--user-id <id>', 'gateways: the user whose data the gateway holds')
    .option('--public-key <pem>', "the gateway's Ed25519 public key: a PEM file or the PEM text")
    .option('--generate', 'generate a password even when stdin has one')
    .action(async (flags: { file: string; user: string; role: string; userId?: string; publicKey?: string; generate?: boolean }) => {
      const { setPassword } = await import('../broker/index.ts');
      const fromStdin = flags.generate ? '' : await readStdinPassword();
      const result = await setPassword({
        file: flags.file,
        username: flags.user,
        role: flags.role as Role,
        userId: flags.userId,
        publicKeyPem: flags.publicKey === undefined ? undefined : readPublicKey(flags.publicKey),
        password: fromStdin === '' ? undefined : fromStdin,
      }).catch((err: Error) => {
        // Name the flag the user typed rather than the file field behind it.
        const flag: Record<string, string> = { username: '--user', userId: '--user-id', publicKey: '--public-key', role: '--role' };
        throw new Error(err.message.replace(/^ {2}(username|userId|publicKey|role):/gm, (_m, f: string) => `  ${flag[f]}:`));
      });
      process.stderr.write(`${result.action} ${flags.user} (${flags.role}) in ${flags.file}\n`);
      if (result.generatedPassword) {
        process.stderr.write('generated password (shown once, not stored):\n');
        process.stdout.write(result.generatedPassword + '\n');
      }
    });
}
