/**
 * Live inference and the local HTTP API: every window the gateway cuts is estimated by its live
 * int8 model in onnxruntime-node, and GET /estimates serves exactly what an onnxruntime session of
 * that model gives on the same windows (cut by models/'s windowing with the same profile). A restart
 * in the middle of the stream neither repeats nor loses a window.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUsers, simulateDevice } from '../../device-sim/index.ts';
import type { DeviceRecord } from '../../firmware-bindings/index.ts';
import type { Estimate, GatewayConfig, GatewayService } from '../../gateway/index.ts';
import { FEATURE_COUNT, OnnxModelSession, Windower, featuresFromStats, resolveProfile, type RecordWindow } from '../../models/index.ts';
import { baseModel, feed, gatewayConfig, httpGet, promValue, removeTempDirs, startGateway, tempDir, writeGatewayKey } from './helpers.ts';

let config: GatewayConfig;
let gw: GatewayService | null = null;
let records: DeviceRecord[];
let half: number;

beforeAll(async () => {
  const dir = tempDir('estimates');
  await writeGatewayKey(dir);
  // No broker at all: inference and the HTTP API do not depend on it.
  config = gatewayConfig(dir, 'mqtt://127.0.0.1:1');
  const [u] = makeUsers({ count: 1, seed: 11, clusters: ['high-bmi-walkers'] });
  records = [...simulateDevice(u, { startMs: Date.UTC(2026, 0, 7, 9), durationS: 2 * 3600, seed: 4, schedule: 'session' })];
  half = records.findIndex((r) => r.timestampMs >= records[0].timestampMs + 3600_000);
});

afterAll(async () => {
  await gw?.stop();
  removeTempDirs();
});

/** The windows an uninterrupted gateway would have cut from these records (no end-of-stream flush). */
function streamedWindows(rs: readonly DeviceRecord[]): RecordWindow[] {
  const w = new Windower(config.windowing);
  return rs.flatMap((r) => w.push(r));
}

async function allEstimates(port: number): Promise<Estimate[]> {
  const out: Estimate[] = [];
  let since = 0;
  for (;;) {
    const page = (await httpGet(port, `/estimates?since=${since}&limit=25`)).json() as { estimates: Estimate[]; nextSince?: number };
    out.push(...page.estimates);
    if (page.nextSince === undefined) return out;
    since = page.nextSince;
  }
}

describe('gateway service: live estimates over HTTP', () => {
  it('serves, for every window, the output of an onnxruntime session of the live model on that window', async () => {
    gw = await startGateway(config);
    await feed(gw, records.slice(0, half));
    const served = await allEstimates(gw.httpPort);
    const windows = streamedWindows(records.slice(0, half));
    expect(served.map((e) => [e.startMs, e.endMs])).toEqual(windows.map((w) => [w.startMs, w.endMs]));
    expect(windows.filter((w) => w.label).length).toBeGreaterThan(10);

    const base = await baseModel();
    const session = await OnnxModelSession.create(base.onnx);
    try {
      const profile = resolveProfile(config.profile);
      const rows = new Float32Array(windows.length * FEATURE_COUNT);
      windows.forEach((w, i) => rows.set(featuresFromStats(w.stats, profile), i * FEATURE_COUNT));
      const expected = await session.run(rows, windows.length);
      served.forEach((e, i) => expect(Math.abs(e.kcalPerMin - expected[i]), `window ${i}`).toBeLessThan(1e-5));
      expect(new Set(served.map((e) => e.modelVersion))).toEqual(new Set([base.manifest.modelVersion]));
    } finally {
      await session.release();
    }

    const health = (await httpGet(gw.httpPort, '/health')).json() as { status: string; data: { windows: number; estimates: number }; model: { live: string }; mqtt: { connected: boolean } };
    expect(health).toMatchObject({ status: 'ok', data: { windows: windows.length, estimates: windows.length }, model: { live: base.manifest.modelVersion }, mqtt: { connected: false } });
    const metrics = (await httpGet(gw.httpPort, '/metrics')).body;
    expect(promValue(metrics, 'fedwear_gateway_records_ingested_total')).toBe(half);
    expect(promValue(metrics, 'fedwear_gateway_estimates_total')).toBe(windows.length);
    expect(promValue(metrics, 'fedwear_gateway_inference_latency_seconds_count')).toBeGreaterThan(0);
  });

  it('answers since/deviceId filters, and names a bad query parameter', async () => {
    const g = gw as GatewayService;
    const all = await allEstimates(g.httpPort);
    const cut = all[10].endMs;
    const after = (await httpGet(g.httpPort, `/estimates?since=${cut}`)).json() as { estimates: Estimate[] };
    expect(after.estimates).toEqual(all.filter((e) => e.endMs > cut));
    const none = (await httpGet(g.httpPort, `/estimates?deviceId=${all[0].deviceId + 1}`)).json() as { estimates: Estimate[] };
    expect(none.estimates).toEqual([]);
    const bad = await httpGet(g.httpPort, '/estimates?since=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('query parameter since');
    expect((await httpGet(g.httpPort, '/nope')).status).toBe(404);
    const post = await fetch(`http://127.0.0.1:${g.httpPort}/estimates`, { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('after a restart mid-stream, the windows continue exactly as an uninterrupted run would cut them', async () => {
    await gw?.stop();
    gw = await startGateway(config);
    expect(await allEstimates(gw.httpPort)).toHaveLength(streamedWindows(records.slice(0, half)).length);
    await feed(gw, records.slice(half));
    const served = await allEstimates(gw.httpPort);
    const windows = streamedWindows(records);
    expect(served.map((e) => [e.startMs, e.endMs])).toEqual(windows.map((w) => [w.startMs, w.endMs]));
  });
});
