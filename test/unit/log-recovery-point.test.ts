// Recovery-point tests of the local file log: clean reopen reads no segment, a crash after a checkpoint scans only the tail, lying hints fall back to the full scan. Imports src/log.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, readdir, readFile, writeFile, stat, unlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLog } from '../../src/log/log.ts';
import { nodeFileIO, type FileIO } from '../../src/log/fileio.ts';
import type { FlushPolicy, LogConfig, LogEvents, PartitionedLog } from '../../src/log/types.ts';

let root = '';
let dir = '';
const cfg = (flush: FlushPolicy = { mode: 'always' }): LogConfig => ({ dir, partitions: 1, segmentBytes: 8 << 20, segmentMs: 3_600_000, retentionBytes: -1,
  retentionMs: -1, indexIntervalBytes: 4096, flush, maxRecordBytes: 1 << 20, checkpointIntervalMs: 0 });
const value = (i: number) => Buffer.alloc(1000, i & 0xff);
const p0 = (f: string) => join(dir, '0', f);
const LOG = '00000000000000000000.log';

/** Counts bytes read from `.log` files. */
function countingIO(): FileIO & { logBytesRead: number } {
  const io = {
    logBytesRead: 0,
    async open(path: string, flags: 'r' | 'r+' | 'w+' | 'wx+') {
      const f = await nodeFileIO.open(path, flags);
      const isLog = path.endsWith('.log');
      return { writeAll: f.writeAll.bind(f), sync: f.sync.bind(f), truncate: f.truncate.bind(f), size: f.size.bind(f), close: f.close.bind(f),
        read: async (b: Buffer, o: number, l: number, pos: number) => { const n = await f.read(b, o, l, pos); if (isLog) io.logBytesRead += n; return n; } };
    },
  };
  return io;
}

function events(): LogEvents & { infos: Record<string, unknown>[]; warns: Record<string, unknown>[] } {
  const infos: Record<string, unknown>[] = [], warns: Record<string, unknown>[] = [];
  return { infos, warns, info(o) { infos.push(o as Record<string, unknown>); }, warn(o) { warns.push(o as Record<string, unknown>); } };
}

async function appendRange(log: PartitionedLog, from: number, to: number): Promise<void> {
  const res = await Promise.all(Array.from({ length: to - from }, (_, k) => log.append({ key: 'k', timestamp: 1000 + from + k, headers: Buffer.alloc(0), value: value(from + k) })));
  assert.deepEqual(res.map((r) => r.offset), Array.from({ length: to - from }, (_, k) => from + k));
}

/** Every record below `upto` reads back; time lookups work; the next append gets `upto`. */
async function checkIntact(log: PartitionedLog, upto: number): Promise<void> {
  assert.equal(log.endOffset(0), upto);
  let next = 0;
  for (let round = 0; round < 10_000 && next < upto; round++) {
    const got = await log.read(0, next, 500);
    for (const r of got) { assert.equal(r.offset, next); assert.deepEqual(Buffer.from(r.value), value(next)); assert.equal(r.timestamp, 1000 + next); next++; }
  }
  assert.equal(next, upto);
  assert.equal(await log.offsetForTime(0, 1000 + upto - 7), upto - 7);
  assert.equal(await log.offsetForTime(0, 1000 + Math.floor(upto / 3)), Math.floor(upto / 3));
  assert.equal((await log.append({ key: 'k', timestamp: 1000 + upto, headers: Buffer.alloc(0), value: value(upto) })).offset, upto);
}

