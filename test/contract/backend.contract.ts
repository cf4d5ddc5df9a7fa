// Contract suite for a core StorageBackend (src/core/persistence.ts): one body run against every backend (local files now, NATS JetStream later). Imports core persistence types only.
//
// What `open(dir)` must give: a backend with at least 2 log partitions and no retention that would delete the
// few hundred small records a test writes. Calling open again with the same dir reopens the same data.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StorageBackend } from '../../src/core/persistence.ts';

type Rec = { key: string; timestamp: number; headers: Buffer; value: Buffer };
const rec = (key: string, i: number, timestamp = 1_000_000 + i): Rec => ({ key, timestamp, headers: Buffer.from(`h${i}`), value: Buffer.from(`v-${key}-${i}`) });

/** Every record of partition p from `from`, bounded in rounds. */
async function readAll(b: StorageBackend, p: number, from = 0): Promise<{ key: string; offset: number; value: Buffer; timestamp: number }[]> {
  const out: { key: string; offset: number; value: Buffer; timestamp: number }[] = [];
  let next = from;
  for (let round = 0; round < 10_000 && next < b.log.endOffset(p); round++) {
    const got = await b.log.read(p, next, 64);
    if (got.length === 0) break;
    out.push(...got.map((r) => ({ key: r.key, offset: r.offset, value: Buffer.from(r.value), timestamp: r.timestamp })));
    next = got[got.length - 1]!.offset + 1;
  }
  return out;
}

