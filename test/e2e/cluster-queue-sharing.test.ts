// E2E: a mode-based consumer group (a queue over a filter, `$group/<name>/<filter>` with x-queue-mode shared) with consumers on two cluster nodes (in-memory backend): its log partitions are balanced over the two nodes, so both deliver; every message once while no node dies (also across the rebalance when the second node's consumer joins mid-stream), and at least once across a node kill; in failover mode one consumer is active across the cluster. Imports the cluster and MQTT client helpers and the lease's rendezvous function.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterSuite, type TestCluster } from '../helpers/cluster.ts';
import { sleep, waitUntil, type TestClient } from '../helpers/mqtt-clients.ts';
import { partitionOwner } from '../../src/core/cluster/queue-lease.ts';

const PARTITIONS = 4;
const NODES = ['n1', 'n2'];
const props = { qos: 1 as const, properties: { userProperties: { 'x-queue-mode': 'shared' } } };

/** The first group name (fixed sequence, so the run is deterministic) whose partitions the two nodes split 2 / 2. */
function splitGroup(prefix: string): string {
  for (let i = 0; i < 1000; i++) {
    const g = `${prefix}${i}`;
    const owners = Array.from({ length: PARTITIONS }, (_, p) => partitionOwner(`$group/${g}`, p, NODES));
    if (owners.filter((o) => o === 'n1').length === 2) return g;
  }
  throw new Error('no group name splits the partitions');
}

/** The partitions of `queue` node i serves. */
const servedBy = (c: TestCluster, i: number, queue: string): number[] => {
  const q = c.gateways[i]!.gateway.broker.cluster!.queues;
  return Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => q.holds(queue, p));
};

/** Topics over every partition of the test cluster (16 topics: each partition gets some). */
const topics = (base: string): string[] => Array.from({ length: 16 }, (_, k) => `${base}/t${k}`);

describe('cluster queue load sharing (mode-based group, in-memory backend, 2 nodes)', () => {
  const { pool, cluster } = clusterSuite(NODES.length, {}, PARTITIONS);

  test('consumers on both nodes both receive; every message exactly once, also while the second node joins mid-stream', async () => {
    const group = splitGroup('share');
    const base = `qs/${group}`;
    const a = await pool.mqtt(cluster().gateways[0]!.mqttUrl, { protocolVersion: 5 });
    await a.client.subscribeAsync(`$group/${group}/${base}/#`, props);
    await waitUntil(() => servedBy(cluster(), 0, `$group/${group}`).length === PARTITIONS, 3000, 'node 1 serves every partition while alone');
    const pub = await pool.mqtt(cluster().gateways[1]!.mqttUrl, { protocolVersion: 5 });
    const ts = topics(base);
    const n = 400;
    let b: TestClient | undefined;
    for (let i = 0; i < n; i++) {
      if (i === 150) {
        // The second consumer joins while the stream flows: node 1 gives up the partitions node 2 wins.
        b = await pool.mqtt(cluster().gateways[1]!.mqttUrl, { protocolVersion: 5 });
        await b.client.subscribeAsync(`$group/${group}/${base}/#`, props);
      }
      await pub.client.publishAsync(ts[i % ts.length]!, `m${i}`, { qos: 1 });
    }
    const got = (): string[] => [...a.received, ...(b?.received ?? [])].map((r) => r.payload);
    await waitUntil(() => new Set(got()).size >= n, 10_000, `every message delivered (have ${new Set(got()).size} of ${n})`);
    await sleep(300);
    assert.equal(servedBy(cluster(), 0, `$group/${group}`).length, 2, 'node 1 serves two partitions');
    assert.equal(servedBy(cluster(), 1, `$group/${group}`).length, 2, 'node 2 serves two partitions');
    const all = got();
    assert.equal(all.length, n, `no message twice (${all.length - new Set(all).size} duplicates)`);
    assert.deepEqual([...all].sort(), Array.from({ length: n }, (_, i) => `m${i}`).sort());
    // After the rebalance both consumers get a share.
    const late = (t: TestClient): number => t.received.filter((r) => Number(r.payload.slice(1)) >= 200).length;
    assert.ok(late(a) > 0 && late(b!) > 0, `both nodes deliver after the rebalance (${late(a)}, ${late(b!)})`);
  });

  test('a node killed mid-stream: its partitions move to the other node; every acknowledged message is delivered at least once', async () => {
    const group = splitGroup('kill');
    const base = `qk/${group}`;
    const a = await pool.mqtt(cluster().gateways[0]!.mqttUrl, { protocolVersion: 5 });
    const b = await pool.mqtt(cluster().gateways[1]!.mqttUrl, { protocolVersion: 5 });
    for (const m of [a, b]) await m.client.subscribeAsync(`$group/${group}/${base}/#`, props);
    const q = `$group/${group}`;
    await waitUntil(() => servedBy(cluster(), 0, q).length === 2 && servedBy(cluster(), 1, q).length === 2, 3000, 'the partitions are split 2 / 2');
    const pub = await pool.mqtt(cluster().gateways[1]!.mqttUrl, { protocolVersion: 5 });
    const ts = topics(base);
    const n = 300;
    let killed: Promise<void> | undefined;
    const acked: string[] = [];
    for (let i = 0; i < n; i++) {
      if (i === 100) killed = cluster().gateways[0]!.kill(); // no await: deliveries are in flight when it lands
      await pub.client.publishAsync(ts[i % ts.length]!, `m${i}`, { qos: 1 });
      acked.push(`m${i}`);
      if (i % 20 === 0) await sleep(5);
    }
    await killed;
    const got = (): Set<string> => new Set([...a.received, ...b.received].map((r) => r.payload));
    await waitUntil(() => acked.every((p) => got().has(p)), 15_000, `every acknowledged message delivered; missing ${acked.filter((p) => !got().has(p)).length}`);
    assert.equal(servedBy(cluster(), 1, q).length, PARTITIONS, 'the survivor serves every partition');
    assert.ok(b.received.some((r) => Number(r.payload.slice(1)) >= 100 && ts.indexOf(r.topic) >= 0), 'the survivor delivered after the kill');
  });
});

