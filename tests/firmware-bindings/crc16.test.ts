import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CRC16_INIT, crc16, crc16Update } from '../../firmware-bindings/index.ts';
import { loadFixture } from '../helpers/fixtures.ts';

const vectors = loadFixture<typeof import('../fixtures/wire-vectors.json')>('wire-vectors.json');
import { SEED, unhex } from './helpers.ts';

/** The CRC straight from its definition, bit by bit: the table version must agree with it. */
function crcBitwise(data: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

describe('crc16 (CRC-16/CCITT-FALSE)', () => {
  it('has the catalogue check value 0x29B1 for "123456789"', () => {
    expect(crc16(new TextEncoder().encode('123456789'))).toBe(0x29b1);
  });

  it('matches the shared vectors', () => {
    for (const v of vectors.crc) expect(crc16(unhex(v.data)).toString(16).padStart(4, '0'), v.name).toBe(v.crc);
  });

  it('agrees with the bitwise definition, and over a sub-range', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), (data, a, b) => {
        const [s, e] = [a % (data.length + 1), b % (data.length + 1)].sort((x, y) => x - y);
        expect(crc16(data)).toBe(crcBitwise(data));
        expect(crc16(data, s, e)).toBe(crcBitwise(data.subarray(s, e)));
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('continues across pieces with crc16Update', () => {
    const data = new TextEncoder().encode('123456789');
    expect(crc16Update(crc16Update(CRC16_INIT, data, 0, 4), data, 4)).toBe(0x29b1);
  });
});
