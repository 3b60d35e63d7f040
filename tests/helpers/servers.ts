/** Debian's mosquitto 2 and free loopback ports for the tests that start servers of their own (mosquitto, redis-server). */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/** Debian installs the broker in /usr/sbin, which is not on every PATH. */
export const MOSQUITTO = fs.existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto';

/** A loopback port the kernel says is free (for servers that cannot take port 0, or print nothing). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface MosquittoServer {
  url: string;
  port: number;
  child: ChildProcess;
  /** A client connected as soon as the broker was up (the readiness check), for the test to use. */
  observer: MqttClient;
  /** Ends the observer and kills the broker. */
  stop(): Promise<void>;
}

export interface MosquittoOptions {
  /** Names the config file, for several brokers in one folder. */
  name?: string;
  /** mosquitto's max_packet_size (absent: mosquitto's default). */
  maxPacketBytes?: number;
  /** Options of the observer client (clientId 'observer', MQTT 3.1.1 unless given). */
  observer?: IClientOptions;
}

/**
 * mosquitto on a free loopback port, anonymous, without persistence. Resolves once a client has
 * connected: mosquitto writes its log to a block-buffered pipe, so a log line cannot say it is up.
 */
export async function startMosquitto(dir: string, opts: MosquittoOptions = {}): Promise<MosquittoServer> {
  const port = await freePort();
  const conf = path.join(dir, opts.name ? `mosquitto-${opts.name}.conf` : 'mosquitto.conf');
  const lines = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false'];
  if (opts.maxPacketBytes !== undefined) lines.push(`max_packet_size ${opts.maxPacketBytes}`);
  fs.writeFileSync(conf, lines.join('\n') + '\n');
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  // Read stderr as it comes (a full pipe would stall mosquitto) and keep its tail for errors.
  let stderrTail = '';
  child.stderr!.on('data', (d: Buffer) => (stderrTail = (stderrTail + d.toString()).slice(-2000)));
  const url = `mqtt://127.0.0.1:${port}`;
  let observer: MqttClient | undefined;
  while (!observer) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode} (config ${conf}): ${stderrTail.trim()}`);
    observer = await mqtt.connectAsync(url, { clientId: 'observer', reconnectPeriod: 0, connectTimeout: 1_000, ...opts.observer }).catch(() => undefined);
    // Refused while the listener is not bound yet: ask again shortly.
    if (!observer) await new Promise<void>((r) => setTimeout(r, 100));
  }
  const client = observer;
  return {
    url,
    port,
    child,
    observer: client,
    async stop() {
      await client.endAsync(true);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
