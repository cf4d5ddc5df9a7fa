// Recovery, sticky-error and limit tests of the local file log (damage files on disk, reopen, check). Imports src/log.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir, appendFile, truncate, stat, readFile, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLog } from '../../src/log/log.ts';
import { nodeFileIO, type FileIO } from '../../src/log/fileio.ts';
import type { LogConfig, LogEvents, PartitionedLog } from '../../src/log/types.ts';

const N = 200;
let dir = '';
const cfg = (): LogConfig => ({ dir, partitions: 1, segmentBytes: 4096, segmentMs: 3_600_000, retentionBytes: -1, retentionMs: -1,
  indexIntervalBytes: 200, flush: { mode: 'always' }, maxRecordBytes: 2048 });
const value = (i: number) => Buffer.from(`payload-${i}-`.padEnd(40, 'x'));

function recorder(): LogEvents & { warns: { obj: object; msg: string }[] } {
  const warns: { obj: object; msg: string }[] = [];
  return { warns, info() {}, warn(obj, msg) { warns.push({ obj, msg }); } };
}

async function writeN(): Promise<void> {
  const log = await openLog(cfg());
  await Promise.all(Array.from({ length: N }, (_, i) => log.append({ key: 'k', timestamp: 1000 + i, headers: Buffer.from([i & 255]), value: value(i) })));
  await log.close();
}

async function segFiles(ext: string): Promise<string[]> {
  return (await readdir(join(dir, '0'))).filter((f) => f.endsWith(ext)).sort().map((f) => join(dir, '0', f));
}

/** Every offset below `upto` reads back exactly; the next append gets offset `upto`. */
async function checkIntact(log: PartitionedLog, upto: number): Promise<void> {
  assert.equal(log.endOffset(0), upto);
  for (let off = 0; off < upto; off += 17) {
    const got = await log.read(0, off, 20);
    assert.ok(got.length > 0);
    for (const r of got) {
      assert.deepEqual(Buffer.from(r.value), value(r.offset));
      assert.equal(r.timestamp, 1000 + r.offset);
      assert.deepEqual(Buffer.from(r.headers), Buffer.from([r.offset & 255]));
    }
  }
  const all = [];
  for (let next = 0, round = 0; next < upto && round < 1000; round++) {
    const got = await log.read(0, next, 50);
    all.push(...got.map((r) => r.offset));
    next = got.length ? got[got.length - 1]!.offset + 1 : upto;
  }
  assert.deepEqual(all, Array.from({ length: upto }, (_, i) => i));
  assert.equal(await log.offsetForTime(0, 1000 + Math.floor(upto / 2)), Math.floor(upto / 2));
  const next = await log.append({ key: 'k', timestamp: 1000 + upto, headers: Buffer.from([upto & 255]), value: value(upto) });
  assert.equal(next.offset, upto);
  const back = await log.read(0, upto, 1);
  assert.deepEqual(Buffer.from(back[0]!.value), value(upto));
}

