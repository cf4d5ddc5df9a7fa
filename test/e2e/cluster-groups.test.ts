// E2E: `$share` groups across cluster nodes (one delivery per group across the cluster), and a node killed while a QoS 1 stream flows (nothing acknowledged lost once the clients reconnect to another node). Imports the cluster and client helpers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type TestCluster } from '../helpers/cluster.ts';
import { ClientPool, connectClient, sleep, uniqueId, waitUntil, type TestClient } from '../helpers/mqtt-clients.ts';

describe('cluster $share groups (in-memory backend, 3 nodes)', () => {
  let c: TestCluster;
  const pool = new ClientPool();
  const mq = (node: number, opts: Parameters<ClientPool['mqtt']>[1] = {}): Promise<TestClient> => pool.mqtt(c.gateways[node]!.mqttUrl, opts);
  before(async () => {
    c = await startCluster(3);
  });
  after(async () => {
    await pool.closeAll();
    await c.close();
  });

  for (const qos of [0, 1, 2] as const) {
    test(`QoS ${qos}: one delivery per group across nodes; members on every node get a share`, async () => {
      const topic = `sh/${qos}/${uniqueId()}`;
      const g1 = [await mq(0), await mq(1), await mq(2)];
      const g2 = [await mq(0), await mq(1)];
      for (const m of g1) await m.client.subscribeAsync(`$share/one/${topic}`, { qos });
      for (const m of g2) await m.client.subscribeAsync(`$share/two/${topic}`, { qos });
      // Group membership (gm/ keys) and heartbeats reach every node.
      await waitUntil(() => c.gateways.every((g) => g.gateway.broker.cluster!.liveNodes().length === 3), 3000, 'every node sees 3 live nodes');
      await sleep(200);
      const pub = await mq(1);
      const n = 90;
      for (let i = 0; i < n; i++) await pub.client.publishAsync(topic, `m${i}`, { qos });
      const count = (g: TestClient[]): number => g.reduce((k, m) => k + m.received.length, 0);
      await waitUntil(() => count(g1) >= n && count(g2) >= n, 5000, `both groups got ${n} (have ${count(g1)}, ${count(g2)})`);
      await sleep(300);
      for (const [name, g] of [['one', g1], ['two', g2]] as const) {
        const all = g.flatMap((m) => m.received.map((r) => r.payload)).sort();
        assert.equal(all.length, n, `group ${name}: ${n} deliveries, none twice`);
        assert.deepEqual(all, Array.from({ length: n }, (_, i) => `m${i}`).sort());
        for (const m of g) assert.ok(m.received.length > 0, `group ${name}: every member (one per node) got a share`);
      }
    });
  }

  test('a group whose only members are on one node gets everything there', async () => {
    const topic = `sh1/${uniqueId()}`;
    const a = await mq(2);
    const b = await mq(2);
    for (const m of [a, b]) await m.client.subscribeAsync(`$share/solo/${topic}`, { qos: 1 });
    await sleep(200);
    const pub = await mq(0);
    for (let i = 0; i < 30; i++) await pub.client.publishAsync(topic, `m${i}`, { qos: 1 });
    await waitUntil(() => a.received.length + b.received.length >= 30, 5000, '30 deliveries');
    await sleep(200);
    assert.equal(a.received.length + b.received.length, 30);
  });
});

for (const qos of [1, 2] as const) describe(`cluster node killed under a QoS ${qos} stream (in-memory backend, 2 nodes)`, () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster(2);
  });
  after(async () => {
    await c.close();
  });

  test(`QoS ${qos}: publisher and subscriber on the killed node reconnect to the other: every acknowledged message arrives${qos === 2 ? ', none twice' : ''}`, async () => {
    const subId = uniqueId('ksub');
    const pubId = uniqueId('kpub');
    const topic = `kill/${subId}`;
    const persist = { protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 600 } };
    const got = new Set<string>();
    const twice: string[] = [];
    /** Publishes cut off by the kill: sent again by a new client (new packet id), so the gateway cannot know it is a resend. */
    const resent = new Set<string>();
    let sub = await connectClient(c.gateways[0]!.mqttUrl, { ...persist, clientId: subId });
    const track = (s: TestClient): void =>
      void s.client.on('message', (_t, p) => {
        const m = p.toString();
        if (got.has(m)) twice.push(m);
        got.add(m);
      });
    track(sub);
    await sub.client.subscribeAsync(topic, { qos });
    let pub = await connectClient(c.gateways[0]!.mqttUrl, { ...persist, clientId: pubId });
    const lostOf = (t: TestClient): Promise<never> => {
      const p = new Promise<never>((_, reject) => t.client.once('close', () => reject(new Error('connection lost'))));
      p.catch(() => undefined);
      return p;
    };
    let lost = lostOf(pub);
    const acked: string[] = [];
    const n = 400;
    const killAt = 150;
    let i = 0;
    let killed = false;
    while (i < n) {
      const payload = `m${i}`;
      try {
        if (i === killAt && !killed) {
          killed = true;
          // No await: the kill lands while publishes and deliveries are in flight.
          void c.gateways[0]!.kill();
        }
        // mqtt.js keeps a QoS 1 publish pending across a lost connection (no reconnect here): a close fails it.
        await Promise.race([pub.client.publishAsync(topic, payload, { qos }), lost]);
        acked.push(payload);
        i++;
      } catch {
        // The node died under this publish: not acknowledged, so the publisher sends it again on the other node.
        resent.add(payload);
        pub.client.end(true);
        sub.client.end(true);
        pub = await connectClient(c.gateways[1]!.mqttUrl, { ...persist, clientId: pubId }, 6000);
        lost = lostOf(pub);
        sub = await connectClient(c.gateways[1]!.mqttUrl, { ...persist, clientId: subId }, 6000);
        track(sub);
        assert.equal(sub.connack.sessionPresent, true, 'the subscriber\'s session resumed on the surviving node');
      }
      if (i > killAt + 5 && !killed) throw new Error('kill did not happen');
    }
    assert.ok(killed);
    await waitUntil(() => acked.every((p) => got.has(p)), 10_000, `every acknowledged message (${acked.length}) delivered; missing ${acked.filter((p) => !got.has(p)).slice(0, 5).join(',')}`);
    await sleep(300);
    // QoS 1 may repeat (at least once); QoS 2 must not, except a publish the kill cut off that the application
    // sent again as a new message (a new client cannot reuse the lost packet id).
    if (qos === 2) assert.deepEqual(twice.filter((m) => !resent.has(m)), [], 'QoS 2 delivered twice');
    await pub.end();
    await sub.end();
  });
});
