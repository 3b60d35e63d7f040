/**
 * Which (client, round) pairs already have an accepted update, with the digest of the envelope that
 * was accepted. An honest gateway sends one update per round, so a second one is either the same
 * bytes again (MQTT QoS 1 is at-least-once: a redelivery, harmless) or a different update for a slot
 * already taken (a replay or a misbehaving client). Both are refused; the digest tells them apart.
 *
 * Record an update only when it is committed to the aggregator's durable round state, and persist
 * this set with it (toJSON / fromJSON): then a restart restores both together, and a rejected or
 * unauthenticated envelope can never burn a client's slot.
 */

export interface SeenUpdatesSnapshot {
  readonly entries: readonly { readonly clientId: string; readonly roundId: number; readonly digest: string }[];
}

export class SeenUpdates {
  readonly #byRound = new Map<number, Map<string, string>>();

  /** The digest accepted for (clientId, roundId), if any. */
  digestOf(clientId: string, roundId: number): string | undefined {
    return this.#byRound.get(roundId)?.get(clientId);
  }

  has(clientId: string, roundId: number): boolean {
    return this.digestOf(clientId, roundId) !== undefined;
  }

  record(clientId: string, roundId: number, digest: string): void {
    const existing = this.digestOf(clientId, roundId);
    if (existing !== undefined && existing !== digest) throw new Error(`seen-updates: client ${clientId} already has an update recorded for round ${roundId}`);
    let round = this.#byRound.get(roundId);
    if (round === undefined) this.#byRound.set(roundId, (round = new Map()));
    round.set(clientId, digest);
  }

  /** Drops rounds older than `roundId` (they can no longer be accepted, so need no memory). */
  forgetBefore(roundId: number): void {
    for (const r of this.#byRound.keys()) if (r < roundId) this.#byRound.delete(r);
  }

  get size(): number {
    let n = 0;
    for (const m of this.#byRound.values()) n += m.size;
    return n;
  }

  toJSON(): SeenUpdatesSnapshot {
    const entries: { clientId: string; roundId: number; digest: string }[] = [];
    for (const [roundId, m] of [...this.#byRound].sort((a, b) => a[0] - b[0])) for (const [clientId, digest] of m) entries.push({ clientId, roundId, digest });
    return { entries };
  }

  static fromJSON(snapshot: SeenUpdatesSnapshot): SeenUpdates {
    const s = new SeenUpdates();
    for (const e of snapshot.entries) s.record(e.clientId, e.roundId, e.digest);
    return s;
  }
}
