// Contract suite for a ClusterBackend (src/core/persistence.ts ClusterPort): several nodes on one shared backend. One body run against every shared backend (NATS JetStream, the in-memory one of the cluster-aware broker's tests). Imports core persistence types only.
//
// What `openNodes(n)` must give: n backends that are n distinct nodes over the SAME, fresh data (nothing written
// yet), each with at least 2 log partitions. The suite closes them.
// Watch semantics checked: a node's watchers see each of its own writes at once; another node's writes reach them in
// store order per key, always including the last one; a value overwritten before a slow node read it may be skipped
// (last-value semantics: NATS KV with history 1). persistence.ts's "for every put / delete" is read that way.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterBackend } from '../../src/core/persistence.ts';

/** Waits (bounded) until `cond` holds; fails with `what` otherwise. */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const rec = (key: string, i: number) => ({ key, timestamp: 1_000 + i, headers: Buffer.from([0, i & 0xff, 0xff]), value: Buffer.from(`v${i}`) });

export function clusterContract(name: string, openNodes: (n: number) => Promise<ClusterBackend[]>): void {
  describe(`ClusterBackend contract: ${name}`, () => {
    let nodes: ClusterBackend[] = [];
    beforeEach(async () => { nodes = await openNodes(2); });
    afterEach(async () => { await Promise.all(nodes.map((n) => n.close().catch(() => undefined))); nodes = []; });

    it('names each node distinctly', () => {
      const [a, b] = nodes as [ClusterBackend, ClusterBackend];
      assert.ok(a.cluster.nodeId.length > 0);
      assert.notEqual(a.cluster.nodeId, b.cluster.nodeId);
    });

    it('a put or delete on one node reaches the watchers of every node, after get there shows it', async () => {
      const [a, b] = nodes as [ClusterBackend, ClusterBackend];
      await a.state.put('own/old', Buffer.from('before'));
      await until(() => b.state.get('own/old') !== undefined, 'b sees the first key');
      const seenB: string[] = [];
      const seenA: string[] = [];
      const stopB = b.cluster.watch('own/', (k, v) => {
        seenB.push(`${k}=${v === undefined ? '-' : v.toString()}`);
      });
      a.cluster.watch('own/', (k, v) => seenA.push(`${k}=${v === undefined ? '-' : v.toString()}`));
      a.cluster.watch('other/', (k) => seenA.push(`other ${k}`));
      await a.state.put('own/x', Buffer.from('1'));
      await a.state.put('own/x', Buffer.from('2'));
      await a.state.delete('own/x');
      await b.state.put('own/y', Buffer.from('from-b'));
      await until(() => seenB.includes('own/x=-') && seenA.includes('own/y=from-b'), `both watchers saw the last changes (a ${seenA}, b ${seenB})`);
      // Another node's writes to one key arrive in store order; a key written again before a slow watcher got to
      // it may skip the value in between (a KV with history 1 keeps the last value only), never the last one.
      const bx = seenB.filter((s) => s.startsWith('own/x'));
      const order = ['own/x=1', 'own/x=2', 'own/x=-'];
      assert.deepEqual(bx, order.filter((s) => bx.includes(s)), `in the order the store applied them: ${bx}`);
      assert.equal(bx[bx.length - 1], 'own/x=-', 'the last change is never skipped');
      assert.ok(seenB.includes('own/y=from-b'), 'its own writes too');
      assert.ok(seenA.includes('own/y=from-b'), 'writes of the other node');
      assert.deepEqual(seenA.filter((s) => s.startsWith('own/x')), order, 'its own writes, every one, in call order');
      assert.ok(!seenA.some((s) => s.startsWith('other ')), 'only its prefix');
      assert.ok(!seenB.some((s) => s.startsWith('own/old')), 'existing keys are not replayed');
      assert.equal(a.state.get('own/y')?.toString(), 'from-b');
      assert.equal(b.state.get('own/x'), undefined);
      stopB();
      const n = seenB.length;
      await a.state.put('own/z', Buffer.from('after stop'));
      await until(() => b.state.get('own/z') !== undefined, 'b has own/z');
      assert.equal(seenB.length, n, 'a stopped watch is not called');
    });

    it('compare-and-set: one winner, a stale version loses, create works after delete', async () => {
      const [a, b] = nodes as [ClusterBackend, ClusterBackend];
      assert.equal(a.cluster.versionOf('owner/s1'), 0);
      assert.equal(await a.cluster.putIfVersion('owner/s1', Buffer.from('a'), 0), true, 'create on a');
      const va = a.cluster.versionOf('owner/s1');
      assert.ok(va > 0);
      assert.equal(a.state.get('owner/s1')?.toString(), 'a');
      await until(() => b.cluster.versionOf('owner/s1') === va, 'b learns the version');
      assert.equal(await b.cluster.putIfVersion('owner/s1', Buffer.from('b'), 0), false, 'create of an existing key');
      assert.equal(await b.cluster.putIfVersion('owner/s1', Buffer.from('b'), va), true, 'update at the current version');
      assert.equal(await a.cluster.putIfVersion('owner/s1', Buffer.from('a2'), va), false, 'a stale version loses');
      await until(() => a.state.get('owner/s1')?.toString() === 'b', 'a sees b\'s value');
      // Both race from the same version, again and again: exactly one wins each round, and both converge on it.
      for (let round = 0; round < 10; round++) {
        await until(() => a.cluster.versionOf('owner/s1') === b.cluster.versionOf('owner/s1'), 'same view');
        const v = a.cluster.versionOf('owner/s1');
        const wins = await Promise.all([a.cluster.putIfVersion('owner/s1', Buffer.from(`ra${round}`), v), b.cluster.putIfVersion('owner/s1', Buffer.from(`rb${round}`), v)]);
        assert.equal(wins.filter(Boolean).length, 1, `round ${round}: one winner, got ${wins}`);
        const winner = wins[0] ? `ra${round}` : `rb${round}`;
        await until(() => a.state.get('owner/s1')?.toString() === winner && b.state.get('owner/s1')?.toString() === winner, `round ${round}: both converge on the winner`);
      }
      await a.state.delete('owner/s1');
      await until(() => b.state.get('owner/s1') === undefined, 'b sees the delete');
      assert.equal(b.cluster.versionOf('owner/s1'), 0, 'a deleted key has version 0');
      assert.equal(await b.cluster.putIfVersion('owner/s1', Buffer.from('again'), 0), true, 'create after delete');
      await until(() => a.state.get('owner/s1')?.toString() === 'again', 'a sees it');
    });

    it('appends on one node move the end and wake the readers of the other, byte for byte', async () => {
      const [a, b] = nodes as [ClusterBackend, ClusterBackend];
      const p = a.log.partitionFor('t/1');
      assert.equal(p, b.log.partitionFor('t/1'), 'same placement on every node');
      const woke: number[] = [];
      b.log.onAppend((part, end) => { if (part === p) woke.push(end); });
      const refs = [];
      for (let i = 0; i < 5; i++) refs.push(await a.log.append(rec('t/1', i)));
      const last = refs[refs.length - 1]!;
      await until(() => b.log.endOffset(p) === last.offset + 1, 'b\'s end moved');
      await until(() => woke.includes(last.offset + 1), 'b was told');
      const got = await b.log.read(p, refs[0]!.offset, 10);
      assert.deepEqual(got.map((r) => r.offset), refs.map((r) => r.offset));
      got.forEach((r, i) => {
        assert.equal(r.key, 't/1');
        assert.equal(r.timestamp, 1_000 + i);
        assert.deepEqual(Buffer.from(r.headers), Buffer.from([0, i, 0xff]));
        assert.equal(Buffer.from(r.value).toString(), `v${i}`);
      });
      // And the other way round: offsets continue densely whoever appends.
      const fromB = await b.log.append(rec('t/1', 9));
      assert.equal(fromB.offset, last.offset + 1);
      await until(() => a.log.endOffset(p) === fromB.offset + 1, 'a\'s end moved');
    });

    it('signals reach every node, the sender included, with the sender\'s id; a removed listener hears nothing', async () => {
      const [a, b] = nodes as [ClusterBackend, ClusterBackend];
      const heard: { node: string; data: string; from: string }[] = [];
      const offA = a.cluster.onSignal('takeover', (d, from) => heard.push({ node: 'a', data: d.toString(), from }));
      b.cluster.onSignal('takeover', (d, from) => heard.push({ node: 'b', data: d.toString(), from }));
      b.cluster.onSignal('other', (d) => heard.push({ node: 'b-other', data: d.toString(), from: '' }));
      // Subscriptions on another node may take a moment to be in place: send until both heard one (bounded).
      for (let i = 0; i < 100 && !(heard.some((h) => h.node === 'a') && heard.some((h) => h.node === 'b')); i++) {
        a.cluster.signal('takeover', Buffer.from(`s${i}`));
        await new Promise((r) => setTimeout(r, 50));
      }
      const ha = heard.find((h) => h.node === 'a');
      const hb = heard.find((h) => h.node === 'b');
      assert.ok(ha && hb, 'both nodes heard the signal');
      assert.equal(ha.from, a.cluster.nodeId);
      assert.equal(hb.from, a.cluster.nodeId);
      assert.match(hb.data, /^s\d+$/);
      assert.ok(!heard.some((h) => h.node === 'b-other'), 'only its subject');
      offA();
      heard.length = 0;
      b.cluster.signal('takeover', Buffer.from('last'));
      await until(() => heard.some((h) => h.node === 'b' && h.data === 'last'), 'b hears its own signal');
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(!heard.some((h) => h.node === 'a'), 'a removed listener is not called');
      assert.equal(heard.find((h) => h.node === 'b')!.from, b.cluster.nodeId);
    });
  });
}
