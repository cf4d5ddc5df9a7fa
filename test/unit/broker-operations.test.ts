// The broker's adapter-facing operations: storage (hasLog, follow, logSubscriptions, queues) over the local backend and their absence without persistence; session changes (settleOutbound, receiveQos2, setSessionExpiry, ...). Imports core broker/durable and the local backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Broker } from '../../src/core/broker.ts';
import { DurableStore } from '../../src/core/durable.ts';
import type { Message } from '../../src/core/message.ts';
import type { Outbound } from '../../src/core/session.ts';
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

test('session changes go through broker operations: settle, requeue, inbound QoS 2, expiry', () => {
  const b = new Broker({ shareStrategy: 'round-robin', logger });
  const sent: Outbound[] = [];
  const link = { identity: { clientId: 'c1', username: undefined, protocol: 'mqtt' }, send: (out: readonly Outbound[]) => void sent.push(...out), close: () => undefined };
  const { entry } = b.connect({ clientId: 'c1', cleanStart: true, expiryInterval: 0, limits: { maxInflight: 1, maxQueued: 10, maxQueuedBytes: 1 << 20, dropPolicy: 'drop-oldest', queueQos0: false }, link: link as never });
  b.subscribe(entry, 'ops/#', { qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0 });
  assert.deepEqual([...b.subscriptionsOf(entry).keys()], ['ops/#']);
  b.publish(msg('ops/1', 'a'));
  b.publish(msg('ops/2', 'b'));
  const first = sent.filter((o) => o.type === 'publish');
  assert.equal(first.length, 1, 'window of one');
  const id = (first[0] as Extract<Outbound, { type: 'publish' }>).packetId;
  assert.equal(b.isKnownOutbound(entry, id), true);
  assert.equal(b.unackedMessage(entry, id)?.payload.toString(), 'a');
  // NACK: the same message goes out again first.
  const again = b.settleOutbound(entry, id, 'requeue');
  assert.equal(again.length, 1);
  const a2 = again[0] as Extract<Outbound, { type: 'publish' }>;
  assert.equal(a2.msg.payload.toString(), 'a');
  const next = b.settleOutbound(entry, a2.packetId, 'puback');
  assert.deepEqual(next.map((o) => o.type === 'publish' && o.msg.payload.toString()), ['b']);
  assert.deepEqual(b.settleOutbound(entry, 999, 'puback'), [], 'unknown id');
  assert.equal(b.receiveQos2(entry, 7), true);
  assert.equal(b.receiveQos2(entry, 7), false, 'duplicate while awaiting PUBREL');
  b.forgetQos2(entry, 7);
  assert.equal(b.receiveQos2(entry, 7), true, 'forgotten');
  assert.equal(b.sessionExpiry(entry), 0);
  b.setSessionExpiry(entry, 30);
  assert.equal(b.sessionExpiry(entry), 30);
  b.close();
});
