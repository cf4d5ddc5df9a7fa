// E2E: a `$share` group with members on two cluster nodes (in-memory backend) keeps every QoS 1 record when one node is killed mid-stream: the records assigned to the dead node (unacknowledged there, or assigned to it until it was declared dead) are re-read from its stored progress and delivered by the other node (src/core/cluster/share-recovery.ts). Imports the cluster and MQTT client helpers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterSuite, startCluster } from '../helpers/cluster.ts';
import { ClientPool, sleep, uniqueId, waitUntil, type TestClient } from '../helpers/mqtt-clients.ts';

describe('cluster $share group across a node kill (in-memory backend, 2 nodes)', () => {
  const { pool, cluster } = clusterSuite(2);

  test('QoS 1: members on both nodes, node 1 killed mid-stream: every acknowledged record reaches the group at least once', async () => {
    const topic = `shk/${uniqueId()}`;
    const group = `$share/kg/${topic}`;
    const v5 = { protocolVersion: 5 as const };
    // Node 1 (index 0, killed): a member that acknowledges, and one that takes deliveries and never
    // acknowledges them (its deliveries do not count: they must be recovered after the kill).
    const a = await pool.mqtt(cluster().gateways[0]!.mqttUrl, v5);
    let stuckGot = 0;
    const stuck = await pool.mqtt(cluster().gateways[0]!.mqttUrl, {
      ...v5,
      properties: { receiveMaximum: 5 },
      customHandleAcks: () => {
        stuckGot++; // never calls back: no PUBACK
      },
    });
    // Node 2 (index 1, survives): a member that acknowledges.
    const b = await pool.mqtt(cluster().gateways[1]!.mqttUrl, v5);
    for (const m of [a, stuck, b]) await m.client.subscribeAsync(group, { qos: 1 });
    await waitUntil(() => cluster().gateways.every((g) => g.gateway.broker.cluster!.liveNodes().length === 2), 3000, 'both nodes see each other');
    await sleep(300); // gm/ keys and the first progress writes reach both nodes

    const pub: TestClient = await pool.mqtt(cluster().gateways[1]!.mqttUrl, v5);
    const n = 300;
    const killAt = 100;
    let killed: Promise<void> | undefined;
    const acked: string[] = [];
    for (let i = 0; i < n; i++) {
      if (i === killAt) {
        await waitUntil(() => stuckGot > 0, 3000, `the never-acknowledging member holds deliveries (node 1 member got ${a.received.length})`);
        killed = cluster().gateways[0]!.kill(); // no await: deliveries are in flight when it lands
      }
      await pub.client.publishAsync(topic, `m${i}`, { qos: 1 });
      acked.push(`m${i}`);
      if (i % 20 === 0) await sleep(5); // spread the stream over the time the death takes to be declared
    }
    await killed;
    const got = (): Set<string> => new Set([...a.received, ...b.received].map((r) => r.payload));
    await waitUntil(
      () => acked.every((p) => got().has(p)),
      15_000,
      `every acknowledged record delivered to the group; missing ${acked.filter((p) => !got().has(p)).length}: ${acked.filter((p) => !got().has(p)).slice(0, 5).join(',')}`,
    );
    const survivor = cluster().gateways[1]!.gateway.broker.cluster!;
    assert.ok(survivor.stats.shareRecovered > 0, 'the surviving node re-read records assigned to the dead one');
    // The recovery is finished and forgotten: the dead node's progress key is deleted once its records are acknowledged here.
    await waitUntil(() => [...cluster().gateways[1]!.node.state.entries('sp/')].every(([k]) => !k.includes('\u0000n1\u0000')), 5000, 'the dead node\'s progress key deleted');
  });

  test('no node dies: no record is recovered, and each record goes to the group once', async () => {
    const topic = `shn/${uniqueId()}`;
    const g = await startCluster(2);
    const local = new ClientPool();
    try {
      const m1 = await local.mqtt(g.gateways[0]!.mqttUrl, { protocolVersion: 5 });
      const m2 = await local.mqtt(g.gateways[1]!.mqttUrl, { protocolVersion: 5 });
      for (const m of [m1, m2]) await m.client.subscribeAsync(`$share/ng/${topic}`, { qos: 1 });
      await waitUntil(() => g.gateways.every((x) => x.gateway.broker.cluster!.liveNodes().length === 2), 3000, 'both nodes see each other');
      await sleep(300);
      const pub = await local.mqtt(g.gateways[0]!.mqttUrl, { protocolVersion: 5 });
      const n = 100;
      for (let i = 0; i < n; i++) await pub.client.publishAsync(topic, `m${i}`, { qos: 1 });
      await waitUntil(() => m1.received.length + m2.received.length >= n, 5000, `${n} deliveries`);
      await sleep(1500); // longer than the recovery grace: a live node's progress is never taken as orphaned
      const all = [...m1.received, ...m2.received].map((r) => r.payload);
      assert.equal(all.length, n, 'none twice');
      assert.equal(new Set(all).size, n);
      for (const x of g.gateways) assert.equal(x.gateway.broker.cluster!.stats.shareRecovered, 0);
      assert.ok(m1.received.length > 0 && m2.received.length > 0, 'both nodes delivered a share');
    } finally {
      await local.closeAll();
      await g.close();
    }
  });
});
