/**
 * Sits between a transport socket and aedes: passes bytes through, but reads every MQTT fixed header
 * on the way and destroys the connection the moment a header announces a packet over the limit,
 * so the body is never buffered (aedes would otherwise wait for all of it).
 */
import { Duplex } from 'node:stream';
import { PacketLengthScanner, type PacketViolation } from './packet-length.ts';

export class PacketGuardStream extends Duplex {
  readonly #inner: Duplex;

  constructor(inner: Duplex, maxPacketBytes: number, onViolation: (v: PacketViolation) => void) {
    super({ allowHalfOpen: false });
    this.#inner = inner;
    const scanner = new PacketLengthScanner(maxPacketBytes);
    inner.on('data', (chunk: Buffer) => {
      if (this.destroyed) return;
      const violation = scanner.feed(chunk);
      if (violation) {
        onViolation(violation);
        inner.destroy();
        this.destroy(new Error(describeViolation(violation)));
        return;
      }
      if (!this.push(chunk)) inner.pause();
    });
    inner.once('end', () => this.push(null));
    inner.once('error', (err) => this.destroy(err));
    inner.once('close', () => this.destroy());
  }

  override _read(): void {
    this.#inner.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#inner.write(chunk, cb);
  }

  // aedes corks the connection around each packet it sends (fixed header, topic, payload are separate
  // writes); without _writev the uncork would replay them as separate socket writes, and Nagle plus the
  // peer's delayed ACK would hold all but the first for ~40 ms. One write per corked batch instead.
  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.#inner.write(chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#inner.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#inner.destroy();
    cb(err);
  }
}

export function describeViolation(v: PacketViolation): string {
  return v.kind === 'oversize'
    ? `MQTT packet of ${v.packetBytes} bytes is over the ${v.limit}-byte limit`
    : `malformed MQTT fixed header: ${v.detail}`;
}
