import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SerialPortMock } from 'serialport';
import { createDecoderStream, encodeFrame, type DeviceRecord } from '../../firmware-bindings/index.ts';
import { concat } from './helpers.ts';

const recs: DeviceRecord[] = Array.from({ length: 50 }, (_, i) => ({
  type: 'steps',
  deviceId: 77,
  seq: i,
  timestampMs: 1_732_000_000_000 + i * 1000,
  total: 1000 + i * 3,
}));

describe('createDecoderStream', () => {
  it('turns byte chunks into record objects and keeps the counters', async () => {
    const bytes = concat([Uint8Array.of(9, 9, 0), ...recs.map((r) => encodeFrame(r)), Uint8Array.of(5, 1)]);
    // Odd-sized chunks so frames straddle chunk boundaries.
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 7) chunks.push(Buffer.from(bytes.subarray(i, i + 7)));
    const stream = createDecoderStream();
    const out: DeviceRecord[] = [];
    await pipeline(Readable.from(chunks), stream, async (source: AsyncIterable<DeviceRecord>) => {
      for await (const r of source) out.push(r);
    });
    expect(out).toEqual(recs);
    // The leading junk frame is one error, the unterminated tail another (counted at end of stream).
    expect(stream.stats).toMatchObject({ framesOk: 50, framesBad: 2, bytes: bytes.length, errors: { cobs: 1, length: 1 } });
  });
});

describe('createDecoderStream fed by a serial port (serialport MockBinding)', () => {
  const MockBinding = SerialPortMock.binding;
  afterEach(() => MockBinding.reset());

  it('decodes what the device writes', async () => {
    MockBinding.createPort('/dev/FEDWEAR0', { echo: false, record: false });
    const port = new SerialPortMock({ path: '/dev/FEDWEAR0', baudRate: 115200 });
    await once(port, 'open');
    const stream = createDecoderStream();
    port.pipe(stream);
    const got: DeviceRecord[] = [];
    const done = new Promise<void>((resolve) => {
      stream.on('data', (r: DeviceRecord) => {
        got.push(r);
        if (got.length === recs.length) resolve();
      });
    });
    port.port!.emitData(Buffer.from(concat(recs.map((r) => encodeFrame(r)))));
    await done;
    expect(got).toEqual(recs);
    port.close();
    await once(port, 'close');
  });
});
