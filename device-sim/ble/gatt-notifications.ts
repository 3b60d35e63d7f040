/**
 * What a simulated chest strap and foot pod would notify over Bluetooth LE: Heart Rate Measurement
 * (0x2A37) and RSC Measurement (0x2A53) payloads from a simulateTicks stream. Payload layouts and
 * their sources are in firmware-bindings/ble/.
 *
 * Choices, so that the gateway's mapping (GattRecordMapper) can be checked against the simulator:
 * - Timing follows device.ts: second i reports at its end, startMs + (i+1)·1000. One RSC notification
 *   with cadence 0 goes out at startMs as well, because a cadence only becomes steps once there is a
 *   previous notification to integrate from.
 * - Heart rate: the wrist reading's bpm, rounded to whole bpm; sensor contact "not detected" during
 *   a dropout, else "detected". RR intervals are the reading's, in 1/1024 s (round(ms·1.024), which
 *   the mapper turns back into the same ms). A notification holds at most `maxPayloadBytes`
 *   (default 20: ATT_MTU 23 minus 3), so surplus intervals go in further notifications.
 * - Cadence: the device's own step counter over the last second, times 60. That is what makes
 *   integrating the cadences give back the counter exactly. Above 255 /min (a uint8) the excess steps
 *   are carried into the next second.
 * - Speed: true cadence times a step length (walking: walkingStepLengthM; running: 1.35 times that,
 *   a rule of thumb). Stride length is that step length; total distance sums the speed.
 * - Energy Expended (optional): the true kcal so far in kJ (1 kcal = 4.184 kJ), as an ideal strap
 *   would count it; it saturates at 0xFFFF as the spec says.
 */
import { encodeHeartRateMeasurement, encodeRscMeasurement, GATT_UUID } from '../../firmware-bindings/index.ts';
import type { SimTick } from '../device.ts';
import { walkingStepLengthM } from '../equations.ts';
import type { UserProfile } from '../users.ts';

export interface GattNotification {
  timestampMs: number;
  service: typeof GATT_UUID.heartRateService | typeof GATT_UUID.runningSpeedAndCadenceService;
  characteristic: typeof GATT_UUID.heartRateMeasurement | typeof GATT_UUID.rscMeasurement;
  data: Uint8Array;
}

export interface GattNotificationOptions {
  /** The wearer (for the step length). */
  user: UserProfile;
  /** Emit 0x2A37 (default true). */
  heartRate?: boolean;
  /** Emit 0x2A53 (default true). */
  rsc?: boolean;
  /** Include Energy Expended in 0x2A37 (default false). */
  energyExpended?: boolean;
  /** Largest notification value (default 20 bytes). */
  maxPayloadBytes?: number;
  /** The step counter before the first tick: the simulation's initialSteps (default 0). */
  initialSteps?: number;
}

const RUNNING_STEP_FACTOR = 1.35;
const KJ_PER_KCAL = 4.184;
const MAX_CADENCE_STEPS_PER_S = 4; // 240 /min: the largest multiple of 60 in a uint8

export function* gattNotifications(ticks: Iterable<SimTick>, opts: GattNotificationOptions): Generator<GattNotification, void, undefined> {
  const wantHr = opts.heartRate ?? true;
  const wantRsc = opts.rsc ?? true;
  const maxPayload = opts.maxPayloadBytes ?? 20;
  const hrHeader = 2 + (opts.energyExpended ? 2 : 0);
  if (!Number.isInteger(maxPayload) || maxPayload < hrHeader + 2) {
    throw new RangeError(`maxPayloadBytes must be an integer >= ${hrHeader + 2}, got ${maxPayload}`);
  }
  const rrPerNotification = Math.floor((maxPayload - hrHeader) / 2);
  const walkStep = walkingStepLengthM(opts.user.sex, opts.user.heightCm);
  let prevSteps = opts.initialSteps ?? 0;
  let first = true;
  let owedSteps = 0;
  let kcal = 0;
  let distanceM = 0;
  for (const tick of ticks) {
    const ts = tick.startMs + 1000;
    const { truth, reading } = tick;
    kcal += truth.kcalPerMin / 60;
    if (wantRsc && first) {
      yield rsc(tick.startMs, { speedMps: 0, cadenceSpm: 0, running: false, totalDistanceM: 0 });
    }
    if (wantHr) {
      const rr = reading.rrMs.map((ms) => Math.round(ms * 1.024));
      const energyExpendedKj = opts.energyExpended ? Math.min(0xffff, Math.floor(kcal * KJ_PER_KCAL)) : undefined;
      let k = 0;
      do {
        const data = encodeHeartRateMeasurement({
          bpm: Math.round(reading.bpm),
          sensorContact: reading.dropout ? 'notDetected' : 'detected',
          energyExpendedKj,
          rrIntervals1024: rr.slice(k, k + rrPerNotification),
        });
        yield { timestampMs: ts, service: GATT_UUID.heartRateService, characteristic: GATT_UUID.heartRateMeasurement, data };
        k += rrPerNotification;
      } while (k < rr.length);
    }
    if (wantRsc) {
      const total = reading.stepsTotal;
      owedSteps += (total - prevSteps + 2 ** 32) % 2 ** 32;
      prevSteps = total;
      const steps = Math.min(MAX_CADENCE_STEPS_PER_S, owedSteps);
      owedSteps -= steps;
      const running = truth.activity === 'running';
      const stepM = running ? walkStep * RUNNING_STEP_FACTOR : walkStep;
      const speedMps = Math.min(255, (truth.cadenceSpm / 60) * stepM);
      distanceM += speedMps;
      yield rsc(ts, {
        speedMps,
        cadenceSpm: steps * 60,
        running,
        strideLengthM: truth.cadenceSpm > 0 ? stepM : undefined,
        totalDistanceM: Math.min(distanceM, 0xffffffff / 10),
      });
    }
    first = false;
  }
}

function rsc(timestampMs: number, m: Parameters<typeof encodeRscMeasurement>[0]): GattNotification {
  return { timestampMs, service: GATT_UUID.runningSpeedAndCadenceService, characteristic: GATT_UUID.rscMeasurement, data: encodeRscMeasurement(m) };
}