describe('log recovery points', () => {
  beforeEach(async () => { root = dir = await mkdtemp(join(tmpdir(), 'log-rp-')); });
  afterEach(async () => { await rm(root, { recursive: true, force: true }); });

  it('clean reopen reads only the records after the last index entry, not the segment', async () => {
    const log = await openLog(cfg());
    await appendRange(log, 0, 4000);
    await log.close();
    const segBytes = (await stat(p0(LOG))).size;
    assert.ok(segBytes > 4_000_000);
    assert.ok(existsSync(p0('.clean')));
    const io = countingIO(), ev = events();
    const again = await openLog(cfg(), ev, { io });
    assert.ok(io.logBytesRead <= 4096 + 2 * 1040, `read ${io.logBytesRead} of ${segBytes} bytes`);
    assert.equal(ev.infos[0]!.via, 'clean');
    assert.equal(ev.warns.length, 0);
    await checkIntact(again, 4000);
    assert.equal(existsSync(p0('.clean')), false, 'the first write removed the marker: a crash now scans');
    await again.close();
    assert.ok(existsSync(p0('.clean')));
    const third = await openLog(cfg());
    await checkIntact(third, 4001);
    await third.close();
  });

  it('a read-only open and close changes no file', async () => {
    const log = await openLog(cfg());
    await appendRange(log, 0, 300);
    await log.close();
    const snap = async () => Promise.all((await readdir(join(dir, '0'))).sort().map(async (f) => { const s = await stat(p0(f)); return `${f} ${s.size} ${s.mtimeMs}`; }));
    const before = await snap();
    await new Promise((r) => setTimeout(r, 20));
    const again = await openLog(cfg());
    assert.equal((await again.read(0, 299, 1))[0]!.offset, 299);
    await again.close();
    assert.deepEqual(await snap(), before);
  });

  it('crash reopen after a checkpoint scans only the tail written after it', async () => {
    const log = await openLog(cfg({ mode: 'always' })); // checkpoint after every fsync (checkpointIntervalMs 0)
    await appendRange(log, 0, 3000);
    await log.close();
    const covered = (await stat(p0(LOG))).size;
    const noSync = await openLog(cfg({ mode: 'never' })); // no fsync until close: no checkpoint
    await appendRange(noSync, 3000, 4000);
    const crashed = join(dir, 'crashed');
    await cp(join(dir, '0'), join(crashed, '0'), { recursive: true }); // the files as a kill -9 now would leave them
    await cp(join(dir, 'meta.json'), join(crashed, 'meta.json'));
    await noSync.close();
    dir = crashed;
    assert.equal(existsSync(p0('.clean')), false);
    const tail = (await stat(p0(LOG))).size - covered;
    const io = countingIO(), ev = events();
    const again = await openLog(cfg(), ev, { io });
    assert.equal(ev.infos[0]!.via, 'checkpoint');
    assert.ok(io.logBytesRead >= tail && io.logBytesRead <= tail + 4096 + 2 * 1040, `read ${io.logBytesRead}, tail ${tail}`);
    await checkIntact(again, 4000);
    await again.close();
  });

  it('a checkpoint still lets recovery cut a torn tail after it', async () => {
    const log = await openLog(cfg());
    await appendRange(log, 0, 2000);
    await log.close();
    await unlink(p0('.clean'));
    const buf = await readFile(p0(LOG));
    await writeFile(p0(LOG), Buffer.concat([buf, buf.subarray(0, 500)])); // a torn half record after the fsynced data
    const ev = events();
    const again = await openLog(cfg(), ev);
    assert.equal(ev.infos[0]!.via, 'checkpoint');
    assert.equal(ev.warns[0]!.cutBytes, 500);
    await checkIntact(again, 2000);
    await again.close();
  });

  for (const [name, damage] of [
    ['a marker whose size does not match the file', async () => {
      await unlink(p0('.recovery-point'));
      const m = JSON.parse(await readFile(p0('.clean'), 'utf8')) as { bytes: number };
      await writeFile(p0('.clean'), JSON.stringify({ ...m, bytes: m.bytes - 1040 }));
    }],
    ['a marker that lies about the next offset', async () => {
      await unlink(p0('.recovery-point'));
      const m = JSON.parse(await readFile(p0('.clean'), 'utf8')) as { nextOffset: number };
      await writeFile(p0('.clean'), JSON.stringify({ ...m, nextOffset: m.nextOffset + 5 }));
    }],
    ['a garbage marker', async () => { await unlink(p0('.recovery-point')); await writeFile(p0('.clean'), 'not json'); }],
    ['a checkpoint with a flipped byte and no marker', async () => {
      await unlink(p0('.clean'));
      const b = await readFile(p0('.recovery-point')); b[20] = b[20]! ^ 1; await writeFile(p0('.recovery-point'), b);
    }],
    ['a checkpoint whose index prefix changed', async () => {
      await unlink(p0('.clean'));
      const b = await readFile(p0('00000000000000000000.index')); b[5] = b[5]! ^ 1; await writeFile(p0('00000000000000000000.index'), b);
    }],
    ['a checkpoint past the end of a truncated file', async () => {
      await unlink(p0('.clean'));
      await writeFile(p0(LOG), (await readFile(p0(LOG))).subarray(0, 1040 * 1000));
    }],
  ] as const) {
    it(`falls back to the full scan with ${name}`, async () => {
      const log = await openLog(cfg());
      await appendRange(log, 0, 2000);
      await log.close();
      await damage();
      const size = (await stat(p0(LOG))).size;
      const io = countingIO(), ev = events();
      const again = await openLog(cfg(), ev, { io });
      assert.equal(ev.infos[0]!.via, 'scan');
      assert.ok(io.logBytesRead >= size, `read ${io.logBytesRead} of ${size}`);
      const end = again.endOffset(0);
      assert.ok(end === 2000 || (name.includes('truncated') && end < 2000 && end > 900), `end ${end}`);
      await checkIntact(again, end);
      await again.close();
    });
  }
});
