// bytesSince of the local file log (sessions.maxLag.bytes): stored bytes from an offset to the end, across segments, exact to one index interval. Imports src/log only.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLog } from '../../src/log/log.ts';

describe('PartitionedLog.bytesSince', () => {
  it('is the stored size from an offset to the end, non-increasing, within one index interval, 0 at the end', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bytes-since-'));
    const log = await openLog({
      dir, partitions: 1, segmentBytes: 4096, segmentMs: 3_600_000, retentionBytes: -1, retentionMs: -1,
      indexIntervalBytes: 256, flush: { mode: 'never' }, maxRecordBytes: 64 * 1024,
    });
    try {
      const n = 200;
      for (let i = 0; i < n; i++) await log.append({ key: 'k', timestamp: i, headers: Buffer.alloc(0), value: Buffer.alloc(100, i) });
      assert.ok(log.stats()[0]!.segments.length > 3, 'several segments');
      const total = log.stats()[0]!.bytes;
      assert.equal(log.bytesSince(0, 0), total);
      assert.equal(log.bytesSince(0, n), 0);
      const per = total / n; // equal records: every record takes the same bytes
      let prev = Infinity;
      for (let o = 0; o < n; o += 7) {
        const b = log.bytesSince(0, o);
        assert.ok(b <= prev, `non-increasing at ${o}`);
        prev = b;
        const exact = (n - o) * per;
        assert.ok(b >= exact && b <= exact + 256 + per, `offset ${o}: ${b} vs exact ${exact}`);
      }
    } finally {
      await log.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
