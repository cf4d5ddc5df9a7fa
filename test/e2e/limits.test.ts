// E2E: every abuse limit bites with the protocol's own refusal and moves its /metrics counter (MQTT v3/v5 raw sockets and mqtt.js, raw STOMP). Imports the test helpers and node:test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type mqttPacket from 'mqtt-packet';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { RawClient, connectClient, uniqueId } from '../helpers/mqtt-clients.ts';
import { RawStomp, header } from '../helpers/stomp-clients.ts';
import { metric } from '../helpers/metrics.ts';

const refusals = (gw: TestGateway, limit: string): Promise<number> => metric(gw.httpPort, 'gateway_limit_refusals_total', `limit="${limit}"`);

/** Opens a raw MQTT socket and sends CONNECT; resolves with the CONNACK code and whether the socket closed. */
async function tryConnect(port: number, v: 4 | 5): Promise<{ code: number; closed: boolean }> {
  const r = await RawClient.open(port, v);
  r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clientId: uniqueId('lim'), clean: true, keepalive: 0 });
  const ack = (await r.next('connack')) as mqttPacket.IConnackPacket;
  const code = ack.reasonCode ?? ack.returnCode ?? 0;
  if (code !== 0) await r.waitClosed(3000);
  const closed = r.closed;
  r.destroy();
  return { code, closed };
}

describe('limits: connections', () => {
  test('total connections: the next MQTT CONNECT gets 0x97 (v3: 0x03), the next STOMP client an ERROR; counted', async () => {
    const gw = await startGateway({ limits: { maxConnections: 2, maxConnectionsPerAddress: 0, connectionRatePerAddress: 0 } });
    const held: RawClient[] = [];
    try {
      held.push(await RawClient.connect(gw.mqttPort, { protocolVersion: 5 }), await RawClient.connect(gw.mqttPort, { protocolVersion: 4 }));
      const before = await refusals(gw, 'connections');
      assert.deepEqual(await tryConnect(gw.mqttPort, 5), { code: 0x97, closed: true });
      assert.deepEqual(await tryConnect(gw.mqttPort, 4), { code: 0x03, closed: true });
      const s = await RawStomp.open(gw.stompPort);
      const err = await s.next('ERROR');
      assert.equal(header(err, 'message'), 'quota exceeded');
      await s.waitClosed();
      assert.equal((await refusals(gw, 'connections')) - before, 3);
      // One closes: a new client is admitted again.
      held.pop()!.destroy();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await tryConnect(gw.mqttPort, 5)).code, 0);
    } finally {
      for (const h of held) h.destroy();
      await gw.close();
    }
  });

  test('connections per source address: refused past the limit, counted', async () => {
    const gw = await startGateway({ limits: { maxConnectionsPerAddress: 1, connectionRatePerAddress: 0 } });
    try {
      const first = await RawClient.connect(gw.mqttPort, { protocolVersion: 5 });
      assert.deepEqual(await tryConnect(gw.mqttPort, 5), { code: 0x97, closed: true });
      assert.equal(await refusals(gw, 'connections-per-address'), 1);
      first.destroy();
    } finally {
      await gw.close();
    }
  });

  test('connection rate per address: v5 CONNACK 0x9F once the burst is spent, counted', async () => {
    const gw = await startGateway({ limits: { connectionRatePerAddress: 3 } });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) codes.push((await tryConnect(gw.mqttPort, 5)).code);
      assert.deepEqual(codes.slice(0, 3), [0, 0, 0]);
      assert.ok(codes.slice(3).every((c) => c === 0x9f), `got ${codes.map((c) => c.toString(16))}`);
      assert.ok((await refusals(gw, 'connection-rate')) >= 2);
    } finally {
      await gw.close();
    }
  });
});

