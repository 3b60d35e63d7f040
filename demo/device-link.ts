/**
 * The cable between one simulated wearable and its gateway service: a real serial pseudo-terminal
 * pair (socat) that the gateway reads as its configured serial device, or, without socat, the
 * gateway's in-process input. Either way the gateway decodes the wire protocol's frames itself.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { openSerialSink, pumpFrames, startPtyPair, type PtyPair } from '../device-sim/index.ts';
import { encodeFrame, type DeviceRecord } from '../firmware-bindings/index.ts';
import type { GatewayConfigInput, GatewayService } from '../gateway/index.ts';

export type Transport = 'pty' | 'memory';

export interface DeviceLink {
  readonly transport: Transport;
  /** What goes into the gateway's config `device`. */
  readonly device: GatewayConfigInput['device'];
  /** The gateway's logger: the link watches it for the serial port opening. */
  readonly logger: Logger;
  /** Sends the records and resolves once the gateway has stored them (or the line went quiet). */
  send(gateway: GatewayService, records: readonly DeviceRecord[]): Promise<{ stored: number }>;
  close(): Promise<void>;
}

/** How long a serial line may stay quiet before the demo stops waiting for lost frames. */
const QUIET_MS = 10_000;

/** A pino logger that drops the gateway's logs but tells when its serial device opened. */
function watchingLogger(onOpen: () => void): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (chunk.includes('"device connected"')) onOpen();
      done();
    },
  });
  return pino({ level: 'info' }, sink);
}

export async function openDeviceLink(transport: Transport): Promise<DeviceLink> {
  if (transport === 'memory') {
    return {
      transport,
      device: { source: 'none' },
      logger: pino({ level: 'silent' }),
      async send(gw, records) {
        gw.ingestRecords(records);
        await gw.flush();
        return { stored: gw.health().data.records };
      },
      async close() {},
    };
  }
  const pair: PtyPair = await startPtyPair();
  let opened!: () => void;
  const isOpen = new Promise<void>((r) => (opened = r));
  return {
    transport,
    device: { source: 'serial', path: pair.b, baudRate: 115200 },
    logger: watchingLogger(() => opened()),
    async send(gw, records) {
      await isOpen;
      const before = gw.health().data.records;
      const sink = await openSerialSink(pair.a, 115200);
      await pumpFrames(records, sink, { speed: 0, encode: encodeFrame });
      await sink.close();
      // The frames are in the kernel's buffers now; wait for the gateway to have stored them all,
      // or for the line to stay quiet (a frame lost on the line must not hang the demo).
      const target = before + records.length;
      await new Promise<void>((resolve) => {
        let last = -1;
        let lastChange = Date.now();
        const tick = setInterval(() => {
          const n = gw.health().data.records;
          if (n !== last) {
            last = n;
            lastChange = Date.now();
          }
          if (n >= target || Date.now() - lastChange > QUIET_MS) {
            clearInterval(tick);
            resolve();
          }
        }, 50);
      });
      await gw.flush();
      return { stored: gw.health().data.records - before };
    },
    close: () => pair.stop(),
  };
}
