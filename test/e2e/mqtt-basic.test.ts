// E2E: MQTT CONNECT for 3.1 / 3.1.1 / 5, client id assignment, keepalive timeout, session takeover, QoS 0/1/2 both ways. Imports the test helpers and node:test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { RawClient, connectClient, uniqueId, type TestClient } from '../helpers/mqtt-clients.ts';

describe('mqtt basic', () => {
  let gw: TestGateway;
  const open: { end(): unknown }[] = [];
  const raws: RawClient[] = [];
  const track = <T extends TestClient>(c: T): T => (open.push(c), c);
  before(async () => {
    gw = await startGateway();
  });
  after(async () => {
    for (const c of open) await c.end();
    for (const r of raws) r.destroy();
    await gw.close();
  });

  for (const [name, opts] of [
    ['3.1', { protocolVersion: 3, protocolId: 'MQIsdp' }],
    ['3.1.1', { protocolVersion: 4 }],
    ['5', { protocolVersion: 5 }],
  ] as const) {
    test(`CONNECT with MQTT ${name}, pub/sub round trip at QoS 0, 1, 2`, async () => {
      const sub = track(await connectClient(gw.mqttUrl, { ...opts }));
      const pub = track(await connectClient(gw.mqttUrl, { ...opts }));
      const topic = `basic/${name}/t`;
      await sub.client.subscribeAsync(topic, { qos: 2 });
      for (const qos of [0, 1, 2] as const) await pub.client.publishAsync(topic, `q${qos}`, { qos });
      const got = await sub.waitFor(3);
      assert.deepEqual(got.map((m) => m.payload), ['q0', 'q1', 'q2']);
      assert.deepEqual(got.map((m) => m.packet.qos), [0, 1, 2]);
    });
  }

  test('subscription QoS downgrades delivery QoS: min(pub, sub)', async () => {
    const sub = track(await connectClient(gw.mqttUrl));
    const pub = track(await connectClient(gw.mqttUrl));
    await sub.client.subscribeAsync('basic/down', { qos: 1 });
    await pub.client.publishAsync('basic/down', 'x', { qos: 2 });
    const [m] = await sub.waitFor(1);
    assert.equal(m!.packet.qos, 1);
  });

  test('v5 empty client id gets an assignedClientIdentifier in CONNACK, with receiveMaximum and topicAliasMaximum', async () => {
    const c = track(await connectClient(gw.mqttUrl, { protocolVersion: 5, clientId: '', clean: true }));
    const props = c.connack.properties;
    assert.ok(props, 'CONNACK has properties');
    assert.equal(typeof props.assignedClientIdentifier, 'string');
    assert.ok(props.assignedClientIdentifier!.length > 0);
    assert.equal(props.receiveMaximum, gw.config.mqtt.receiveMaximum);
    assert.equal(props.topicAliasMaximum, gw.config.mqtt.topicAliasMaximum);
  });

  test('raw v5 CONNACK carries the assigned id and limits', async () => {
    const r = await RawClient.open(gw.mqttPort, 5);
    raws.push(r);
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: '', clean: true, keepalive: 0 });
    const ack = await r.next('connack');
    assert.equal(ack.reasonCode, 0);
    assert.ok(ack.properties?.assignedClientIdentifier);
    assert.equal(ack.properties?.receiveMaximum, gw.config.mqtt.receiveMaximum);
    assert.equal(ack.properties?.topicAliasMaximum, gw.config.mqtt.topicAliasMaximum);
  });

  test('v3.1.1 empty client id with clean=false is refused with 0x02 [MQTT-3.1.3-8]', async () => {
    const r = await RawClient.open(gw.mqttPort, 4);
    raws.push(r);
    // Built by hand: mqtt-packet refuses to generate this CONNECT. Flags 0x00 = clean session 0.
    r.write([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x00, 0, 0, 0, 0]);
    const ack = await r.next('connack');
    assert.equal(ack.returnCode, 2);
    await r.waitClosed();
  });

  test('v3.1.1 empty client id with clean=true is accepted [MQTT-3.1.3-6]', async () => {
    const r = await RawClient.open(gw.mqttPort, 4);
    raws.push(r);
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: '', clean: true, keepalive: 0 });
    const ack = await r.next('connack');
    assert.equal(ack.returnCode, 0);
    assert.equal(ack.sessionPresent, false);
  });

  test('unsupported protocol level gets CONNACK 0x01 and close [MQTT-3.1.2-2]', async () => {
    const r = await RawClient.open(gw.mqttPort, 4);
    raws.push(r);
    // CONNECT with protocol name MQTT, level 7
    r.write([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 7, 0x02, 0, 0, 0, 0]);
    await r.waitClosed();
    const ack = r.packets.find((p) => p.cmd === 'connack');
    assert.ok(ack, 'a CONNACK before the close');
    assert.equal((ack as { returnCode?: number }).returnCode, 1);
  });

  test('keepalive: no packet within 1.5x keepalive closes the connection [MQTT-3.1.2-24]', async () => {
    const r = await RawClient.open(gw.mqttPort, 4);
    raws.push(r);
    const t0 = Date.now();
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: uniqueId('ka'), clean: true, keepalive: 1 });
    await r.next('connack');
    await r.waitClosed(4000);
    const elapsed = r.closedAt - t0;
    assert.ok(elapsed >= 1400 && elapsed <= 2700, `closed after ${elapsed} ms, expected ~1.5-2.5 s`);
  });

  test('keepalive: PINGREQ keeps the connection open', async () => {
    const r = await RawClient.connect(gw.mqttPort, { keepalive: 1 });
    raws.push(r);
    // 4 x 500 ms = 2 s, past the 1.5 s deadline an idle connection would hit.
    for (let i = 0; i < 4; i++) {
      await new Promise((res) => setTimeout(res, 500));
      r.send({ cmd: 'pingreq' });
      await r.next('pingresp');
    }
    assert.equal(r.closed, false);
  });

  test('v5 session takeover: the old connection gets DISCONNECT 0x8E, the new one works', async () => {
    const id = uniqueId('take');
    const old = await RawClient.connect(gw.mqttPort, { protocolVersion: 5, clientId: id });
    raws.push(old);
    const fresh = track(await connectClient(gw.mqttUrl, { protocolVersion: 5, clientId: id }));
    const d = await old.next('disconnect');
    assert.equal(d.reasonCode, 0x8e);
    await old.waitClosed();
    await fresh.client.subscribeAsync('take/t', { qos: 1 });
    await fresh.client.publishAsync('take/t', 'still here', { qos: 1 });
    const [m] = await fresh.waitFor(1);
    assert.equal(m!.payload, 'still here');
  });

  test('v3.1.1 session takeover closes the old connection [MQTT-3.1.4-3]', async () => {
    const id = uniqueId('take4');
    const old = await RawClient.connect(gw.mqttPort, { protocolVersion: 4, clientId: id });
    raws.push(old);
    const fresh = track(await connectClient(gw.mqttUrl, { protocolVersion: 4, clientId: id }));
    await old.waitClosed();
    assert.equal(fresh.client.connected, true);
  });

  test('clean session discards old subscriptions; sessionPresent false', async () => {
    const id = uniqueId('clean');
    const a = await connectClient(gw.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
    await a.client.subscribeAsync('clean/t', { qos: 1 });
    await a.end();
    const b = track(await connectClient(gw.mqttUrl, { protocolVersion: 4, clientId: id, clean: true }));
    assert.equal(b.connack.sessionPresent, false);
    const pub = track(await connectClient(gw.mqttUrl));
    await pub.client.publishAsync('clean/t', 'x', { qos: 1 });
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(b.received.length, 0, 'subscription from the discarded session must not deliver');
  });
});
