import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PacketLengthScanner } from '../../broker/index.ts';

/** An MQTT fixed header announcing `bodyLength` bytes: type byte, varint remaining length (MQTT 3.1.1 §2.2.3). */
function header(bodyLength: number, type = 0x30): Uint8Array {
  const bytes = [type];
  let x = bodyLength;
  do {
    let byte = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) byte |= 0x80;
    bytes.push(byte);
  } while (x > 0);
  return Uint8Array.from(bytes);
}

function packet(bodyLength: number): Uint8Array {
  const h = header(bodyLength);
  const out = new Uint8Array(h.length + bodyLength).fill(0xab);
  out.set(h, 0);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Splits bytes at the given (sorted, deduplicated) cut points. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(prev, p));
    prev = p;
  }
  return chunks;
}

describe('PacketLengthScanner', () => {
  it('counts packets whatever the chunking, and never objects to packets within the limit', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (sizes, cuts) => {
        const packets = sizes.map((n) => packet(n));
        const limit = Math.max(...packets.map((p) => p.length));
        const s = new PacketLengthScanner(limit);
        for (const chunk of split(concat(packets), cuts)) expect(s.feed(chunk)).toBeNull();
        expect(s.packets).toBe(sizes.length);
      }),
    );
  });

  it('reports an oversize packet from its header alone, whatever the chunking and whatever came before', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 5 }), fc.integer({ min: 1, max: 10_000_000 }), fc.array(fc.nat(), { maxLength: 10 }), (before, extra, cuts) => {
        const limit = 200;
        const okBytes = concat(before.map((n) => packet(n)));
        const big = header(limit + extra); // the body is never sent
        const s = new PacketLengthScanner(limit);
        const verdicts = split(concat([okBytes, big]), cuts).map((c) => s.feed(c));
        const violation = verdicts.find((v) => v !== null);
        expect(violation).toEqual({ kind: 'oversize', packetBytes: big.length + limit + extra, limit });
        expect(s.packets).toBe(before.length);
      }),
    );
  });

  it('accepts a packet of exactly the limit and refuses one byte more', () => {
    const exact = packet(1000);
    expect(new PacketLengthScanner(exact.length).feed(exact)).toBeNull();
    expect(new PacketLengthScanner(exact.length - 1).feed(exact)).toMatchObject({ kind: 'oversize', packetBytes: exact.length });
  });

  it('flags a remaining length longer than four bytes as malformed', () => {
    const s = new PacketLengthScanner(1 << 30);
    expect(s.feed(Uint8Array.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toEqual({ kind: 'malformed', detail: 'remaining length longer than 4 bytes' });
  });

  it('reads a 5 MiB announcement in a 4-byte length field', () => {
    const h = header(5 * 1024 * 1024);
    expect(h.length).toBe(5);
    expect(new PacketLengthScanner(256 * 1024).feed(h)).toEqual({ kind: 'oversize', packetBytes: 5 + 5 * 1024 * 1024, limit: 256 * 1024 });
  });

  it('refuses a nonsensical limit', () => {
    expect(() => new PacketLengthScanner(1)).toThrow(/maxPacketBytes must be an integer >= 2, got 1/);
  });
});
