/** The privacy auditor: incremental ledger checks, verdicts on audit/<userId>, persistence, refusing faulty users. */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { LedgerAudit, startBroker, startInProcessAggregator, topics, type AggregatorConfigInput, type AggregatorHandle, type BrokerHandle } from '../../broker/index.ts';
import { parseAuditVerdict, type AuditVerdict, type BudgetSummary } from '../../federation/index.ts';
import { appendEntry, canonicalize, hashEntry, rdpAccountant, verifyLedger, type Accountant, type LedgerEntry } from '../../privacy/index.ts';
import { connectAs, silentLogger, tcpUrl, tempDir } from '../broker/harness.ts';
import { aggregatorConfig, deltaFor, makeGateways, passwordOf, seal, writeCredentials, type Gateway } from './helpers.ts';

const DELTA = 1e-5;

function ledgerOf(gw: Gateway, n: number, acct: Accountant = rdpAccountant): LedgerEntry[] {
  const entries: LedgerEntry[] = [];
  for (let i = 0; i < n; i++) {
    entries.push(
      appendEntry(
        entries,
        { userId: gw.userId, deviceId: gw.username, time: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(), modelVersion: 'base-1', round: i + 1, spend: { noiseMultiplier: i % 2 ? 1.1 : 1.3, sampleRate: 0.02, steps: 40 + i, maxGradNorm: 1, delta: DELTA } },
        { privateKey: gw.privateKey, accountant: acct },
      ),
    );
  }
  return entries;
}

function budgetOf(gw: Gateway, entries: readonly LedgerEntry[], over: Partial<BudgetSummary> = {}): BudgetSummary {
  const last = entries[entries.length - 1];
  return { v: 1, userId: gw.userId, epsilonSpent: last.epsilonAfter, epsilonMax: 8, delta: DELTA, accountant: 'rdp', remaining: 8 - last.epsilonAfter, entries: entries.length, lastEntryHash: hashEntry(last), updatedAt: '2026-01-01T01:00:00.000Z', ...over };
}

function tamper(e: LedgerEntry): LedgerEntry {
  return { ...e, spend: { ...e.spend, noiseMultiplier: e.spend.noiseMultiplier * 3 } };
}

