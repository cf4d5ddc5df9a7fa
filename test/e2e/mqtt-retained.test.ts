// E2E: MQTT retained messages: store, replace, delete, RETAIN flag on subscribe, wildcards, and a large retained set through a small receive window. Imports the test helpers and node:test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { ClientPool, RawClient, connectClient, sleep, waitUntil, type TestClient } from '../helpers/mqtt-clients.ts';

describe('mqtt retained', () => {
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
    test(`v${version}: store, replace, delete with an empty payload; RETAIN 1 on subscribe`, async () => {
      const t = `ret/${version}/one`;
      const pub = await mq({ protocolVersion: version });
      await pub.client.publishAsync(t, 'first', { qos: 1, retain: true });
      await pub.client.publishAsync(t, 'second', { qos: 1, retain: true });
      const s1 = await mq({ protocolVersion: version });
      await s1.client.subscribeAsync(t, { qos: 1 });
      const [m] = await s1.waitFor(1);
      assert.equal(m!.payload, 'second', 'replaced');
      assert.equal(m!.packet.retain, true, 'RETAIN 1 on a subscribe-time delivery [MQTT-3.3.1-9]');
      await pub.client.publishAsync(t, 'live', { qos: 1, retain: true });
      await s1.waitFor(2);
      assert.equal(s1.received[1]!.packet.retain, false, 'live delivery to an existing subscription has RETAIN 0 [MQTT-3.3.1-12]');
      await pub.client.publishAsync(t, '', { qos: 1, retain: true });
      await s1.waitFor(3);
      const s2 = await mq({ protocolVersion: version });
      await s2.client.subscribeAsync(t, { qos: 1 });
      await sleep(150);
      assert.equal(s2.received.length, 0, 'an empty retained payload deletes [MQTT-3.3.1-10]');
    });
  }

  test('a wildcard subscribe gets every matching retained message, and only those', async () => {
    const pub = await mq({ protocolVersion: 5 });
    const topics = ['wild/a/x', 'wild/b/x', 'wild/c/y', 'wild/a/x/deep', 'other/a/x'];
    for (const t of topics) await pub.client.publishAsync(t, t, { qos: 1, retain: true });
    const plus = await mq({ protocolVersion: 4 });
    await plus.client.subscribeAsync('wild/+/x', { qos: 1 });
    const hash = await mq({ protocolVersion: 5 });
    await hash.client.subscribeAsync('wild/#', { qos: 0 });
    await plus.waitFor(2);
    await hash.waitFor(4);
    await sleep(150);
    assert.deepEqual(plus.received.map((m) => m.topic).sort(), ['wild/a/x', 'wild/b/x']);
    assert.deepEqual(hash.received.map((m) => m.topic).sort(), ['wild/a/x', 'wild/a/x/deep', 'wild/b/x', 'wild/c/y']);
    assert.ok(hash.received.every((m) => m.packet.retain));
    for (const t of topics) await pub.client.publishAsync(t, '', { qos: 1, retain: true });
  });

  test('500 retained QoS 1 messages to a v5 client with receiveMaximum 10: never more than 10 unacknowledged, all arrive', async () => {
    const pub = await RawClient.connect(gw.mqttPort, { protocolVersion: 4 });
    raws.push(pub);
    const n = 500;
    for (let i = 1; i <= n; i++) {
      pub.send({ cmd: 'publish', topic: `many/${i}`, payload: `v${i}`, qos: 1, messageId: i, dup: false, retain: true });
    }
    await waitUntil(() => pub.packets.filter((p) => p.cmd === 'puback').length >= n, 5000, '500 PUBACKs');
    const sub = await RawClient.connect(gw.mqttPort, { protocolVersion: 5, properties: { receiveMaximum: 10 } });
    raws.push(sub);
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'many/#', qos: 1 }] });
    await sub.next('suback');
    const seen = new Set<string>();
    let maxInFlight = 0;
    const end = Date.now() + 8000;
    while (seen.size < n) {
      if (Date.now() > end) throw new Error(`only ${seen.size} of ${n} retained messages arrived`);
      await waitUntil(() => sub.publishes().length > 0, 2000, `more retained messages after ${seen.size}`);
      await sleep(2); // let anything the server wrongly sends past the window arrive
      const batch = sub.takePublishes();
      maxInFlight = Math.max(maxInFlight, batch.length);
      assert.ok(batch.length <= 10, `${batch.length} unacknowledged PUBLISHes in flight, receiveMaximum is 10`);
      for (const p of batch) {
        assert.equal(p.retain, true);
        seen.add(p.topic);
        sub.send({ cmd: 'puback', messageId: p.messageId });
      }
    }
    assert.equal(seen.size, n);
    assert.equal(maxInFlight, 10, 'the window was used');
  });
});