export function backendContract(name: string, open: (dir: string) => Promise<StorageBackend>): void {
  describe(`StorageBackend contract: ${name}`, () => {
    let dir = '';
    let b: StorageBackend | undefined;
    beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'backend-contract-')); b = await open(dir); });
    afterEach(async () => { await b?.close().catch(() => undefined); b = undefined; await rm(dir, { recursive: true, force: true }); });

    it('appends to the key\'s partition with dense offsets, in call order per key, read back byte for byte', async () => {
      const s = b!;
      assert.ok(s.log.partitions >= 2);
      const keys = ['a/1', 'a/2', 'b/1', 'c/9', 'd'];
      const inputs = Array.from({ length: 100 }, (_, i) => rec(keys[i % keys.length]!, i));
      const res = await Promise.all(inputs.map((x) => s.log.append(x)));
      res.forEach((r, i) => assert.equal(r.partition, s.log.partitionFor(inputs[i]!.key)));
      for (let p = 0; p < s.log.partitions; p++) {
        const mine = res.map((r, i) => ({ r, i })).filter((x) => x.r.partition === p);
        assert.deepEqual(mine.map((x) => x.r.offset), mine.map((_, j) => j), `partition ${p}: offsets 0.. in call order`);
        assert.equal(s.log.startOffset(p), 0);
        assert.equal(s.log.endOffset(p), mine.length);
        const got = await readAll(s, p);
        assert.deepEqual(got.map((g) => g.value.toString()), mine.map((x) => inputs[x.i]!.value.toString()));
      }
      const p0 = res[0]!.partition;
      assert.deepEqual(await s.log.read(p0, s.log.endOffset(p0), 10), [], 'nothing at the end');
      assert.equal((await s.log.read(p0, 0, 100, 1)).length, 1, 'maxBytes below one record still gives one');
    });

    it('finds offsets by time within a partition', async () => {
      const s = b!;
      const res: { partition: number; offset: number }[] = [];
      for (let i = 0; i < 40; i++) res.push(await s.log.append(rec('time/x', i, 50_000 + i * 100)));
      const p = res[0]!.partition;
      assert.equal(await s.log.offsetForTime(p, 0), 0);
      assert.equal(await s.log.offsetForTime(p, 50_000), 0);
      assert.equal(await s.log.offsetForTime(p, 50_001), 1);
      assert.equal(await s.log.offsetForTime(p, 52_050), 21);
      assert.equal(await s.log.offsetForTime(p, 60_000), s.log.endOffset(p));
    });

    it('wakes append listeners once the record is readable; a removed listener is not called', async () => {
      const s = b!;
      const told: Promise<{ partition: number; end: number; got: number }>[] = [];
      const off = s.log.onAppend((partition, end) => told.push(s.log.read(partition, end - 1, 1).then((r) => ({ partition, end, got: r.length }))));
      const a = await s.log.append(rec('wake/a', 1));
      const c = await s.log.append(rec('wake/a', 2));
      const seen = await Promise.all(told);
      const mine = seen.filter((x) => x.partition === a.partition);
      assert.ok(mine.some((x) => x.end === c.offset + 1), 'told the end after the last append');
      for (const x of seen) assert.equal(x.got, 1, 'readable when the listener runs');
      // A reader sleeping on the notification wakes for a later append (no polling).
      const woke = new Promise<number>((resolve) => {
        const stop = s.log.onAppend((partition, end) => { if (partition === a.partition) { stop(); resolve(end); } });
      });
      const d = await s.log.append(rec('wake/a', 3));
      assert.equal(await Promise.race([woke, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no append notification within 5 s')), 5000).unref())]), d.offset + 1);
      off();
      const n = told.length;
      await s.log.append(rec('wake/a', 4));
      assert.equal(told.length, n);
    });

    it('key/value: last write wins at once, copies, deletes, prefix listing, call order', async () => {
      const s = b!.state;
      const v = Buffer.from('one');
      const w = [s.put('x/a', v), s.put('x/a', Buffer.from('two')), s.put('x/b', Buffer.alloc(0)), s.put('y/a', Buffer.from('y'))];
      v[0] = 0x7a;
      assert.equal(s.get('x/a')?.toString(), 'two', 'visible before the write resolves');
      await Promise.all(w);
      assert.equal(s.get('x/b')?.length, 0);
      await s.delete('x/b');
      await s.delete('never');
      assert.equal(s.get('x/b'), undefined);
      assert.deepEqual([...s.entries('x/')].map(([k, val]) => `${k}=${val.toString()}`), ['x/a=two']);
      assert.equal([...s.entries()].length, 2);
      const ops: Promise<void>[] = [];
      for (let i = 0; i < 60; i++) ops.push(i % 5 === 4 ? s.delete(`o/${i % 7}`) : s.put(`o/${i % 7}`, Buffer.from(String(i))));
      await Promise.all(ops);
      const want = new Map<string, string>();
      for (let i = 0; i < 60; i++) { if (i % 5 === 4) want.delete(`o/${i % 7}`); else want.set(`o/${i % 7}`, String(i)); }
      assert.deepEqual(new Map([...s.entries('o/')].map(([k, val]) => [k, val.toString()])), want);
    });

    it('keeps every acknowledged append and put across close and reopen, and continues the offsets', async () => {
      let s = b!;
      const res = await Promise.all(Array.from({ length: 60 }, (_, i) => s.log.append(rec(`k/${i % 4}`, i))));
      await s.state.put('cursor/a', Buffer.from('17'));
      await s.state.put('cursor/b', Buffer.from('3'));
      await s.state.delete('cursor/b');
      await s.close();
      b = s = await open(dir);
      for (let p = 0; p < s.log.partitions; p++) {
        assert.equal(s.log.endOffset(p), res.filter((r) => r.partition === p).length);
        assert.equal((await readAll(s, p)).length, s.log.endOffset(p));
      }
      assert.equal(s.state.get('cursor/a')?.toString(), '17');
      assert.equal(s.state.get('cursor/b'), undefined);
      const again = await s.log.append(rec('k/0', 99));
      assert.equal(again.offset, res.filter((r) => r.partition === again.partition).length);
      assert.equal((await s.log.read(again.partition, again.offset, 1))[0]!.value.toString(), 'v-k/0-99');
    });

    it('refuses writes after close; close again resolves', async () => {
      const s = b!;
      await s.log.append(rec('c', 1));
      await s.close();
      await assert.rejects(s.log.append(rec('c', 2)));
      await assert.rejects(s.state.put('k', Buffer.from('v')));
      await assert.rejects(s.state.delete('k'));
      await s.close();
      b = undefined;
    });
  });
}
