// E2E with real processes on real NATS: two gateway nodes (CLI, cluster.backend nats) on one nats-server (replicas 1). Across nodes: MQTT pub/sub at QoS 0/1/2, MQTT to STOMP, retained, a persistent session resumed on the other node with its backlog (and the old connection taken over, 0x8E), and a `$share` group delivering once across nodes. Imports the cluster helper and the client helpers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatewayNodes, startNatsServers, type GatewayNode, type NatsCluster } from '../helpers/nats-cluster.ts';
import { connectClient, sleep, uniqueId, waitUntil, type TestClient } from '../helpers/mqtt-clients.ts';
import { readBody, stompitConnect } from '../helpers/stomp-clients.ts';

const root = mkdtempSync(join(tmpdir(), 'nats-cross-'));
let nats: NatsCluster;
let a: GatewayNode;
let b: GatewayNode;
const open: TestClient[] = [];

before(async () => {
  nats = await startNatsServers({ count: 1, dir: root });
  [a, b] = (await startGatewayNodes({ count: 2, dir: root, natsUrls: nats.urls, replicas: 1, partitions: 4, startTimeoutMs: 60_000 })) as [GatewayNode, GatewayNode];
  await sleep(1500); // heartbeats: each node sees the other live before QoS 0 and $share are checked
});

after(async () => {
  await Promise.all(open.map((c) => c.end().catch(() => undefined)));
  await Promise.all([a, b].filter(Boolean).map((n) => n.stop()));
  await nats?.stop();
  rmSync(root, { recursive: true, force: true });
});

const url = (n: GatewayNode): string => `mqtt://127.0.0.1:${n.ports.mqtt}`;
async function client(n: GatewayNode, opts: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> {
  const c = await connectClient(url(n), opts, 10_000);
  open.push(c);
  return c;
}

for (const qos of [0, 1, 2] as const) {
  test(`MQTT QoS ${qos}: a publish on node A reaches a subscriber on node B once, in order`, async () => {
    const topic = `cross/${qos}/${uniqueId()}`;
    const sub = await client(b, { protocolVersion: 5 });
    await sub.client.subscribeAsync(topic, { qos });
    const pub = await client(a, { protocolVersion: 4 });
    const n = 100;
    for (let i = 0; i < n; i++) await pub.client.publishAsync(topic, `m${i}`, { qos });
    await sub.waitFor(n, 20_000);
    await sleep(300);
    assert.deepEqual(sub.received.map((r) => r.payload), Array.from({ length: n }, (_, i) => `m${i}`));
    assert.ok(sub.received.every((r) => r.packet.qos === qos));
  });
}

test('MQTT on node A to a STOMP subscriber on node B', async () => {
  const topic = `cross/stomp/${uniqueId()}`;
  const stomp = await stompitConnect(b.ports.stomp);
  const got: string[] = [];
  try {
    stomp.subscribe({ destination: `/topic/${topic}`, ack: 'auto' }, (err, msg) => {
      if (!err) void readBody(msg).then((body) => got.push(body));
    });
    await sleep(500);
    const pub = await client(a);
    for (let i = 0; i < 20; i++) await pub.client.publishAsync(topic, `s${i}`, { qos: 1 });
    await waitUntil(() => got.length >= 20, 20_000, `20 STOMP messages (have ${got.length})`);
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `s${i}`));
  } finally {
    stomp.destroy();
  }
});

test('a retained message set on node A is delivered by node B to a new subscriber', async () => {
  const topic = `cross/retained/${uniqueId()}`;
  const pub = await client(a);
  await pub.client.publishAsync(topic, 'kept', { qos: 1, retain: true });
  let seen: TestClient | undefined;
  for (let i = 0; i < 50 && !seen?.received.length; i++) {
    await seen?.end();
    seen = await client(b);
    await seen.client.subscribeAsync(topic, { qos: 1 });
    await sleep(200);
  }
  assert.equal(seen!.received[0]?.payload, 'kept');
  assert.equal(seen!.received[0]?.packet.retain, true);
});

test('a persistent session resumes on node B with its backlog; its connection on A is taken over (0x8E)', async () => {
  const id = uniqueId('roam');
  const topic = `cross/session/${id}`;
  const opts = { protocolVersion: 5 as const, clientId: id, clean: false, properties: { sessionExpiryInterval: 300 } };
  const first = await client(a, opts);
  await first.client.subscribeAsync(topic, { qos: 1 });
  await first.end();
  const pub = await client(a);
  for (let i = 0; i < 30; i++) await pub.client.publishAsync(topic, `b${i}`, { qos: 1 });
  const second = await client(b, { ...opts, reconnectPeriod: 0 });
  await second.waitFor(30, 20_000);
  assert.deepEqual(second.received.map((r) => r.payload), Array.from({ length: 30 }, (_, i) => `b${i}`), 'the backlog, in order');
  // Now the same client id connects on A again: B's connection is taken over.
  let reason: number | undefined;
  second.client.on('disconnect', (p) => { reason = p.reasonCode; });
  const third = await client(a, { ...opts, reconnectPeriod: 0 });
  await waitUntil(() => reason !== undefined, 15_000, 'DISCONNECT on the old connection');
  assert.equal(reason, 0x8e, 'session taken over');
  await pub.client.publishAsync(topic, 'after', { qos: 1 });
  await third.waitFor(1, 15_000);
  assert.equal(third.received.at(-1)?.payload, 'after');
});

test('a $share group with members on both nodes delivers each message once across the cluster', async () => {
  const topic = `cross/share/${uniqueId()}`;
  const m1 = await client(a, { protocolVersion: 5 });
  const m2 = await client(b, { protocolVersion: 5 });
  await m1.client.subscribeAsync(`$share/g/${topic}/#`, { qos: 1 });
  await m2.client.subscribeAsync(`$share/g/${topic}/#`, { qos: 1 });
  await sleep(1500); // membership reaches every node
  const pub = await client(a);
  const n = 100;
  for (let i = 0; i < n; i++) await pub.client.publishAsync(`${topic}/${i % 10}`, `g${i}`, { qos: 1 });
  await waitUntil(() => m1.received.length + m2.received.length >= n, 20_000, `${n} deliveries (have ${m1.received.length + m2.received.length})`);
  await sleep(500);
  const all = [...m1.received, ...m2.received].map((r) => r.payload).sort();
  assert.deepEqual(all, Array.from({ length: n }, (_, i) => `g${i}`).sort(), 'each message once across the group');
  assert.ok(m1.received.length > 0 && m2.received.length > 0, `both members got a share (${m1.received.length} / ${m2.received.length})`);
});
