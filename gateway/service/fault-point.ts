/**
 * Test-only crash points for the reliability suite (tests/reliability/gateway-kill.test.ts).
 * With FEDWEAR_FAULT_POINT=<name> in the environment, the gateway SIGKILLs itself the first time
 * it reaches the point of that name, after one line `{"faultPoint":"<name>",...}` on stderr, so a
 * test kills it exactly there without racing a signal against the event loop. Never set in
 * production; unset, a point is one string comparison.
 *
 * Points: `train-step:<k>` (k DP-SGD steps done; 0 = the ledger entry is durable, no step yet),
 * `before-enqueue` (trained and sealed, update not in the outbox), `after-enqueue` (in the outbox,
 * not yet sent), `acked:<kind>` (the broker's PUBACK arrived, the outbox ACK not yet written).
 */
import fs from 'node:fs';

const armed = process.env.FEDWEAR_FAULT_POINT;

export function faultPoint(name: string, info: Record<string, unknown> = {}): void {
  if (armed === undefined || armed !== name) return;
  fs.writeSync(2, JSON.stringify({ faultPoint: name, pid: process.pid, ...info }) + '\n');
  process.kill(process.pid, 'SIGKILL');
}
