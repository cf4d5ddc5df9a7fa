// Unit tests of src/core/cluster/share-recovery.ts over the in-memory cluster backend: progress keys per (group, node, run), orphan detection (dead node, restarted node), the grace period, one inheritor, the claim (end and candidates kept on a re-claim), the record choice, completion and give-back. Membership, the share assigner and the broker are stand-ins. Imports the module, its shares.ts choice and the memory cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { MemoryCluster } from '../helpers/memory-cluster.ts';
import { ShareRecovery, decodeProgress, type ShareRecoveryHost } from '../../src/core/cluster/share-recovery.ts';
import { chooseNode, type ShareAssigner } from '../../src/core/cluster/shares.ts';
import type { Membership } from '../../src/core/cluster/membership.ts';
import type { Message } from '../../src/core/message.ts';

const logger = pino({ level: 'silent' });
const G = '$share/g/t/#';
const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

/** A node's view: who is live and with which run, which groups it has members of, what its broker reports. */
class View {
  live = new Map<string, number>(); // node -> run
  members = new Set<string>(); // groups with local members
  others = new Map<string, string[]>(); // group -> other nodes with members
  progress: number[] = [0, 0];
  end: number[] = [10, 10];
  recovers: { key: string; from: number[]; end: number[]; accept: (m: Message) => boolean; done: () => void; cancelled: boolean }[] = [];
  constructor(readonly id: string, readonly run: number) {
    this.live.set(id, run);
  }
  membership(): Membership {
    return {
      heartbeatMs: 100,
      run: this.run,
      runOf: (n: string) => this.live.get(n),
      isLive: (n: string) => this.live.has(n),
    } as unknown as Membership;
  }
  shares(): ShareAssigner {
    return {
      localGroups: () => this.members.values(),
      liveCandidates: (key: string) => [...(this.members.has(key) ? [this.id] : []), ...(this.others.get(key) ?? []).filter((n) => this.live.has(n))].sort(),
    } as unknown as ShareAssigner;
  }
  host(): ShareRecoveryHost {
    return {
      progress: () => [...this.progress],
      endOffsets: () => [...this.end],
      hasLocalMembers: (key) => this.members.has(key),
      recover: (key, from, end, accept, done) => {
        const r = { key, from: [...from], end: [...end], accept, done, cancelled: false };
        this.recovers.push(r);
        return { cancel: () => void (r.cancelled = true), kick: () => undefined };
      },
    };
  }
}

function open(cluster: MemoryCluster, v: View): ShareRecovery & { kill(): void } {
  const node = cluster.node(v.id);
  const r = new ShareRecovery(node.cluster, node.state, v.membership(), v.shares(), v.host(), false, logger);
  r.start();
  return Object.assign(r, {
    kill: () => {
      r.stop();
      node.kill();
    },
  });
}

/** Opens `view`'s recovery, gives it a member of G at `progress`, and lets its progress key be written. */
async function joined(cluster: MemoryCluster, view: View, progress: number[]): Promise<ReturnType<typeof open>> {
  const r = open(cluster, view);
  view.members.add(G);
  view.progress = progress;
  r.localChanged(G, true);
  await flush();
  return r;
}

const keyOf = (node: string, run: number): string => `sp/${G}\u0000${node}\u0000${run}`;
const msg = (partition: number, offset: number): Message => ({ topic: 't/x', payload: Buffer.alloc(0), qos: 1, retain: false, properties: {}, createdAt: 0, senderId: 'p', ref: { partition, offset } }) as unknown as Message;

test('progress is written on join, re-written when it moves, deleted on leave', async () => {
  const cluster = new MemoryCluster({ partitions: 2 });
  const a = new View('a', 1);
  const ra = await joined(cluster, a, [3, 4]);
  assert.deepEqual(decodeProgress(cluster.kv.get(keyOf('a', 1))!.value)?.pos, [3, 4]);
  a.progress = [5, 4];
  ra.tick();
  await flush();
  assert.deepEqual(decodeProgress(cluster.kv.get(keyOf('a', 1))!.value)?.pos, [5, 4]);
  a.members.delete(G);
  ra.localChanged(G, false);
  await flush();
  assert.equal(cluster.kv.get(keyOf('a', 1)), undefined);
  ra.stop();
});

