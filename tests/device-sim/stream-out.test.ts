import { PassThrough, Writable } from 'node:stream';
import { SerialPortMock } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';
import { makeUsers, pumpFrames, serialSink, simulateMany, writableSink, type Clock, type FrameSink } from '../../device-sim/index.ts';
import { FrameDecoder, encodeFrame, type DeviceRecord } from '../../firmware-bindings/index.ts';

/** Virtual time: sleep() advances it at once and logs the wait. */
function fakeClock(): Clock & { sleeps: number[]; t: number } {
  const c = {
    t: 0,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: async (ms: number, signal?: AbortSignal) => {
      if (signal?.aborted) throw new Error('aborted');
      c.sleeps.push(ms);
      c.t += ms;
    },
  };
  return c;
}

/** A sink that records each write with the virtual time it happened at. */
function memorySink(clock?: { t: number }): FrameSink & { writes: { at: number; bytes: Uint8Array }[]; closed: boolean } {
  const s = {
    writes: [] as { at: number; bytes: Uint8Array }[],
    closed: false,
    write: async (bytes: Uint8Array) => {
      s.writes.push({ at: clock?.t ?? 0, bytes });
    },
    close: async () => {
      s.closed = true;
    },
  };
  return s;
}

const rec = (seq: number, timestampMs: number): DeviceRecord => ({ type: 'steps', deviceId: 1, seq, timestampMs, total: seq });

function concat(chunks: Uint8Array[]): Buffer {
  return Buffer.concat(chunks);
}

describe('pumpFrames', () => {
  it('paces records by timestamp at the given speed, one write per timestamp', async () => {
    const clock = fakeClock();
    const sink = memorySink(clock);
    const recs = [rec(0, 10_000), rec(1, 10_000), rec(2, 11_000), rec(3, 13_000)];
    const stats = await pumpFrames(recs, sink, { speed: 2, encode: encodeFrame, clock });
    expect(clock.sleeps).toEqual([500, 1000]);
    expect(sink.writes.map((w) => w.at)).toEqual([0, 500, 1500]);
    expect(concat(sink.writes.map((w) => w.bytes))).toEqual(concat(recs.map(encodeFrame)));
    expect(stats).toEqual({ records: 4, bytes: sink.writes.reduce((s, w) => s + w.bytes.length, 0), simulatedMs: 3000, aborted: false });
  });

  it('does not wait at speed 0 and batches small frames into few writes', async () => {
    const clock = fakeClock();
    const sink = memorySink(clock);
    const recs = Array.from({ length: 100 }, (_, i) => rec(i, i * 1000));
    await pumpFrames(recs, sink, { speed: 0, encode: encodeFrame, clock });
    expect(clock.sleeps).toEqual([]);
    expect(sink.writes).toHaveLength(1);
    expect(concat(sink.writes.map((w) => w.bytes))).toEqual(concat(recs.map(encodeFrame)));
  });

  it('stops early when aborted and says so', async () => {
    const clock = fakeClock();
    const abort = new AbortController();
    const sink = memorySink(clock);
    const inner = sink.write;
    sink.write = async (bytes) => {
      await inner(bytes);
      abort.abort();
    };
    const stats = await pumpFrames([rec(0, 0), rec(1, 1000), rec(2, 2000)], sink, { speed: 1, encode: encodeFrame, clock, signal: abort.signal });
    expect(stats.aborted).toBe(true);
    expect(stats.records).toBe(1);
  });

  it('rejects a negative speed', async () => {
    await expect(pumpFrames([], memorySink(), { speed: -1, encode: encodeFrame })).rejects.toThrow(/speed must be ≥ 0/);
  });
});

describe('sinks', () => {
  it('writableSink respects backpressure and delivers every byte in order', async () => {
    const received: Buffer[] = [];
    let refusals = 0;
    const slow = new Writable({
      highWaterMark: 256,
      write(chunk: Buffer, _enc, cb) {
        received.push(chunk);
        setImmediate(cb);
      },
    });
    const origWrite = slow.write.bind(slow);
    slow.write = ((chunk: Uint8Array, cb?: (err?: Error | null) => void) => {
      const ok = origWrite(chunk, cb);
      if (!ok) refusals++;
      return ok;
    }) as typeof slow.write;
    const users = makeUsers({ count: 3, seed: 1 });
    const recs = [...simulateMany(users, { startMs: 0, durationS: 120, seed: 1 })];
    const sink = writableSink(slow, { end: true });
    await pumpFrames(recs, sink, { speed: 0, encode: encodeFrame });
    await sink.close();
    expect(refusals).toBeGreaterThan(0);
    expect(slow.writableFinished).toBe(true);
    const dec = new FrameDecoder();
    expect(dec.push(Buffer.concat(received))).toEqual(recs);
    expect(dec.stats.framesBad).toBe(0);
  });

  it('writableSink turns a stream error into a rejected write instead of a crash', async () => {
    const broken = new Writable({
      write(_chunk, _enc, cb) {
        cb(new Error('disk on fire'));
      },
    });
    const sink = writableSink(broken, { end: true });
    await expect(
      (async () => {
        for (let i = 0; i < 5; i++) await sink.write(new Uint8Array(10));
        await sink.close();
      })(),
    ).rejects.toThrow(/disk on fire/);
  });

  it('stdout-style sink (end: false) leaves the stream open', async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const sink = writableSink(out, { end: false });
    await sink.write(new Uint8Array([1, 2, 3]));
    await sink.close();
    expect(out.writableEnded).toBe(false);
    expect(Buffer.concat(chunks)).toEqual(Buffer.from([1, 2, 3]));
  });

  describe('serialSink over serialport\'s MockBinding', () => {
    const MockBinding = SerialPortMock.binding;
    afterEach(() => MockBinding.reset());

    it('writes every frame to the port, drains and closes it', async () => {
      MockBinding.createPort('/dev/FEDWEAR0', { echo: false, record: true });
      const port = new SerialPortMock({ path: '/dev/FEDWEAR0', baudRate: 115_200, autoOpen: false });
      await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
      const binding = port.port!;
      const recs = [...simulateMany(makeUsers({ count: 2, seed: 5 }), { startMs: 0, durationS: 300, seed: 2 })];
      const sink = serialSink(port);
      await pumpFrames(recs, sink, { speed: 0, encode: encodeFrame });
      await sink.close();
      expect(port.isOpen).toBe(false);
      expect(binding.recording).toEqual(concat(recs.map(encodeFrame)));
    });
  });
});