describe('cluster queue in failover mode (in-memory backend, 2 nodes)', () => {
  const { pool, cluster } = clusterSuite(NODES.length, {}, PARTITIONS);
  test('failover mode: one active consumer across the cluster (the first to join keeps every partition); when it leaves, the other node continues', async () => {
    const group = splitGroup('fo');
    const base = `qf/${group}`;
    const fo = { qos: 1 as const, properties: { userProperties: { 'x-queue-mode': 'failover' } } };
    const a = await pool.mqtt(cluster().gateways[1]!.mqttUrl, { protocolVersion: 5 });
    await a.client.subscribeAsync(`$group/${group}/${base}/#`, fo);
    const q = `$group/${group}`;
    await waitUntil(() => servedBy(cluster(), 1, q).length === PARTITIONS, 3000, 'the first consumer\'s node serves every partition');
    const b = await pool.mqtt(cluster().gateways[0]!.mqttUrl, { protocolVersion: 5 });
    await b.client.subscribeAsync(`$group/${group}/${base}/#`, fo);
    await sleep(300);
    const pub = await pool.mqtt(cluster().gateways[1]!.mqttUrl, { protocolVersion: 5 });
    const ts = topics(base);
    for (let i = 0; i < 60; i++) await pub.client.publishAsync(ts[i % ts.length]!, `m${i}`, { qos: 1 });
    await waitUntil(() => a.received.length >= 60, 5000, `the active consumer got 60 (has ${a.received.length})`);
    await sleep(200);
    assert.equal(b.received.length, 0, 'the standby consumer on the other node got nothing');
    assert.equal(servedBy(cluster(), 0, q).length, 0, 'the other node serves no partition');
    await a.end();
    await waitUntil(() => servedBy(cluster(), 0, q).length === PARTITIONS, 5000, 'the other node takes every partition');
    for (let i = 60; i < 90; i++) await pub.client.publishAsync(ts[i % ts.length]!, `m${i}`, { qos: 1 });
    await waitUntil(() => b.received.length >= 30, 5000, `the standby took over (has ${b.received.length})`);
    const got = b.received.map((r) => r.payload);
    for (let i = 60; i < 90; i++) assert.ok(got.includes(`m${i}`), `m${i}`);
  });
});
