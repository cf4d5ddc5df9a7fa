// Append throughput benchmark (not a test): N appends of 100-byte values under a flush policy. Imports ./log.ts only.
// Run: node --import tsx src/log/bench.ts [count=200000] [mode=interval|always|never] [partitions=4]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLog } from './log.ts';

const count = Number(process.argv[2] ?? 200_000);
const mode = (process.argv[3] ?? 'interval') as 'interval' | 'always' | 'never';
const partitions = Number(process.argv[4] ?? 4);
const dir = await mkdtemp(join(tmpdir(), 'log-bench-'));
const log = await openLog({
  dir, partitions, segmentBytes: 64 << 20, segmentMs: 3_600_000, retentionBytes: -1, retentionMs: -1,
  indexIntervalBytes: 4096, maxRecordBytes: 1 << 20,
  flush: mode === 'interval' ? { mode, intervalMs: 10 } : { mode },
});
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
console.log(JSON.stringify({ mode, partitions, count, ms: Math.round(ms), appendsPerSec: Math.round((count / ms) * 1000) }));
