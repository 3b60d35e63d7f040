/** What `fedwear gateway run --config FILE` does: start, report the bound ports, stop on SIGTERM/SIGINT. */
import path from 'node:path';
import { loadGatewayConfig, type GatewayConfig } from './config.ts';
import { lockDataDir } from './data-lock.ts';
import { Outbox } from './outbox.ts';
import { GatewayService } from './service.ts';

export interface RunGatewayIo {
  /** One JSON line per lifecycle event (listening, stopped), for scripts and tests. */
  stdout: NodeJS.WritableStream;
}

export async function runGatewayService(configFile: string, io: RunGatewayIo = { stdout: process.stdout }): Promise<void> {
  const config = loadGatewayConfig(configFile);
  const svc = await GatewayService.start(config);
  io.stdout.write(JSON.stringify({ event: 'listening', http: svc.httpPort, metrics: svc.metricsPort ?? null, clientId: config.clientId, userId: config.userId }) + '\n');
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  svc.log.info({ signal }, 'signal received');
  await svc.stop();
  io.stdout.write(JSON.stringify({ event: 'stopped', signal, outboxDepth: svc.outboxDepth }) + '\n');
}

/** `fedwear gateway outbox requeue`: puts refused messages back in the outbox (service stopped). */
export function requeueRefused(configOrFile: string | GatewayConfig): { requeued: number; depth: number } {
  const config = typeof configOrFile === 'string' ? loadGatewayConfig(configOrFile) : configOrFile;
  const unlock = lockDataDir(config.dataDir);
  try {
    const box = Outbox.open(path.join(config.dataDir, 'outbox'));
    try {
      return { requeued: box.requeueRefused(), depth: box.depth };
    } finally {
      box.close();
    }
  } finally {
    unlock();
  }
}
