// Contract suite for PartitionedLog: one body run against every implementation (local files now, NATS JetStream later). Imports src/log/types.ts only.
//
// What `open(dir)` must give: a log with at least 2 partitions, segments of at most 4 KiB, per-partition size retention
// of at most 64 KiB, no time retention, maxRecordBytes >= 4 KiB. Calling open again with the same dir reopens the same log.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppendInput, LogRecord, PartitionedLog } from '../../src/log/types.ts';

const rec = (key: string, i: number, timestamp = 1_000_000 + i): AppendInput =>
  ({ key, timestamp, headers: Buffer.from(`h${i}`), value: Buffer.from(`value-${key}-${i}`) });

/** Reads a whole partition from `from`, bounded in rounds. */
async function readAll(log: PartitionedLog, partition: number, from = 0): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  let next = from;
  for (let round = 0; round < 10_000 && next < log.endOffset(partition); round++) {
    const got = await log.read(partition, next, 100);
    if (got.length === 0) break;
    out.push(...got);
    next = got[got.length - 1]!.offset + 1;
  }
  return out;
}

export function logContract(name: string, open: (dir: string) => Promise<PartitionedLog>): void {
  describe(`PartitionedLog contract: ${name}`, () => {
    let dir = '';
    let log: PartitionedLog | undefined;
    beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'log-contract-')); log = await open(dir); });
    afterEach(async () => { await log?.close(); log = undefined; await rm(dir, { recursive: true, force: true }); });

    it('assigns dense offsets from 0 per partition and a stable partition per key', async () => {
      const l = log!;
      assert.ok(l.partitions >= 2);
      const keys = Array.from({ length: 20 }, (_, i) => `t/${i}`);
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => l.append(rec(keys[i % 20]!, i))));
      const per = new Map<number, number[]>();
      results.forEach((r, i) => {
        assert.equal(r.partition, l.partitionFor(keys[i % 20]!));
        per.set(r.partition, [...(per.get(r.partition) ?? []), r.offset]);
      });
      assert.ok(per.size >= 2, '20 keys should spread over more than one partition');
      for (let p = 0; p < l.partitions; p++) {
        const offs = (per.get(p) ?? []).sort((a, b) => a - b);
        assert.deepEqual(offs, offs.map((_, i) => i));
        assert.equal(l.endOffset(p), offs.length);
        assert.equal(l.startOffset(p), 0);
      }
    });

    it('tells append listeners when records become readable (per partition, end offset after them); removal stops it', async () => {
      const l = log!;
      const told: { partition: number; end: number; readable: Promise<number> }[] = [];
      const off = l.onAppend((partition, end) => told.push({ partition, end, readable: l.read(partition, end - 1, 1).then((r) => r.length) }));
      const a = await l.append(rec('notify/a', 1));
      const b = await l.append(rec('notify/a', 2));
      const hit = told.filter((x) => x.partition === a.partition);
      assert.equal(hit[hit.length - 1]!.end, b.offset + 1, 'end offset after the last record');
      assert.ok(hit.some((x) => x.end === a.offset + 1), 'told about the first append too');
      for (const x of told) assert.equal(await x.readable, 1, 'the record is readable when the listener runs');
      off();
      const n = told.length;
      await l.append(rec('notify/a', 3));
      assert.equal(told.length, n, 'a removed listener is not called');
    });

    it('keeps per-key order and reads back exactly what was appended', async () => {
      const l = log!;
      const inputs = Array.from({ length: 300 }, (_, i) => rec('same/key', i));
      const res = await Promise.all(inputs.map((x) => l.append(x)));
      for (let i = 1; i < res.length; i++) assert.ok(res[i]!.offset > res[i - 1]!.offset);
      const got = await readAll(l, res[0]!.partition);
      assert.equal(got.length, 300);
      got.forEach((r, i) => {
        assert.equal(r.offset, res[i]!.offset);
        assert.equal(r.partition, res[i]!.partition);
        assert.equal(r.key, 'same/key');
        assert.equal(r.timestamp, inputs[i]!.timestamp);
        assert.deepEqual(Buffer.from(r.headers), inputs[i]!.headers);
        assert.deepEqual(Buffer.from(r.value), inputs[i]!.value);
      });
    });

    it('reads from the middle, honours maxRecords and maxBytes, and gives [] at the end', async () => {
      const l = log!;
      const res = await Promise.all(Array.from({ length: 120 }, (_, i) => l.append(rec('mid', i))));
      const p = res[0]!.partition;
      const mid = await l.read(p, 50, 10);
      assert.deepEqual(mid.map((r) => r.offset), Array.from({ length: 10 }, (_, i) => 50 + i));
      assert.equal(mid[0]!.value.toString(), 'value-mid-50');
      const one = await l.read(p, 7, 100, 1);
      assert.equal(one.length, 1, 'maxBytes smaller than a record still returns one record');
      assert.equal(one[0]!.offset, 7);
      const some = await l.read(p, 0, 1000, 1000);
      assert.ok(some.length > 1 && some.length < 120, `about 1000 bytes: got ${some.length} records`);
      assert.deepEqual(await l.read(p, 120, 10), []);
      assert.deepEqual(await l.read(p, 10_000, 10), []);
      assert.deepEqual(await l.read(p, 0, 0), []);
    });

    it('finds offsets by time', async () => {
      const l = log!;
      const res: { partition: number; offset: number }[] = [];
      for (let i = 0; i < 100; i++) res.push(await l.append(rec('time', i, 10_000 + i * 1000)));
      const p = res[0]!.partition;
      assert.equal(await l.offsetForTime(p, 0), 0);
      assert.equal(await l.offsetForTime(p, 10_000), 0);
      assert.equal(await l.offsetForTime(p, 10_001), 1);
      assert.equal(await l.offsetForTime(p, 55_500), 46);
      assert.equal(await l.offsetForTime(p, 109_000), 99);
      assert.equal(await l.offsetForTime(p, 109_001), l.endOffset(p));
    });

    it('rolls segments and applies size retention without losing the offsets it keeps', async () => {
      const l = log!;
      const big = Buffer.alloc(1000, 1);
      let last = { partition: 0, offset: 0 };
      for (let i = 0; i < 300; i++) last = await l.append({ key: 'retain', timestamp: Date.now(), headers: Buffer.alloc(0), value: big });
      const p = last.partition;
      assert.equal(l.endOffset(p), 300);
      const deadline = Date.now() + 5000;
      while (l.startOffset(p) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const start = l.startOffset(p);
      assert.ok(start > 0 && start < 300, `retention moved the start: ${start}`);
      const st = l.stats().find((s) => s.partition === p)!;
      assert.equal(st.startOffset, start);
      assert.equal(st.endOffset, 300);
      assert.ok(st.bytes < 300 * 1000, `bytes kept ${st.bytes}`);
      const fromZero = await l.read(p, 0, 5);
      assert.equal(fromZero[0]!.offset, start, 'reading below the start starts at the start');
      const rest = await readAll(l, p, start);
      assert.deepEqual(rest.map((r) => r.offset), Array.from({ length: 300 - start }, (_, i) => start + i));
      assert.equal(await l.offsetForTime(p, 0), start);
    });

    it('reopen keeps every record and continues the offsets', async () => {
      const l = log!;
      const res = await Promise.all(Array.from({ length: 150 }, (_, i) => l.append(rec(`k/${i % 5}`, i))));
      await l.close();
      log = await open(dir);
      const l2 = log;
      for (let p = 0; p < l2.partitions; p++) {
        const mine = res.filter((r) => r.partition === p);
        assert.equal(l2.endOffset(p), mine.length);
        const got = await readAll(l2, p);
        assert.equal(got.length, mine.length);
      }
      const again = await l2.append(rec('k/0', 999));
      assert.equal(again.offset, res.filter((r) => r.partition === again.partition).length);
      const back = await l2.read(again.partition, again.offset, 1);
      assert.equal(back[0]!.value.toString(), 'value-k/0-999');
    });

    it('resolves many concurrent appends with distinct offsets', async () => {
      const l = log!;
      const res = await Promise.all(Array.from({ length: 2000 }, (_, i) => l.append(rec(`c/${i % 37}`, i))));
      const seen = new Set(res.map((r) => `${r.partition}:${r.offset}`));
      assert.equal(seen.size, 2000);
      let total = 0;
      for (let p = 0; p < l.partitions; p++) total += l.endOffset(p);
      assert.equal(total, 2000);
    });
  });
}
