// Unit: src/core/queue.ts over an in-memory log that notifies on append and an in-memory store: settle (ack / nack / reject), redelivery counts and dead letters, commits, modes (shared, key-shared, failover), restart from the commit, no timer while idle. Imports the core queue modules and node:test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../../src/core/message.ts';
import { decodeQueueOffset, LogQueue, type QueueDelivery, type QueueMode, type ConsumerSpec } from '../../src/core/queue.ts';
import { appendNotifier } from '../../src/core/log-notifier.ts';
import { MemStore } from '../helpers/mem-store.ts';
import { MemLog } from '../helpers/mem-log.ts';
import { sleep, until } from '../helpers/poll.ts';



const TOPIC = '$queue/q';

function setup(mode: QueueMode = 'shared', maxRedeliveries = 2, log = new MemLog(2), store = new MemStore()) {
  const dead: Message[] = [];
  const q = new LogQueue({
    name: 'q', log, store, match: { topic: TOPIC }, mode, offsetKey: (p) => `queue/q/${p}`,
    deadLetter: { maxRedeliveries, deadLetterTopic: '' },
    publish: (m) => { dead.push(m); return Promise.resolve(); },
    readAhead: 50,
  });
  const committed = (): number | undefined => decodeQueueOffset(store.get(`queue/q/${log.partitionFor(TOPIC)}`));
  return { log, store, q, dead, committed };
}

function consumer(q: LogQueue, id: string, prefetch = 100, autoAck = false) {
  const got: QueueDelivery[] = [];
  const spec: ConsumerSpec = { id, prefetch, autoAck, deliver: (d) => got.push(d) };
  const c = q.addConsumer(spec);
  const bodies = (): string[] => got.map((d) => d.msg.payload.toString());
  return { c, got, bodies };
}

test('a queue keeps everything until consumed: 5,000 messages with no consumer, then one slow consumer (prefetch 10) gets all in order; the commit follows the acks', async () => {
  const { log, q, committed } = setup();
  for (let i = 0; i < 5000; i++) log.append(TOPIC, `m${i}`);
  log.append('other', 'not mine', { partition: log.partitionFor(TOPIC) });
  const a = consumer(q, 'a', 10);
  let acked = 0;
  for (let round = 0; round < 2000 && acked < 5000; round++) {
    await until(() => a.got.length > acked, `delivery after ${acked}`);
    assert.ok(a.c.unsettled <= 10, 'prefetch bounds the unsettled deliveries');
    const batch = a.got.slice(acked); // settling may deliver more at once: those wait for the next round
    for (const d of batch) a.c.settle(d.handle, 'ack');
    acked += batch.length;
  }
  assert.deepEqual(a.bodies(), Array.from({ length: 5000 }, (_, i) => `m${i}`));
  await until(() => committed() === 5001, `commit past the last record and the foreign one (is ${committed()})`);
  assert.ok(q.stats().ready <= 50, 'read-ahead bounded');
});

test('settle: the commit is the lowest unsettled offset; nack redelivers first with a count; past maxRedeliveries it is dead-lettered; reject dead-letters at once', async () => {
  const { log, q, dead, committed } = setup('shared', 2);
  for (let i = 0; i < 4; i++) log.append(TOPIC, `m${i}`);
  const a = consumer(q, 'a', 2);
  await until(() => a.got.length === 2, 'two (prefetch 2)');
  assert.equal(a.c.settle(a.got[1]!.handle, 'ack'), true);
  assert.equal(a.c.settle(a.got[1]!.handle, 'ack'), false, 'a handle settles once');
  await until(() => a.got.length === 3, 'third');
  await sleep(5);
  assert.equal(committed(), undefined, 'offset 0 still unsettled: no commit yet');
  // nack m0: it comes back before m3, counted.
  a.c.settle(a.got[0]!.handle, 'nack');
  await until(() => a.got.length === 4, 'redelivery');
  assert.equal(a.got[3]!.msg.payload.toString(), 'm0');
  assert.equal(a.got[3]!.redeliveries, 1);
  a.c.settle(a.got[3]!.handle, 'nack');
  await until(() => a.got.length === 5, 'second redelivery');
  assert.equal(a.got[4]!.redeliveries, 2);
  a.c.settle(a.got[4]!.handle, 'nack'); // third NACK > maxRedeliveries 2
  await until(() => dead.length === 1, 'dead-lettered');
  assert.equal(dead[0]!.topic, '$dlq/$queue/q');
  assert.equal(dead[0]!.properties.userProperties?.['x-redelivery-count'], '2');
  assert.equal(dead[0]!.properties.userProperties?.['x-original-topic'], TOPIC);
  await until(() => a.got.length === 6, 'm3');
  assert.equal(a.got[5]!.msg.payload.toString(), 'm3');
  a.c.settle(a.got[2]!.handle, 'reject');
  await until(() => dead.length === 2, 'rejected to the DLQ');
  assert.equal(dead[1]!.payload.toString(), 'm2');
  assert.equal(dead[1]!.properties.userProperties?.['x-redelivery-count'], '0');
  await until(() => committed() === 3, 'm0..m2 settled: commit 3');
  a.c.settle(a.got[5]!.handle, 'ack');
  await until(() => committed() === 4, 'commit 4');
});