describe('limits: per client and global state', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({
      stomp: { queues: ['declared'], maxCreatedQueues: 1 },
      limits: {
        maxSubscriptionsPerClient: 3,
        maxLogSubscriptionsPerClient: 1,
        maxRetainedMessages: 3,
        maxRetainedBytes: 4096,
        maxUnfinishedBytes: 100_000,
        connectionRatePerAddress: 0,
      },
    });
  });
  after(async () => {
    await gw.close();
  });

  test('MQTT subscriptions per client: v5 SUBACK 0x97, v3 0x80, an existing filter may be replaced; counted', async () => {
    const before = await refusals(gw, 'subscriptions');
    const v5 = await RawClient.connect(gw.mqttPort, { protocolVersion: 5 });
    v5.send({ cmd: 'subscribe', messageId: 1, subscriptions: ['a', 'b', 'c', 'd'].map((topic) => ({ topic, qos: 1 as const })) });
    assert.deepEqual((await v5.next('suback')).granted, [1, 1, 1, 0x97]);
    v5.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'a', qos: 0 }] });
    assert.deepEqual((await v5.next('suback')).granted, [0]);
    const v4 = await RawClient.connect(gw.mqttPort, { protocolVersion: 4 });
    v4.send({ cmd: 'subscribe', messageId: 1, subscriptions: ['a', 'b', 'c', 'd', 'e'].map((topic) => ({ topic, qos: 1 as const })) });
    assert.deepEqual((await v4.next('suback')).granted, [1, 1, 1, 0x80, 0x80]);
    assert.equal((await refusals(gw, 'subscriptions')) - before, 3);
    v5.destroy();
    v4.destroy();
  });

  test('STOMP subscriptions per client: the 4th SUBSCRIBE gets ERROR quota exceeded; counted', async () => {
    const before = await refusals(gw, 'subscriptions');
    const s = await RawStomp.connect(gw.stompPort);
    for (let i = 0; i < 3; i++) await s.withReceipt('SUBSCRIBE', { id: `s${i}`, destination: `/topic/x${i}` });
    s.send('SUBSCRIBE', { id: 's3', destination: '/topic/x3', receipt: 'r3' });
    const err = await s.next('ERROR');
    assert.equal(header(err, 'message'), 'quota exceeded');
    await s.waitClosed();
    assert.equal((await refusals(gw, 'subscriptions')) - before, 1);
  });

  test('$log / $group subscriptions per client and replay depth (mqtt.maxTopicLevels)', async () => {
    const before = await refusals(gw, 'log-subscriptions');
    const c = await RawClient.connect(gw.mqttPort, { protocolVersion: 5 });
    const deep = `$log/first/${Array.from({ length: 40 }, (_, i) => `l${i}`).join('/')}`;
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: deep, qos: 1 }] });
    assert.deepEqual((await c.next('suback')).granted, [0x8f], '40 levels > mqtt.maxTopicLevels 32');
    c.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: '$log/first/r/1', qos: 1 }, { topic: '$log/first/r/2', qos: 1 }] });
    assert.deepEqual((await c.next('suback')).granted, [1, 0x97]);
    assert.equal((await refusals(gw, 'log-subscriptions')) - before, 1);
    c.destroy();
    // STOMP: a second x-stream-offset subscription on one connection.
    const s = await RawStomp.connect(gw.stompPort);
    await s.withReceipt('SUBSCRIBE', { id: 'a', destination: '/topic/r/1', 'x-stream-offset': 'first', ack: 'client' });
    s.send('SUBSCRIBE', { id: 'b', destination: '/topic/r/2', 'x-stream-offset': 'first', ack: 'client' });
    assert.equal(header(await s.next('ERROR'), 'message'), 'quota exceeded');
    assert.equal((await refusals(gw, 'log-subscriptions')) - before, 2);
  });

  test('retained count: a new topic past the limit gets v5 PUBACK 0x97, is dropped on v3 (counted), replacing one still works', async () => {
    const before = await refusals(gw, 'retained-count');
    const v5 = await RawClient.connect(gw.mqttPort, { protocolVersion: 5 });
    for (let i = 1; i <= 3; i++) {
      v5.send({ cmd: 'publish', topic: `ret/${i}`, payload: Buffer.from(`v${i}`), qos: 1, messageId: i, retain: true, dup: false });
      assert.equal((await v5.next('puback')).reasonCode ?? 0, 0);
    }
    v5.send({ cmd: 'publish', topic: 'ret/4', payload: Buffer.from('v4'), qos: 1, messageId: 4, retain: true, dup: false });
    assert.equal((await v5.next('puback')).reasonCode, 0x97);
    v5.send({ cmd: 'publish', topic: 'ret/1', payload: Buffer.from('again'), qos: 1, messageId: 5, retain: true, dup: false });
    assert.equal((await v5.next('puback')).reasonCode ?? 0, 0, 'replacing an existing retained topic is allowed');
    const v4 = await RawClient.connect(gw.mqttPort, { protocolVersion: 4 });
    v4.send({ cmd: 'publish', topic: 'ret/5', payload: Buffer.from('v5'), qos: 1, messageId: 1, retain: true, dup: false });
    await v4.next('puback'); // v3 cannot be told: acknowledged and dropped
    assert.equal((await refusals(gw, 'retained-count')) - before, 2);
    const sub = await connectClient(gw.mqttUrl, { protocolVersion: 5 });
    await sub.client.subscribeAsync('ret/#', { qos: 1 });
    await sub.waitFor(3);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(sub.received.map((m) => m.topic).sort(), ['ret/1', 'ret/2', 'ret/3']);
    await sub.end();
    v5.destroy();
    v4.destroy();
  });

  test('retained bytes: a retained message that would pass maxRetainedBytes gets 0x97; counted', async () => {
    const before = await refusals(gw, 'retained-bytes');
    const v5 = await RawClient.connect(gw.mqttPort, { protocolVersion: 5 });
    v5.send({ cmd: 'publish', topic: 'ret/1', payload: Buffer.alloc(5000, 1), qos: 1, messageId: 1, retain: true, dup: false });
    assert.equal((await v5.next('puback')).reasonCode, 0x97);
    assert.equal((await refusals(gw, 'retained-bytes')) - before, 1);
    v5.destroy();
  });

  test('queues created by clients: the second new queue is refused with ERROR; declared queues need no quota; counted', async () => {
    const before = await refusals(gw, 'queue-create');
    const s = await RawStomp.connect(gw.stompPort);
    await s.withReceipt('SEND', { destination: '/queue/declared' }, 'x');
    await s.withReceipt('SEND', { destination: '/queue/made-by-send' }, 'x');
    s.send('SEND', { destination: '/queue/one-too-many', receipt: 'r' }, 'x');
    assert.equal(header(await s.next('ERROR'), 'message'), 'quota exceeded');
    await s.waitClosed();
    assert.equal((await refusals(gw, 'queue-create')) - before, 1);
    assert.equal(gw.gateway.stomp.queues?.has('one-too-many'), false);
  });

  test('unfinished bytes across connections: the CONNECT that would pass the budget is cut; the gauge returns to 0', async () => {
    const before = await refusals(gw, 'unfinished-bytes');
    const socks: net.Socket[] = [];
    const closed: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      const s = net.connect(gw.mqttPort, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      s.on('error', () => undefined);
      const k = i;
      closed[k] = false;
      s.on('close', () => (closed[k] = true));
      // CONNECT header announcing 60,000 bytes (remaining length 0xE0 0xD4 0x03 = 60,000), then 10 bytes of it.
      s.write(Buffer.from([0x10, 0xe0, 0xd4, 0x03, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0]));
      socks.push(s);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(closed, [false, true, true], 'the first fits in 100,000 bytes, the others do not');
    assert.ok((await metric(gw.httpPort, 'gateway_unfinished_bytes')) >= 60_000);
    assert.equal((await refusals(gw, 'unfinished-bytes')) - before, 2);
    for (const s of socks) s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await metric(gw.httpPort, 'gateway_unfinished_bytes'), 0);
  });
});

