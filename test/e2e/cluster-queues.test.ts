// E2E: STOMP across cluster nodes (in-memory backend): queues (one delivery per message across the cluster, failover of the serving node's partition lease) and durable topic subscriptions resumed on another node. Imports the cluster and STOMP helpers.
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

  test('consumers on both nodes: each message is delivered once across the cluster (one partition: one node serves it); when the serving node\'s consumer leaves, the other node takes over', async () => {
    const q = `/queue/${uniqueId('q2')}`;
    const a = await connect(0);
    const b = await connect(1);
    await a.withReceipt('SUBSCRIBE', { id: 'a', destination: q, ack: 'client-individual', 'prefetch-count': '5' });
    await sleep(100);
    await b.withReceipt('SUBSCRIBE', { id: 'b', destination: q, ack: 'client-individual', 'prefetch-count': '5' });
    const gotA: string[] = [];
    const gotB: string[] = [];
    const stopA = collect(a, gotA);
    const stopB = collect(b, gotB);
    // The queue's records are one topic, so one log partition: its lease goes to one of the two nodes.
    const name = q.slice('/queue/'.length);
    const holds = (i: number): boolean => c.gateways[i]!.gateway.broker.cluster!.queues.holds(name);
    await waitUntil(() => holds(0) !== holds(1), 3000, 'one node serves the queue');
    const prod = await connect(1);
    const n = 40;
    for (let i = 0; i < n; i++) await prod.withReceipt('SEND', { destination: q }, `m${i}`);
    await waitUntil(() => gotA.length + gotB.length >= n, 5000, `${n} messages`);
    await sleep(200);
    assert.equal(gotA.length + gotB.length, n, 'no message twice');
    assert.deepEqual([...gotA, ...gotB].sort(), Array.from({ length: n }, (_, i) => `m${i}`).sort());
    // The serving consumer leaves: the lease goes, the other node serves what follows.
    const servingIsA = holds(0);
    assert.equal((servingIsA ? gotA : gotB).length, n, 'the serving node\'s consumer got them all');
    const serving = servingIsA ? { s: a, id: 'a', stop: stopA } : { s: b, id: 'b', stop: stopB };
    const other = servingIsA ? gotB : gotA;
    serving.stop();
    serving.s.send('UNSUBSCRIBE', { id: serving.id });
    await waitUntil(() => holds(servingIsA ? 1 : 0), 3000, 'the other node takes the lease');
    for (let i = n; i < n + 20; i++) await prod.withReceipt('SEND', { destination: q }, `m${i}`);
    await waitUntil(() => other.length >= 20, 5000, `the other node delivers (have ${other.length})`);
    await sleep(200);
    const all = [...gotA, ...gotB];
    assert.equal(new Set(all).size, all.length, 'still no duplicates');
    for (let i = n; i < n + 20; i++) assert.ok(other.includes(`m${i}`), `m${i} delivered by the other node`);
  });

  test('a durable topic subscription left on node 1 resumes on node 2 with what was published meanwhile; taking it over ends it on node 1', async () => {
    const client = uniqueId('dur');
    const dest = `/topic/dur/${client}`;
    const first = await RawStomp.connect(c.gateways[0]!.stompPort, { 'client-id': client });
    open.push(first);
    await first.withReceipt('SUBSCRIBE', { id: 'd1', destination: dest, durable: 'true', ack: 'client-individual' });
    first.close();
    await sleep(100);
    const prod = await connect(0);
    for (let i = 0; i < 10; i++) await prod.withReceipt('SEND', { destination: dest }, `m${i}`);
    const again = await RawStomp.connect(c.gateways[1]!.stompPort, { 'client-id': client });
    open.push(again);
    await again.withReceipt('SUBSCRIBE', { id: 'd1', destination: dest, durable: 'true', ack: 'client-individual' });
    const got: string[] = [];
    for (let i = 0; i < 10; i++) {
      const f = await again.next('MESSAGE');
      got.push(f.body.toString());
      again.send('ACK', { id: header(f, 'ack') ?? '' });
    }
    assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => `m${i}`));
    assert.ok(c.gateways[1]!.gateway.broker.getInternalSession(`stomp/${client}/d1`), 'node 2 serves it now');
    assert.equal(c.gateways[0]!.gateway.broker.getInternalSession(`stomp/${client}/d1`), undefined, 'node 1 dropped it');
    // Live traffic published on node 1 still reaches it on node 2.
    await prod.withReceipt('SEND', { destination: dest }, 'live');
    assert.equal((await again.next('MESSAGE')).body.toString(), 'live');
    // Subscribing again on node 1 takes it over there: node 2's subscription is ended (ERROR), as on one node.
    const third = await RawStomp.connect(c.gateways[0]!.stompPort, { 'client-id': client });
    open.push(third);
    await third.withReceipt('SUBSCRIBE', { id: 'd1', destination: dest, durable: 'true', ack: 'client-individual' });
    const err = await again.next('ERROR', 5000);
    assert.match(header(err, 'message') ?? '', /taken over/);
  });
});
