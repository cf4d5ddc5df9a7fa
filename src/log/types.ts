// Public types of the storage layer (partitioned log + compacted key/value store). Imports nothing.

/**
 * When an append is acknowledged:
 * - 'always': after an fsync that covers it (group commit: one fsync covers every append that arrived while the previous one ran);
 * - 'interval': after the OS write completed; a timer fsyncs every intervalMs;
 * - 'never': after the OS write completed; the OS decides when to flush.
 */
export type FlushPolicy = { mode: 'always' } | { mode: 'interval'; intervalMs: number } | { mode: 'never' };

export interface LogConfig {
  dir: string;
  /** Fixed at creation; stored in `<dir>/meta.json`; reopening with another count is an error. */
  partitions: number;
  /** Roll the active segment when the next batch would make it larger than this. */
  segmentBytes: number;
  /** Roll the active segment when its first record is older than this (wall clock). */
  segmentMs: number;
  /** Per partition, -1 = unlimited. Whole sealed segments are deleted, oldest first. */
  retentionBytes: number;
  /** -1 = unlimited. A sealed segment is deleted when its newest timestamp is older than this. */
  retentionMs: number;
  /** Sparse index: one offset/time index entry per about this many bytes of records. */
  indexIntervalBytes: number;
  flush: FlushPolicy;
  /** Largest encoded record (header + key + headers + value) accepted by append. */
  maxRecordBytes: number;
  /** At most one recovery checkpoint (after an fsync) per partition per this many ms; default 1000. 0 = after every fsync. */
  checkpointIntervalMs?: number;
}

export interface AppendInput { key: string; timestamp: number; headers: Buffer; value: Buffer }
export interface LogRecord extends AppendInput { partition: number; offset: number }

/**
 * Told that records of `partition` became readable: their batch was written (under flush 'always': and fsynced),
 * so read() returns them; `endOffset` is the offset after the last of them. Called synchronously when the write
 * completes, in offset order per partition, never for a failed write. A listener must not throw (errors are ignored).
 */
export type AppendListener = (partition: number, endOffset: number) => void;

export interface SegmentStats { baseOffset: number; bytes: number }
export interface PartitionStats { partition: number; segments: SegmentStats[]; startOffset: number; endOffset: number; bytes: number }

export interface PartitionedLog {
  readonly partitions: number;
  /** FNV-1a 32-bit hash of the key's UTF-8 bytes modulo partitions: one key (topic) keeps one partition. */
  partitionFor(key: string): number;
  /**
   * Resolves with the offset when the record is durable under the flush policy (see FlushPolicy).
   * Rejects with a sticky error after any failed write or fsync: every later append rejects with the same error until reopen.
   * Rejects (without poisoning the log) when the encoded record exceeds maxRecordBytes.
   */
  append(input: AppendInput): Promise<{ partition: number; offset: number }>;
  /** Records of one partition from `offset` (inclusive), at most maxRecords / about maxBytes (always at least one record if any).
   *  Offsets below the start (deleted by retention) start at the log start; offsets at or past the end give []. */
  read(partition: number, offset: number, maxRecords: number, maxBytes?: number): Promise<LogRecord[]>;
  /** First offset whose timestamp >= ts (time index), or the end offset. */
  offsetForTime(partition: number, ts: number): Promise<number>;
  startOffset(partition: number): number;
  /** Next offset to be written (offsets are assigned at append call time). */
  endOffset(partition: number): number;
  stats(): PartitionStats[];
  /** Stored bytes of partition p from `offset` to its end, exact to one index interval (0 at or past the end). */
  bytesSince(partition: number, offset: number): number;
  /** Registers an append listener (see AppendListener); returns the function that removes it. Readers sleep on this instead of polling. */
  onAppend(listener: AppendListener): () => void;
  /** fsync every partition (after the writes queued before the call). */
  flush(): Promise<void>;
  /** Waits for queued appends, fsyncs, closes files. Later calls reject. */
  close(): Promise<void>;
}

export interface KeyValueStore {
  /** Served from memory after open; reflects every put/delete already called (even before it resolves). */
  get(key: string): Buffer | undefined;
  /** Durable under the flush policy when it resolves. */
  put(key: string, value: Buffer): Promise<void>;
  /** Writes a tombstone. */
  delete(key: string): Promise<void>;
  /** Live entries (no particular order), optionally only keys starting with prefix. */
  entries(prefix?: string): IterableIterator<[string, Buffer]>;
  /** Rewrite keeping the last value per key, drop tombstones; also runs automatically when dead bytes dominate. */
  compact(): Promise<void>;
  close(): Promise<void>;
}

/** pino-compatible sink; recovery reports what it cut through warn. */
export interface LogEvents { info(obj: object, msg: string): void; warn(obj: object, msg: string): void }
