import { describe, expect, it } from 'vitest';
import { FrameDecoder, WireError, cobsEncode, encodeFrame, encodeRecord, type DeviceRecord } from '../../firmware-bindings/index.ts';
import { loadFixture } from '../helpers/fixtures.ts';

const vectors = loadFixture<typeof import('../fixtures/wire-vectors.json')>('wire-vectors.json');
import { concat, unhex } from './helpers.ts';

const hr = (deviceId: number, seq: number): DeviceRecord => ({ type: 'heartRate', deviceId, seq, timestampMs: 1_732_000_000_000 + seq, bpm: 70, confidence: 90 });

describe('FrameDecoder', () => {
  it('reproduces every stream vector byte by byte: records, rejections in order, counters', () => {
    for (const v of vectors.streams) {
      const events: unknown[] = [];
      const dec = new FrameDecoder({ maxDevices: 8, onError: (e) => events.push({ reject: e.kind }) });
      for (const b of unhex(v.bytes)) for (const record of dec.push(Uint8Array.of(b))) events.push({ record });
      dec.end();
      expect(events, v.name).toEqual(v.events);
      expect(dec.stats, v.name).toEqual(v.stats);
    }
  });

  it('yields the same records whether pushed whole or a byte at a time', () => {
    const bytes = unhex(vectors.streams[0].bytes);
    const whole = new FrameDecoder().push(bytes);
    const single = new FrameDecoder();
    const bytewise = [...bytes].flatMap((b) => single.push(Uint8Array.of(b)));
    expect(whole).toHaveLength(vectors.records.length);
    expect(bytewise).toEqual(whole);
  });

  it('drops an oversize frame without buffering it, counts it once, and resyncs', () => {
    const dec = new FrameDecoder({ maxFrameLength: 40 });
    const junk = new Uint8Array(100_000).fill(0x41);
    expect(dec.push(junk)).toEqual([]);
    expect(dec.push(junk)).toEqual([]);
    expect(dec.stats.errors.length).toBe(1);
    expect(dec.push(concat([Uint8Array.of(0), encodeFrame(hr(1, 1))]))).toEqual([hr(1, 1)]);
    expect(dec.stats).toMatchObject({ framesOk: 1, framesBad: 1 });
  });

  it('treats a frame of exactly maxFrameLength as fine and one byte more as oversize', () => {
    const f = encodeFrame(hr(1, 1));
    expect(new FrameDecoder({ maxFrameLength: f.length - 1 }).push(f)).toEqual([hr(1, 1)]);
    const tight = new FrameDecoder({ maxFrameLength: f.length - 2 });
    expect(tight.push(f)).toEqual([]);
    expect(tight.stats.errors.length).toBe(1);
  });

  it('ignores empty frames (runs of 0x00) without counting them', () => {
    const dec = new FrameDecoder();
    expect(dec.push(concat([Uint8Array.of(0, 0, 0), encodeFrame(hr(1, 1)), Uint8Array.of(0, 0)]))).toEqual([hr(1, 1)]);
    expect(dec.stats).toMatchObject({ framesOk: 1, framesBad: 0 });
  });

  it('counts a frame cut off by the end of input as length, once', () => {
    const dec = new FrameDecoder();
    dec.push(encodeFrame(hr(1, 1)).subarray(0, 9));
    dec.end();
    dec.end();
    expect(dec.stats).toMatchObject({ framesBad: 1, errors: { length: 1 } });
  });

  it('tracks sequence gaps and rewinds per device, across the u32 wrap', () => {
    const dec = new FrameDecoder();
    const seqs: Array<[number, number]> = [
      [1, 0xfffffffe], [1, 0xffffffff], [1, 0], [1, 1], // wrap, no loss
      [2, 10], [2, 15], // 4 missing
      [1, 3], // 1 missing
      [2, 15], // duplicate
      [2, 0], // reboot
    ];
    dec.push(concat(seqs.map(([d, s]) => encodeFrame(hr(d, s)))));
    expect(dec.stats).toMatchObject({ framesOk: 9, seqGaps: 5, seqGapEvents: 2, seqRewinds: 2 });
    expect(dec.devices.get(1)).toEqual({ lastSeq: 3, frames: 5, seqGaps: 1, seqGapEvents: 1, seqRewinds: 0 });
    expect(dec.devices.get(2)).toEqual({ lastSeq: 0, frames: 4, seqGaps: 4, seqGapEvents: 1, seqRewinds: 2 });
  });

  it('forgets the device seen first once maxDevices are tracked', () => {
    const dec = new FrameDecoder({ maxDevices: 2 });
    dec.push(concat([encodeFrame(hr(1, 1)), encodeFrame(hr(2, 1)), encodeFrame(hr(3, 1)), encodeFrame(hr(1, 9))]));
    expect([...dec.devices.keys()]).toEqual([3, 1]);
    expect(dec.stats.seqGaps).toBe(0); // device 1 came back as new: no gap charged
  });

  it('reports each rejection to onError with kind and detail', () => {
    const errors: WireError[] = [];
    const dec = new FrameDecoder({ onError: (e) => errors.push(e) });
    const raw = encodeRecord(hr(1, 1));
    raw[20] ^= 0x01;
    dec.push(concat([cobsEncode(raw), Uint8Array.of(0, 0x04, 0x01, 0x00)]));
    expect(errors.map((e) => e.kind)).toEqual(['crc', 'cobs']);
    expect(errors[1].message).toBe('cobs: frame ended 2 byte(s) short of its last COBS block');
  });

  it('refuses bad options with the option named', () => {
    expect(() => new FrameDecoder({ maxFrameLength: 0 })).toThrow(/maxFrameLength: expected an integer 1\.\./);
    expect(() => new FrameDecoder({ maxDevices: 1.5 })).toThrow(/maxDevices/);
  });
});
