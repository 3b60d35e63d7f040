/**
 * The packaged gateway's entry point (bundled by build.ts into bin/fedwear-gateway.mjs): the
 * service and the few commands a board needs. It imports gateway/service and gateway/store
 * directly rather than gateway/index.ts so that no simulator, Firmata or pretraining code is
 * reachable from the bundle.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { loadGatewayConfig, requeueRefused, runGatewayService } from '../service/index.ts';
import { RecordStore } from '../store/index.ts';
import { firstBoot } from './first-boot.ts';
import { createNotifier, probeHealth } from './sd-notify.ts';

/** The package's VERSION file (two folders above lib/gateway/, like models/base); "dev" in a checkout. */
function packageVersion(): string {
  try {
    return fs.readFileSync(path.join(import.meta.dirname, '..', '..', 'VERSION'), 'utf8').trim();
  } catch {
    return 'dev';
  }
}

/** Passes the service's event lines through and tells systemd once the service listens. */
function notifyingStdout(onListening: (httpPort: number) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      process.stdout.write(chunk);
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const ev = JSON.parse(line) as { event?: string; http?: number };
          if (ev.event === 'listening' && typeof ev.http === 'number') onListening(ev.http);
        } catch {
          // not an event line
        }
      }
      done();
    },
  });
}

function loopbackFor(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

export function buildGatewayProgram(): Command {
  const program = new Command('fedwear-gateway').description('fedwear gateway (packaged for a single-board computer)').version(packageVersion());

  program
    .command('run')
    .description('the gateway service; tells systemd when ready and feeds its watchdog while /health answers')
    .requiredOption('--config <file>', 'gateway config, YAML or JSON')
    .action(async (flags: { config: string }) => {
      const config = loadGatewayConfig(flags.config);
      const notifier = createNotifier();
      let stopWatchdog = (): void => {};
      const stdout = notifyingStdout((port) => {
        notifier.ready(`listening on ${config.http.host}:${port}`);
        const url = `http://${loopbackFor(config.http.host)}:${port}/health`;
        stopWatchdog = notifier.startWatchdog(() => probeHealth(url));
      });
      const onSignal = (): void => {
        stopWatchdog();
        notifier.stopping();
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      await runGatewayService(flags.config, { stdout });
    });

  program
    .command('first-boot')
    .description("create the device's Ed25519 signing key and MQTT password file if absent (owner-only); print how to enrol it")
    .requiredOption('--config <file>', 'gateway config, YAML or JSON')
    .action(async (flags: { config: string }) => {
      const result = await firstBoot(loadGatewayConfig(flags.config));
      process.stdout.write(JSON.stringify(result) + '\n');
    });

  // The same names as `fedwear gateway outbox requeue` and `fedwear gateway store export`.
  program
    .command('outbox')
    .description('the durable outbox of messages for the broker')
    .command('requeue')
    .description('put the messages the broker refused back in the outbox (service stopped)')
    .requiredOption('--config <file>', 'gateway config, YAML or JSON')
    .action((flags: { config: string }) => {
      process.stdout.write(JSON.stringify(requeueRefused(flags.config)) + '\n');
    });

  program
    .command('store')
    .description('inspect the local store')
    .command('export')
    .description('print the stored records as JSON lines, oldest first')
    .requiredOption('--store <dir>', 'store directory (<dataDir>/records)')
    .action(async (flags: { store: string }) => {
      if (!fs.existsSync(flags.store)) throw new Error(`no store at ${flags.store}`);
      for (const rec of RecordStore.readAll(flags.store)) {
        if (!process.stdout.write(JSON.stringify(rec) + '\n')) await new Promise((r) => process.stdout.once('drain', r));
      }
    });
  return program;
}

try {
  await buildGatewayProgram().parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`fedwear-gateway: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = process.exitCode || 1;
}
