// Backend consumers on the real file log: replay start points, filters, follow, consumer groups (assignment, rebalance, commits across reopen, lag). Imports src/core consumer files, the record codec and src/log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openKeyValueStore, openLog, type KeyValueStore, type PartitionedLog } from '../../src/log/index.ts';
import { encodeHeaders } from '../../src/core/record-codec.ts';
import type { Message, QoS } from '../../src/core/message.ts';
import { follow, replay, resolveStarts, type StartPoint } from '../../src/core/consumer.ts';
import { assignPartitions, ConsumerGroup, listCommitted } from '../../src/core/consumer-group.ts';
import { GatewayError } from '../../src/core/errors.ts';

const PARTITIONS = 3;

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'consumer-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function openMessages(dir: string): Promise<PartitionedLog> {
  return openLog({
    dir: join(dir, 'log'), partitions: PARTITIONS, segmentBytes: 1024, segmentMs: 3_600_000, retentionBytes: -1, retentionMs: -1,
    indexIntervalBytes: 128, flush: { mode: 'never' }, maxRecordBytes: 64 * 1024,
  });
}

function openState(dir: string): Promise<KeyValueStore> {
  return openKeyValueStore(join(dir, 'state'), { mode: 'never' });
}

function msg(topic: string, payload: string, createdAt: number, qos: QoS = 1): Message {
  return { topic, payload: Buffer.from(payload), qos, retain: false, properties: {}, createdAt, expiresAt: 0, senderId: 'test' };
}

async function put(log: PartitionedLog, m: Message): Promise<{ partition: number; offset: number }> {
  return log.append({ key: m.topic, timestamp: m.createdAt, headers: encodeHeaders(m), value: m.payload });
}

interface Written { topic: string; payload: string; partition: number; offset: number; ts: number }

/** 30 records over topics t/0..t/9 (every partition gets some) and 6 on other/x; timestamps 1000, 2000, ... */
async function fill(log: PartitionedLog): Promise<Written[]> {
  const out: Written[] = [];
  for (let i = 0; i < 36; i++) {
    const topic = i % 6 === 5 ? 'other/x' : `t/${i % 10}`;
    const ts = 1000 * (i + 1);
    const ref = await put(log, msg(topic, `m${i}`, ts));
    out.push({ topic, payload: `m${i}`, partition: ref.partition, offset: ref.offset, ts });
  }
  for (let p = 0; p < PARTITIONS; p++) assert.ok(out.filter((w) => w.partition === p && w.topic.startsWith('t/')).length > 0, `partition ${p} has t/ records`);
  return out;
}

type Seen = { topic: string; payload: string; partition: number; offset: number; ts: number };

async function collect(log: PartitionedLog, filter: string, from: StartPoint, batch = 4): Promise<Seen[]> {
  const seen: Seen[] = [];
  await replay(log, filter, from, (m) => {
    seen.push({ topic: m.topic, payload: m.payload.toString(), partition: m.ref!.partition, offset: m.ref!.offset, ts: m.createdAt });
  }, { batch });
  return seen;
}

