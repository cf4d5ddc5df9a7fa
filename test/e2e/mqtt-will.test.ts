// E2E: MQTT will messages: abnormal close, normal DISCONNECT, DISCONNECT 0x04, v5 will delay and reconnect within the delay. Imports the test helpers and node:test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { ClientPool, RawClient, connectClient, sleep, uniqueId, type TestClient } from '../helpers/mqtt-clients.ts';

describe('mqtt will', () => {
  let gw: TestGateway;
  const pool = new ClientPool();
  const { raws } = pool;
  const mq = (opts: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> => pool.mqtt(gw.mqttUrl, opts);
  const watcher = async (topic: string): Promise<TestClient> => {
    const w = await mq({ protocolVersion: 5 });
    await w.client.subscribeAsync(topic, { qos: 1 });
    return w;
  };
  before(async () => {
    gw = await startGateway();
  });
  after(async () => {
    await pool.closeAll();
    await gw.close();
  });

  for (const version of [3, 4, 5] as const) {
    test(`v${version}: will delivered when the socket is destroyed`, async () => {
      const topic = `will/${version}/abnormal`;
      const w = await watcher(topic);
      const c = await connectClient(gw.mqttUrl, {
        protocolVersion: version,
        ...(version === 3 ? { protocolId: 'MQIsdp' as const } : {}),
        will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false },
      });
      c.client.stream.destroy();
      const [m] = await w.waitFor(1);
      assert.equal(m!.payload, 'gone');
      c.client.end(true);
    });

    test(`v${version}: no will after a normal DISCONNECT [MQTT-3.1.2-10]`, async () => {
      const topic = `will/${version}/normal`;
      const w = await watcher(topic);
      const c = await connectClient(gw.mqttUrl, {
        protocolVersion: version,
        ...(version === 3 ? { protocolId: 'MQIsdp' as const } : {}),
        will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false },
      });
      await c.end();
      await sleep(200);
      assert.equal(w.received.length, 0);
    });
  }

  test('v5 DISCONNECT 0x04 publishes the will', async () => {
    const topic = 'will/5/x04';
    const w = await watcher(topic);
    const c = await RawClient.connect(gw.mqttPort, { protocolVersion: 5, will: { topic, payload: Buffer.from('asked'), qos: 1, retain: false } });
    raws.push(c);
    c.send({ cmd: 'disconnect', reasonCode: 0x04 });
    const [m] = await w.waitFor(1);
    assert.equal(m!.payload, 'asked');
  });

  test('v5 will with properties and retain: the retained will reaches later subscribers', async () => {
    const topic = 'will/5/retained';
    const c = await RawClient.connect(gw.mqttPort, {
      protocolVersion: 5,
      will: { topic, payload: Buffer.from('rw'), qos: 1, retain: true, properties: { contentType: 'text/plain', userProperties: { k: 'v' } } },
    });
    raws.push(c);
    c.destroy();
    await sleep(100);
    const s = await mq({ protocolVersion: 5 });
    await s.client.subscribeAsync(topic, { qos: 1 });
    const [m] = await s.waitFor(1);
    assert.equal(m!.payload, 'rw');
    assert.equal(m!.packet.retain, true);
    assert.equal(m!.packet.properties?.contentType, 'text/plain');
    assert.deepEqual({ ...m!.packet.properties?.userProperties }, { k: 'v' });
    await s.client.publishAsync(topic, '', { retain: true, qos: 1 });
  });

  test('v5 will delay: published after the delay, not before', async () => {
    const topic = 'will/5/delay';
    const w = await watcher(topic);
    const c = await RawClient.connect(gw.mqttPort, {
      protocolVersion: 5,
      clientId: uniqueId('wd'),
      properties: { sessionExpiryInterval: 30 },
      will: { topic, payload: Buffer.from('late'), qos: 1, retain: false, properties: { willDelayInterval: 1 } },
    });
    raws.push(c);
    const t0 = Date.now();
    c.destroy();
    await sleep(600);
    assert.equal(w.received.length, 0, 'not before the delay');
    await w.waitFor(1, 2000);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 900, `delivered after ${elapsed} ms`);
  });

  test('v5 will delay: not published when the client reconnects within the delay [MQTT-3.1.3-9]', async () => {
    const topic = 'will/5/resumed';
    const id = uniqueId('wr');
    const w = await watcher(topic);
    const c = await RawClient.connect(gw.mqttPort, {
      protocolVersion: 5,
      clientId: id,
      clean: false,
      properties: { sessionExpiryInterval: 30 },
      will: { topic, payload: Buffer.from('never'), qos: 1, retain: false, properties: { willDelayInterval: 1 } },
    });
    raws.push(c);
    c.destroy();
    await sleep(300);
    const back = await mq({ protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 30 } });
    assert.equal(back.connack.sessionPresent, true);
    await sleep(1200);
    assert.equal(w.received.length, 0);
  });

  test('v5 will delay longer than the session expiry: published when the session ends', async () => {
    const topic = 'will/5/expiry';
    const w = await watcher(topic);
    const c = await RawClient.connect(gw.mqttPort, {
      protocolVersion: 5,
      clientId: uniqueId('we'),
      properties: { sessionExpiryInterval: 1 },
      will: { topic, payload: Buffer.from('at-expiry'), qos: 1, retain: false, properties: { willDelayInterval: 60 } },
    });
    raws.push(c);
    c.destroy();
    const [m] = await w.waitFor(1, 2500);
    assert.equal(m!.payload, 'at-expiry');
  });
});
