// E2E: persistent sessions across cluster nodes (in-memory backend): resume on another node with the backlog, takeover of the old connection (MQTT 5 DISCONNECT 0x8E), QoS 2 flows kept exactly once, clean start wiping the stored session. Imports the cluster and client helpers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IDisconnectPacket } from 'mqtt';
import { clusterSuite, startCluster, type TestCluster } from '../helpers/cluster.ts';
import { ClientPool, RawClient, connectClient, sleep, uniqueId, waitUntil, type TestClient } from '../helpers/mqtt-clients.ts';

describe('cluster sessions (in-memory backend, 2 nodes)', () => {
  let c: TestCluster;
  const pool = new ClientPool();
  const url = (node: number): string => c.gateways[node]!.mqttUrl;
  const mq = (node: number, opts: Parameters<ClientPool['mqtt']>[1] = {}): Promise<TestClient> => pool.mqtt(url(node), opts);
  before(async () => {
    c = await startCluster(2);
  });
  after(async () => {
    await pool.closeAll();
    await c.close();
  });

  for (const version of [4, 5] as const) {
    for (const qos of [1, 2] as const) {
      test(`v${version} QoS ${qos}: a session left on node 1 resumes on node 2 with its backlog, once, in order`, async () => {
        const id = uniqueId(`mv${version}q${qos}`);
        const topic = `mv/${id}`;
        const persist = version === 5 ? { clean: false, properties: { sessionExpiryInterval: 300 } } : { clean: false };
        const first = await connectClient(url(0), { protocolVersion: version, clientId: id, ...persist });
        await first.client.subscribeAsync(topic, { qos });
        await first.client.publishAsync(topic, 'before', { qos });
        await first.waitFor(1);
        await first.end();
        const pub = await mq(0, { protocolVersion: version });
        const n = 30;
        for (let i = 0; i < n; i++) await pub.client.publishAsync(topic, `m${i}`, { qos });
        const again = await mq(1, { protocolVersion: version, clientId: id, ...persist });
        assert.equal(again.connack.sessionPresent, true, 'the session was found on the other node');
        await again.waitFor(n, 5000);
        await sleep(200);
        assert.deepEqual(again.received.map((m) => m.payload), Array.from({ length: n }, (_, i) => `m${i}`));
        // The subscription moved with it: a live publish on node 1 arrives on node 2.
        await pub.client.publishAsync(topic, 'live', { qos });
        await again.waitFor(n + 1);
        assert.equal(again.received[n]!.payload, 'live');
        assert.equal(c.gateways[0]!.gateway.broker.getSession(id), undefined, 'node 1 no longer holds the session');
      });
    }
  }

  test('v5: connecting to node 2 takes over the live connection on node 1 with DISCONNECT 0x8E; unacknowledged QoS 1 is redelivered there', async () => {
    const id = uniqueId('to');
    const topic = `to/${id}`;
    const props = { clean: false, properties: { sessionExpiryInterval: 300 } };
    // A raw client that never acknowledges: its deliveries stay in flight on node 1.
    const raw = await RawClient.connect(c.gateways[0]!.mqttPort, { protocolVersion: 5, clientId: id, clean: false, keepalive: 60, properties: { sessionExpiryInterval: 300 } });
    pool.raws.push(raw);
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
    await raw.next('suback');
    const pub = await mq(0);
    for (let i = 0; i < 5; i++) await pub.client.publishAsync(topic, `u${i}`, { qos: 1 });
    for (let i = 0; i < 5; i++) await raw.next('publish');
    const disconnected = new Promise<IDisconnectPacket>((resolve) => {
      const check = setInterval(() => {
        const d = raw.packets.find((p) => p.cmd === 'disconnect');
        if (d) {
          clearInterval(check);
          resolve(d as IDisconnectPacket);
        }
      }, 10);
      setTimeout(() => clearInterval(check), 5000).unref();
    });
    const taker = await mq(1, { protocolVersion: 5, clientId: id, ...props });
    assert.equal(taker.connack.sessionPresent, true);
    const d = await disconnected;
    assert.equal(d.reasonCode, 0x8e, 'session taken over');
    await taker.waitFor(5, 5000);
    assert.deepEqual(taker.received.map((m) => m.payload), ['u0', 'u1', 'u2', 'u3', 'u4']);
    assert.ok(taker.received.every((m) => m.packet.dup), 'resent with DUP: they were in flight on node 1');
    await waitUntil(() => raw.closed, 3000, 'old connection closed');
  });

  test('v5 QoS 2: a PUBREC\'d outbound flow moves to the other node as a PUBREL, never as a second PUBLISH', async () => {
    const id = uniqueId('q2');
    const topic = `q2/${id}`;
    const raw = await RawClient.connect(c.gateways[0]!.mqttPort, { protocolVersion: 5, clientId: id, clean: false, keepalive: 60, properties: { sessionExpiryInterval: 300 } });
    pool.raws.push(raw);
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 2 }] });
    await raw.next('suback');
    const pub = await mq(1);
    await pub.client.publishAsync(topic, 'once', { qos: 2 });
    const p = await raw.next('publish');
    raw.send({ cmd: 'pubrec', messageId: p.messageId });
    await raw.next('pubrel');
    // Moves before PUBCOMP: the new node must send PUBREL for that id, not the message again.
    const moved = await RawClient.connect(c.gateways[1]!.mqttPort, { protocolVersion: 5, clientId: id, clean: false, keepalive: 60, properties: { sessionExpiryInterval: 300 } });
    pool.raws.push(moved);
    const rel = await moved.next('pubrel');
    assert.equal(rel.messageId, p.messageId);
    moved.send({ cmd: 'pubcomp', messageId: p.messageId });
    await sleep(300);
    assert.equal(moved.packets.filter((x) => x.cmd === 'publish').length, 0, 'no second PUBLISH');
  });

  test('v5 inbound QoS 2: a PUBLISH resent to the other node after PUBREC is not routed twice', async () => {
    const id = uniqueId('in2');
    const topic = `in2/${id}`;
    const sub = await mq(1);
    await sub.client.subscribeAsync(topic, { qos: 2 });
    const raw = await RawClient.connect(c.gateways[0]!.mqttPort, { protocolVersion: 5, clientId: id, clean: false, keepalive: 60, properties: { sessionExpiryInterval: 300 } });
    pool.raws.push(raw);
    raw.send({ cmd: 'publish', topic, payload: Buffer.from('one'), qos: 2, messageId: 77, retain: false, dup: false });
    await raw.next('pubrec');
    const moved = await RawClient.connect(c.gateways[1]!.mqttPort, { protocolVersion: 5, clientId: id, clean: false, keepalive: 60, properties: { sessionExpiryInterval: 300 } });
    pool.raws.push(moved);
    moved.send({ cmd: 'publish', topic, payload: Buffer.from('one'), qos: 2, messageId: 77, retain: false, dup: true });
    await moved.next('pubrec');
    moved.send({ cmd: 'pubrel', messageId: 77 });
    await moved.next('pubcomp');
    await sub.waitFor(1);
    await sleep(300);
    assert.deepEqual(sub.received.map((m) => m.payload), ['one'], 'delivered once');
  });

  test('clean start on node 2 discards the session stored by node 1', async () => {
    const id = uniqueId('cs');
    const topic = `cs/${id}`;
    const first = await connectClient(url(0), { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 300 } });
    await first.client.subscribeAsync(topic, { qos: 1 });
    await first.end();
    const pub = await mq(0);
    await pub.client.publishAsync(topic, 'old', { qos: 1 });
    const fresh = await mq(1, { protocolVersion: 5, clientId: id, clean: true });
    assert.equal(fresh.connack.sessionPresent, false);
    await sleep(200);
    assert.equal(fresh.received.length, 0);
    const state = c.gateways[1]!.gateway.broker.state!;
    assert.equal([...state.entries(`f/${id}\u0000`)].length, 0, 'stored subscriptions removed');
  });

  test('a node restarted over the shared store restores the sessions it owns (and only those), with what was published meanwhile', async () => {
    const mine = uniqueId('own1');
    const theirs = uniqueId('own2');
    const persist = { protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 300 } };
    const a = await connectClient(url(0), { ...persist, clientId: mine });
    await a.client.subscribeAsync(`own/${mine}`, { qos: 1 });
    await a.end();
    const b = await connectClient(url(1), { ...persist, clientId: theirs });
    await b.client.subscribeAsync(`own/${theirs}`, { qos: 1 });
    await b.end();
    // Node 1 stops gracefully; node 2 keeps taking publishes for node 1's session.
    const old = c.gateways[0]!;
    await old.close();
    const pub = await mq(1);
    for (let i = 0; i < 10; i++) await pub.client.publishAsync(`own/${mine}`, `m${i}`, { qos: 1 });
    const again = await c.add('n1');
    c.gateways[0] = again;
    assert.ok(again.gateway.broker.getSession(mine), 'its own session restored at start');
    assert.equal(again.gateway.broker.getSession(theirs), undefined, 'another node\'s session is not loaded at start');
    const back = await mq(0, { ...persist, clientId: mine });
    assert.equal(back.connack.sessionPresent, true);
    await back.waitFor(10, 5000);
    assert.deepEqual(back.received.map((m) => m.payload), Array.from({ length: 10 }, (_, i) => `m${i}`));
  });
});

