// Unit: readers woken on append (src/core/log-notifier.ts, follow() in src/core/consumer.ts) over the real file log: no timer while idle, wake on append, no missed append between read and sleep. Imports src/core consumer/notifier, the record codec and src/log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLog, type PartitionedLog } from '../../src/log/index.ts';
import { encodeHeaders } from '../../src/core/record-codec.ts';
import type { Message } from '../../src/core/message.ts';
import { follow, type Follower } from '../../src/core/consumer.ts';
import { AppendNotifier, appendNotifier } from '../../src/core/log-notifier.ts';

async function openTemp(t: { after(fn: () => Promise<void>): void }, partitions = 4): Promise<PartitionedLog> {
  const dir = await mkdtemp(join(tmpdir(), 'notifier-test-'));
  // flush 'never' and no retention: the log itself runs no timers, so every Timeout seen is a reader's.
  const log = await openLog({
    dir, partitions, segmentBytes: 1 << 20, segmentMs: 3_600_000, retentionBytes: -1, retentionMs: -1,
    indexIntervalBytes: 4096, flush: { mode: 'never' }, maxRecordBytes: 64 * 1024,
  });
  t.after(async () => { await log.close(); await rm(dir, { recursive: true, force: true }); });
  return log;
}

function put(log: PartitionedLog, topic: string, payload: string): Promise<{ partition: number; offset: number }> {
  const m: Message = { topic, payload: Buffer.from(payload), qos: 1, retain: false, properties: {}, createdAt: Date.now(), expiresAt: 0, senderId: 't' };
  return log.append({ key: topic, timestamp: m.createdAt, headers: encodeHeaders(m), value: m.payload });
}

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(5);
  }
}

test('AppendNotifier: wakes once on an append to a watched partition; a stale snapshot wakes at once; cancel stops it', async () => {
  const n = new AppendNotifier(3);
  let woke = 0;
  const seen = n.snapshot([0, 2]);
  n.wait([0, 2], seen, () => woke++);
  n.notify(1);
  assert.equal(woke, 0, 'partition 1 is not watched');
  n.notify(2);
  n.notify(2);
  assert.equal(woke, 1, 'woken once');
  assert.equal(n.sleepers, 0);
  // An append between snapshot and wait (the read found nothing, then a batch landed): woken without another append.
  const stale = n.snapshot([0]);
  n.notify(0);
  n.wait([0], stale, () => woke++);
  await Promise.resolve();
  assert.equal(woke, 2, 'stale snapshot wakes at once');
  const cancel = n.wait([1], n.snapshot([1]), () => woke++);
  cancel();
  n.notify(1);
  assert.equal(woke, 2, 'cancelled waiter not woken');
  assert.equal(n.sleepers, 0);
});

test('the file log notifies once records are readable: a follower wakes on append with no timer running', async (t) => {
  const log = await openTemp(t);
  const before = timers();
  const got: string[] = [];
  const f = follow(log, 'a/#', 'next', (m) => { got.push(m.payload.toString()); });
  const n = appendNotifier(log)!;
  await until(() => n.sleepers === 1, 'follower asleep');
  assert.equal(timers(), before, 'an idle follower holds no timer');
  await put(log, 'a/1', 'one');
  await until(() => got.length === 1, 'woken by the append');
  await put(log, 'b/1', 'other topic');
  await put(log, 'a/2', 'two');
  await until(() => got.length === 2, 'second');
  assert.deepEqual(got, ['one', 'two']);
  await until(() => n.sleepers === 1, 'asleep again');
  assert.equal(timers(), before, 'still no timer');
  await f.stop();
  assert.equal(n.sleepers, 0, 'stop() removes the sleeper');
});

test('2,000 idle followers schedule no timers and all wake on one append; a burst arrives complete and in order', async (t) => {
  const log = await openTemp(t);
  const before = timers();
  const N = 2000;
  const counts = new Array<number>(N).fill(0);
  const followers: Follower[] = [];
  for (let i = 0; i < N; i++) followers.push(follow(log, 'x/#', 'next', () => { counts[i]!++; }));
  const n = appendNotifier(log)!;
  await until(() => n.sleepers === N, `${N} followers asleep (have ${n.sleepers})`);
  assert.equal(timers(), before, 'no timer per idle follower');
  await sleep(50);
  assert.equal(counts.reduce((a, b) => a + b, 0), 0, 'nothing delivered while idle');
  await put(log, 'x/1', 'hello');
  await until(() => counts.every((c) => c === 1), 'every follower got the append');
  // A burst written while readers are mid-read: nothing is missed at the read/sleep boundary.
  const seq: string[] = [];
  const one = follow(log, 'burst', 'next', (m) => { seq.push(m.payload.toString()); });
  await until(() => n.sleepers === N + 1, 'burst reader asleep');
  for (let i = 0; i < 500; i++) {
    void put(log, 'burst', String(i));
    if (i % 50 === 0) await sleep(1);
  }
  await until(() => seq.length === 500, `500 burst records (have ${seq.length})`);
  assert.deepEqual(seq, Array.from({ length: 500 }, (_, i) => String(i)));
  await one.stop();
  await Promise.all(followers.map((f) => f.stop()));
  assert.equal(n.sleepers, 0);
});
