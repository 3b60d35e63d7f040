/**
 * Publish gates: in-process code that must handle a client's PUBLISH before the client is told it
 * arrived. aedes 1.2 sends the QoS 1 PUBACK *before* it hands the message to subscribers
 * (handlers/publish.js), so an in-process subscriber that persists what it receives could lose a
 * message the client already considers delivered. A gate runs inside authorizePublish, after the
 * ACL allowed the publish and before the PUBACK: when its promise resolves the publish proceeds; when
 * it rejects the connection is dropped (MQTT 3.1.1 has no negative PUBACK) and the client re-sends
 * it after reconnecting. Gates of one client resolve in the order its publishes arrived, so PUBACKs
 * keep the publish order (MQTT-4.6.0-2).
 */
import type { Aedes, Client, PublishPacket } from 'aedes';
import { filterCovers } from './topic-filter.ts';

export type PublishGate = (packet: Readonly<PublishPacket>, client: Client) => Promise<void>;

export interface PublishGates {
  /** Gates client publishes on topics matching `filter`; returns a function that removes the gate. */
  add(filter: string, gate: PublishGate): () => void;
  /**
   * Holds client publishes on topics matching the filters until the returned function is called,
   * then runs whatever gates exist by then. A broker that will host an in-process aggregator holds
   * updates from the moment it listens: otherwise a gateway that reconnects first would get its
   * PUBACK before the aggregator's gate exists, and the update would be acknowledged but never seen.
   */
  hold(filters: readonly string[]): () => void;
}

export function installPublishGates(aedes: Aedes): PublishGates {
  const gates: Array<{ filter: string; gate: PublishGate }> = [];
  const holds: Array<{ filters: readonly string[]; released: Promise<void> }> = [];
  const tails = new WeakMap<Client, Promise<unknown>>();
  const authorize: Aedes['authorizePublish'] = aedes.authorizePublish.bind(aedes);
  aedes.authorizePublish = (client, packet, callback) => {
    authorize(client, packet, (err) => {
      if (err || !client) return callback(err);
      const covers = (filter: string): boolean => filterCovers(filter, packet.topic);
      const held = holds.filter((h) => h.filters.some(covers));
      if (held.length === 0 && !gates.some((g) => covers(g.filter))) return callback(null);
      // Gates are chosen after any hold is released, so a gate added meanwhile applies.
      const run = Promise.all(held.map((h) => h.released)).then(() => Promise.all(gates.filter((g) => covers(g.filter)).map((g) => g.gate(packet, client))));
      const previous = tails.get(client) ?? Promise.resolve();
      const inOrder = previous.then(
        () => run,
        () => run,
      );
      tails.set(client, inOrder.catch(() => {}));
      inOrder.then(
        () => callback(null),
        (e: unknown) => callback(e instanceof Error ? e : new Error(String(e))),
      );
    });
  };
  return {
    add(filter, gate) {
      const entry = { filter, gate };
      gates.push(entry);
      return () => {
        const i = gates.indexOf(entry);
        if (i >= 0) gates.splice(i, 1);
      };
    },
    hold(filters) {
      let release!: () => void;
      const entry = { filters, released: new Promise<void>((r) => (release = r)) };
      holds.push(entry);
      return () => {
        const i = holds.indexOf(entry);
        if (i >= 0) holds.splice(i, 1);
        release();
      };
    },
  };
}
