/**
 * status/<clientId>: the broker's own retained presence record for every session (the "last will"
 * that clients cannot forge, since only the broker publishes there). Versioned JSON envelope.
 */
import type { PublishPacket } from 'aedes';
import type { Identity } from './identity.ts';
import { topics } from './topics.ts';

export interface StatusRecord {
  v: 1;
  clientId: string;
  username: string;
  role: Identity['role'];
  online: boolean;
  /** ISO 8601 time the broker saw the change. */
  at: string;
  /** Why the session ended (absent while online). */
  reason?: string;
}

export function statusRecord(clientId: string, identity: Identity, online: boolean, at: Date, reason?: string): StatusRecord {
  return { v: 1, clientId, username: identity.username, role: identity.role, online, at: at.toISOString(), ...(reason ? { reason } : {}) };
}

export function statusPacket(record: StatusRecord): PublishPacket {
  return {
    cmd: 'publish',
    topic: topics.status(record.clientId),
    payload: Buffer.from(JSON.stringify(record)),
    qos: 1,
    retain: true,
    dup: false,
  };
}

/** Reads a status payload back; null when it is not a v1 status record. */
export function parseStatusRecord(payload: Buffer | string): StatusRecord | null {
  try {
    const r = JSON.parse(payload.toString()) as Partial<StatusRecord>;
    if (r.v !== 1 || typeof r.clientId !== 'string' || typeof r.online !== 'boolean') return null;
    return r as StatusRecord;
  } catch {
    return null;
  }
}