describe('cluster: the sessions of a killed node (in-memory backend, 2 nodes)', () => {
  const { pool, cluster } = clusterSuite(2);

  test('a live node adopts them: the will of a client connected to the dead node is published, offline sessions expire, a clean session\'s owner record goes', async () => {
    const url = (node: number): string => cluster().gateways[node]!.mqttUrl;
    const watcher = await pool.mqtt(url(1), { protocolVersion: 5 });
    await watcher.client.subscribeAsync('orph-will/#', { qos: 1 });
    const dev = uniqueId('orph-dev');
    const off = uniqueId('orph-off');
    const clean = uniqueId('orph-clean');
    await pool.mqtt(url(0), {
      protocolVersion: 5, clientId: dev, clean: false, properties: { sessionExpiryInterval: 3 },
      will: { topic: `orph-will/${dev}`, payload: Buffer.from('gone'), qos: 1, retain: false },
    });
    const offline = await connectClient(url(0), { protocolVersion: 5, clientId: off, clean: false, properties: { sessionExpiryInterval: 2 } });
    await offline.client.subscribeAsync(`orph/${off}`, { qos: 1 });
    await offline.end();
    await pool.mqtt(url(0), { protocolVersion: 5, clientId: clean, clean: true });
    const state = cluster().gateways[1]!.gateway.broker.state!;
    for (const id of [dev, off, clean]) await waitUntil(() => state.get(`o/${id}`) !== undefined, 3000, `owner record of ${id} visible on node 2`);
    assert.ok(state.get(`s/${off}`), 'the offline session is stored');

    await cluster().gateways[0]!.kill();
    // Death after deadAfterMs (1.5 s), adoption adoptAfterDeadMs (1 s in tests) after it was last heard: the will (delay 0) is published by node 2.
    await watcher.waitFor(1, 15_000);
    assert.deepEqual(watcher.received.map((m) => [m.topic, m.payload]), [[`orph-will/${dev}`, 'gone']]);
    const b2 = cluster().gateways[1]!.gateway.broker;
    // Expiry runs on node 2: the sessions (3 s and 2 s) and their owner records are gone from the shared store.
    for (const id of [dev, off]) {
      await waitUntil(() => state.get(`s/${id}`) === undefined && state.get(`o/${id}`) === undefined && b2.getSession(id) === undefined, 15_000, `session ${id} expired on node 2`);
    }
    await waitUntil(() => state.get(`o/${clean}`) === undefined, 5000, 'the clean session\'s owner record removed');
    assert.ok((b2.cluster?.stats.adopted ?? 0) >= 3, `adopted ${b2.cluster?.stats.adopted}`);
    await sleep(300);
    assert.equal(watcher.received.length, 1, 'the will once');
  });
});
