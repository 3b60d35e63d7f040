/**
 * Consistent Overhead Byte Stuffing: Cheshire and Baker, "Consistent Overhead Byte Stuffing",
 * IEEE/ACM Trans. Networking 7(2), 1999. The output has no 0x00, so 0x00 can delimit frames.
 *
 * One choice the paper leaves open: when the data ends exactly after a full 254-byte block (code
 * 0xFF), we emit no trailing 0x01 block. That matches the examples on Wikipedia's COBS page and
 * the Python `cobs` package; the decoders accept both forms.
 */
import { cobsMaxEncodedLength } from './layout.ts';
import { WireError } from './errors.ts';

export { cobsMaxEncodedLength };

/**
 * Encodes data[start, end) into out at outOffset; returns the number of bytes written. out needs
 * cobsMaxEncodedLength(end - start) bytes from outOffset. No allocation: for hot paths.
 */
export function cobsEncodeInto(data: Uint8Array, start: number, end: number, out: Uint8Array, outOffset: number): number {
  let codeAt = outOffset;
  let w = outOffset + 1;
  let code = 1;
  for (let i = start; i < end; i++) {
    const b = data[i];
    if (b === 0) {
      out[codeAt] = code;
      codeAt = w++;
      code = 1;
    } else {
      out[w++] = b;
      code++;
      if (code === 0xff) {
        out[codeAt] = code;
        code = 1;
        // A full block at the very end needs no empty block after it (see the header comment).
        if (i + 1 === end) return w - outOffset;
        codeAt = w++;
      }
    }
  }
  out[codeAt] = code;
  return w - outOffset;
}

/** COBS-encodes data (no 0x00 delimiter appended). */
export function cobsEncode(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsMaxEncodedLength(data.length));
  const n = cobsEncodeInto(data, 0, data.length, out, 0);
  return n === out.length ? out : out.slice(0, n);
}

/**
 * Decodes one COBS-encoded frame (without its 0x00 delimiter). Throws WireError kind 'cobs' on
 * empty input, a 0x00 inside, or a block that runs past the end.
 */
export function cobsDecode(encoded: Uint8Array): Uint8Array {
  if (encoded.length === 0) throw new WireError('cobs', 'empty input: a COBS encoding is at least 1 byte');
  const out = new Uint8Array(encoded.length);
  let w = 0;
  let i = 0;
  while (i < encoded.length) {
    const code = encoded[i];
    if (code === 0) throw new WireError('cobs', `0x00 at offset ${i} inside a COBS frame`);
    const blockEnd = i + code;
    if (blockEnd > encoded.length) {
      throw new WireError('cobs', `block at offset ${i} (code ${code}) runs ${blockEnd - encoded.length} byte(s) past the end`);
    }
    for (let j = i + 1; j < blockEnd; j++) {
      const b = encoded[j];
      if (b === 0) throw new WireError('cobs', `0x00 at offset ${j} inside a COBS frame`);
      out[w++] = b;
    }
    i = blockEnd;
    if (code !== 0xff && i < encoded.length) out[w++] = 0;
  }
  return out.slice(0, w);
}
