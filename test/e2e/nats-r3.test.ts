// The NATS backend on a three-server JetStream cluster (replicas 3): both contracts (StorageBackend, ClusterPort), and kill -9 of one NATS server under appends loses no acknowledged record. Imports the contracts, the backend and the cluster helper.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { backendContract } from '../contract/backend.contract.ts';
import { clusterContract } from '../contract/cluster.contract.ts';
import { openNatsBackend, type NatsBackend } from '../../src/server/nats-backend.ts';
import type { ClusterBackend } from '../../src/core/persistence.ts';
import { startNatsServers, waitForJetStream, type NatsCluster } from '../helpers/nats-cluster.ts';

let nats: NatsCluster | undefined;
const root = mkdtempSync(join(tmpdir(), 'nats-r3-'));
before(async () => { nats = await startNatsServers({ count: 3, dir: root }); });
after(async () => { await nats?.stop(); rmSync(root, { recursive: true, force: true }); });

backendContract('NATS JetStream, three servers, replicas 3', (dir) => openNatsBackend({
  servers: nats!.urls, nodeId: 'r3', prefix: `t_${basename(dir).replace(/[^A-Za-z0-9_-]/g, '_')}`, partitions: 2, replicas: 3,
}));

let run = 0;
clusterContract('NATS JetStream, three servers, replicas 3', async (n) => {
  const prefix = `r3c${++run}`;
  const nodes: ClusterBackend[] = [];
  // Each node on a different server: the cluster, not one server, carries the data between them.
  for (let i = 0; i < n; i++) nodes.push(await openNatsBackend({ servers: [nats!.urls[i % 3]!], nodeId: `node-${i}`, prefix, partitions: 2, replicas: 3 }));
  return nodes;
});

test('kill -9 of one of three NATS servers under appends: every acknowledged record is kept, dense, and appends resume', async () => {
  const c = nats!;
  // The writer knows all three servers and fails over; the reader sits on the server that survives for sure.
  const w: NatsBackend = await openNatsBackend({ servers: c.urls, nodeId: 'writer', prefix: 'r3kill', partitions: 2, replicas: 3 });
  const r: NatsBackend = await openNatsBackend({ servers: [c.urls[2]!], nodeId: 'reader', prefix: 'r3kill', partitions: 2, replicas: 3 });
  try {
    const acked: { partition: number; offset: number; v: string }[] = [];
    let refused = 0;
    let i = 0;
    // Sequential appends for `ms`; a refused one (while the writer fails over) waits a little before the next.
    const writeFor = async (ms: number): Promise<void> => {
      const end = Date.now() + ms;
      while (Date.now() < end && acked.length < 5000) {
        const v = `m${i++}`;
        const ok = await w.log.append({ key: `k/${i % 4}`, timestamp: i, headers: Buffer.alloc(0), value: Buffer.from(v) })
          .then((ref) => { acked.push({ ...ref, v }); return true; }, () => { refused++; return false; });
        if (!ok) await new Promise((r) => setTimeout(r, 50));
      }
    };
    await writeFor(1000);
    const before = acked.length;
    assert.ok(before > 0);
    await c.servers[0]!.kill9();
    await writeFor(4000);
    // Appends must work again once the streams have leaders among the two left (bounded).
    const end = Date.now() + 30_000;
    let after = acked.length;
    while (acked.length === after && Date.now() < end) { await writeFor(500); }
    after = acked.length;
    assert.ok(after > before, `appends resumed (acked ${before} before the kill, ${after} in all, ${refused} refused)`);
    for (let p = 0; p < 2; p++) {
      const mine = acked.filter((a) => a.partition === p);
      // The reader learns of the appends through its follower, which resumes after the stream's leader moved (bounded).
      const want = Math.max(0, ...mine.map((a) => a.offset + 1));
      const until = Date.now() + 30_000;
      while (r.log.endOffset(p) < want && Date.now() < until) await new Promise((res) => setTimeout(res, 50));
      assert.ok(r.log.endOffset(p) >= want, `reader's end of partition ${p} reached ${want} (is ${r.log.endOffset(p)})`);
      const got: string[] = [];
      let next = 0;
      for (let round = 0; round < 1000 && next < r.log.endOffset(p); round++) {
        // A read may time out while the stream's leader is being re-elected: retried (bounded).
        let batch: Awaited<ReturnType<typeof r.log.read>> | undefined;
        for (let t = 0; t < 6 && !batch; t++) batch = await r.log.read(p, next, 256).catch(() => undefined);
        assert.ok(batch, `partition ${p}: reads work again after the failover`);
        if (batch.length === 0) break;
        got.push(...batch.map((x) => Buffer.from(x.value).toString()));
        next = batch[batch.length - 1]!.offset + 1;
      }
      assert.equal(got.length, r.log.endOffset(p), `partition ${p}: dense, no hole`);
      const byOffset = new Map(mine.map((a) => [a.offset, a.v]));
      for (const [off, v] of byOffset) assert.equal(got[off], v, `partition ${p} offset ${off}: the acknowledged record`);
    }
  } finally {
    await w.close();
    await r.close();
    await c.servers[0]!.start();
    await waitForJetStream(c.servers, 30_000);
  }
});

test('two of three NATS servers killed (no quorum): the backend is not ready although connected; back: ready and appends work', async () => {
  const c = nats!;
  const b: NatsBackend = await openNatsBackend({ servers: [c.urls[2]!], nodeId: 'quorum', prefix: 'r3quorum', partitions: 2, replicas: 3, timeoutMs: 1000 });
  try {
    const first = await b.log.append({ key: 'q/1', timestamp: 1, headers: Buffer.alloc(0), value: Buffer.from('before') });
    assert.equal(b.isReady(), true);
    await c.servers[0]!.kill9();
    await c.servers[1]!.kill9();
    let why = '';
    await assert.rejects(b.log.append({ key: 'q/1', timestamp: 2, headers: Buffer.alloc(0), value: Buffer.from('no quorum') }).catch((e: Error) => { why = `${e.name}: ${e.message}`; throw e; }));
    const end = Date.now() + 15_000;
    while (b.isReady() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.equal(b.isReady(), false, `not ready while the streams have no quorum (the append failed with ${why})`);
    await c.servers[0]!.start();
    await c.servers[1]!.start();
    await waitForJetStream(c.servers, 30_000);
    let ref: { partition: number; offset: number } | undefined;
    const end2 = Date.now() + 60_000;
    while (!ref && Date.now() < end2) {
      ref = await b.log.append({ key: 'q/1', timestamp: 3, headers: Buffer.alloc(0), value: Buffer.from('after') }).catch(async () => { await new Promise((r) => setTimeout(r, 250)); return undefined; });
    }
    assert.ok(ref, 'appends work again');
    assert.equal(b.isReady(), true, 'ready again after a success');
    const got = await b.log.read(first.partition, first.offset, 10);
    assert.equal(Buffer.from(got[0]!.value).toString(), 'before');
    assert.equal(Buffer.from(got[got.length - 1]!.value).toString(), 'after');
  } finally {
    await b.close();
    for (const s of c.servers) if (!s.running) await s.start();
  }
});
