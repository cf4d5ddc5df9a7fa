// The broker's adapter-facing storage operations (hasLog, follow, logSubscriptions, queues) over the local backend, and their absence without persistence. Imports core broker/durable and the local backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Broker } from '../../src/core/broker.ts';
import { DurableStore } from '../../src/core/durable.ts';
import type { Message } from '../../src/core/message.ts';
import { openLocalBackend } from '../../src/server/local-backend.ts';

const logger = pino({ level: 'silent' });
const msg = (topic: string, body: string): Message =>
  ({ topic, payload: Buffer.from(body), qos: 1, retain: false, properties: {}, createdAt: Date.now(), expiresAt: 0, senderId: '' });

test('without persistence the broker offers no log operations', () => {
  const b = new Broker({ shareStrategy: 'round-robin', logger });
  assert.equal(b.hasLog, false);
  assert.equal(b.follow('#', 'first', () => undefined), undefined);
  assert.equal(b.logSubscriptions({ target: { id: 'x', session: undefined as never, link: undefined } }), undefined);
  assert.equal(b.queues, undefined);
});

test('follow reads stored messages from the start and then wakes on new ones; queues and log subscriptions exist', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'broker-ops-'));
  const backend = await openLocalBackend({
    dir,
    log: { partitions: 2, segmentBytes: 1 << 20, segmentMs: 3_600_000, retentionBytes: -1, retentionMs: -1, indexIntervalBytes: 4096, flush: { mode: 'never' }, maxRecordBytes: 1 << 16 },
  });
  const store = DurableStore.over(backend, false);
  const b = new Broker({ shareStrategy: 'round-robin', logger, persistence: store });
  try {
    assert.equal(b.hasLog, true);
    assert.ok(b.queues, 'a queue registry');
    assert.equal(b.queues, b.queues, 'one registry per broker');
    await b.publish(msg('ops/a', 'one'));
    await b.publish(msg('ops/b', 'skip'));
    await b.publish(msg('ops/a', 'two'));
    const got: string[] = [];
    let third!: () => void;
    const gotThree = new Promise<void>((r) => (third = r));
    const f = b.follow('ops/a', 'first', (m) => { got.push(m.payload.toString()); if (got.length === 3) third(); }, { pollMs: 60_000 });
    assert.ok(f);
    await b.publish(msg('ops/a', 'three'));
    await Promise.race([gotThree, new Promise((_, rej) => setTimeout(() => rej(new Error(`timed out with ${JSON.stringify(got)}`)), 5000))]);
    assert.deepEqual(got, ['one', 'two', 'three']);
    await f.stop();
    assert.throws(() => b.follow('a/#/b', 'first', () => undefined), /filter/i);
  } finally {
    b.close();
    await store.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});
