// E2E: MQTT 5 features with mqtt.js and raw clients: receive maximum both ways, topic aliases, expiry, packet size limits, properties, subscription options, reason codes, server DISCONNECTs. Imports the test helpers and node:test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { RawClient, connectClient, sleep, uniqueId, waitUntil, type TestClient } from '../helpers/mqtt-clients.ts';

describe('mqtt v5 features', () => {
  let gw: TestGateway;
  const clients: TestClient[] = [];
  const raws: RawClient[] = [];
  const gateways: TestGateway[] = [];
  const mq = async (opts: Parameters<typeof connectClient>[1] = {}, g: TestGateway = gw): Promise<TestClient> => {
    const c = await connectClient(g.mqttUrl, { protocolVersion: 5, ...opts });
    clients.push(c);
    return c;
  };
  const raw = async (opts: Parameters<typeof RawClient.connect>[1] = {}, g: TestGateway = gw): Promise<RawClient> => {
    const r = await RawClient.connect(g.mqttPort, { protocolVersion: 5, ...opts });
    raws.push(r);
    return r;
  };
  before(async () => {
    gw = await startGateway();
  });
  after(async () => {
    for (const c of clients) await c.end();
    for (const r of raws) r.destroy();
    for (const g of gateways) await g.close();
    await gw.close();
  });

  test('client Receive Maximum 2: never more than 2 unacknowledged PUBLISHes out [MQTT-3.3.4-9]', async () => {
    const sub = await raw({ properties: { receiveMaximum: 2 } });
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rm/t', qos: 1 }] });
    await sub.next('suback');
    const pub = await mq();
    for (let i = 0; i < 10; i++) await pub.client.publishAsync('rm/t', `m${i}`, { qos: 1 });
    const got: string[] = [];
    for (let round = 0; round < 5; round++) {
      await waitUntil(() => sub.publishes().length >= 2, 2000, `2 in flight in round ${round}`);
      await sleep(50); // a third would have arrived by now if the window leaked
      const batch = sub.takePublishes();
      assert.equal(batch.length, 2, `round ${round}: ${batch.length} unacknowledged PUBLISHes in flight`);
      for (const p of batch) {
        got.push(String(p.payload));
        sub.send({ cmd: 'puback', messageId: p.messageId });
      }
    }
    assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => `m${i}`));
  });

  test('client exceeding the server Receive Maximum gets DISCONNECT 0x93 [MQTT-3.3.4-8]', async () => {
    const g = await startGateway({ mqtt: { receiveMaximum: 2 } });
    gateways.push(g);
    const c = await raw({}, g);
    // QoS 2 stays unacknowledged until PUBREL, so three without PUBREL exceed a window of 2.
    for (let id = 1; id <= 3; id++) c.send({ cmd: 'publish', topic: 'rmx/t', payload: 'x', qos: 2, messageId: id, dup: false, retain: false });
    const d = await c.next('disconnect');
    assert.equal(d.reasonCode, 0x93);
    await c.waitClosed();
  });

  test('CONNACK carries the server Receive Maximum and Topic Alias Maximum from config', async () => {
    const g = await startGateway({ mqtt: { receiveMaximum: 7, topicAliasMaximum: 3 } });
    gateways.push(g);
    const c = await mq({}, g);
    assert.equal(c.connack.properties?.receiveMaximum, 7);
    assert.equal(c.connack.properties?.topicAliasMaximum, 3);
  });

  test('topic alias client -> server: a PUBLISH with an empty topic and a known alias is routed', async () => {
    const sub = await mq();
    await sub.client.subscribeAsync('alias/in', { qos: 1 });
    const pub = await raw();
    pub.send({ cmd: 'publish', topic: 'alias/in', payload: 'first', qos: 1, messageId: 1, dup: false, retain: false, properties: { topicAlias: 1 } });
    await pub.next('puback');
    pub.send({ cmd: 'publish', topic: '', payload: 'second', qos: 1, messageId: 2, dup: false, retain: false, properties: { topicAlias: 1 } });
    await pub.next('puback');
    const got = await sub.waitFor(2);
    assert.deepEqual(got.map((m) => [m.topic, m.payload]), [['alias/in', 'first'], ['alias/in', 'second']]);
  });

  test('topic alias client -> server with mqtt.js publish properties', async () => {
    const sub = await mq();
    await sub.client.subscribeAsync('alias/js', { qos: 0 });
    const pub = await mq();
    await pub.client.publishAsync('alias/js', 'a', { qos: 1, properties: { topicAlias: 2 } });
    await pub.client.publishAsync('', 'b', { qos: 1, properties: { topicAlias: 2 } });
    const got = await sub.waitFor(2);
    assert.deepEqual(got.map((m) => [m.topic, m.payload]), [['alias/js', 'a'], ['alias/js', 'b']]);
  });

  test('unknown or out-of-range topic alias closes with DISCONNECT (0x82 / 0x94)', async () => {
    const c = await raw();
    c.send({ cmd: 'publish', topic: '', payload: 'x', qos: 0, dup: false, retain: false, properties: { topicAlias: 5 } });
    assert.equal((await c.next('disconnect')).reasonCode, 0x82);
    const d = await raw();
    d.send({ cmd: 'publish', topic: 'a', payload: 'x', qos: 0, dup: false, retain: false, properties: { topicAlias: 60000 } });
    assert.equal((await d.next('disconnect')).reasonCode, 0x94);
  });

  test('topic alias server -> client: the second message uses the alias, mqtt.js resolves it', async () => {
    const sub = await mq({ properties: { topicAliasMaximum: 5 } });
    await sub.client.subscribeAsync('alias/out', { qos: 1 });
    const rsub = await raw({ properties: { topicAliasMaximum: 5 } });
    rsub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'alias/out', qos: 0 }] });
    await rsub.next('suback');
    const pub = await mq();
    await pub.client.publishAsync('alias/out', 'one', { qos: 1 });
    await pub.client.publishAsync('alias/out', 'two', { qos: 1 });
    const got = await sub.waitFor(2);
    assert.deepEqual(got.map((m) => [m.topic, m.payload]), [['alias/out', 'one'], ['alias/out', 'two']]);
    await waitUntil(() => rsub.publishes().length >= 2, 2000, 'raw subscriber gets 2');
    const [p1, p2] = rsub.takePublishes();
    assert.equal(p1!.topic, 'alias/out');
    assert.equal(p1!.properties?.topicAlias, 1);
    assert.equal(p2!.topic, '', 'second PUBLISH carries the alias only');
    assert.equal(p2!.properties?.topicAlias, 1);
  });

  test('no topic alias towards a client that did not ask for one [MQTT-3.3.2-14]', async () => {
    const rsub = await raw();
    rsub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'alias/none', qos: 0 }] });
    await rsub.next('suback');
    const pub = await mq();
    await pub.client.publishAsync('alias/none', '1', { qos: 1 });
    await pub.client.publishAsync('alias/none', '2', { qos: 1 });
    await waitUntil(() => rsub.publishes().length >= 2, 2000, '2 messages');
    for (const p of rsub.takePublishes()) {
      assert.equal(p.topic, 'alias/none');
      assert.equal(p.properties?.topicAlias, undefined);
    }
  });

  test('message expiry: a queued message with expiry 1 s is not delivered to a session that returns after 2 s', async () => {
    const id = uniqueId('exp');
    const a = await connectClient(gw.mqttUrl, { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } });
    await a.client.subscribeAsync('exp/t', { qos: 1 });
    await a.end();
    const pub = await mq();
    await pub.client.publishAsync('exp/t', 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await pub.client.publishAsync('exp/t', 'long', { qos: 1, properties: { messageExpiryInterval: 60 } });
    await pub.client.publishAsync('exp/t', 'forever', { qos: 1 });
    await sleep(2000);
    const b = await mq({ clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } });
    assert.equal(b.connack.sessionPresent, true);
    const got = await b.waitFor(2);
    await sleep(100);
    assert.deepEqual(got.map((m) => m.payload), ['long', 'forever']);
    const left = got[0]!.packet.properties?.messageExpiryInterval;
    assert.ok(left !== undefined && left <= 58 && left >= 55, `remaining expiry counted down, got ${left} [MQTT-3.3.2-6]`);
    assert.equal(got[1]!.packet.properties?.messageExpiryInterval, undefined);
  });

  test('server Maximum Packet Size: a larger PUBLISH gets DISCONNECT 0x95', async () => {
    const g = await startGateway({ mqtt: { maxPacketSize: 1024 } });
    gateways.push(g);
    const c = await raw({}, g);
    c.send({ cmd: 'publish', topic: 'big/t', payload: Buffer.alloc(2000, 1), qos: 0, dup: false, retain: false });
    assert.equal((await c.next('disconnect')).reasonCode, 0x95);
    await c.waitClosed();
    // a smaller one from another client is fine
    const d = await mq({}, g);
    assert.equal(d.connack.properties?.maximumPacketSize, 1024);
    await d.client.subscribeAsync('big/t');
    await d.client.publishAsync('big/t', Buffer.alloc(500, 2), { qos: 1 });
    await d.waitFor(1);
  });

  test('client Maximum Packet Size: larger messages are not delivered, smaller ones are [MQTT-3.1.2-25]', async () => {
    const sub = await mq({ properties: { maximumPacketSize: 200 } });
    await sub.client.subscribeAsync('mps/t', { qos: 1 });
    const pub = await mq();
    await pub.client.publishAsync('mps/t', 'small-1', { qos: 1 });
    await pub.client.publishAsync('mps/t', 'x'.repeat(1000), { qos: 1 });
    await pub.client.publishAsync('mps/t', 'y'.repeat(1000), { qos: 0 });
    await pub.client.publishAsync('mps/t', 'small-2', { qos: 1 });
    const got = await sub.waitFor(2);
    await sleep(100);
    assert.deepEqual(got.map((m) => m.payload), ['small-1', 'small-2']);
  });

  test('user properties, content type, payload format, response topic and correlation data pass through', async () => {
    const sub = await mq();
    await sub.client.subscribeAsync('props/t', { qos: 1 });
    const pub = await mq();
    await pub.client.publishAsync('props/t', 'héllo', {
      qos: 1,
      properties: {
        userProperties: { a: '1', b: ['x', 'y'] },
        contentType: 'text/plain; charset=utf-8',
        payloadFormatIndicator: true,
        responseTopic: 'props/reply',
        correlationData: Buffer.from([1, 2, 3, 0xff]),
      },
    });
    const [m] = await sub.waitFor(1);
    const p = m!.packet.properties!;
    assert.deepEqual({ ...p.userProperties }, { a: '1', b: ['x', 'y'] });
    assert.equal(p.contentType, 'text/plain; charset=utf-8');
    assert.equal(p.payloadFormatIndicator, true);
    assert.equal(p.responseTopic, 'props/reply');
    assert.deepEqual(Buffer.from(p.correlationData!), Buffer.from([1, 2, 3, 0xff]));
    assert.equal(m!.payload, 'héllo');
  });

  test('payload format indicator 1 with invalid UTF-8 payload gets PUBACK 0x99', async () => {
    const c = await raw();
    c.send({ cmd: 'publish', topic: 'pfi/t', payload: Buffer.from([0xc3, 0x28]), qos: 1, messageId: 9, dup: false, retain: false, properties: { payloadFormatIndicator: true } });
    const ack = await c.next('puback');
    assert.equal(ack.reasonCode, 0x99);
  });

  test('no-local: a client does not receive its own messages, but receives others [MQTT-3.8.3-3]', async () => {
    const a = await mq();
    await a.client.subscribeAsync('nl/t', { qos: 1, nl: true });
    const b = await mq();
    await a.client.publishAsync('nl/t', 'own', { qos: 1 });
    await b.client.publishAsync('nl/t', 'other', { qos: 1 });
    const got = await a.waitFor(1);
    await sleep(100);
    assert.deepEqual(got.map((m) => m.payload), ['other']);
  });

  test('retain-as-published: live retained messages keep RETAIN 1 only when rap is set [MQTT-3.3.1-12/13]', async () => {
    const rap = await mq();
    await rap.client.subscribeAsync('rap/t', { qos: 1, rap: true });
    const plain = await mq();
    await plain.client.subscribeAsync('rap/t', { qos: 1, rap: false });
    const pub = await mq();
    await pub.client.publishAsync('rap/t', 'r', { qos: 1, retain: true });
    const [a] = await rap.waitFor(1);
    const [b] = await plain.waitFor(1);
    assert.equal(a!.packet.retain, true);
    assert.equal(b!.packet.retain, false);
    await pub.client.publishAsync('rap/t', '', { qos: 1, retain: true });
  });

  test('retain handling 0 / 1 / 2 [MQTT-3.3.1-9..11]', async () => {
    const pub = await mq();
    await pub.client.publishAsync('rh/t', 'kept', { qos: 1, retain: true });
    const c0 = await mq();
    await c0.client.subscribeAsync('rh/t', { qos: 1, rh: 0 });
    await c0.client.subscribeAsync('rh/t', { qos: 1, rh: 0 });
    await c0.waitFor(2);
    const c1 = await mq();
    await c1.client.subscribeAsync('rh/t', { qos: 1, rh: 1 });
    await c1.client.subscribeAsync('rh/t', { qos: 1, rh: 1 });
    await c1.waitFor(1);
    const c2 = await mq();
    await c2.client.subscribeAsync('rh/t', { qos: 1, rh: 2 });
    await sleep(150);
    assert.equal(c0.received.length, 2, 'rh 0: retained sent on every subscribe');
    assert.equal(c1.received.length, 1, 'rh 1: retained only for a new subscription');
    assert.equal(c2.received.length, 0, 'rh 2: never');
    for (const m of [...c0.received, ...c1.received]) assert.equal(m.packet.retain, true);
    await pub.client.publishAsync('rh/t', '', { qos: 1, retain: true });
  });

  test('SUBACK 0x8F for an invalid filter in v5 and 0x80 in v3.1.1; UNSUBACK 0x11 for no subscription', async () => {
    const c5 = await raw();
    c5.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/#/b', qos: 1 }, { topic: 'ok/+', qos: 1 }] });
    assert.deepEqual((await c5.next('suback')).granted, [0x8f, 1]);
    c5.send({ cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['never/subscribed', 'ok/+'] });
    assert.deepEqual((await c5.next('unsuback')).granted, [0x11, 0]);
    const c4 = await RawClient.connect(gw.mqttPort, { protocolVersion: 4 });
    raws.push(c4);
    c4.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/b#', qos: 1 }, { topic: 'ok/#', qos: 2 }] });
    assert.deepEqual((await c4.next('suback')).granted, [0x80, 2]);
  });

  test('overlapping subscriptions: v3.1.1 gets one copy; v5 gets one copy with every subscription identifier', async () => {
    const c4 = await mq({ protocolVersion: 4 });
    await c4.client.subscribeAsync('ov/#', { qos: 1 });
    await c4.client.subscribeAsync('ov/+', { qos: 0 });
    const c5 = await mq();
    await c5.client.subscribeAsync('ov/#', { qos: 1, properties: { subscriptionIdentifier: 11 } });
    await c5.client.subscribeAsync('ov/+', { qos: 1, properties: { subscriptionIdentifier: 22 } });
    const pub = await mq();
    await pub.client.publishAsync('ov/x', 'once', { qos: 1 });
    await c4.waitFor(1);
    await c5.waitFor(1);
    await sleep(150);
    assert.equal(c4.received.length, 1);
    assert.equal(c4.received[0]!.packet.qos, 1, 'maximum QoS of the overlapping subscriptions');
    assert.equal(c5.received.length, 1);
    const ids = c5.received[0]!.packet.properties?.subscriptionIdentifier;
    assert.deepEqual([ids].flat().sort((x, y) => Number(x) - Number(y)), [11, 22]);
  });

  test('server shutdown sends DISCONNECT 0x8B to v5 clients', async () => {
    const g = await startGateway();
    const c = await raw({}, g);
    await g.close();
    assert.equal((await c.next('disconnect')).reasonCode, 0x8b);
    await c.waitClosed();
  });
});
