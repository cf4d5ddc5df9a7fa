// Contract suite for a ClusterBackend's cluster port (src/core/persistence.ts ClusterPort): shared log and key/value across nodes, watch, compare-and-set, signals. Imports core persistence types only.
//
// What `openNodes(n)` must give: n nodes of ONE fresh cluster (no keys, empty log), each with at least 2 log
// partitions. The suite closes them after each test.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterBackend } from '../../src/core/persistence.ts';

const WAIT_MS = 5000;

/** Resolves with the first value `take` returns (not undefined), polling every 5 ms, bounded by WAIT_MS. */
async function eventually<T>(what: string, take: () => T | undefined): Promise<T> {
  const until = Date.now() + WAIT_MS;
  for (;;) {
    const v = take();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`not within ${WAIT_MS} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const settle = (ms = 50): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function clusterContract(name: string, openNodes: (n: number) => Promise<ClusterBackend[]>): void {
  describe(`ClusterPort contract: ${name}`, () => {
    let nodes: ClusterBackend[] = [];
    afterEach(async () => {
      await Promise.all(nodes.map((n) => n.close().catch(() => undefined)));
      nodes = [];
    });

    it('gives every node its own id', async () => {
      nodes = await openNodes(3);
      assert.equal(new Set(nodes.map((n) => n.cluster.nodeId)).size, 3);
      for (const n of nodes) assert.ok(n.cluster.nodeId.length > 0 && !n.cluster.nodeId.includes('.'));
    });

    it('shares the log: an append on one node is readable on the other, raises its onAppend and moves its endOffset', async () => {
      nodes = await openNodes(2);
      const [a, b] = nodes as [ClusterBackend, ClusterBackend];
      assert.equal(a.log.partitions, b.log.partitions);
      assert.equal(a.log.partitionFor('t/x'), b.log.partitionFor('t/x'));
      const told: [number, number][] = [];
      const stop = b.log.onAppend((p, end) => told.push([p, end]));
      const refs = [];
      for (let i = 0; i < 5; i++) refs.push(await a.log.append({ key: 't/x', timestamp: 1000 + i, headers: Buffer.from('h'), value: Buffer.from(`m${i}`) }));
      const p = refs[0]!.partition;
      assert.deepEqual(refs.map((r) => r.offset), [0, 1, 2, 3, 4]);
      await eventually('b told of the end offset 5', () => (told.some(([tp, end]) => tp === p && end === 5) ? true : undefined));
      assert.equal(b.log.endOffset(p), 5);
      const got = await b.log.read(p, 0, 10);
      assert.deepEqual(got.map((r) => r.value.toString()), ['m0', 'm1', 'm2', 'm3', 'm4']);
      // Appends from both nodes to one partition get dense offsets in one order seen by both.
      await Promise.all([b.log.append({ key: 't/x', timestamp: 2000, headers: Buffer.from('h'), value: Buffer.from('b') }), a.log.append({ key: 't/x', timestamp: 2001, headers: Buffer.from('h'), value: Buffer.from('a') })]);
      await eventually('both see 7 records', () => (a.log.endOffset(p) === 7 && b.log.endOffset(p) === 7 ? true : undefined));
      const fromA = (await a.log.read(p, 5, 10)).map((r) => `${r.offset}:${r.value.toString()}`);
      const fromB = (await b.log.read(p, 5, 10)).map((r) => `${r.offset}:${r.value.toString()}`);
      assert.deepEqual(fromA, fromB);
      assert.equal(fromA.length, 2);
      stop();
    });

    it('shares the key/value store; watch sees puts and deletes from every node, in order, and no replay', async () => {
      nodes = await openNodes(2);
      const [a, b] = nodes as [ClusterBackend, ClusterBackend];
      await a.state.put('w/old', Buffer.from('before the watch'));
      const seen: string[] = [];
      const stop = b.cluster.watch('w/', (key, value) => seen.push(`${key}=${value === undefined ? '<deleted>' : value.toString()}`));
      await a.state.put('w/1', Buffer.from('one'));
      await b.state.put('w/2', Buffer.from('two'));
      await a.state.put('x/ignored', Buffer.from('other prefix'));
      await a.state.put('w/1', Buffer.from('uno'));
      await a.state.delete('w/2');
      await eventually('b watched four changes', () => (seen.length >= 4 ? true : undefined));
      await settle();
      assert.deepEqual(seen.filter((s) => s.startsWith('w/1')), ['w/1=one', 'w/1=uno'], 'per-key order');
      assert.deepEqual(seen.filter((s) => s.startsWith('w/2')), ['w/2=two', 'w/2=<deleted>']);
      assert.ok(!seen.some((s) => s.startsWith('w/old')), 'existing keys are not replayed');
      assert.ok(!seen.some((s) => s.startsWith('x/')), 'other prefixes are not told');
      assert.equal(b.state.get('w/1')?.toString(), 'uno');
      assert.equal(b.state.get('w/2'), undefined);
      assert.deepEqual([...b.state.entries('w/')].map(([k]) => k).sort(), ['w/1', 'w/old']);
      stop();
      await a.state.put('w/3', Buffer.from('after stop'));
      await settle();
      assert.ok(!seen.some((s) => s.startsWith('w/3')), 'a stopped watch is quiet');
    });

    it('watch runs after get on the watching node returns the new value', async () => {
      nodes = await openNodes(2);
      const [a, b] = nodes as [ClusterBackend, ClusterBackend];
      const mismatches: string[] = [];
      let n = 0;
      const stop = b.cluster.watch('g/', (key, value) => {
        n++;
        const now = b.state.get(key);
        if ((now === undefined) !== (value === undefined) || (now && value && !now.equals(value))) mismatches.push(key);
      });
      for (let i = 0; i < 20; i++) await a.state.put(`g/${i % 3}`, Buffer.from(String(i)));
      await eventually('20 watch events', () => (n >= 20 ? true : undefined));
      // Only the latest value is guaranteed by get; an older event may see a newer value, never an older one.
      assert.ok(mismatches.length <= 20);
      assert.equal(b.state.get('g/1')?.toString(), '19');
      stop();
    });

    it('putIfVersion: create-if-absent, conflicts give false, the current version wins', async () => {
      nodes = await openNodes(2);
      const [a, b] = nodes as [ClusterBackend, ClusterBackend];
      assert.equal(a.cluster.versionOf('o/s1'), 0);
      assert.equal(await a.cluster.putIfVersion('o/s1', Buffer.from('a'), 0), true);
      assert.equal(a.state.get('o/s1')?.toString(), 'a');
      assert.equal(await b.cluster.putIfVersion('o/s1', Buffer.from('b'), 0), false, 'the key exists now');
      const v = await eventually('b sees a version', () => b.cluster.versionOf('o/s1') || undefined);
      assert.equal(await b.cluster.putIfVersion('o/s1', Buffer.from('b'), v), true);
      assert.equal(await a.cluster.putIfVersion('o/s1', Buffer.from('a2'), v), false, 'stale version');
      await eventually('a sees b\'s value', () => (a.state.get('o/s1')?.toString() === 'b' ? true : undefined));
      assert.notEqual(a.cluster.versionOf('o/s1'), v);
      // Racing creators: exactly one wins.
      const race = await Promise.all([a.cluster.putIfVersion('o/race', Buffer.from('a'), 0), b.cluster.putIfVersion('o/race', Buffer.from('b'), 0)]);
      assert.equal(race.filter(Boolean).length, 1);
      // Racing updaters from one seen version: exactly one wins.
      const seen = await eventually('both see o/race', () => (a.cluster.versionOf('o/race') && a.cluster.versionOf('o/race') === b.cluster.versionOf('o/race') ? a.cluster.versionOf('o/race') : undefined));
      const race2 = await Promise.all([a.cluster.putIfVersion('o/race', Buffer.from('a2'), seen), b.cluster.putIfVersion('o/race', Buffer.from('b2'), seen)]);
      assert.equal(race2.filter(Boolean).length, 1);
    });

    it('signals reach every node, the sender included, with the sender\'s id; a removed listener is quiet', async () => {
      nodes = await openNodes(3);
      const got: string[][] = nodes.map(() => []);
      const stops = nodes.map((n, i) => n.cluster.onSignal('hello', (data, from) => got[i]!.push(`${from}:${data.toString()}`)));
      nodes.map((n) => n.cluster.onSignal('other', (_d, from) => got[0]!.push(`other from ${from}`)));
      const sender = nodes[1]!;
      sender.cluster.signal('hello', Buffer.from('hi'));
      await eventually('every node got the signal', () => (got.every((g) => g.length >= 1) ? true : undefined));
      for (const g of got) assert.deepEqual(g, [`${sender.cluster.nodeId}:hi`]);
      stops[2]!();
      sender.cluster.signal('hello', Buffer.from('again'));
      await eventually('nodes 0 and 1 got the second', () => (got[0]!.length >= 2 && got[1]!.length >= 2 ? true : undefined));
      await settle();
      assert.equal(got[2]!.length, 1, 'removed listener not called');
      assert.ok(!got[0]!.some((s) => s.startsWith('other')), 'subjects are separate');
    });
  });
}
