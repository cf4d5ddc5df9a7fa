// E2E: Debian's mosquitto_pub / mosquitto_sub (libmosquitto) against the gateway, v3.1.1 and v5, interoperating with mqtt.js. Imports the test helpers and node:test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { connectClient, runCli, uniqueId, waitUntil, type TestClient } from '../helpers/mqtt-clients.ts';

describe('mqtt with mosquitto clients', () => {
  let gw: TestGateway;
  let base: string[];
  const clients: TestClient[] = [];
  const mq = async (opts: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> => {
    const c = await connectClient(gw.mqttUrl, opts);
    clients.push(c);
    return c;
  };
  /** Resolves once the broker holds `n` subscriptions for `clientId` (mosquitto_sub is a separate process). */
  const subscribed = (clientId: string, n = 1): Promise<void> =>
    waitUntil(() => (gw.gateway.broker.getSession(clientId)?.session.subscriptions.size ?? 0) >= n, 3000, `${clientId} subscribed`);

  before(async () => {
    gw = await startGateway();
    base = ['-h', '127.0.0.1', '-p', String(gw.mqttPort)];
  });
  after(async () => {
    for (const c of clients) await c.end();
    await gw.close();
  });

  for (const [v, flag] of [
    [4, 'mqttv311'],
    [5, 'mqttv5'],
  ] as const) {
    test(`mosquitto_pub ${flag} at QoS 0/1/2 -> mqtt.js subscriber`, async () => {
      const sub = await mq({ protocolVersion: v });
      await sub.client.subscribeAsync(`mosq/${v}/in`, { qos: 2 });
      for (const q of [0, 1, 2]) {
        const r = await runCli('mosquitto_pub', [...base, '-V', flag, '-q', String(q), '-t', `mosq/${v}/in`, '-m', `q${q}`]);
        assert.equal(r.code, 0, r.stderr);
      }
      const got = await sub.waitFor(3);
      assert.deepEqual(got.map((m) => [m.payload, m.packet.qos]), [['q0', 0], ['q1', 1], ['q2', 2]]);
    });

    test(`mqtt.js publisher -> mosquitto_sub ${flag} at QoS 2`, async () => {
      const id = uniqueId('msub');
      const done = runCli('mosquitto_sub', [...base, '-V', flag, '-i', id, '-q', '2', '-t', `mosq/${v}/out`, '-C', '3', '-W', '5', '-F', '%q %t %p'], 6000);
      await subscribed(id);
      const pub = await mq({ protocolVersion: v });
      for (const q of [0, 1, 2] as const) await pub.client.publishAsync(`mosq/${v}/out`, `m${q}`, { qos: q });
      const r = await done;
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), [`0 mosq/${v}/out m0`, `1 mosq/${v}/out m1`, `2 mosq/${v}/out m2`]);
    });

    test(`mosquitto_pub -r then mosquitto_sub ${flag} gets the retained message with a wildcard`, async () => {
      const r1 = await runCli('mosquitto_pub', [...base, '-V', flag, '-q', '1', '-r', '-t', `mosq/${v}/ret/a`, '-m', 'kept']);
      assert.equal(r1.code, 0, r1.stderr);
      const r = await runCli('mosquitto_sub', [...base, '-V', flag, '-t', `mosq/${v}/ret/#`, '-C', '1', '-W', '3', '-F', '%r %t %p'], 5000);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), `1 mosq/${v}/ret/a kept`);
      await runCli('mosquitto_pub', [...base, '-V', flag, '-r', '-t', `mosq/${v}/ret/a`, '-n']);
    });

    test(`mosquitto_sub ${flag} persistent session (-c) gets messages published while it was away`, async () => {
      const id = uniqueId('mpers');
      const persist = v === 5 ? ['-x', '60'] : [];
      const r0 = await runCli('mosquitto_sub', [...base, '-V', flag, '-i', id, '-c', ...persist, '-q', '1', '-t', `mosq/${v}/pers`, '-E'], 5000);
      assert.equal(r0.code, 0, r0.stderr);
      const pub = await mq({ protocolVersion: v });
      for (let i = 0; i < 5; i++) await pub.client.publishAsync(`mosq/${v}/pers`, `p${i}`, { qos: 1 });
      const r = await runCli('mosquitto_sub', [...base, '-V', flag, '-i', id, '-c', ...persist, '-q', '1', '-t', `mosq/${v}/pers`, '-C', '5', '-W', '3'], 5000);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), ['p0', 'p1', 'p2', 'p3', 'p4']);
    });
  }

  test('mosquitto_pub v5 user property and content type reach an mqtt.js v5 subscriber', async () => {
    const sub = await mq({ protocolVersion: 5 });
    await sub.client.subscribeAsync('mosq/props', { qos: 1 });
    const r = await runCli('mosquitto_pub', [
      ...base, '-V', 'mqttv5', '-q', '1', '-t', 'mosq/props', '-m', 'p',
      '-D', 'publish', 'user-property', 'k', 'v',
      '-D', 'publish', 'content-type', 'text/x-test',
      '-D', 'publish', 'response-topic', 'mosq/reply',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [m] = await sub.waitFor(1);
    assert.deepEqual({ ...m!.packet.properties?.userProperties }, { k: 'v' });
    assert.equal(m!.packet.properties?.contentType, 'text/x-test');
    assert.equal(m!.packet.properties?.responseTopic, 'mosq/reply');
  });

  test('mosquitto_sub v5 on a shared subscription, two members split the messages', async () => {
    const ids = [uniqueId('msh'), uniqueId('msh')];
    const runs = ids.map((id) => runCli('mosquitto_sub', [...base, '-V', 'mqttv5', '-i', id, '-q', '1', '-t', '$share/mg/mosq/shared', '-C', '3', '-W', '5'], 6000));
    for (const id of ids) await subscribed(id);
    const pub = await mq({ protocolVersion: 4 });
    for (let i = 0; i < 6; i++) await pub.client.publishAsync('mosq/shared', `s${i}`, { qos: 1 });
    const outs = await Promise.all(runs);
    const lines = outs.flatMap((o) => o.stdout.trim().split('\n'));
    assert.deepEqual(lines.sort(), ['s0', 's1', 's2', 's3', 's4', 's5']);
  });

  test('mosquitto_pub with a will that mosquitto_sub sees when the publisher is killed', async () => {
    const sub = await mq({ protocolVersion: 5 });
    await sub.client.subscribeAsync('mosq/will', { qos: 1 });
    const id = uniqueId('mwill');
    // -l reads lines from stdin and keeps the connection open until killed.
    const child = spawn('/usr/bin/mosquitto_pub', [...base, '-V', 'mqttv311', '-i', id, '-t', 'mosq/x', '-l', '--will-topic', 'mosq/will', '--will-payload', 'bye', '--will-qos', '1'], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      await waitUntil(() => gw.gateway.broker.getSession(id)?.link !== undefined, 3000, 'mosquitto_pub connected');
      child.kill('SIGKILL');
      const [m] = await sub.waitFor(1);
      assert.equal(m!.payload, 'bye');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
