// NATS backend under a NATS outage: kill -9 of nats-server under an open backend -> writes reject at once and isReady() is false; nats-server restarted on the same port and store -> writes work again by themselves, nothing acknowledged lost. Imports the backend and the cluster helper.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openNatsBackend, type NatsBackend } from '../../src/server/nats-backend.ts';
import { startNatsServers } from '../helpers/nats-cluster.ts';

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const rec = (i: number) => ({ key: 'out/a', timestamp: i, headers: Buffer.alloc(0), value: Buffer.from(`m${i}`) });

test('NATS killed: append / put reject quickly and the backend is not ready; NATS back: service resumes by itself', async () => {
  const root = mkdtempSync(join(tmpdir(), 'nats-outage-'));
  const nats = await startNatsServers({ count: 1, dir: root });
  let b: NatsBackend | undefined;
  try {
    b = await openNatsBackend({ servers: nats.urls, nodeId: 'outage', prefix: 'outage', partitions: 2, replicas: 1, timeoutMs: 5000 });
    const changes: boolean[] = [];
    b.onReadyChange((up) => changes.push(up));
    const first = await b.log.append(rec(1));
    await b.state.put('k', Buffer.from('1'));
    assert.equal(b.isReady(), true);

    await nats.servers[0]!.kill9();
    await until(() => !b!.isReady(), 'not ready after the kill');
    const t0 = Date.now();
    await assert.rejects(b.log.append(rec(2)), /NATS|unreachable|connection/i);
    await assert.rejects(b.state.put('k', Buffer.from('2')), /NATS|unreachable|connection/i);
    assert.ok(Date.now() - t0 < 1000, `refused quickly (${Date.now() - t0} ms), not after a timeout`);
    assert.equal(b.state.get('k')?.toString(), '1', 'a refused put does not change the cache');

    await nats.servers[0]!.start();
    await until(() => b!.isReady(), 'ready again after the restart', 20_000);
    assert.deepEqual(changes, [false, true]);
    // JetStream may need a moment after the client reconnects: the first writes are retried (bounded).
    let again: { partition: number; offset: number } | undefined;
    for (let i = 0; i < 50 && !again; i++) {
      again = await b.log.append(rec(3)).catch(async () => { await new Promise((r) => setTimeout(r, 200)); return undefined; });
    }
    assert.ok(again, 'append works again');
    assert.equal(again.partition, first.partition);
    assert.equal(again.offset, first.offset + 1, 'offsets continue (the refused append was not stored)');
    await b.state.put('k', Buffer.from('3'));
    const got = await b.log.read(first.partition, first.offset, 10);
    assert.deepEqual(got.map((r) => Buffer.from(r.value).toString()), ['m1', 'm3']);
    // A fresh backend (another node, or this one restarted) sees the acknowledged state.
    const c = await openNatsBackend({ servers: nats.urls, nodeId: 'outage2', prefix: 'outage', partitions: 2, replicas: 1 });
    assert.equal(c.state.get('k')?.toString(), '3');
    assert.equal(c.log.endOffset(first.partition), again.offset + 1);
    // The first backend follows the other node's appends and writes again (its followers and watch resumed).
    const fromC = await c.log.append(rec(4));
    await until(() => b!.log.endOffset(fromC.partition) === fromC.offset + 1, 'b follows appends made elsewhere after the outage');
    await c.state.put('k', Buffer.from('4'));
    await until(() => b!.state.get('k')?.toString() === '4', 'b\'s state watch resumed');
    await c.close();
  } finally {
    await b?.close().catch(() => undefined);
    await nats.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