test('a dead letter that cannot be stored leaves the message in the queue', async () => {
  const log = new MemLog(1);
  const store = new MemStore();
  let fail = true;
  const errors: string[] = [];
  const q = new LogQueue({
    name: 'q', log, store, match: { topic: TOPIC }, mode: 'shared', offsetKey: (p) => `queue/q/${p}`,
    deadLetter: { maxRedeliveries: 0, deadLetterTopic: 'dead' },
    publish: () => (fail ? Promise.reject(new Error('disk full')) : Promise.resolve()),
    onError: (_e, what) => errors.push(what),
  });
  log.append(TOPIC, 'x');
  const a = consumer(q, 'a', 1);
  await until(() => a.got.length === 1, 'first');
  a.c.settle(a.got[0]!.handle, 'reject');
  await until(() => a.got.length === 2, 'offered again after the failed dead letter');
  assert.deepEqual(errors, ['dead letter']);
  assert.equal(store.get('queue/q/0'), undefined, 'not committed past it');
  fail = false;
  a.c.settle(a.got[1]!.handle, 'reject');
  await until(() => decodeQueueOffset(store.get('queue/q/0')) === 1, 'committed once the dead letter is stored');
});

test('shared: round robin over consumers with room; a consumer that leaves hands its unsettled messages back, redelivered', async () => {
  const { log, q } = setup('shared');
  const a = consumer(q, 'a', 100);
  const b = consumer(q, 'b', 100);
  for (let i = 0; i < 10; i++) log.append(TOPIC, `m${i}`);
  await until(() => a.got.length + b.got.length === 10, 'ten');
  assert.equal(a.got.length, 5);
  assert.equal(b.got.length, 5);
  assert.deepEqual([...a.bodies(), ...b.bodies()].sort(), Array.from({ length: 10 }, (_, i) => `m${i}`).sort());
  a.c.close();
  await until(() => b.got.length === 10, 'a\'s five go to b');
  assert.deepEqual(b.got.slice(5).map((d) => d.redeliveries), [1, 1, 1, 1, 1]);
});

