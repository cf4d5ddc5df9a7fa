// Runs the StorageBackend contract (test/contract/backend.contract.ts) against the NATS JetStream backend on a real nats-server -js (single server, replicas 1). Imports the contract, the backend and the cluster helper.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { backendContract } from '../contract/backend.contract.ts';
import { openNatsBackend } from '../../src/server/nats-backend.ts';
import { startNatsServers, type NatsCluster } from '../helpers/nats-cluster.ts';

let nats: NatsCluster | undefined;
const root = mkdtempSync(join(tmpdir(), 'nats-contract-'));
before(async () => { nats = await startNatsServers({ count: 1, dir: root }); });
after(async () => { await nats?.stop(); rmSync(root, { recursive: true, force: true }); });

// One dir = one data set: the dir's name becomes the stream / bucket prefix, so reopening the dir reopens the data.
backendContract('NATS JetStream, one server, replicas 1', (dir) => openNatsBackend({
  servers: nats!.urls,
  nodeId: 'contract',
  prefix: `t_${basename(dir).replace(/[^A-Za-z0-9_-]/g, '_')}`,
  partitions: 3,
  replicas: 1,
}));

// Keys outside the KV alphabet (and too long for a KV key) round-trip through the bucket, to a reopened backend and to another node.
test('state keys with /, U+0000, spaces, +, #, dots, unicode, and longer than a KV key survive reopen and reach another node', async () => {
  const keys = ['s/a b', 'r/x/+/#', 'q/\u0000/1', 'dots.in.key', 'ü/日本', '', `s/${'long'.repeat(600)}`];
  const opts = { servers: nats!.urls, prefix: 'oddkeys', partitions: 2, replicas: 1 };
  const a = await openNatsBackend({ ...opts, nodeId: 'a' });
  const b = await openNatsBackend({ ...opts, nodeId: 'b' });
  try {
    for (const [i, k] of keys.entries()) await a.state.put(k, Buffer.from([i, 0, 255]));
    await a.state.delete(keys[6]!);
    await a.state.put(keys[6]!, Buffer.from('again'));
    await a.state.delete('dots.in.key');
    const want = new Map(keys.map((k, i) => [k, Buffer.from([i, 0, 255]).toString('hex')]));
    want.set(keys[6]!, Buffer.from('again').toString('hex'));
    want.delete('dots.in.key');
    const asMap = (s: typeof a.state) => new Map([...s.entries()].map(([k, v]) => [k, v.toString('hex')]));
    const end = Date.now() + 15_000;
    const same = () => JSON.stringify([...asMap(b.state)].sort()) === JSON.stringify([...want].sort());
    while (!same() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(asMap(b.state), want, 'the other node');
    await a.close();
    const again = await openNatsBackend({ ...opts, nodeId: 'a' });
    assert.deepEqual(asMap(again.state), want, 'reopened');
    await again.close();
  } finally {
    await a.close();
    await b.close();
  }
});
