// Runs the PartitionedLog contract suite against the local file log under each flush policy. Imports the contract and src/log/log.ts.
import { logContract } from '../contract/log.contract.ts';
import { openLog } from '../../src/log/log.ts';
import type { FlushPolicy } from '../../src/log/types.ts';

const policies: FlushPolicy[] = [{ mode: 'always' }, { mode: 'interval', intervalMs: 10 }, { mode: 'never' }];
for (const flush of policies) {
  logContract(`local file log, flush ${flush.mode}`, (dir) => openLog({
    dir, partitions: 3, segmentBytes: 4096, segmentMs: 3_600_000, retentionBytes: 32 * 1024, retentionMs: -1,
    indexIntervalBytes: 256, flush, maxRecordBytes: 64 * 1024,
  }));
}
