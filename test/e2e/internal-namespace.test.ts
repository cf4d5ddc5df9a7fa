// E2E: internal sessions (STOMP durable `stomp/<client-id>/<id>`, plain `stomp-<hex>/<n>`) live in their own keyspace: MQTT 3.1.1 / 5 clients (mqtt.js) and STOMP clients using those names (and a queue's `$queue/<name>`) as client ids neither take them over, wipe them nor receive their messages. Imports the gateway and client test helpers and node:test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { connectClient, sleep, type TestClient } from '../helpers/mqtt-clients.ts';
import { RawStomp, header } from '../helpers/stomp-clients.ts';

describe('internal sessions cannot be reached by any client id', () => {
  let g: TestGateway;
  let owner: RawStomp;
  let internalNames: string[];
  /** Every internal name plus the MQTT form of a STOMP queue (queues are core objects, not sessions, but the name must not reach them either). */
  let tried: string[];
  const extra: { close(): void }[] = [];
  const mqttClients: TestClient[] = [];

  before(async () => {
    g = await startGateway();
    owner = await RawStomp.connect(g.stompPort, { 'client-id': 'dur' });
    const session = header(owner.frames[0]!, 'session') as string;
    assert.match(session, /^stomp-[0-9a-f]{16}$/);
    await owner.withReceipt('SUBSCRIBE', { id: 'q', destination: '/queue/orders', ack: 'auto' });
    await owner.withReceipt('SUBSCRIBE', { id: 's1', destination: '/topic/ns.durable', durable: 'true', ack: 'auto' });
    await owner.withReceipt('SUBSCRIBE', { id: 'p', destination: '/topic/ns.plain', ack: 'auto' });
    // The names the STOMP adapter gave the two topic subscriptions' sessions (topic-subscription.ts).
    internalNames = ['stomp/dur/s1', `${session}/1`];
    tried = [...internalNames, '$queue/orders'];
    const names = [...g.gateway.broker.sessions()].filter((e) => e.internal).map((e) => e.name).sort();
    assert.deepEqual(names, [...internalNames].sort(), 'the internal sessions exist under those names');
  });
  after(async () => {
    for (const c of mqttClients) await c.end().catch(() => undefined);
    for (const c of extra) c.close();
    owner.close();
    await g.close();
  });

  /** A receipted SEND to each internal session's destination reaches the STOMP owner (and so nobody else took it). */
  async function ownerStillReceives(tag: string): Promise<void> {
    const pub = await RawStomp.connect(g.stompPort);
    extra.push(pub);
    const before = owner.frames.length;
    for (const d of ['/queue/orders', '/topic/ns.durable', '/topic/ns.plain']) await pub.withReceipt('SEND', { destination: d }, `${tag}:${d}`);
    await owner.until(() => owner.frames.length - before >= 3, 3000, `owner got the three ${tag} MESSAGEs`);
    const got = owner.frames.slice(before).map((f) => `${f.command}:${f.body.toString()}`).sort();
    assert.deepEqual(got, ['/queue/orders', '/topic/ns.durable', '/topic/ns.plain'].map((d) => `MESSAGE:${tag}:${d}`).sort());
    assert.equal(owner.closed, false, 'the owner connection was not taken over');
  }

  for (const version of [4, 5] as const) {
    test(`MQTT v${version === 4 ? '3.1.1' : '5'}: every internal name as client id (clean start) is a separate client session`, async () => {
      for (const name of tried) {
        const c = await connectClient(g.mqttUrl, { protocolVersion: version, clientId: name, clean: true });
        mqttClients.push(c);
        assert.equal(c.connack.sessionPresent, false, `${name}: no session present (the internal one is not visible)`);
        await c.client.subscribeAsync('#', { qos: 1 });
        await ownerStillReceives(`v${version}:${name}`);
        await sleep(50);
        const leaked = c.received.filter((r) => r.payload.includes('/queue/orders') || r.topic.startsWith('$queue/'));
        assert.deepEqual(leaked, [], `${name}: the MQTT client got nothing of the queue`);
        await c.end();
      }
      const internal = [...g.gateway.broker.sessions()].filter((e) => e.internal).map((e) => e.name).sort();
      assert.deepEqual(internal, [...internalNames].sort(), 'internal sessions are all still there');
    });

    test(`MQTT v${version === 4 ? '3.1.1' : '5'}: a client id with U+0000 (the internal key prefix) is refused`, async () => {
      for (const name of tried) {
        await assert.rejects(connectClient(g.mqttUrl, { protocolVersion: version, clientId: `\u0000${name}`, clean: true }), `\\u0000${name} refused`);
      }
      await ownerStillReceives(`nul-v${version}`);
    });
  }

  test('STOMP: client-id headers equal to the internal names (and durable subscriptions under them) do not reach them', async () => {
    for (const name of tried) {
      const c = await RawStomp.connect(g.stompPort, { 'client-id': name });
      extra.push(c);
      await c.withReceipt('SUBSCRIBE', { id: 's1', destination: '/topic/ns.other', durable: 'true', ack: 'auto' });
      await ownerStillReceives(`stomp:${name}`);
      assert.equal(c.frames.filter((f) => f.command === 'MESSAGE').length, 0, `${name}: got nothing of the internal sessions`);
      await c.withReceipt('UNSUBSCRIBE', { id: 's1', durable: 'true' });
      c.close();
    }
  });
});
