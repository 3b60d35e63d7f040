/** The transport edges: the packet-size guard, connection cap and per-IP rate, WebSocket, TLS. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricTotal, topics, type BrokerHandle } from '../../broker/index.ts';
import { connectAs, nextMessage, passwordOf, startTestBroker, subscribeCodes, tcpUrl, tempDir, waitClose } from './harness.ts';

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

const str = (s: string): Buffer => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};

/** A CONNECT packet (MQTT 3.1.1 §3.1) with username and password, built by hand so nothing buffers for us. */
function connectPacket(username: string, password: string): Buffer {
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2, 0, 60]), str(username), str(username), str(password)]);
  return Buffer.concat([Buffer.from([0x10, ...varint(body.length)]), body]);
}

interface RawConnection {
  socket: net.Socket;
  /** Resolves once the socket is closed, with the number of bytes we had written. */
  closed: Promise<{ bytesWritten: number; endedByServer: boolean }>;
  read(n: number): Promise<Buffer>;
}

function rawConnect(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let endedByServer = false;
    const waiters: Array<() => void> = [];
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      waiters.splice(0).forEach((w) => w());
    });
    socket.on('end', () => (endedByServer = true));
    socket.on('error', () => (endedByServer = true));
    const closed = new Promise<{ bytesWritten: number; endedByServer: boolean }>((r) => socket.once('close', () => r({ bytesWritten: socket.bytesWritten, endedByServer })));
    const read = (n: number): Promise<Buffer> =>
      new Promise((r) => {
        const check = (): void => {
          if (buf.length >= n) {
            const out = buf.subarray(0, n);
            buf = buf.subarray(n);
            r(out);
          } else waiters.push(check);
        };
        check();
      });
    socket.once('connect', () => resolve({ socket, closed, read }));
    socket.once('error', reject);
  });
}

describe('packet-size guard', { timeout: 15_000 }, () => {
  let broker: BrokerHandle;
  const LIMIT = 4096;
  beforeAll(async () => {
    ({ broker } = await startTestBroker({ limits: { maxPacketBytes: LIMIT, connectionsPerIpPerSecond: 1000, connectionBurstPerIp: 1000 }, websocket: { host: '127.0.0.1', port: 0, path: '/mqtt' } }));
  });
  afterAll(() => broker.close());

  it('cuts an authenticated connection at a PUBLISH header announcing 5 MiB, before the body is sent', async () => {
    const before = await metricTotal(broker.metrics.oversizePackets, { transport: 'tcp' });
    const c = await rawConnect(broker.tcpPort!);
    c.socket.write(connectPacket('gw-alice', passwordOf('gw-alice')));
    expect([...(await c.read(4))]).toEqual([0x20, 0x02, 0x00, 0x00]); // CONNACK, accepted
    const topic = str(topics.updates('gw-alice'));
    // The header promises 5 MiB; we send the topic and 1 KiB of it, then wait. aedes alone would wait for the rest.
    c.socket.write(Buffer.concat([Buffer.from([0x32, ...varint(5 * 1024 * 1024)]), topic, Buffer.from([0, 1]), Buffer.alloc(1024)]));
    const { bytesWritten, endedByServer } = await c.closed;
    expect(endedByServer).toBe(true);
    expect(bytesWritten).toBeLessThan(2048);
    expect(await metricTotal(broker.metrics.oversizePackets, { transport: 'tcp' })).toBe(before + 1);
  });

  it('cuts a connection whose very first header (CONNECT) is oversize', async () => {
    const before = await metricTotal(broker.metrics.oversizePackets, { transport: 'tcp' });
    const c = await rawConnect(broker.tcpPort!);
    c.socket.write(Buffer.from([0x10, ...varint(5 * 1024 * 1024), 0, 4]));
    expect((await c.closed).endedByServer).toBe(true);
    expect(await metricTotal(broker.metrics.oversizePackets, { transport: 'tcp' })).toBe(before + 1);
  });

  it('delivers a packet just under the limit and cuts one just over it', async () => {
    const [alice, agg] = await Promise.all([connectAs(tcpUrl(broker), 'gw-alice'), connectAs(tcpUrl(broker), 'aggregator')]);
    expect(await subscribeCodes(agg, topics.updates('gw-alice'))).toEqual([1]);
    const overhead = 2 + 2 + topics.updates('gw-alice').length + 2 + 3; // header bytes, topic, message id (generous)
    const fits = Buffer.alloc(LIMIT - overhead - 8, 7);
    const got = nextMessage(agg, topics.updates('gw-alice'));
    await alice.publishAsync(topics.updates('gw-alice'), fits, { qos: 1 });
    expect((await got).payload.length).toBe(fits.length);

    const before = await metricTotal(broker.metrics.oversizePackets);
    const closed = waitClose(alice);
    alice.publish(topics.updates('gw-alice'), Buffer.alloc(LIMIT, 7), { qos: 1 }, () => {});
    await closed;
    expect(await metricTotal(broker.metrics.oversizePackets)).toBe(before + 1);
    await Promise.all([alice.endAsync(true), agg.endAsync(true)]);
  });

  it('cuts an oversize publish over WebSocket too', async () => {
    const before = await metricTotal(broker.metrics.oversizePackets, { transport: 'ws' });
    const alice = await connectAs(`ws://127.0.0.1:${broker.wsPort}/mqtt`, 'gw-alice');
    const closed = waitClose(alice);
    alice.publish(topics.updates('gw-alice'), Buffer.alloc(3 * LIMIT, 7), { qos: 1 }, () => {});
    await closed;
    expect(await metricTotal(broker.metrics.oversizePackets, { transport: 'ws' })).toBeGreaterThanOrEqual(before + 1);
    await alice.endAsync(true);
  });
});