describe('limits: sessions', () => {
  test('maxSessions: a new persistent MQTT session gets CONNACK 0x97 (v3: 0x03), a new STOMP durable subscription ERROR; clean ones pass; counted', async () => {
    const gw = await startGateway({ limits: { maxSessions: 2, connectionRatePerAddress: 0 } });
    const held: RawClient[] = [];
    try {
      held.push(await RawClient.connect(gw.mqttPort, { protocolVersion: 5, clientId: 'keep-1', clean: false, properties: { sessionExpiryInterval: 60 } }));
      held.push(await RawClient.connect(gw.mqttPort, { protocolVersion: 4, clientId: 'keep-2', clean: false }));
      const v5 = await RawClient.open(gw.mqttPort, 5);
      v5.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'third', clean: false, keepalive: 0, properties: { sessionExpiryInterval: 60 } });
      assert.equal((await v5.next('connack')).reasonCode, 0x97);
      const v4 = await RawClient.open(gw.mqttPort, 4);
      v4.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'fourth', clean: false, keepalive: 0 });
      assert.equal((await v4.next('connack')).returnCode, 0x03);
      // Taking over an existing session is not a new one.
      held.push(await RawClient.connect(gw.mqttPort, { protocolVersion: 4, clientId: 'keep-2', clean: false }));
      const s = await RawStomp.connect(gw.stompPort, { 'client-id': 'stomp-c' });
      s.send('SUBSCRIBE', { id: 'd1', destination: '/topic/x', durable: 'true', receipt: 'r' });
      assert.equal(header(await s.next('ERROR'), 'message'), 'quota exceeded');
      assert.equal(await refusals(gw, 'sessions'), 3);
      v5.destroy();
      v4.destroy();
    } finally {
      for (const h of held) h.destroy();
      await gw.close();
    }
  });
});

