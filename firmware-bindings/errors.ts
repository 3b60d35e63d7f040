/**
 * The two ways the codec refuses data: WireError for bytes that are not a valid frame (decoding),
 * WireEncodeError for a record whose field cannot be put on the wire (encoding).
 */

/**
 * Why a received frame was rejected. Each kind has its own counter in DecoderStats.
 * - cobs: the frame ended inside a COBS block (or a 0x00 inside, for cobsDecode).
 * - length: too short, too long (oversize), or the payload length does not fit its type.
 * - crc: the CRC-16 does not match.
 * - version: protocol version is not PROTOCOL_VERSION.
 * - unknownType: record type code not in RecordType.
 * - field: CRC and layout are right but a value is out of range (confidence > 100, unknown
 *   label source, model not UTF-8, timestamp >= 2^53): a device bug, counted apart from line noise.
 */
export type WireErrorKind = 'cobs' | 'length' | 'crc' | 'version' | 'unknownType' | 'field';

export const WIRE_ERROR_KINDS: readonly WireErrorKind[] = ['cobs', 'length', 'crc', 'version', 'unknownType', 'field'];

export class WireError extends Error {
  override readonly name = 'WireError';
  constructor(
    readonly kind: WireErrorKind,
    readonly detail: string,
  ) {
    super(`${kind}: ${detail}`);
  }
}

/** A record field that cannot be encoded; `field` is a path like "rrIntervals.intervalsMs[3]". */
export class WireEncodeError extends RangeError {
  override readonly name = 'WireEncodeError';
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}
