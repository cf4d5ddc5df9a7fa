// The local storage backend: src/log's partitioned file log (<dir>/log) + compacted key/value file (<dir>/state) as one core StorageBackend. Imports src/log and core persistence types.
//
// It is the only place that assembles src/log for the broker (gateway.ts openStore calls it); the contract it
// meets is src/core/persistence.ts StorageBackend, checked by test/contract/backend.contract.ts under every
// flush policy (test/unit/backend-contract.test.ts).
import { join } from 'node:path';
import type { StorageBackend } from '../core/persistence.ts';
import { nodeFileIO, openKeyValueStore, openLog, type FileIO, type OpenLogOptions } from '../log/index.ts';
import type { KeyValueStore, LogConfig, LogEvents, PartitionedLog } from '../log/types.ts';

export interface LocalBackendOptions {
  /** The data directory: the log goes in <dir>/log, the state store in <dir>/state. */
  dir: string;
  /** The log's settings, except its directory. The key/value store uses the same flush policy. */
  log: Omit<LogConfig, 'dir'>;
  /** Where the log and the store report recoveries (pino child in the gateway). */
  events?: LogEvents;
  /** File access for the log (the gateway passes a timed one). */
  io?: FileIO;
  /** Wraps the opened log (the gateway times appends with it). */
  wrapLog?: (log: PartitionedLog) => PartitionedLog;
}

/** A StorageBackend whose handles keep their local types (stats, flush, compact) for src/server's metrics and views. */
export interface LocalBackend extends StorageBackend {
  readonly log: PartitionedLog;
  readonly state: KeyValueStore;
}

export async function openLocalBackend(opts: LocalBackendOptions): Promise<LocalBackend> {
  const logOpts: OpenLogOptions = { io: opts.io ?? nodeFileIO };
  const opened = await openLog({ ...opts.log, dir: join(opts.dir, 'log') }, opts.events, logOpts);
  let state: KeyValueStore;
  try {
    state = await openKeyValueStore(join(opts.dir, 'state'), opts.log.flush, opts.events ? { logger: opts.events } : {});
  } catch (err) {
    await opened.close().catch(() => undefined);
    throw err;
  }
  const log = opts.wrapLog ? opts.wrapLog(opened) : opened;
  let closing: Promise<void> | undefined;
  return {
    log,
    state,
    close(): Promise<void> {
      // The log, then the state store (as before the backend existed); both are closed even when the first fails, and the first error is reported.
      closing ??= (async () => {
        let first: unknown;
        await log.close().catch((err: unknown) => (first = err));
        await state.close().catch((err: unknown) => (first ??= err));
        if (first !== undefined) throw first;
      })();
      return closing;
    },
  };
}