describe('connection cap and per-IP rate', { timeout: 15_000 }, () => {
  it('refuses connections beyond maxConnections, counted', async () => {
    const { broker } = await startTestBroker({ limits: { maxConnections: 2, connectionsPerIpPerSecond: 1000, connectionBurstPerIp: 1000 } });
    try {
      const a = await connectAs(tcpUrl(broker), 'gw-alice');
      const b = await connectAs(tcpUrl(broker), 'gw-bob');
      await expect(connectAs(tcpUrl(broker), 'auditor')).rejects.toThrow(/closed before CONNACK/);
      expect(await metricTotal(broker.metrics.connectionsRefused, { reason: 'max_connections' })).toBe(1);
      expect(await metricTotal(broker.metrics.connectionsOpen)).toBe(2);
      await Promise.all([a.endAsync(true), b.endAsync(true)]);
    } finally {
      await broker.close();
    }
  });

  it('refuses an IP over its connection rate, counted', async () => {
    const { broker } = await startTestBroker({ limits: { connectionsPerIpPerSecond: 0.001, connectionBurstPerIp: 2 } });
    try {
      const a = await connectAs(tcpUrl(broker), 'gw-alice');
      const b = await connectAs(tcpUrl(broker), 'gw-bob');
      await expect(connectAs(tcpUrl(broker), 'auditor')).rejects.toThrow(/closed before CONNACK/);
      expect(await metricTotal(broker.metrics.connectionsRefused, { reason: 'rate_limited' })).toBe(1);
      await Promise.all([a.endAsync(true), b.endAsync(true)]);
    } finally {
      await broker.close();
    }
  });
});

describe('MQTT over WebSocket', { timeout: 15_000 }, () => {
  let broker: BrokerHandle;
  beforeAll(async () => {
    ({ broker } = await startTestBroker({ websocket: { host: '127.0.0.1', port: 0, path: '/mqtt' } }));
  });
  afterAll(() => broker.close());

  it('authenticates and applies the same ACL as TCP', async () => {
    const ws = `ws://127.0.0.1:${broker.wsPort}/mqtt`;
    await expect(connectAs(ws, 'gw-alice', { password: 'wrong' })).rejects.toMatchObject({ code: 4 });
    const alice = await connectAs(ws, 'gw-alice');
    const agg = await connectAs(tcpUrl(broker), 'aggregator');
    expect(await subscribeCodes(alice, topics.modelCurrent())).toEqual([1]);
    expect(await subscribeCodes(alice, 'fedwear/v1/updates/+')).toEqual([128]);
    expect(await subscribeCodes(agg, topics.updates('gw-alice'))).toEqual([1]);
    const got = nextMessage(agg, topics.updates('gw-alice'));
    await alice.publishAsync(topics.updates('gw-alice'), 'over ws', { qos: 1 });
    expect((await got).payload.toString()).toBe('over ws');

    const denied = await metricTotal(broker.metrics.publishDenied);
    const closed = waitClose(alice);
    alice.publish(topics.updates('gw-bob'), 'forged', { qos: 1 }, () => {});
    await closed;
    expect(await metricTotal(broker.metrics.publishDenied)).toBe(denied + 1);
    await Promise.all([alice.endAsync(true), agg.endAsync(true)]);
  });

  it('answers plain HTTP with 426 Upgrade Required', async () => {
    const status = await new Promise<number | undefined>((resolve, reject) => {
      http.get(`http://127.0.0.1:${broker.wsPort}/mqtt`, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', reject);
    });
    expect(status).toBe(426);
  });
});

describe('TLS', { timeout: 20_000 }, () => {
  let broker: BrokerHandle;
  let ca: Buffer;
  beforeAll(async () => {
    const dir = tempDir('tls');
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-keyout', keyFile, '-out', certFile, '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ]);
    ca = fs.readFileSync(certFile);
    ({ broker } = await startTestBroker({
      tcp: false,
      tls: { host: '127.0.0.1', port: 0, keyFile, certFile },
      websocket: { host: '127.0.0.1', port: 0, path: '/mqtt', keyFile, certFile },
    }, dir));
  });
  afterAll(() => broker.close());

  it('connects over mqtts with the self-signed certificate as CA, with the ACL in force', async () => {
    expect(broker.tcpPort).toBeUndefined();
    const alice = await connectAs(`mqtts://127.0.0.1:${broker.tlsPort}`, 'gw-alice', { ca });
    expect(await subscribeCodes(alice, topics.privacyBudget('alice'))).toEqual([1]);
    expect(await subscribeCodes(alice, topics.privacyBudget('bob'))).toEqual([128]);
    const echo = nextMessage(alice, topics.privacyBudget('alice'));
    await alice.publishAsync(topics.privacyBudget('alice'), 'eps=0.5', { qos: 1 });
    expect((await echo).payload.toString()).toBe('eps=0.5');
    await alice.endAsync(true);
  });

  it('a client that does not trust the certificate cannot connect', async () => {
    await expect(connectAs(`mqtts://127.0.0.1:${broker.tlsPort}`, 'gw-alice')).rejects.toThrow(/self[- ]signed|certificate/i);
  });

  it('serves wss with the same certificate', async () => {
    const alice = await connectAs(`wss://127.0.0.1:${broker.wsPort}/mqtt`, 'gw-alice', { ca });
    expect(await subscribeCodes(alice, topics.modelCurrent())).toEqual([1]);
    await alice.endAsync(true);
  });
});
