/**
 * Streaming receiver: bytes in any chunking -> records. COBS is undone on the fly into one
 * preallocated buffer (no allocation per byte); a 0x00 ends a frame, and after any error the
 * decoder simply starts afresh at the next 0x00, so one bad frame never costs a good one.
 */
import type { DeviceRecord } from './records.ts';
import { MAX_ENCODED_FRAME_LENGTH } from './layout.ts';
import { isFailure, readRecord } from './decode.ts';
import { WireError, type WireErrorKind } from './errors.ts';

export interface FrameDecoderOptions {
  /**
   * Longest COBS-encoded frame accepted, in bytes without the 0x00. A longer one is counted once
   * as `length` and skipped up to the next 0x00 without buffering. Default MAX_ENCODED_FRAME_LENGTH
   * (86), the longest a valid version-1 frame can be.
   */
  maxFrameLength?: number;
  /** Device ids whose sequence numbers are tracked; past this the oldest-seen is forgotten. Default 1024. */
  maxDevices?: number;
  /** Called for each rejected frame (for logs); the counters are kept either way. Must not call push. */
  onError?: (error: WireError) => void;
}

/** Live counters; framesBad is the sum of `errors` over the six kinds. */
export interface DecoderStats {
  /** Bytes pushed, delimiters and garbage included. */
  bytes: number;
  framesOk: number;
  framesBad: number;
  /** Rejected frames by kind (WireErrorKind: cobs, length, crc, version, unknownType, field). */
  errors: Record<WireErrorKind, number>;
  /** Frames missing according to sequence numbers, over all devices. */
  seqGaps: number;
  /** Times a device's sequence jumped forward by more than one. */
  seqGapEvents: number;
  /** Times a device's sequence went backwards or repeated (reboot, duplicate, reorder); not loss. */
  seqRewinds: number;
}

export interface DeviceSequenceStats {
  lastSeq: number;
  frames: number;
  seqGaps: number;
  seqGapEvents: number;
  seqRewinds: number;
}

export function emptyStats(): DecoderStats {
  return {
    bytes: 0,
    framesOk: 0,
    framesBad: 0,
    errors: { cobs: 0, length: 0, crc: 0, version: 0, unknownType: 0, field: 0 },
    seqGaps: 0,
    seqGapEvents: 0,
    seqRewinds: 0,
  };
}

