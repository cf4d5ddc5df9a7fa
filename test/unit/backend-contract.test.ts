// Runs the StorageBackend contract against the local backend (src/server/local-backend.ts) under each flush policy. Imports the contract and the local backend.
import { backendContract } from '../contract/backend.contract.ts';
import { openLocalBackend } from '../../src/server/local-backend.ts';
import type { FlushPolicy } from '../../src/log/types.ts';

const policies: FlushPolicy[] = [{ mode: 'always' }, { mode: 'interval', intervalMs: 10 }, { mode: 'never' }];
for (const flush of policies) {
  backendContract(`local files, flush ${flush.mode}`, (dir) => openLocalBackend({
    dir,
    log: { partitions: 3, segmentBytes: 4096, segmentMs: 3_600_000, retentionBytes: -1, retentionMs: -1, indexIntervalBytes: 256, flush, maxRecordBytes: 64 * 1024 },
  }));
}
