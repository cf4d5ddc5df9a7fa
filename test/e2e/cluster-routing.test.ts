// E2E: gateways sharing one in-memory cluster backend: a publish on one node reaches subscribers on another at every QoS (MQTT 3.1.1 / 5 and STOMP), in per-partition order, once; retained messages cross nodes. Imports the cluster and client helpers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type TestCluster } from '../helpers/cluster.ts';
import { ClientPool, sleep, uniqueId, waitUntil, type TestClient } from '../helpers/mqtt-clients.ts';
import { RawStomp, header } from '../helpers/stomp-clients.ts';
import { metric } from '../helpers/metrics.ts';

describe('cluster routing (in-memory backend, 3 nodes)', () => {
  let c: TestCluster;
  const pool = new ClientPool();
  const mq = (node: number, opts: Parameters<ClientPool['mqtt']>[1] = {}): Promise<TestClient> => pool.mqtt(c.gateways[node]!.mqttUrl, opts);
  before(async () => {
    c = await startCluster(3, { sys: { intervalMs: 100 } });
  });
  after(async () => {
    await pool.closeAll();
    await c.close();
  });

  for (const version of [4, 5] as const) {
    for (const qos of [0, 1, 2] as const) {
      test(`v${version} QoS ${qos}: a publish on node 1 reaches subscribers on nodes 2 and 3 once, in order`, async () => {
        const topic = `x/${version}/${qos}/${uniqueId()}`;
        const subs = [await mq(1, { protocolVersion: version }), await mq(2, { protocolVersion: version })];
        for (const s of subs) await s.client.subscribeAsync(topic, { qos });
        const pub = await mq(0, { protocolVersion: version });
        // Give the QoS 0 signal path a membership view of every node (heartbeats).
        await sleep(150);
        const n = 50;
        for (let i = 0; i < n; i++) await pub.client.publishAsync(topic, `m${i}`, { qos });
        for (const s of subs) await s.waitFor(n, 5000);
        await sleep(200);
        for (const s of subs) {
          assert.deepEqual(s.received.map((m) => m.payload), Array.from({ length: n }, (_, i) => `m${i}`), 'once each, in order');
          assert.ok(s.received.every((m) => m.packet.qos === qos));
        }
        const st = c.gateways[1]!.gateway.broker.cluster!.stats;
        assert.ok(qos === 0 ? st.qos0In >= n : st.foreignRouted >= n, 'node 2 routed node 1\'s messages as foreign');
      });
    }
  }

  test('publishers on every node into one topic: each subscriber sees one order, the same on every node, each message once', async () => {
    const topic = `mix/${uniqueId()}`;
    const subs = [await mq(0), await mq(1), await mq(2)];
    for (const s of subs) await s.client.subscribeAsync(topic, { qos: 1 });
    const pubs = [await mq(0), await mq(1), await mq(2)];
    const n = 40;
    await Promise.all(pubs.map(async (p, k) => {
      for (let i = 0; i < n; i++) await p.client.publishAsync(topic, `p${k}-${i}`, { qos: 1 });
    }));
    for (const s of subs) await s.waitFor(3 * n, 8000);
    await sleep(200);
    const orders = subs.map((s) => s.received.map((m) => m.payload));
    for (const o of orders) {
      assert.equal(o.length, 3 * n, 'no duplicates');
      assert.equal(new Set(o).size, 3 * n);
      for (let k = 0; k < 3; k++) {
        const mine = o.filter((p) => p.startsWith(`p${k}-`));
        assert.deepEqual(mine, Array.from({ length: n }, (_, i) => `p${k}-${i}`), `publisher ${k} in order`);
      }
    }
    // One topic = one partition = one log order, seen identically on every node.
    assert.deepEqual(orders[1], orders[0]);
    assert.deepEqual(orders[2], orders[0]);
  });

  test('no-local holds across nodes; a wildcard subscriber on another node gets the publisher\'s own topic', async () => {
    const id = uniqueId('nl');
    const topic = `nl/${id}`;
    const a = await mq(0, { protocolVersion: 5, clientId: id });
    await a.client.subscribeAsync(topic, { qos: 1, nl: true });
    const b = await mq(1, { protocolVersion: 5 });
    await b.client.subscribeAsync('nl/#', { qos: 1 });
    await a.client.publishAsync(topic, 'self', { qos: 1 });
    await b.waitFor(1);
    await sleep(200);
    assert.equal(a.received.length, 0, 'no-local: not back to the publisher');
    assert.equal(b.received[0]!.payload, 'self');
  });

  test('STOMP: MQTT on node 1 reaches a STOMP /topic subscriber on node 2; STOMP SEND on node 3 reaches MQTT on node 1', async () => {
    const s = await RawStomp.connect(c.gateways[1]!.stompPort);
    const m = await mq(0, { protocolVersion: 5 });
    try {
      const topic = `st/${uniqueId()}`;
      await s.withReceipt('SUBSCRIBE', { id: 'x', destination: `/topic/${topic}` });
      await m.client.publishAsync(topic, 'from-mqtt', { qos: 1 });
      const f = await s.next('MESSAGE');
      assert.equal(header(f, 'destination'), `/topic/${topic}`);
      assert.equal(f.body.toString(), 'from-mqtt');
      await m.client.subscribeAsync(`${topic}/back`, { qos: 1 });
      const s3 = await RawStomp.connect(c.gateways[2]!.stompPort);
      try {
        await s3.withReceipt('SEND', { destination: `/topic/${topic}/back` }, 'from-stomp');
        await m.waitFor(1);
        assert.equal(m.received[0]!.payload, 'from-stomp');
      } finally {
        s3.close();
      }
    } finally {
      s.close();
    }
  });

  test('retained: set on node 1 is delivered to a new subscriber on node 2; a delete on node 3 clears it everywhere', async () => {
    const topic = `ret/${uniqueId()}`;
    const pub = await mq(0);
    await pub.client.publishAsync(topic, 'on', { qos: 1, retain: true });
    await waitUntil(() => c.gateways[1]!.gateway.broker.retained.get(topic)?.payload.toString() === 'on', 3000, 'retained on node 2');
    const sub = await mq(1);
    await sub.client.subscribeAsync(topic, { qos: 1 });
    const [got] = await sub.waitFor(1);
    assert.equal(got!.payload, 'on');
    assert.equal(got!.packet.retain, true);
    const del = await mq(2);
    await del.client.publishAsync(topic, '', { qos: 1, retain: true });
    await waitUntil(() => c.gateways.every((g) => g.gateway.broker.retained.get(topic) === undefined), 3000, 'retained deleted on every node');
    const late = await mq(0);
    await late.client.subscribeAsync(topic, { qos: 1 });
    await sleep(200);
    assert.equal(late.received.length, 0);
  });

  test('$SYS per node lists the live nodes and cluster totals; /metrics labels them with the node id', async () => {
    const a = await mq(0);
    const b = await mq(2);
    await waitUntil(() => c.gateways.every((g) => g.gateway.broker.cluster!.liveNodes().length === 3), 3000, 'every node sees 3 live nodes');
    await a.client.subscribeAsync('$SYS/broker/cluster/#', { qos: 0 });
    await waitUntil(() => ['nodes', 'node', 'clients/connected'].every((t) => a.received.some((m) => m.topic === `$SYS/broker/cluster/${t}`)), 3000, 'cluster $SYS topics');
    const last = (t: string): string => a.received.filter((m) => m.topic === `$SYS/broker/cluster/${t}`).at(-1)!.payload;
    assert.deepEqual(JSON.parse(last('nodes')), ['n1', 'n2', 'n3']);
    assert.equal(last('node'), 'n1');
    // Connections on other nodes count in the cluster total (heartbeats carry them).
    const own = c.gateways[0]!.gateway.broker.connectedCount;
    await waitUntil(() => Number(last('clients/connected')) > own, 3000, 'total above this node\'s own connections');
    assert.ok(b.client.connected);
    assert.equal(await metric(c.gateways[2]!.httpPort, 'gateway_cluster_nodes', 'node="n3"'), 3);
    assert.ok((await metric(c.gateways[1]!.httpPort, 'gateway_cluster_foreign_routed_total', 'node="n2"')) > 0);
  });
});
