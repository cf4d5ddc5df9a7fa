// E2E: malformed and out-of-order MQTT input over raw sockets closes only that connection (v5: DISCONNECT with a reason first); others keep working. Imports the test helpers, mqtt-packet and node:test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { RawClient, connectClient, uniqueId, type TestClient } from '../helpers/mqtt-clients.ts';

/** PUBLISH QoS 0 with raw topic bytes (bypasses mqtt-packet's string encoding). v5 adds an empty property block. */
function rawPublish(topic: Buffer, payload: string, v5: boolean): Buffer {
  const body = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, v5 ? Buffer.from([0]) : Buffer.alloc(0), Buffer.from(payload)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

describe('mqtt malformed input', () => {
  let gw: TestGateway;
  let healthySub: TestClient;
  let healthyPub: TestClient;
  const raws: RawClient[] = [];
  let round = 0;

  /** The bystanders still publish and receive. */
  async function othersStillWork(): Promise<void> {
    const n = ++round;
    const before = healthySub.received.length;
    await healthyPub.client.publishAsync('healthy/t', `alive-${n}`, { qos: 1 });
    await healthySub.waitFor(before + 1);
    assert.equal(healthySub.received.at(-1)!.payload, `alive-${n}`);
  }

  async function expectClosed(r: RawClient, v5Reason?: number): Promise<void> {
    await r.waitClosed(2500);
    if (v5Reason !== undefined) {
      const d = r.packets.find((p) => p.cmd === 'disconnect');
      assert.ok(d, `a DISCONNECT before the close; got ${r.packets.map((p) => p.cmd).join(',') || 'nothing'}`);
      assert.equal((d as mqttPacket.IDisconnectPacket).reasonCode, v5Reason);
    }
    await othersStillWork();
  }

  before(async () => {
    gw = await startGateway();
    healthySub = await connectClient(gw.mqttUrl, { protocolVersion: 5 });
    healthyPub = await connectClient(gw.mqttUrl, { protocolVersion: 4 });
    await healthySub.client.subscribeAsync('healthy/t', { qos: 1 });
  });
  after(async () => {
    for (const r of raws) r.destroy();
    await healthySub.end();
    await healthyPub.end();
    await gw.close();
  });

  const open = async (v: 3 | 4 | 5): Promise<RawClient> => {
    const r = await RawClient.open(gw.mqttPort, v);
    raws.push(r);
    return r;
  };
  const connected = async (v: 4 | 5): Promise<RawClient> => {
    const r = await RawClient.connect(gw.mqttPort, { protocolVersion: v, clientId: uniqueId('bad') });
    raws.push(r);
    return r;
  };

  test('garbage bytes instead of CONNECT close the connection without a CONNACK', async () => {
    const r = await open(4);
    r.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await expectClosed(r);
    assert.equal(r.packets.length, 0);
  });

  test('random binary garbage after CONNECT closes the connection', async () => {
    const r = await connected(4);
    r.write([0x00, 0x00, 0xf0, 0x01, 0x02]);
    await expectClosed(r);
  });

  for (const v of [4, 5] as const) {
    test(`v${v}: remaining length with 5 continuation bytes is malformed [MQTT-1.5.5-1]`, async () => {
      const r = await connected(v);
      r.write([0x30, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00]);
      await expectClosed(r, v === 5 ? 0x81 : undefined);
    });

    test(`v${v}: a topic with invalid UTF-8 (0xC3 0x28) closes the connection [MQTT-1.5.4-1]`, async () => {
      const r = await connected(v);
      r.write(rawPublish(Buffer.from([0x61, 0x2f, 0xc3, 0x28]), 'x', v === 5));
      await expectClosed(r, v === 5 ? 0x81 : undefined);
    });

    test(`v${v}: a wildcard in a PUBLISH topic closes the connection [MQTT-3.3.2-2]`, async () => {
      const r = await connected(v);
      r.write(rawPublish(Buffer.from('a/+/b'), 'x', v === 5));
      await expectClosed(r, v === 5 ? 0x90 : undefined);
      const r2 = await connected(v);
      r2.write(rawPublish(Buffer.from('a/#'), 'x', v === 5));
      await expectClosed(r2, v === 5 ? 0x90 : undefined);
    });

    test(`v${v}: a second CONNECT is a protocol error [MQTT-3.1.0-2]`, async () => {
      const r = await connected(v);
      r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clientId: uniqueId('again'), clean: true, keepalive: 0 });
      await expectClosed(r, v === 5 ? 0x82 : undefined);
    });
  }

  test('PUBLISH before CONNECT closes the connection without routing it [MQTT-3.1.0-1]', async () => {
    const r = await open(4);
    const before = healthySub.received.length;
    r.send({ cmd: 'publish', topic: 'healthy/t', payload: 'sneaky', qos: 0, dup: false, retain: false });
    await expectClosed(r);
    assert.ok(healthySub.received.slice(before).every((m) => m.payload !== 'sneaky'));
  });

  test('SUBSCRIBE before CONNECT closes the connection', async () => {
    const r = await open(4);
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'x', qos: 0 }] });
    await expectClosed(r);
    assert.equal(r.packets.length, 0);
  });

  test('a truncated CONNECT body is malformed', async () => {
    const r = await open(4);
    r.write([0x10, 0x03, 0x00, 0x04, 0x4d]);
    await expectClosed(r);
  });

  test('QoS 3 PUBLISH is malformed [MQTT-3.3.1-4]', async () => {
    const r = await connected(4);
    r.write([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]);
    await expectClosed(r);
  });

  test('v5: PUBLISH QoS 1 with packet id 0 is malformed', async () => {
    const r = await connected(5);
    r.write([0x32, 0x06, 0x00, 0x01, 0x61, 0x00, 0x00, 0x00]);
    await r.waitClosed(2500);
    await othersStillWork();
  });

  test('the gateway still accepts new connections after all of the above', async () => {
    const c = await connectClient(gw.mqttUrl, { protocolVersion: 5 });
    try {
      await c.client.subscribeAsync('after/t', { qos: 1 });
      await c.client.publishAsync('after/t', 'fine', { qos: 1 });
      await c.waitFor(1);
    } finally {
      await c.end();
    }
  });
});
