/** Interoperability with Debian's mosquitto-clients (MQTT 3.1.1 by default) against our broker. */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics, type BrokerHandle } from '../../broker/index.ts';
import { connectAs, nextMessage, passwordOf, startTestBroker, subscribeCodes, tcpUrl } from './harness.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
    });
  });
}

const as = (username: string, port: number, password = passwordOf(username)): string[] => ['-h', '127.0.0.1', '-p', String(port), '-u', username, '-P', password, '-i', username];

describe('mosquitto clients', { timeout: 20_000 }, () => {
  let broker: BrokerHandle;
  beforeAll(async () => {
    ({ broker } = await startTestBroker());
  });
  afterAll(() => broker.close());

  it('mosquitto_sub with auditor credentials reads a retained budget', async () => {
    const alice = await connectAs(tcpUrl(broker), 'gw-alice');
    await alice.publishAsync(topics.privacyBudget('alice'), '{"epsilon":0.8,"delta":1e-5}', { qos: 1, retain: true });
    await alice.endAsync(true);
    const r = await run('mosquitto_sub', [...as('auditor', broker.tcpPort!), '-t', topics.privacyBudget('alice'), '-C', '1', '-v', '-q', '1']);
    expect(r).toMatchObject({ code: 0, stdout: `${topics.privacyBudget('alice')} {"epsilon":0.8,"delta":1e-5}\n` });
  });

  it('mosquitto_pub as a gateway publishes its own update to the aggregator', async () => {
    const agg = await connectAs(tcpUrl(broker), 'aggregator');
    expect(await subscribeCodes(agg, 'fedwear/v1/updates/+')).toEqual([1]);
    const got = nextMessage(agg, topics.updates('gw-bob'));
    const r = await run('mosquitto_pub', [...as('gw-bob', broker.tcpPort!), '-t', topics.updates('gw-bob'), '-m', 'delta', '-q', '1']);
    expect(r.code).toBe(0);
    expect((await got).payload.toString()).toBe('delta');
    await agg.endAsync(true);
  });

  it('mosquitto_pub with a bad password is refused', async () => {
    const r = await run('mosquitto_pub', [...as('gw-bob', broker.tcpPort!, 'wrong'), '-t', topics.updates('gw-bob'), '-m', 'x']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/bad user name or password/i);
  });

  it('mosquitto_sub with a client id other than its username is refused', async () => {
    const r = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(broker.tcpPort), '-u', 'auditor', '-P', passwordOf('auditor'), '-i', 'someone-else', '-t', topics.modelCurrent(), '-C', '1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/identifier rejected/i);
  });
});
