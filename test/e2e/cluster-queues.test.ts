// E2E: STOMP queues across cluster nodes (in-memory backend): a producer on one node and consumers on others, one delivery per message across the cluster, and failover of the serving node's lease. Imports the cluster and STOMP helpers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type TestCluster } from '../helpers/cluster.ts';
import { RawStomp, header } from '../helpers/stomp-clients.ts';
import { sleep, uniqueId, waitUntil } from '../helpers/mqtt-clients.ts';

/** Collects MESSAGE bodies of one STOMP connection, acknowledging each (client-individual). */
function collect(s: RawStomp, into: string[]): () => void {
  let stop = false;
  void (async () => {
    while (!stop) {
      const f = await s.next('MESSAGE', 60_000).catch(() => undefined);
      if (!f) return;
      into.push(f.body.toString());
      s.send('ACK', { id: header(f, 'ack') ?? '' });
    }
  })();
  return () => {
    stop = true;
  };
}

describe('cluster STOMP queues (in-memory backend, 2 nodes)', () => {
  let c: TestCluster;
  const open: RawStomp[] = [];
  const connect = async (node: number): Promise<RawStomp> => {
    const s = await RawStomp.connect(c.gateways[node]!.stompPort);
    open.push(s);
    return s;
  };
  before(async () => {
    c = await startCluster(2);
  });
  after(async () => {
    for (const s of open) s.close();
    await c.close();
  });

  test('SEND on node 1, a consumer on node 2: every message once, in order', async () => {
    const q = `/queue/${uniqueId('q')}`;
    const cons = await connect(1);
    await cons.withReceipt('SUBSCRIBE', { id: 'a', destination: q, ack: 'client-individual', 'prefetch-count': '10' });
    const got: string[] = [];
    const stop = collect(cons, got);
    const prod = await connect(0);
    const n = 50;
    for (let i = 0; i < n; i++) await prod.withReceipt('SEND', { destination: q }, `m${i}`);
    await waitUntil(() => got.length >= n, 5000, `${n} messages (have ${got.length})`);
    await sleep(200);
    stop();
    assert.deepEqual(got, Array.from({ length: n }, (_, i) => `m${i}`));
  });

  test('consumers on both nodes: each message is delivered once across the cluster; when the serving node\'s consumer leaves, the other node takes over', async () => {
    const q = `/queue/${uniqueId('q2')}`;
    const a = await connect(0);
    const b = await connect(1);
    await a.withReceipt('SUBSCRIBE', { id: 'a', destination: q, ack: 'client-individual', 'prefetch-count': '5' });
    await sleep(100);
    await b.withReceipt('SUBSCRIBE', { id: 'b', destination: q, ack: 'client-individual', 'prefetch-count': '5' });
    const gotA: string[] = [];
    const gotB: string[] = [];
    const stopA = collect(a, gotA);
    collect(b, gotB);
    const prod = await connect(1);
    const n = 40;
    for (let i = 0; i < n; i++) await prod.withReceipt('SEND', { destination: q }, `m${i}`);
    await waitUntil(() => gotA.length + gotB.length >= n, 5000, `${n} messages`);
    await sleep(200);
    assert.equal(gotA.length + gotB.length, n, 'no message twice');
    assert.deepEqual([...gotA, ...gotB].sort(), Array.from({ length: n }, (_, i) => `m${i}`).sort());
    // The serving consumer leaves: the lease goes, the other node serves what follows.
    const serving = gotA.length > 0 ? { s: a, stop: stopA } : undefined;
    assert.ok(serving, 'the first subscriber\'s node serves the queue');
    serving.stop();
    serving.s.send('UNSUBSCRIBE', { id: 'a' });
    await sleep(200);
    for (let i = n; i < n + 20; i++) await prod.withReceipt('SEND', { destination: q }, `m${i}`);
    await waitUntil(() => gotB.length >= 20, 5000, `the other node delivers (have ${gotB.length})`);
    await sleep(200);
    const all = [...gotA, ...gotB];
    assert.equal(new Set(all).size, all.length, 'still no duplicates');
    for (let i = n; i < n + 20; i++) assert.ok(gotB.includes(`m${i}`), `m${i} delivered on node 2`);
  });
});
