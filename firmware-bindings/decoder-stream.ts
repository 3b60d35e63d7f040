/**
 * Node stream face of FrameDecoder: pipe a serial port (bytes) in, read records (objects) out.
 * The decoder stays reachable for its counters.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { DeviceRecord } from './records.ts';
import { FrameDecoder, type DecoderStats, type FrameDecoderOptions } from './frame-decoder.ts';

export class DecoderStream extends Transform {
  readonly decoder: FrameDecoder;

  constructor(options: FrameDecoderOptions = {}) {
    super({ readableObjectMode: true });
    this.decoder = new FrameDecoder(options);
  }

  get stats(): DecoderStats {
    return this.decoder.stats;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    for (const rec of this.decoder.push(chunk)) this.push(rec satisfies DeviceRecord);
    done();
  }

  override _flush(done: TransformCallback): void {
    this.decoder.end();
    done();
  }
}

/** A Transform taking bytes and emitting DeviceRecord objects; `.stats` holds the counters. */
export function createDecoderStream(options?: FrameDecoderOptions): DecoderStream {
  return new DecoderStream(options);
}
