/**
 * Reads MQTT fixed headers out of a byte stream (MQTT 3.1.1 §2.2) without keeping the packets:
 * enough to know each packet's size as soon as its header arrives, before anyone buffers the body.
 * aedes and mqtt-packet have no size limit, so this is where one is enforced.
 */

export type PacketViolation =
  | { kind: 'oversize'; packetBytes: number; limit: number }
  | { kind: 'malformed'; detail: string };

export class PacketLengthScanner {
  readonly #limit: number;
  #phase: 'type' | 'length' | 'body' = 'type';
  #remaining = 0;
  #multiplier = 1;
  #lengthBytes = 0;
  #packets = 0;

  /** `maxPacketBytes` counts the whole packet: fixed header plus remaining length. */
  constructor(maxPacketBytes: number) {
    if (!Number.isInteger(maxPacketBytes) || maxPacketBytes < 2) throw new RangeError(`maxPacketBytes must be an integer >= 2, got ${maxPacketBytes}`);
    this.#limit = maxPacketBytes;
  }

  /** Whole packets seen so far (header and body both passed). */
  get packets(): number {
    return this.#packets;
  }

  /** Consumes the next bytes of the stream; returns the first violation, after which the stream must be dropped. */
  feed(chunk: Uint8Array): PacketViolation | null {
    let i = 0;
    while (i < chunk.length) {
      switch (this.#phase) {
        case 'type':
          i++;
          this.#phase = 'length';
          this.#remaining = 0;
          this.#multiplier = 1;
          this.#lengthBytes = 0;
          break;
        case 'length': {
          const byte = chunk[i++];
          this.#remaining += (byte & 0x7f) * this.#multiplier;
          this.#multiplier *= 128;
          this.#lengthBytes++;
          if (byte & 0x80) {
            if (this.#lengthBytes === 4) return { kind: 'malformed', detail: 'remaining length longer than 4 bytes' };
            break;
          }
          const packetBytes = 1 + this.#lengthBytes + this.#remaining;
          if (packetBytes > this.#limit) return { kind: 'oversize', packetBytes, limit: this.#limit };
          this.#phase = this.#remaining === 0 ? 'type' : 'body';
          if (this.#remaining === 0) this.#packets++;
          break;
        }
        case 'body': {
          const take = Math.min(this.#remaining, chunk.length - i);
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) {
            this.#phase = 'type';
            this.#packets++;
          }
          break;
        }
      }
    }
    return null;
  }
}