test('key-shared: one key stays on one consumer while it has unsettled messages, so each key keeps its order', async () => {
  const { log, q } = setup('key-shared');
  const a = consumer(q, 'a', 3);
  const b = consumer(q, 'b', 3);
  const keys = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'];
  for (let i = 0; i < 60; i++) log.append(TOPIC, `${keys[i % 6]}:${i}`, { user: { JMSXGroupID: keys[i % 6]! } });
  const seen: { who: string; body: string }[] = [];
  const acked = { a: 0, b: 0 };
  for (let round = 0; round < 500 && seen.length < 60; round++) {
    await sleep(2);
    for (const [who, c] of [['a', a], ['b', b]] as const) {
      const batch = c.got.slice(acked[who]);
      for (const d of batch) {
        seen.push({ who, body: d.msg.payload.toString() });
        c.c.settle(d.handle, 'ack');
      }
      acked[who] += batch.length;
    }
  }
  assert.equal(seen.length, 60);
  for (const k of keys) {
    const mine = seen.filter((s) => s.body.startsWith(`${k}:`));
    const order = mine.map((s) => Number(s.body.split(':')[1]));
    assert.deepEqual(order, [...order].sort((x, y) => x - y), `key ${k} in order`);
  }
  assert.ok(a.got.length > 0 && b.got.length > 0, 'both consumers got keys');
  // While a key has unsettled messages at one consumer, the other never gets that key.
  const c2 = setup('key-shared');
  const x = consumer(c2.q, 'x', 100);
  const y = consumer(c2.q, 'y', 100);
  for (let i = 0; i < 40; i++) c2.log.append(TOPIC, `${keys[i % 6]}:${i}`, { user: { JMSXGroupID: keys[i % 6]! } });
  await until(() => x.got.length + y.got.length === 40, '40 unsettled');
  const owner = new Map<string, string>();
  for (const [who, c] of [['x', x], ['y', y]] as const) {
    for (const d of c.got) {
      const k = d.msg.payload.toString().split(':')[0]!;
      assert.ok(!owner.has(k) || owner.get(k) === who, `key ${k} on one consumer`);
      owner.set(k, who);
    }
  }
});

test('failover: only the first consumer receives; when it leaves, the next takes over where it stopped, in order', async () => {
  const { log, q } = setup('failover');
  const a = consumer(q, 'a', 3);
  const b = consumer(q, 'b', 3);
  for (let i = 0; i < 10; i++) log.append(TOPIC, `m${i}`);
  await until(() => a.got.length === 3, 'a has its window');
  await sleep(10);
  assert.equal(b.got.length, 0, 'b is standby');
  a.c.settle(a.got[0]!.handle, 'ack'); // m0 done; m1, m2 unsettled when a leaves
  await until(() => a.got.length === 4, 'a gets m3');
  a.c.close();
  const seen: string[] = [];
  for (let round = 0; round < 200 && seen.length < 9; round++) {
    await until(() => b.got.length > seen.length, 'b takes over');
    for (const d of b.got.slice(seen.length)) seen.push(d.msg.payload.toString());
    for (const d of b.got.slice(0, seen.length)) b.c.settle(d.handle, 'ack');
  }
  assert.deepEqual(seen, ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']);
});

test('restart: a new queue object on the same store resumes at the commit; an unknown format version is not trusted', async () => {
  const one = setup('shared');
  for (let i = 0; i < 6; i++) one.log.append(TOPIC, `m${i}`);
  const a = consumer(one.q, 'a', 100);
  await until(() => a.got.length === 6, 'six');
  for (const d of a.got.slice(0, 4)) a.c.settle(d.handle, 'ack');
  await until(() => one.committed() === 4, 'commit 4');
  one.q.close();
  const two = setup('shared', 2, one.log, one.store);
  const b = consumer(two.q, 'b', 100);
  await until(() => b.got.length === 2, 'the unacknowledged two');
  assert.deepEqual(b.bodies(), ['m4', 'm5']);
  const key = `queue/q/${one.log.partitionFor(TOPIC)}`;
  one.store.map.set(key, Buffer.from(JSON.stringify({ v: 99, offset: 5 })));
  assert.equal(decodeQueueOffset(one.store.get(key)), undefined);
  two.q.close();
  const three = setup('shared', 2, one.log, one.store);
  const c = consumer(three.q, 'c', 100);
  await until(() => c.got.length === 6, 'from the start, not from an unreadable offset');
  three.q.close();
});

test('an idle queue with consumers sleeps on the append notification: no timer, woken by the next append', async () => {
  const { log, q } = setup('shared');
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const a = consumer(q, 'a', 10, true);
  await until(() => (appendNotifier(log)?.sleepers ?? 0) === 1, 'asleep');
  const reads = log.reads;
  await sleep(50);
  assert.equal(log.reads, reads, 'no reads while idle');
  assert.equal(timers(), before, 'no timer');
  log.append(TOPIC, 'wake');
  await until(() => a.got.length === 1, 'woken');
  q.close();
});