describe('log recovery', () => {
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'log-recovery-')); await writeN(); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('has several segments to damage', async () => {
    assert.ok((await segFiles('.log')).length >= 3);
  });

  it('(a) cuts garbage appended to the tail segment', async () => {
    const tail = (await segFiles('.log')).at(-1)!;
    const before = (await stat(tail)).size;
    await appendFile(tail, Buffer.from('this is not a record at all, just garbage bytes'));
    const ev = recorder();
    const log = await openLog(cfg(), ev);
    assert.equal(ev.warns.length, 1);
    assert.match(ev.warns[0]!.msg, /truncated/);
    assert.equal((ev.warns[0]!.obj as { cutBytes: number }).cutBytes, 47);
    assert.equal((await stat(tail)).size, before);
    await checkIntact(log, N);
    await log.close();
  });

  it('(b) cuts a record torn in the middle', async () => {
    const tail = (await segFiles('.log')).at(-1)!;
    await truncate(tail, (await stat(tail)).size - 10);
    const ev = recorder();
    const log = await openLog(cfg(), ev);
    assert.equal(ev.warns.length, 1);
    assert.equal((ev.warns[0]!.obj as { reason: string }).reason, 'short');
    await checkIntact(log, N - 1);
    await log.close();
  });

  it('(c) rebuilds deleted and corrupt index files', async () => {
    const idx = await segFiles('.index');
    const tidx = await segFiles('.timeindex');
    assert.ok(idx.length >= 2);
    await unlink(idx[0]!);
    await writeFile(idx[1]!, Buffer.from('garbage!!'));
    await unlink(tidx[tidx.length - 1]!);
    const log = await openLog(cfg());
    assert.equal((await readFile(idx[1]!)).length % 8, 0, 'rewritten');
    await checkIntact(log, N);
    await log.close();
  });

  it('(d) cuts a last record with a flipped byte', async () => {
    const tail = (await segFiles('.log')).at(-1)!;
    const buf = await readFile(tail);
    buf[buf.length - 3] = buf[buf.length - 3]! ^ 0xff;
    await writeFile(tail, buf);
    const ev = recorder();
    const log = await openLog(cfg(), ev);
    assert.equal((ev.warns[0]!.obj as { reason: string }).reason, 'crc');
    await checkIntact(log, N - 1);
    await log.close();
  });
});

describe('log limits and errors', () => {
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'log-errors-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('rejects records over maxRecordBytes with the limit in the message, and keeps working', async () => {
    const log = await openLog(cfg());
    await assert.rejects(log.append({ key: 'k', timestamp: 1, headers: Buffer.alloc(0), value: Buffer.alloc(5000) }), /maxRecordBytes \(2048\)/);
    assert.equal((await log.append({ key: 'k', timestamp: 1, headers: Buffer.alloc(0), value: Buffer.alloc(10) })).offset, 0);
    await log.close();
  });

  it('refuses to reopen with another partition count', async () => {
    await (await openLog(cfg())).close();
    await assert.rejects(openLog({ ...cfg(), partitions: 2 }), /1 partitions; config asks for 2/);
  });

  it('makes a failed write sticky until reopen', async () => {
    let failWrites = false;
    const io: FileIO = {
      async open(path, flags) {
        const f = await nodeFileIO.open(path, flags);
        return { ...f, read: f.read.bind(f), sync: f.sync.bind(f), truncate: f.truncate.bind(f), size: f.size.bind(f), close: f.close.bind(f),
          writeAll: (b: Buffer, pos: number) => (failWrites ? Promise.reject(Object.assign(new Error('EIO: injected'), { code: 'EIO' })) : f.writeAll(b, pos)) };
      },
    };
    const log = await openLog({ ...cfg(), partitions: 2 }, undefined, { io });
    await log.append({ key: 'a', timestamp: 1, headers: Buffer.alloc(0), value: Buffer.from('ok') });
    failWrites = true;
    const e1 = await log.append({ key: 'a', timestamp: 2, headers: Buffer.alloc(0), value: Buffer.from('x') }).then(() => undefined, (e: unknown) => e);
    assert.match(String(e1), /EIO: injected/);
    failWrites = false;
    for (const key of ['a', 'b', 'c', 'd']) {
      const e2 = await log.append({ key, timestamp: 3, headers: Buffer.alloc(0), value: Buffer.from('y') }).then(() => undefined, (e: unknown) => e);
      assert.equal(e2, e1, `append on ${key} rejects with the same error`);
    }
    await log.close();
    const reopened = await openLog({ ...cfg(), partitions: 2 });
    const p = reopened.partitionFor('a');
    assert.equal(reopened.endOffset(p), 1);
    assert.equal((await reopened.append({ key: 'a', timestamp: 4, headers: Buffer.alloc(0), value: Buffer.from('z') })).offset, 1);
    await reopened.close();
  });
});