export class FrameDecoder {
  readonly stats: DecoderStats = emptyStats();
  readonly maxFrameLength: number;
  private readonly maxDevices: number;
  private readonly onError: ((error: WireError) => void) | undefined;
  private readonly sequences = new Map<number, DeviceSequenceStats>();
  /** COBS-decoded bytes of the frame in progress; never longer than its encoded form. */
  private readonly buf: Uint8Array;
  private decodedLen = 0;
  private encodedLen = 0;
  /** Data bytes still to come in the current COBS block; 0 means the next byte is a code byte. */
  private blockLeft = 0;
  /** The current block implies a 0x00 before the next one (its code was not 0xFF). */
  private zeroPending = false;
  /** Skipping an oversize frame until the next delimiter. */
  private dropping = false;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrameLength = positiveInt(options.maxFrameLength ?? MAX_ENCODED_FRAME_LENGTH, 'maxFrameLength', 1 << 20);
    this.maxDevices = positiveInt(options.maxDevices ?? 1024, 'maxDevices', 1 << 24);
    this.onError = options.onError;
    this.buf = new Uint8Array(this.maxFrameLength);
  }

  /** Per-device sequence tracking, keyed by device id. */
  get devices(): ReadonlyMap<number, Readonly<DeviceSequenceStats>> {
    return this.sequences;
  }

  /** Feeds bytes; returns the records completed by them (often none), in order. Never throws on data. */
  push(chunk: Uint8Array): DeviceRecord[] {
    const out: DeviceRecord[] = [];
    const buf = this.buf;
    const max = this.maxFrameLength;
    let decodedLen = this.decodedLen;
    let encodedLen = this.encodedLen;
    let blockLeft = this.blockLeft;
    let zeroPending = this.zeroPending;
    let dropping = this.dropping;
    const n = chunk.length;
    this.stats.bytes += n;
    for (let i = 0; i < n; i++) {
      const b = chunk[i];
      if (b === 0) {
        // Empty frames (0x00 0x00) are not errors: senders may lead with 0x00 to flush a receiver.
        if (!dropping && encodedLen > 0) {
          if (blockLeft !== 0) {
            this.reject('cobs', `frame ended ${blockLeft} byte(s) short of its last COBS block`);
          } else {
            const rec = this.finish(decodedLen);
            if (rec !== undefined) out.push(rec);
          }
        }
        decodedLen = 0;
        encodedLen = 0;
        blockLeft = 0;
        zeroPending = false;
        dropping = false;
        continue;
      }
      if (dropping) {
        const next = chunk.indexOf(0, i + 1);
        i = (next < 0 ? n : next) - 1;
        continue;
      }
      if (++encodedLen > max) {
        dropping = true;
        this.reject('length', `oversize frame: more than ${max} bytes before a 0x00`);
        continue;
      }
      if (blockLeft === 0) {
        if (zeroPending) buf[decodedLen++] = 0;
        blockLeft = b - 1;
        zeroPending = b !== 0xff;
      } else {
        buf[decodedLen++] = b;
        blockLeft--;
        // Copy the rest of the block in a tight loop; it stops early at a 0x00 (handled above on
        // the next pass), at the chunk's end, and at the size limit, so the outcome is the same.
        let end = i + 1 + Math.min(blockLeft, max - encodedLen);
        if (end > n) end = n;
        let j = i + 1;
        while (j < end) {
          const c = chunk[j];
          if (c === 0) break;
          buf[decodedLen++] = c;
          j++;
        }
        const copied = j - i - 1;
        blockLeft -= copied;
        encodedLen += copied;
        i = j - 1;
      }
    }
    this.decodedLen = decodedLen;
    this.encodedLen = encodedLen;
    this.blockLeft = blockLeft;
    this.zeroPending = zeroPending;
    this.dropping = dropping;
    return out;
  }

  /** End of input: a frame still open (no 0x00 yet) is lost and counted as `length`. */
  end(): void {
    if (!this.dropping && this.encodedLen > 0) {
      this.reject('length', `input ended inside a frame (${this.encodedLen} bytes without a 0x00)`);
    }
    this.decodedLen = 0;
    this.encodedLen = 0;
    this.blockLeft = 0;
    this.zeroPending = false;
    this.dropping = false;
  }

  private finish(len: number): DeviceRecord | undefined {
    const r = readRecord(this.buf, len);
    if (isFailure(r)) {
      this.reject(r.kind, r.detail);
      return undefined;
    }
    this.stats.framesOk++;
    this.track(r.deviceId, r.seq);
    return r;
  }

  private reject(kind: WireErrorKind, detail: string): void {
    this.stats.framesBad++;
    this.stats.errors[kind]++;
    this.onError?.(new WireError(kind, detail));
  }

  /** Loss accounting: a forward jump of d < 2^31 means d - 1 frames never arrived. */
  private track(deviceId: number, seq: number): void {
    let s = this.sequences.get(deviceId);
    if (s === undefined) {
      if (this.sequences.size >= this.maxDevices) {
        // Forget the device seen first (Map iterates in insertion order); the C decoder does the same.
        this.sequences.delete(this.sequences.keys().next().value as number);
      }
      this.sequences.set(deviceId, { lastSeq: seq, frames: 1, seqGaps: 0, seqGapEvents: 0, seqRewinds: 0 });
      return;
    }
    const missing = (seq - s.lastSeq - 1) >>> 0;
    if (missing !== 0) {
      if (missing < 0x80000000) {
        s.seqGaps += missing;
        s.seqGapEvents++;
        this.stats.seqGaps += missing;
        this.stats.seqGapEvents++;
      } else {
        s.seqRewinds++;
        this.stats.seqRewinds++;
      }
    }
    s.lastSeq = seq;
    s.frames++;
  }
}

function positiveInt(x: number, name: string, max: number): number {
  if (!Number.isInteger(x) || x < 1 || x > max) throw new RangeError(`FrameDecoder option ${name}: expected an integer 1..${max}, got ${x}`);
  return x;
}