test('a dead node\'s progress: claimed after the grace by the one inheritor, records it was assigned recovered, key deleted once acknowledged', async () => {
  const cluster = new MemoryCluster({ partitions: 2 });
  const a = new View('a', 1);
  const b = new View('b', 7);
  const c = new View('c', 9);
  for (const v of [a, b, c]) {
    for (const w of [a, b, c]) v.live.set(w.id, w.run);
    v.members.add(G);
    v.others.set(G, ['a', 'b', 'c'].filter((n) => n !== v.id));
  }
  const ra = open(cluster, a);
  const rb = open(cluster, b);
  const rc = open(cluster, c);
  a.progress = [2, 6];
  ra.localChanged(G, true);
  await flush();
  ra.stop(); // killed: its key stays
  for (const v of [b, c]) v.live.delete('a');
  const t0 = Date.now();
  rb.tick(t0);
  rc.tick(t0);
  await flush();
  assert.equal(b.recovers.length + c.recovers.length, 0, 'nothing before the grace');
  rb.tick(t0 + 999);
  rc.tick(t0 + 999);
  await flush();
  assert.equal(b.recovers.length + c.recovers.length, 0, 'still in the grace');
  rb.tick(t0 + 1000);
  rc.tick(t0 + 1000);
  await flush();
  assert.equal(b.recovers.length + c.recovers.length, 1, 'exactly one inheritor claims it');
  const [heir, heirRec] = b.recovers.length === 1 ? [b, rb] : [c, rc];
  const job = heir.recovers[0]!;
  assert.deepEqual(job.from, [2, 6]);
  assert.deepEqual(job.end, [10, 10]);
  const stored = decodeProgress(cluster.kv.get(keyOf('a', 1))!.value)!;
  assert.deepEqual(stored.cands, ['a', 'b', 'c']);
  assert.equal(stored.by?.node, heir.id);
  // The records accepted are exactly those the choice over the old candidates gave to the dead node.
  for (let o = 0; o < 12; o++) assert.equal(job.accept(msg(o % 2, o)), chooseNode(['a', 'b', 'c'], msg(o % 2, o), false) === 'a');
  // Read done, but the heir's own progress is still below end (recovered deliveries unacknowledged): kept.
  heir.progress = [9, 10];
  job.done();
  heirRec.tick(t0 + 1100);
  await flush();
  assert.ok(cluster.kv.get(keyOf('a', 1)), 'kept until the recovered deliveries are acknowledged');
  heir.progress = [10, 11];
  heirRec.tick(t0 + 1200);
  await flush();
  assert.equal(cluster.kv.get(keyOf('a', 1)), undefined, 'deleted once acknowledged');
  rb.stop();
  rc.stop();
});

test('a restarted node: its earlier run\'s key is orphaned while the node is live; an inheritor without members gives the claim back; the next claim keeps its end and candidates', async () => {
  const cluster = new MemoryCluster({ partitions: 2 });
  const old = new View('a', 1);
  const rOld = await joined(cluster, old, [1, 1]);
  rOld.kill();
  // The same node id starts again (run 2) and is the only candidate: it inherits its own earlier run.
  const a = new View('a', 2);
  a.members.add(G);
  const ra = open(cluster, a);
  const t0 = Date.now();
  ra.tick(t0);
  ra.tick(t0 + 1000);
  await flush();
  assert.equal(a.recovers.length, 1, 'the earlier run is recovered by the restarted node');
  assert.deepEqual(decodeProgress(cluster.kv.get(keyOf('a', 1))!.value)?.by, { node: 'a', run: 2 });
  // It loses its last member before finishing: it gives the claim back (end and candidates stay).
  a.members.delete(G);
  ra.tick(t0 + 1100);
  await flush();
  assert.equal(a.recovers[0]!.cancelled, true);
  const back = decodeProgress(cluster.kv.get(keyOf('a', 1))!.value)!;
  assert.equal(back.by, undefined);
  assert.deepEqual(back.end, [10, 10]);
  ra.kill();
  // Another node with members claims it again; the end it gets is the stored one, not its own log end.
  const b = new View('b', 5);
  b.members.add(G);
  b.end = [50, 50];
  const rb = open(cluster, b);
  rb.tick(t0);
  rb.tick(t0 + 1000);
  await flush();
  // Both runs of `a` are gone for b: run 1 (claim given back: its stored end kept) and run 2 (killed with its key).
  assert.equal(b.recovers.length, 2);
  const run1 = b.recovers.find((r) => r.from[0] === 1)!;
  const run2 = b.recovers.find((r) => r.from[0] === 0)!;
  assert.deepEqual(run1.end, [10, 10], 'the stored end, not b\'s log end');
  assert.deepEqual(run2.end, [50, 50]);
  assert.deepEqual(decodeProgress(cluster.kv.get(keyOf('a', 1))!.value)?.cands, ['a']);
  rb.stop();
});

test('an inheritor that dies before it finished: its claim is taken again by the next one, with the same end and candidates', async () => {
  const cluster = new MemoryCluster({ partitions: 2 });
  const views = [new View('a', 1), new View('b', 2), new View('c', 3)];
  for (const v of views) {
    for (const w of views) v.live.set(w.id, w.run);
    v.members.add(G);
    v.others.set(G, views.map((w) => w.id).filter((n) => n !== v.id));
  }
  const rs = views.map((v) => open(cluster, v));
  views[0]!.progress = [4, 4];
  rs[0]!.localChanged(G, true);
  await flush();
  rs[0]!.kill();
  for (const v of views.slice(1)) v.live.delete('a');
  const t0 = Date.now();
  for (const t of [t0, t0 + 1000]) for (const r of rs.slice(1)) r.tick(t);
  await flush();
  const heirAt = views[1]!.recovers.length === 1 ? 1 : 2;
  const nextAt = 3 - heirAt;
  assert.equal(views[heirAt]!.recovers.length, 1);
  rs[heirAt]!.kill();
  const next = views[nextAt]!;
  next.live.delete(views[heirAt]!.id);
  next.end = [20, 20];
  for (const t of [t0 + 2000, t0 + 3000]) rs[nextAt]!.tick(t);
  await flush();
  const again = next.recovers.filter((r) => r.from[0] === 4);
  assert.equal(again.length, 1, 'claimed again');
  assert.deepEqual(again[0]!.end, [10, 10]);
  const stored = decodeProgress(cluster.kv.get(keyOf('a', 1))!.value)!;
  assert.deepEqual(stored.cands, ['a', 'b', 'c']);
  assert.equal(stored.by?.node, next.id);
  rs[nextAt]!.stop();
});