/** Sorted by partition, then offset: per-partition order is the promise, not a global one. */
function byPartition<T extends { partition: number; offset: number }>(xs: T[]): T[] {
  return [...xs].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

function assertPerPartitionOrder(seen: Seen[]): void {
  const last = new Map<number, number>();
  for (const s of seen) {
    const prev = last.get(s.partition) ?? -1;
    assert.ok(s.offset > prev, `partition ${s.partition}: offset ${s.offset} after ${prev}`);
    last.set(s.partition, s.offset);
  }
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('replay from first visits every matching record, per-partition order, across batches', async (t) => {
  const dir = await tempDir(t);
  const log = await openMessages(dir);
  t.after(() => log.close());
  const w = await fill(log);
  const seen = await collect(log, 't/+', 'first', 4);
  assertPerPartitionOrder(seen);
  const want = byPartition(w.filter((x) => x.topic.startsWith('t/')));
  assert.deepEqual(byPartition(seen), want);
  // Wildcards and exact filters.
  assert.deepEqual((await collect(log, 'other/#', 'first')).map((s) => s.payload), w.filter((x) => x.topic === 'other/x').map((x) => x.payload));
  assert.deepEqual((await collect(log, 't/3', 'first')).map((s) => s.payload), w.filter((x) => x.topic === 't/3').map((x) => x.payload));
  assert.equal((await collect(log, '#', 'first')).length, w.length);
  assert.equal((await collect(log, 'nothing/+', 'first')).length, 0);
});

test('replay from last yields the last record of each partition; next yields nothing', async (t) => {
  const dir = await tempDir(t);
  const log = await openMessages(dir);
  t.after(() => log.close());
  const w = await fill(log);
  const lastPer = [0, 1, 2].map((p) => w.filter((x) => x.partition === p).at(-1)!);
  assert.deepEqual(byPartition(await collect(log, '#', 'last')), byPartition(lastPer));
  assert.deepEqual(await collect(log, '#', 'next'), []);
  assert.deepEqual(await resolveStarts(log, 'next'), [0, 1, 2].map((p) => log.endOffset(p)));
});

test('replay from offset N applies N in every partition, clamped to the end', async (t) => {
  const dir = await tempDir(t);
  const log = await openMessages(dir);
  t.after(() => log.close());
  const w = await fill(log);
  const seen = await collect(log, '#', { offset: 5 });
  assert.deepEqual(byPartition(seen), byPartition(w.filter((x) => x.offset >= 5)));
  assert.deepEqual(await collect(log, '#', { offset: 10_000 }), []);
  assert.deepEqual(byPartition(await collect(log, '#', { offset: -3 })), byPartition(w));
});

test('replay from a timestamp starts at the first record at or after it in each partition', async (t) => {
  const dir = await tempDir(t);
  const log = await openMessages(dir);
  t.after(() => log.close());
  const w = await fill(log);
  for (const ts of [0, 1000, 12_500, 20_000, 36_000, 99_000]) {
    const seen = await collect(log, '#', { timestamp: ts });
    assert.deepEqual(byPartition(seen), byPartition(w.filter((x) => x.ts >= ts)), `from timestamp ${ts}`);
  }
});

test('replay limit stops early; a bad filter or start point is refused', async (t) => {
  const dir = await tempDir(t);
  const log = await openMessages(dir);
  t.after(() => log.close());
  await fill(log);
  let n = 0;
  const r = await replay(log, '#', 'first', () => { n++; }, { limit: 7, batch: 3 });
  assert.equal(n, 7);
  assert.equal(r.visited, 7);
  await assert.rejects(replay(log, 'a/#/b', 'first', () => {}), (e: unknown) => e instanceof GatewayError && e.code === 'TOPIC_FILTER_INVALID');
  await assert.rejects(replay(log, '#', { offset: 1.5 }, () => {}), RangeError);
  await assert.rejects(replay(log, '#', 'first', () => {}, { batch: 0 }), RangeError);
});

test('replay awaits an async visitor before reading on (backpressure) and returns resume positions', async (t) => {
  const dir = await tempDir(t);
  const log = await openMessages(dir);
  t.after(() => log.close());
  const w = await fill(log);
  let active = 0;
  let maxActive = 0;
  const r = await replay(log, '#', 'first', async () => {
    active++;
    maxActive = Math.max(maxActive, active);
    await new Promise((res) => setImmediate(res));
    active--;
  }, { batch: 5 });
  assert.equal(maxActive, 1);
  assert.equal(r.visited, w.length);
  assert.deepEqual(r.positions, [0, 1, 2].map((p) => log.endOffset(p)));
});

test('follow from next sees only new appends, in order, until stopped', async (t) => {
  const dir = await tempDir(t);
  const log = await openMessages(dir);
  t.after(() => log.close());
  await fill(log);
  const seen: string[] = [];
  const f = follow(log, 't/#', 'next', (m) => { seen.push(m.payload.toString()); }, { pollMs: 10, batch: 2 });
  await waitFor(() => f.positions().length === PARTITIONS);
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(seen, []);
  for (let i = 0; i < 5; i++) await put(log, msg('t/one', `new${i}`, Date.now())); // one topic: one partition, so one order
  await put(log, msg('other/x', 'skip', Date.now()));
  await waitFor(() => seen.length >= 5);
  await f.stop();
  assert.deepEqual(seen, ['new0', 'new1', 'new2', 'new3', 'new4']);
  await put(log, msg('t/one', 'after-stop', Date.now()));
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(seen.length, 5);
  await f.done;
});

test('follow from first replays the backlog, then tails; a visitor error ends it through done', async (t) => {
  const dir = await tempDir(t);
  const log = await openMessages(dir);
  t.after(() => log.close());
  const w = await fill(log);
  let n = 0;
  const f = follow(log, '#', 'first', () => { n++; }, { pollMs: 10 });
  await waitFor(() => n === w.length);
  await put(log, msg('t/z', 'late', Date.now()));
  await waitFor(() => n === w.length + 1);
  await f.stop();

  const g = follow(log, '#', 'first', () => { throw new Error('visitor broke'); }, { pollMs: 10 });
  await assert.rejects(g.done, /visitor broke/);
  await g.stop();
});

test('assignment is deterministic: range splits contiguous blocks, round-robin deals partitions', () => {
  const range = assignPartitions(['b', 'a', 'c'], 7, 'range');
  assert.deepEqual([...range], [['a', [0, 1, 2]], ['b', [3, 4]], ['c', [5, 6]]]);
  const rr = assignPartitions(['b', 'a', 'c'], 7, 'round-robin');
  assert.deepEqual([...rr], [['a', [0, 3, 6]], ['b', [1, 4]], ['c', [2, 5]]]);
  assert.deepEqual([...assignPartitions(['a', 'b', 'c', 'd'], 2, 'range')], [['a', [0]], ['b', [1]], ['c', []], ['d', []]]);
  assert.equal(assignPartitions([], 3, 'range').size, 0);
});

test('a group splits partitions among members and rebalances when one leaves', async (t) => {
  const dir = await tempDir(t);
  const log = await openMessages(dir);
  const state = await openState(dir);
  t.after(async () => { await log.close(); await state.close(); });
  const w = await fill(log);
  const g = new ConsumerGroup({ group: 'g1', log, store: state, strategy: 'round-robin' });
  assert.deepEqual(g.join('a'), [0, 1, 2]);
  assert.deepEqual(g.join('b'), [1]);
  assert.deepEqual(g.assignment('a'), [0, 2]);
  assert.deepEqual(g.join('b'), [1], 'join is idempotent');

  // Each member sees only its partitions; together they see everything once.
  const fromA = await g.poll('a', 100);
  const fromB = await g.poll('b', 100);
  assert.ok(fromA.every((m) => m.ref!.partition !== 1));
  assert.ok(fromB.every((m) => m.ref!.partition === 1));
  const all = [...fromA, ...fromB].map((m) => ({ partition: m.ref!.partition, offset: m.ref!.offset }));
  assert.deepEqual(byPartition(all), byPartition(w.map(({ partition, offset }) => ({ partition, offset }))));
  assert.deepEqual(await g.poll('a', 100), [], 'nothing new');

  // b commits part of partition 1, then leaves: a takes partition 1 over from the committed offset.
  const p1 = fromB.map((m) => m.ref!.offset);
  await g.commit('b', 1, p1[2]! + 1);
  assert.equal(g.leave('b'), true);
  assert.equal(g.leave('b'), false);
  assert.deepEqual(g.assignment('a'), [0, 1, 2]);
  const again = await g.poll('a', 100);
  assert.deepEqual(again.map((m) => [m.ref!.partition, m.ref!.offset]), p1.slice(3).map((o) => [1, o]));

  // Committing a partition one does not own, or as a stranger, is refused.
  g.join('c');
  const notMine = [0, 1, 2].find((p) => !g.assignment('a').includes(p))!;
  await assert.rejects(g.commit('a', notMine, 0), (e: unknown) => e instanceof GatewayError && e.code === 'PROTOCOL_ERROR');
  await assert.rejects(g.poll('zed', 1), (e: unknown) => e instanceof GatewayError && e.code === 'PROTOCOL_ERROR');
  await assert.rejects(g.commit('a', g.assignment('a')[0]!, 10_000), RangeError);
});

test('poll respects max and rotates among the member\'s partitions; the group filter skips but advances', async (t) => {
  const dir = await tempDir(t);
  const log = await openMessages(dir);
  const state = await openState(dir);
  t.after(async () => { await log.close(); await state.close(); });
  const w = await fill(log);
  const g = new ConsumerGroup({ group: 'small', log, store: state, filter: 't/#' });
  g.join('solo');
  const got: Message[] = [];
  for (let i = 0; i < 100; i++) {
    const batch = await g.poll('solo', 2);
    assert.ok(batch.length <= 2);
    if (batch.length === 0 && got.length > 0 && i > 10) break;
    got.push(...batch);
  }
  assert.ok(got.every((m) => m.topic.startsWith('t/')));
  assert.deepEqual(byPartition(got.map((m) => ({ partition: m.ref!.partition, offset: m.ref!.offset }))),
    byPartition(w.filter((x) => x.topic.startsWith('t/')).map(({ partition, offset }) => ({ partition, offset }))));
  // The first three polls touched three different partitions (rotation), not only partition 0.
  const g2 = new ConsumerGroup({ group: 'rot', log, store: state });
  g2.join('solo');
  const firsts = new Set<number>();
  for (let i = 0; i < 3; i++) firsts.add((await g2.poll('solo', 1))[0]!.ref!.partition);
  assert.equal(firsts.size, 3);
});

test('committed offsets survive reopening the store; lag = end - committed', async (t) => {
  const dir = await tempDir(t);
  let log = await openMessages(dir);
  let state = await openState(dir);
  const w = await fill(log);
  const ends = [0, 1, 2].map((p) => log.endOffset(p));
  {
    const g = new ConsumerGroup({ group: 'dur', log, store: state });
    g.join('m');
    await g.poll('m', 1000);
    await g.commit('m', 0, 2);
    await g.commit('m', 1, ends[1]!);
    const lag = g.lag();
    assert.deepEqual(lag.map((l) => l.lag), [ends[0]! - 2, 0, ends[2]!]);
    assert.deepEqual(lag.map((l) => l.committed), [2, ends[1], undefined]);
    assert.equal(lag[0]!.owner, 'm');
  }
  await log.close();
  await state.close();
  log = await openMessages(dir);
  state = await openState(dir);
  t.after(async () => { await log.close(); await state.close(); });
  assert.deepEqual(listCommitted(state).map(({ group, partition, offset }) => [group, partition, offset]), [['dur', 0, 2], ['dur', 1, ends[1]]]);
  const g = new ConsumerGroup({ group: 'dur', log, store: state });
  assert.equal(g.committed(0), 2);
  assert.deepEqual(g.lag().map((l) => l.lag), [ends[0]! - 2, 0, ends[2]!]);
  g.join('m2');
  const got = await g.poll('m2', 1000);
  const want = w.filter((x) => (x.partition === 0 && x.offset >= 2) || x.partition === 2);
  assert.deepEqual(byPartition(got.map((m) => ({ partition: m.ref!.partition, offset: m.ref!.offset }))),
    byPartition(want.map(({ partition, offset }) => ({ partition, offset }))));
  await g.commitPositions('m2');
  assert.deepEqual(g.lag().map((l) => l.lag), [0, 0, 0]);
  // A group starting at 'next' with no commits sees only new records.
  const late = new ConsumerGroup({ group: 'late', log, store: state, reset: 'next' });
  late.join('x');
  assert.deepEqual(await late.poll('x', 10), []);
  await put(log, msg('t/new', 'fresh', Date.now()));
  assert.deepEqual((await late.poll('x', 10)).map((m) => m.payload.toString()), ['fresh']);
  assert.throws(() => new ConsumerGroup({ group: 'a/b', log, store: state }), RangeError);
});
