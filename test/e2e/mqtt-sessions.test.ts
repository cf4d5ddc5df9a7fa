// E2E: persistent MQTT sessions (v3.1.1 clean=false, v5 session expiry): offline queueing, exactly-once in-order resumption, sessionPresent, expiry. Imports the test helpers and node:test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { ClientPool, RawClient, connectClient, sleep, uniqueId, waitUntil, type TestClient } from '../helpers/mqtt-clients.ts';

describe('mqtt sessions', () => {
  let gw: TestGateway;
  const pool = new ClientPool();
  const { raws } = pool;
  const mq = (opts: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> => pool.mqtt(gw.mqttUrl, opts);
  before(async () => {
    gw = await startGateway();
  });
  after(async () => {
    await pool.closeAll();
    await gw.close();
  });

  for (const version of [4, 5] as const) {
    for (const qos of [1, 2] as const) {
      test(`v${version} persistent session at QoS ${qos}: offline messages arrive exactly once, in order, sessionPresent true`, async () => {
        const id = uniqueId(`sess${version}q${qos}`);
        const persist = version === 5 ? { clean: false, properties: { sessionExpiryInterval: 300 } } : { clean: false };
        const first = await connectClient(gw.mqttUrl, { protocolVersion: version, clientId: id, ...persist });
        assert.equal(first.connack.sessionPresent, false);
        await first.client.subscribeAsync(`sess/${version}/${qos}`, { qos });
        await first.end();
        const pub = await mq({ protocolVersion: version });
        const n = 20;
        for (let i = 0; i < n; i++) await pub.client.publishAsync(`sess/${version}/${qos}`, `m${i}`, { qos });
        const again = await mq({ protocolVersion: version, clientId: id, ...persist });
        assert.equal(again.connack.sessionPresent, true);
        await again.waitFor(n);
        await sleep(200);
        assert.deepEqual(again.received.map((m) => m.payload), Array.from({ length: n }, (_, i) => `m${i}`));
        assert.ok(again.received.every((m) => m.packet.qos === qos));
        // the subscription survived too: a live message still arrives
        await pub.client.publishAsync(`sess/${version}/${qos}`, 'live', { qos });
        await again.waitFor(n + 1);
      });
    }
  }

  test('unacknowledged QoS 1 is redelivered with DUP after reconnect [MQTT-4.4.0-1]', async () => {
    const id = uniqueId('dup');
    const a = await RawClient.connect(gw.mqttPort, { protocolVersion: 4, clientId: id, clean: false });
    raws.push(a);
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'dup/t', qos: 1 }] });
    await a.next('suback');
    const pub = await mq();
    await pub.client.publishAsync('dup/t', 'again', { qos: 1 });
    const p1 = await a.next('publish');
    assert.equal(p1.dup, false);
    a.destroy(); // no PUBACK
    await waitUntil(() => gw.gateway.broker.getSession(id)?.link === undefined, 2000, 'session detached');
    const b = await RawClient.connect(gw.mqttPort, { protocolVersion: 4, clientId: id, clean: false });
    raws.push(b);
    const p2 = await b.next('publish');
    assert.equal(p2.dup, true);
    assert.equal(p2.messageId, p1.messageId);
    assert.equal(String(p2.payload), 'again');
    b.send({ cmd: 'puback', messageId: p2.messageId });
  });

  test('v5 session expiry: after the interval the session is gone (sessionPresent false, no queued messages)', async () => {
    const id = uniqueId('expire');
    const a = await connectClient(gw.mqttUrl, { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 1 } });
    await a.client.subscribeAsync('expire/t', { qos: 1 });
    await a.end();
    const pub = await mq({ protocolVersion: 5 });
    await pub.client.publishAsync('expire/t', 'lost', { qos: 1 });
    await sleep(1600);
    const b = await mq({ protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 1 } });
    assert.equal(b.connack.sessionPresent, false);
    await pub.client.publishAsync('expire/t', 'after', { qos: 1 });
    await sleep(150);
    assert.equal(b.received.length, 0, 'neither the queued message nor the subscription survived');
  });

  test('v5 session expiry 0 (default): the session ends with the connection', async () => {
    const id = uniqueId('zero');
    const a = await connectClient(gw.mqttUrl, { protocolVersion: 5, clientId: id, clean: false });
    await a.client.subscribeAsync('zero/t', { qos: 1 });
    await a.end();
    const b = await mq({ protocolVersion: 5, clientId: id, clean: false });
    assert.equal(b.connack.sessionPresent, false);
  });

  test('v5 clean start discards a persistent session', async () => {
    const id = uniqueId('cs');
    const a = await connectClient(gw.mqttUrl, { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } });
    await a.client.subscribeAsync('cs/t', { qos: 1 });
    await a.end();
    const b = await mq({ protocolVersion: 5, clientId: id, clean: true, properties: { sessionExpiryInterval: 60 } });
    assert.equal(b.connack.sessionPresent, false);
  });
});