describe('LedgerAudit (incremental, pure)', () => {
  const [gw] = makeGateways(1);

  it('finds what verifyLedger finds, entry by entry, on sound and tampered ledgers', () => {
    const sound = ledgerOf(gw, 6);
    const variants: Array<[string, unknown[]]> = [
      ['sound', sound],
      ['tampered spend', sound.map((e, i) => (i === 2 ? tamper(e) : e))],
      ['missing entry', sound.filter((_, i) => i !== 3)],
      ['under-claimed', sound.map((e, i) => (i === 4 ? { ...e, epsilonAfter: e.epsilonAfter / 2 } : e))],
      ['not JSON', [...sound.slice(0, 2), 'garbage', ...sound.slice(3)]],
    ];
    for (const [name, entries] of variants) {
      const audit = new LedgerAudit(gw.userId);
      // Arrivals in uneven batches, as MQTT delivers them.
      for (const [from, to] of [[0, 1], [1, 4], [4, entries.length]]) {
        for (const e of entries.slice(from, to)) audit.add(e);
        audit.examine(rdpAccountant, gw.publicKey);
      }
      const mine = audit.verdict(undefined, undefined, undefined, new Date(0));
      const ref = verifyLedger(entries, { publicKey: gw.publicKey, accountant: rdpAccountant });
      expect(mine.faults.map((f) => [f.index, f.kind]), name).toEqual(ref.faults.map((f) => [f.index, f.kind]));
      expect(mine.ok, name).toBe(ref.ok);
      expect(mine.epsilonRecomputed, name).toBe(ref.epsilon);
    }
  });

  it('ignores an exact redelivery and flags a different entry at a taken index', () => {
    const entries = ledgerOf(gw, 3);
    const audit = new LedgerAudit(gw.userId);
    for (const e of entries) expect(audit.add(JSON.parse(canonicalize(e)))).toBe(true);
    expect(audit.add(JSON.parse(JSON.stringify(entries[1])))).toBe(false);
    expect(audit.add(tamper(entries[1]))).toBe(true);
    audit.examine(rdpAccountant, gw.publicKey);
    const v = audit.verdict(undefined, undefined, undefined, new Date(0));
    expect(v.faults.filter((f) => f.index === 3).map((f) => f.kind)).toEqual(expect.arrayContaining(['index-out-of-order', 'broken-chain', 'bad-signature']));
  });

  it('with PRV recomputes epsilon once per batch of new entries, not once per entry', () => {
    let calls = 0;
    const prvLike: Accountant = { name: 'prv', epsilon: (h, d) => ({ ...rdpAccountant.epsilon(h, d), accountant: 'prv' }) };
    const counting: Accountant = { name: 'prv', epsilon: (h, d) => (calls++, prvLike.epsilon(h, d)) };
    const entries = ledgerOf(gw, 7, prvLike);
    const audit = new LedgerAudit(gw.userId);
    for (const e of entries.slice(0, 5)) audit.add(e);
    audit.examine(counting, gw.publicKey);
    expect(calls).toBe(1);
    for (const e of entries.slice(5)) audit.add(e);
    audit.examine(counting, gw.publicKey);
    expect(calls).toBe(2);
    expect(audit.verdict(undefined, undefined, undefined, new Date(0))).toMatchObject({ ok: true, accountant: 'prv', entries: 7 });
    // The batch's earlier entries are held to the epsilon before the batch (a lower bound).
    const cheat = new LedgerAudit(gw.userId);
    for (const e of entries.slice(0, 3)) cheat.add(e);
    cheat.examine(counting, gw.publicKey);
    cheat.add({ ...entries[3], epsilonAfter: 0 });
    for (const e of entries.slice(4)) cheat.add(e);
    cheat.examine(counting, gw.publicKey);
    expect(cheat.verdict(undefined, undefined, undefined, new Date(0)).faults).toContainEqual(expect.objectContaining({ index: 3, kind: 'under-claimed-epsilon' }));
  });

  it('compares the budget summary with the ledger: under-claimed, stale, over budget', () => {
    const entries = ledgerOf(gw, 4);
    const audit = new LedgerAudit(gw.userId);
    for (const e of entries) audit.add(e);
    audit.examine(rdpAccountant, gw.publicKey);
    const kinds = (b: BudgetSummary): string[] => audit.verdict(b, undefined, undefined, new Date(0)).faults.map((f) => f.kind);
    expect(kinds(budgetOf(gw, entries))).toEqual([]);
    expect(kinds(budgetOf(gw, entries, { epsilonSpent: 0.01 }))).toEqual(['budget-under-claimed']);
    expect(kinds(budgetOf(gw, entries.slice(0, 3)))).toEqual(['budget-stale']);
    expect(kinds(budgetOf(gw, entries, { entries: 9 }))).toEqual(['budget-ahead-of-ledger']);
    expect(kinds(budgetOf(gw, entries, { epsilonMax: entries[3].epsilonAfter / 2 }))).toEqual(['over-budget']);
  });

  it('tells a summary that is behind its ledger (an earlier head of the same chain) from one naming another chain', () => {
    const entries = ledgerOf(gw, 4);
    const audit = new LedgerAudit(gw.userId);
    for (const e of entries) audit.add(e);
    audit.examine(rdpAccountant, gw.publicKey);
    const tolerant = (b: BudgetSummary) => audit.verdict(b, undefined, undefined, new Date(0), { tolerateBehind: true, graceMs: 500 });
    const strict = (b: BudgetSummary) => audit.verdict(b, undefined, undefined, new Date(0), { graceMs: 500 });
    // One and three entries behind, within the grace: ok, and the verdict says how far behind.
    expect(audit.budgetBehind(budgetOf(gw, entries.slice(0, 3)))).toBe(1);
    expect(tolerant(budgetOf(gw, entries.slice(0, 3)))).toMatchObject({ ok: true, faults: [], budgetBehind: 1 });
    expect(tolerant(budgetOf(gw, entries.slice(0, 1)))).toMatchObject({ ok: true, budgetBehind: 3 });
    // After the grace: stale, with a detail that says what is missing.
    expect(strict(budgetOf(gw, entries.slice(0, 3))).faults).toEqual([{ kind: 'budget-stale', detail: 'budget summary covers 3 of the ledger\'s 4 entries and was not brought up to date within 500 ms' }]);
    // A behind summary still may not under-claim what the ledger gave at the head it names.
    expect(tolerant(budgetOf(gw, entries.slice(0, 2), { epsilonSpent: entries[1].epsilonAfter / 2 })).faults.map((f) => f.kind)).toEqual(['budget-under-claimed']);
    // A head this chain never had (a forked or rewritten ledger) is stale at once, grace or not.
    const forked = budgetOf(gw, entries.slice(0, 3), { lastEntryHash: 'ab'.repeat(32) });
    expect(audit.budgetBehind(forked)).toBe(0);
    expect(tolerant(forked).faults.map((f) => f.kind)).toEqual(['budget-stale']);
    // Current and ahead summaries are never "behind".
    expect(audit.budgetBehind(budgetOf(gw, entries))).toBe(0);
    expect(tolerant(budgetOf(gw, entries, { entries: 9 })).faults.map((f) => f.kind)).toEqual(['budget-ahead-of-ledger']);
  });
});

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
    });
  });
}

