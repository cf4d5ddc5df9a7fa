// Storage micro-benchmarks (not a test): append throughput per flush policy, CRC-32C speed, reopen time of a large log. Imports ./log.ts and ./crc32c.ts only.
// Run: node --import tsx src/log/bench.ts append [count=200000] [mode=interval|always|never] [partitions=4]
//      node --import tsx src/log/bench.ts crc [MiB=256]
//      node --import tsx src/log/bench.ts recovery [MiB=1024] [partitions=8]
//        writes MiB of 1 KiB records (64 MiB segments, flush interval 10 ms), closes, then times:
//        clean reopen; reopen after the clean markers are deleted (a crash after the last checkpoint);
//        reopen after the markers and checkpoints are deleted (full tail scan).
// Prints one JSON line per measurement.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLog } from './log.ts';
import { crc32c } from './crc32c.ts';
import type { FlushPolicy, LogConfig } from './types.ts';

const what = process.argv[2] ?? 'append';

function config(dir: string, partitions: number, flush: FlushPolicy): LogConfig {
  return { dir, partitions, segmentBytes: 64 << 20, segmentMs: 3_600_000, retentionBytes: -1, retentionMs: -1, indexIntervalBytes: 4096, maxRecordBytes: 1 << 20, flush };
}

async function append(): Promise<void> {
  const count = Number(process.argv[3] ?? 200_000);
  const mode = (process.argv[4] ?? 'interval') as 'interval' | 'always' | 'never';
  const partitions = Number(process.argv[5] ?? 4);
  const dir = await mkdtemp(join(tmpdir(), 'log-bench-'));
  const log = await openLog(config(dir, partitions, mode === 'interval' ? { mode, intervalMs: 10 } : { mode }));
  const value = Buffer.alloc(100, 7);
  const headers = Buffer.alloc(0);
  const window = 5_000; // appends in flight, like many publishers waiting for their acks
  const t0 = performance.now();
  let done = 0;
  while (done < count) {
    const n = Math.min(window, count - done);
    const batch: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) batch.push(log.append({ key: `sensors/${(done + i) % 64}/temp`, timestamp: Date.now(), headers, value }));
    await Promise.all(batch);
    done += n;
  }
  const ms = performance.now() - t0;
  await log.close();
  await rm(dir, { recursive: true, force: true });
  console.log(JSON.stringify({ bench: 'append', mode, partitions, count, ms: Math.round(ms), appendsPerSec: Math.round((count / ms) * 1000) }));
}

function crc(): void {
  const mib = Number(process.argv[3] ?? 256);
  const big = Buffer.alloc(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
  let x = 0;
  for (let i = 0; i < 16; i++) x ^= crc32c(big); // warm-up
  let t0 = performance.now();
  for (let i = 0; i < mib; i++) x ^= crc32c(big);
  const bigMs = performance.now() - t0;
  const small = big.subarray(0, 140); // a 100-byte value record
  const n = mib * 7000;
  t0 = performance.now();
  for (let i = 0; i < n; i++) x ^= crc32c(small, 8, 140);
  const smallMs = performance.now() - t0;
  console.log(JSON.stringify({ bench: 'crc32c', mbPerSec1MiB: Math.round(mib / (bigMs / 1000)), perSec132B: Math.round(n / (smallMs / 1000)), check: x >>> 0 }));
}

async function recovery(): Promise<void> {
  const mib = Number(process.argv[3] ?? 1024);
  const partitions = Number(process.argv[4] ?? 8);
  const dir = await mkdtemp(join(tmpdir(), 'log-bench-recovery-'));
  const cfg = config(dir, partitions, { mode: 'interval', intervalMs: 10 });
  let log = await openLog(cfg);
  const value = Buffer.alloc(1024, 1);
  const headers = Buffer.alloc(0);
  let written = 0, n = 0;
  const tw = performance.now();
  while (written < mib * (1 << 20)) {
    const batch: Promise<unknown>[] = [];
    for (let i = 0; i < 2000; i++, n++) { batch.push(log.append({ key: `dev/${n % 1000}/data`, timestamp: Date.now(), headers, value })); written += 1024 + 50; }
    await Promise.all(batch);
  }
  const writeMs = performance.now() - tw;
  await log.close();
  const time = async (label: string): Promise<void> => {
    const t0 = performance.now();
    log = await openLog(cfg);
    const ms = performance.now() - t0;
    let records = 0;
    for (let p = 0; p < partitions; p++) records += log.endOffset(p);
    await log.close();
    console.log(JSON.stringify({ bench: 'recovery', what: label, mib, partitions, records, openMs: Math.round(ms) }));
  };
  const removeAll = async (name: string): Promise<void> => {
    for (let p = 0; p < partitions; p++) for (const f of await readdir(join(dir, String(p)))) if (f === name) await rm(join(dir, String(p), f));
  };
  console.log(JSON.stringify({ bench: 'recovery-write', mib, records: n, writeMs: Math.round(writeMs) }));
  await time('clean reopen');
  await removeAll('.clean');
  await time('crash reopen (checkpoint, no clean marker)');
  await removeAll('.clean');
  await removeAll('.recovery-point');
  await time('crash reopen (full tail scan)');
  await rm(dir, { recursive: true, force: true });
}

if (what === 'crc') crc();
else if (what === 'recovery') await recovery();
else await append();
