/**
 * The packet guard passes a corked batch of writes to the socket as one write. aedes corks the
 * connection around every packet it sends; replayed as separate small writes, Nagle and the peer's
 * delayed ACK held a QoS 1 delivery for ~40 ms (bench/redis-scale.ts found it).
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PacketGuardStream } from '../../broker/packet-guard-stream.ts';

describe('PacketGuardStream writes', () => {
  it('hands a corked batch to the inner stream as one chunk, bytes in order', async () => {
    const inner = new PassThrough();
    const writes: Buffer[] = [];
    const write = inner.write.bind(inner);
    inner.write = ((chunk: Buffer, cb?: (err?: Error | null) => void) => {
      writes.push(Buffer.from(chunk));
      return write(chunk, cb);
    }) as typeof inner.write;
    const guard = new PacketGuardStream(inner, 1024, () => {});
    guard.cork();
    guard.write(Buffer.from([0x30, 0x05]));
    guard.write(Buffer.from([0x00, 0x01, 0x74]));
    guard.write(Buffer.from('hi'));
    const flushed = new Promise<void>((resolve) => guard.write(Buffer.alloc(0), () => resolve()));
    process.nextTick(() => guard.uncork());
    await flushed;
    expect(writes).toHaveLength(1);
    expect(writes[0]).toEqual(Buffer.from([0x30, 0x05, 0x00, 0x01, 0x74, 0x68, 0x69]));
    guard.destroy();
  });
});
