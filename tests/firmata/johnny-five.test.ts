/**
 * johnny-five against the Firmata board emulator over a real socat pseudo-terminal pair: the
 * handshake reaches `ready`, and the FirmataWearable component turns the emulated pulse sensor and
 * step line into heart-rate and step records that match the simulated wearer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FirmataWearable, openFirmataBoard, type DeviceRecord, type OpenedFirmataBoard } from '../../firmware-bindings/index.ts';
import { FirmataBoardEmulator, SimulatedWearer, makeUsers, startPtyPair, type Bout } from '../../device-sim/index.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(schedule: Bout[], opts: { speed: number; seed: number; bounce?: boolean }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-firmata-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const pair = await startPtyPair(dir);
  cleanups.push(() => pair.stop());
  const [user] = makeUsers({ count: 1, seed: opts.seed, clusters: ['active-young'] });
  const durationS = schedule.reduce((s, b) => s + b.durationS, 0);
  const wearer = new SimulatedWearer(user, { startMs: Date.UTC(2026, 10, 4), durationS, seed: opts.seed, schedule, stepBounce: opts.bounce });
  const emulator = new FirmataBoardEmulator({ path: pair.a, wearer, speed: opts.speed });
  await emulator.start();
  // The board end closes before socat goes (edge-stack.md §1: never leave a port on a dead pty).
  cleanups.push(() => emulator.stop());
  return { pair, wearer, emulator, user };
}

async function open(p: string): Promise<OpenedFirmataBoard> {
  const b = await openFirmataBoard(p, { timeoutMs: 8000 });
  cleanups.push(() => b.close());
  return b;
}

describe('johnny-five and the Firmata emulator over a socat pty', () => {
  it('reaches ready without waiting for firmata-io to ask (the emulator announces itself)', async () => {
    const { pair, emulator } = await rig([{ activity: 'rest', startS: 0, durationS: 5, labelled: false }], { speed: 1, seed: 1 });
    const t0 = performance.now();
    const { board, io } = await open(pair.b);
    const ms = performance.now() - t0;
    expect(board.isReady).toBe(true);
    expect(ms).toBeLessThan(2000); // firmata-io's own ask would come at reportVersionTimeout (5000 ms)
    expect(io.firmware.name).toBe('FedwearWearableSim.ino');
    expect(io.firmware.version).toEqual({ major: 2, minor: 5 });
    expect(io.analogPins).toEqual([14, 15, 16, 17, 18, 19]);
    expect(emulator.stats.announcements).toBeGreaterThanOrEqual(1);
    expect(emulator.stats.rejected).toBe(0);
    // The capability reply was understood: A0 can be ANALOG at 10 bits, pin 3 PWM, pins 0/1 serial only.
    const pins = (board.io as { pins: Array<{ supportedModes: number[] }> }).pins;
    expect(pins[14].supportedModes).toContain(2);
    expect(pins[3].supportedModes).toContain(3);
    expect(pins[0].supportedModes).not.toContain(0);
    expect((board.io as { RESOLUTION: { ADC: number } }).RESOLUTION.ADC).toBe(1023);
  });

  it('FirmataWearable reads heart rate within 3 bpm of the truth and every step, at 20x speed', async () => {
    const durationS = 40;
    const { pair, wearer, emulator, user } = await rig([{ activity: 'walking', startS: 0, durationS, speedMpm: 100, labelled: false }], {
      speed: 20,
      seed: 21,
      bounce: true,
    });
    const { board } = await open(pair.b);
    const records: DeviceRecord[] = [];
    const wearable = new FirmataWearable({ board, deviceId: user.deviceId, startMs: 0 });
    wearable.on('record', (r) => records.push(r));
    await once(emulator, 'finished');
    // The last samples are in flight on the pty: wait for the record the final sample produces.
    await new Promise<void>((resolve) => {
      const done = (): boolean => records.some((r) => r.type === 'steps' && r.timestampMs === durationS * 1000);
      if (done()) return resolve();
      wearable.on('record', () => done() && resolve());
    });

    expect(records[0]).toMatchObject({ type: 'deviceInfo', model: 'FedwearWearableSim.ino', firmware: [2, 5, 0], seq: 0, timestampMs: 0 });
    const steps = records.filter((r) => r.type === 'steps');
    expect(steps.at(-1)!.total).toBe(wearer.truth.stepsTotal.at(-1));
    expect(wearable.stats.steps.bouncesIgnored).toBe(2 * wearer.truth.stepPulses);
    const hr = records.filter((r) => r.type === 'heartRate' && r.timestampMs >= 10_000);
    expect(hr.length).toBe(durationS - 9);
    for (const r of hr) {
      if (r.type !== 'heartRate') continue;
      const second = r.timestampMs / 1000 - 1;
      expect(Math.abs(r.bpm - wearer.truth.hrBpm[second])).toBeLessThan(3);
    }
    expect(wearable.stats.samples).toBe(durationS * 50 + 1);
    // sequence numbers run without a gap
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i));
  });
});
