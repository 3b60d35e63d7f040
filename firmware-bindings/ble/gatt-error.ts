/**
 * How the GATT codecs refuse a payload, and the counters a receiver keeps of refusals. A malformed
 * notification is a device (or radio) problem the gateway reports, never a crash.
 */

/** The characteristics this folder understands, by their 16-bit UUIDs as noble spells them. */
export type GattCharacteristic = 'heartRateMeasurement' | 'rscMeasurement';

export const GATT_UUID = {
  heartRateService: '180d',
  heartRateMeasurement: '2a37',
  runningSpeedAndCadenceService: '1814',
  rscMeasurement: '2a53',
} as const;

/** A payload that does not parse; `characteristic` says which decoder refused it and `detail` why. */
export class GattError extends Error {
  override readonly name = 'GattError';
  constructor(
    readonly characteristic: GattCharacteristic,
    readonly detail: string,
  ) {
    super(`${characteristic}: ${detail}`);
  }
}

/** A measurement that cannot be encoded; `field` names the offending field. */
export class GattEncodeError extends RangeError {
  override readonly name = 'GattEncodeError';
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

export interface GattStats {
  /** Notifications that decoded. */
  ok: Record<GattCharacteristic, number>;
  /** Notifications refused as malformed. */
  malformed: Record<GattCharacteristic, number>;
  /** The most recent refusal, for logs. */
  lastError: string | null;
}

export function emptyGattStats(): GattStats {
  return { ok: { heartRateMeasurement: 0, rscMeasurement: 0 }, malformed: { heartRateMeasurement: 0, rscMeasurement: 0 }, lastError: null };
}

export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
