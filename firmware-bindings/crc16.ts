/**
 * CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor; check("123456789")
 * = 0x29B1. Parameters as catalogued in Greg Cook's "Catalogue of parametrised CRC algorithms"
 * (reveng.sourceforge.io/crc-catalogue/16.htm, entry CRC-16/IBM-3740, alias CRC-16/CCITT-FALSE).
 * Byte-wise table form (Sarwate 1988, CACM 31(8)): one lookup per byte instead of eight shifts.
 */

const TABLE = buildTable();

function buildTable(): Uint16Array {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
}

export const CRC16_INIT = 0xffff;

/** Continues a CRC over data[start, end); start a new one with CRC16_INIT. */
export function crc16Update(crc: number, data: Uint8Array, start = 0, end = data.length): number {
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xff00) ^ TABLE[((crc >>> 8) ^ data[i]) & 0xff];
  return crc;
}

/** CRC-16/CCITT-FALSE of data[start, end). */
export function crc16(data: Uint8Array, start = 0, end = data.length): number {
  return crc16Update(CRC16_INIT, data, start, end);
}