describe('limits: declared queues only, publish rate', () => {
  test('stomp.autoCreateQueues false: SEND to an undeclared queue gets ERROR; the declared one works', async () => {
    const gw = await startGateway({ stomp: { queues: ['only'], autoCreateQueues: false } });
    try {
      const s = await RawStomp.connect(gw.stompPort);
      await s.withReceipt('SEND', { destination: '/queue/only' }, 'x');
      s.send('SEND', { destination: '/queue/other', receipt: 'r' }, 'x');
      assert.equal(header(await s.next('ERROR'), 'message'), 'not authorized');
      assert.equal(await refusals(gw, 'queue-create'), 1);
    } finally {
      await gw.close();
    }
  });

  test('publish rate: a client over maxPublishRate is paused, not dropped: every message arrives, in order; pauses counted', async () => {
    const gw = await startGateway({ limits: { maxPublishRate: 20 } });
    try {
      const sub = await connectClient(gw.mqttUrl, { protocolVersion: 5 });
      await sub.client.subscribeAsync('rate/t', { qos: 1 });
      const pub = await RawClient.connect(gw.mqttPort, { protocolVersion: 4 });
      const n = 50;
      const t0 = Date.now();
      for (let i = 1; i <= n; i++) pub.write(Buffer.concat([Buffer.from([0x32, 2 + 6 + 2 + String(i).length, 0, 6]), Buffer.from('rate/t'), Buffer.from([0, i]), Buffer.from(String(i))]));
      await sub.waitFor(n, 15_000);
      const took = Date.now() - t0;
      assert.deepEqual(sub.received.map((m) => m.payload), Array.from({ length: n }, (_, i) => String(i + 1)));
      assert.ok(took >= 1000, `50 messages at 20/s (burst 20) take over a second; took ${took} ms`);
      assert.ok((await metric(gw.httpPort, 'gateway_publish_rate_pauses_total')) >= 1);
      await sub.end();
      pub.destroy();
    } finally {
      await gw.close();
    }
  });
});