describe('privacy auditor on the broker', { timeout: 30_000 }, () => {
  const gws = makeGateways(3);
  const [alice, bob] = gws;
  let dir: string;
  let credentialsFile: string;
  let broker: BrokerHandle;
  let agg: AggregatorHandle;
  const clients: MqttClient[] = [];
  // A short grace, so the test sees a summary that stays behind turn into budget-stale.
  const config = (): AggregatorConfigInput => aggregatorConfig(dir, { audit: { enabled: true, refuseFaultyUsers: true, budgetGraceMs: 1_000 }, round: { durationMs: 600_000, quorum: 5 } });
  const verdictFor = (userId: string, pred: (v: AuditVerdict) => boolean = () => true): Promise<AuditVerdict> =>
    new Promise((resolve) => {
      const on = (v: AuditVerdict): void => {
        if (v.userId === userId && pred(v)) {
          agg.events.off('verdict', on);
          resolve(v);
        }
      };
      agg.events.on('verdict', on);
    });

  beforeAll(async () => {
    dir = tempDir('agg-audit');
    credentialsFile = await writeCredentials(dir, gws);
    broker = await startBroker(
      { credentialsFile, tcp: { host: '127.0.0.1', port: 0 }, persistence: { type: 'memory' }, limits: { connectionsPerIpPerSecond: 10_000, connectionBurstPerIp: 10_000 } },
      { logger: silentLogger },
    );
    const { parseAggregatorConfig } = await import('../../broker/index.ts');
    agg = await startInProcessAggregator(broker, parseAggregatorConfig(config()));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await agg?.stop();
    await broker?.close();
  });

  it('publishes an ok verdict that mosquitto_sub (auditor credentials) reads with the budget', async () => {
    const c = await connectAs(tcpUrl(broker), alice.username);
    clients.push(c);
    const entries = ledgerOf(alice, 3);
    const ok = verdictFor(alice.userId, (v) => v.entries === 3 && v.epsilonClaimed !== undefined);
    for (const e of entries) await c.publishAsync(topics.privacyLedger(alice.userId), canonicalize(e), { qos: 1 });
    const budget = JSON.stringify(budgetOf(alice, entries));
    await c.publishAsync(topics.privacyBudget(alice.userId), budget, { qos: 1, retain: true });
    expect(await ok).toMatchObject({ ok: true, faults: [], entries: 3, epsilonRecomputed: entries[2].epsilonAfter, head: { index: 2 } });

    const as = ['-h', '127.0.0.1', '-p', String(broker.tcpPort), '-u', 'auditor', '-P', passwordOf('auditor'), '-i', 'auditor', '-C', '1', '-q', '1'];
    const b = await run('mosquitto_sub', [...as, '-t', topics.privacyBudget(alice.userId)]);
    expect(b).toMatchObject({ code: 0, stdout: budget + '\n' });
    const v = await run('mosquitto_sub', [...as, '-t', topics.audit(alice.userId)]);
    expect(v.code).toBe(0);
    expect(parseAuditVerdict(v.stdout.trim())).toMatchObject({ userId: alice.userId, ok: true, entries: 3 });
  });

  it('names the tampered entry and its fault, and then refuses that user\'s updates', async () => {
    const c = await connectAs(tcpUrl(broker), bob.username);
    clients.push(c);
    const entries = ledgerOf(bob, 4);
    const faulty = verdictFor(bob.userId, (v) => v.entries === 4);
    const sent = entries.map((e, i) => (i === 1 ? tamper(e) : e));
    for (const e of sent) await c.publishAsync(topics.privacyLedger(bob.userId), JSON.stringify(e), { qos: 1 });
    const v = await faulty;
    expect(v.ok).toBe(false);
    expect(v.faults).toContainEqual({ index: 1, kind: 'bad-signature', detail: expect.stringMatching(/signature does not verify/) });
    expect(v.faults).toContainEqual(expect.objectContaining({ index: 2, kind: 'broken-chain' }));

    const sub = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(broker.tcpPort), '-u', 'auditor', '-P', passwordOf('auditor'), '-i', 'auditor', '-C', '1', '-t', topics.audit(bob.userId)]);
    expect(parseAuditVerdict(sub.stdout.trim()).faults).toContainEqual(expect.objectContaining({ index: 1, kind: 'bad-signature' }));

    const rejected = new Promise<string>((resolve) => agg.events.once('rejected', (r) => resolve(`${r.reason}: ${r.detail}`)));
    await c.publishAsync(topics.updates(bob.username), Buffer.from(seal(bob, deltaFor(1), { round: 1, modelVersion: 'base-1' })), { qos: 1 });
    expect(await rejected).toMatch(/^privacy-audit: .*user-1.*bad-signature/);
    // alice's ledger is sound: her update counts.
    const a = await connectAs(tcpUrl(broker), alice.username, { clientId: `${alice.username}:upd` });
    clients.push(a);
    await a.publishAsync(topics.updates(alice.username), Buffer.from(seal(alice, deltaFor(2), { round: 1, modelVersion: 'base-1' })), { qos: 1 });
    expect(agg.acceptedCount).toBe(1);
  });

  it('keeps the chains on disk: after a restart the verdicts come back, and a redelivered entry is not a second one', async () => {
    await agg.stop();
    const { parseAggregatorConfig } = await import('../../broker/index.ts');
    const restored = startInProcessAggregator(broker, parseAggregatorConfig(config()));
    agg = await restored;
    expect(agg.auditor!.verdictOf(bob.userId)).toMatchObject({ ok: false, entries: 4 });
    expect(agg.auditor!.verdictOf(alice.userId)).toMatchObject({ ok: true, entries: 3 });
    expect(agg.acceptedCount).toBe(1);

    const c = await connectAs(tcpUrl(broker), alice.username, { clientId: `${alice.username}:again` });
    clients.push(c);
    const entries = ledgerOf(alice, 4);
    const next = verdictFor(alice.userId, (v) => v.entries === 4);
    await c.publishAsync(topics.privacyLedger(alice.userId), JSON.stringify(entries[2]), { qos: 1 });
    await c.publishAsync(topics.privacyLedger(alice.userId), JSON.stringify(entries[3]), { qos: 1 });
    const stale = verdictFor(alice.userId, (v) => v.faults.some((f) => f.kind === 'budget-stale'));
    const v = await next;
    // The ledger has 4 entries, the retained budget names the first 3: behind, which is how every
    // gateway's summary looks for a moment after each entry. Not a fault, and her updates count.
    expect(v).toMatchObject({ ok: true, faults: [], budgetBehind: 1, epsilonRecomputed: entries[3].epsilonAfter });
    expect(agg.auditor!.refusal(alice.userId)).toBeUndefined();
    // No summary follows within the grace: the auditor re-examines on its own and calls it stale.
    expect((await stale).faults).toEqual([expect.objectContaining({ kind: 'budget-stale', detail: expect.stringMatching(/covers 3 of the ledger's 4 entries .* within 1000 ms/) })]);
    expect(agg.auditor!.refusal(alice.userId)).toMatch(/budget-stale/);
    // The gateway catches up: ok again.
    const caughtUp = verdictFor(alice.userId, (v) => v.ok);
    await c.publishAsync(topics.privacyBudget(alice.userId), JSON.stringify(budgetOf(alice, entries)), { qos: 1, retain: true });
    expect(await caughtUp).toMatchObject({ ok: true, entries: 4, epsilonClaimed: entries[3].epsilonAfter });
    expect((await caughtUp).budgetBehind).toBeUndefined();
  });
});
