// E2E smoke with real processes: two gateway nodes (CLI, cluster.backend nats) on one nats-server (replicas 1). A QoS 1 publish on node A is read on node B through the shared log ($log/ replay); with NATS down, QoS 1 is refused (v5 0x80), a new CONNECT gets 0x89 and /readyz fails on both, and both recover by themselves. Imports the cluster helper and the MQTT test helpers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpGet, startGatewayNodes, startNatsServers, type GatewayNode, type NatsCluster } from '../helpers/nats-cluster.ts';
import { RawClient, connectClient, waitUntil, sleep } from '../helpers/mqtt-clients.ts';

const root = mkdtempSync(join(tmpdir(), 'nats-gateways-'));
let nats: NatsCluster;
let nodes: GatewayNode[] = [];

before(async () => {
  nats = await startNatsServers({ count: 1, dir: root });
  nodes = await startGatewayNodes({ count: 2, dir: root, natsUrls: nats.urls, replicas: 1, partitions: 4, startTimeoutMs: 60_000 });
});

after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await nats?.stop();
  rmSync(root, { recursive: true, force: true });
});

const url = (n: GatewayNode): string => `mqtt://127.0.0.1:${n.ports.mqtt}`;
const readyz = async (n: GatewayNode): Promise<number> => (await httpGet(n.ports.http, '/readyz').catch(() => ({ status: 0 }))).status;

test('QoS 1 publishes acknowledged on node A are replayed on node B from the shared log, in order, byte for byte', async () => {
  const [a, b] = nodes as [GatewayNode, GatewayNode];
  const pub = await connectClient(url(a), { protocolVersion: 5 });
  const payloads = Array.from({ length: 20 }, (_, i) => `m${i}-${'x'.repeat(i)}`);
  for (const p of payloads) await pub.client.publishAsync('smoke/t1', p, { qos: 1 });
  await pub.end();
  const sub = await connectClient(url(b), { protocolVersion: 4 });
  try {
    await sub.client.subscribeAsync('$log/first/smoke/#', { qos: 1 });
    const got = await sub.waitFor(payloads.length, 10_000);
    assert.deepEqual(got.map((r) => r.payload), payloads);
    assert.ok(got.every((r) => r.topic === 'smoke/t1'));
    // B's /metrics shows the shared log's offsets (the partitions' ends add up to at least what A wrote).
    const metrics = (await httpGet(b.ports.http, '/metrics')).body;
    const ends = [...metrics.matchAll(/^gateway_log_partition_end_offset\{partition="\d+"\} (\d+)$/gm)].map((m) => Number(m[1]));
    assert.equal(ends.length, 4, 'one end offset per partition');
    assert.ok(ends.reduce((x, y) => x + y, 0) >= payloads.length);
  } finally {
    await sub.end();
  }
});

test('NATS down: QoS 1 refused with 0x80 and /readyz fails on every node; NATS back: both recover and the log continues', async () => {
  const [a, b] = nodes as [GatewayNode, GatewayNode];
  assert.equal(await readyz(a), 200);
  assert.equal(await readyz(b), 200);
  // A client connected before the outage publishes during it: refused, never acknowledged.
  const c = await RawClient.connect(a.ports.mqtt, { protocolVersion: 5 });
  try {
    await nats.servers[0]!.kill9();
    for (const n of nodes) {
      const end = Date.now() + 10_000;
      while ((await readyz(n)) === 200 && Date.now() < end) await sleep(50);
      assert.equal(await readyz(n), 503, `${n.nodeId} /readyz fails while NATS is down`);
    }
    c.send({ cmd: 'publish', topic: 'smoke/down', payload: Buffer.from('lost?'), qos: 1, dup: false, retain: false, messageId: 7 });
    const ack = await c.next('puback');
    assert.equal(ack.reasonCode, 0x80, 'not acknowledged as a success while NATS is down');
  } finally {
    c.destroy();
  }
  // A new client cannot be given a session while the cluster's store is away: CONNACK 0x89 (server busy), at once.
  await assert.rejects(RawClient.connect(b.ports.mqtt, { protocolVersion: 5 }), /CONNACK refused: 0x89/);
  await nats.servers[0]!.start();
  for (const n of nodes) {
    const end = Date.now() + 30_000;
    while ((await readyz(n)) !== 200 && Date.now() < end) await sleep(100);
    assert.equal(await readyz(n), 200, `${n.nodeId} ready again`);
  }
  const pub = await connectClient(url(a), { protocolVersion: 5 });
  let acked = false;
  for (let i = 0; i < 30 && !acked; i++) {
    const r = await pub.client.publishAsync('smoke/down', 'after', { qos: 1 }).then((p) => (p as { reasonCode?: number } | undefined)?.reasonCode ?? 0, () => 0x80);
    acked = r < 0x80;
    if (!acked) await sleep(200);
  }
  await pub.end();
  assert.ok(acked, 'QoS 1 acknowledged again after NATS came back');
  const sub = await connectClient(url(b), { protocolVersion: 5 });
  try {
    await sub.client.subscribeAsync('$log/first/smoke/down', { qos: 1 });
    await waitUntil(() => sub.received.some((r) => r.payload === 'after'), 10_000, 'B reads the publish made after the outage');
    assert.ok(!sub.received.some((r) => r.payload === 'lost?'), 'the refused publish is not in the log');
  } finally {
    await sub.end();
  }
});
