// Backend consumers: read the durable log back as Messages from a start point (replay) or keep reading new appends (follow). Imports core types, topic, record codec and the append notifier only.
//
// Start points (resolved per partition, once, when a replay or follow starts):
//   'first'          the partition's start offset (the oldest record retention kept)
//   'last'           the partition's last record and everything after it (an empty partition: its end)
//   'next'           the partition's end offset: only records appended from now on
//   { offset: N }    offset N in EVERY partition (offsets are per partition), clamped to [start, end]
//   { timestamp: T } the first record whose timestamp >= T (epoch ms), per partition (time index)
// Order: records of one partition are visited in offset order; partitions are read in turns, one bounded
// batch each, so no partition starves and memory stays at about one batch.
// Expiry: messages are visited whether or not they have expired; a consumer that cares uses isExpired().
import { gatewayError } from './errors.ts';
import { appendNotifier, sleepUntilAppend } from './log-notifier.ts';
import type { Message } from './message.ts';
import { recordToMessage } from './record-codec.ts';
import { hasWildcard, topicMatches, validateTopicFilter } from './topic.ts';

/** One stored record, as the log returns it (src/log's LogRecord satisfies it). */
export interface ConsumerRecord {
  key: string;
  timestamp: number;
  headers: Buffer;
  value: Buffer;
  partition: number;
  offset: number;
}

/** The slice of the partitioned log consumers read (src/log's PartitionedLog satisfies it structurally). */
export interface ConsumerLogPort {
  readonly partitions: number;
  /** Records from `offset` (inclusive), at most maxRecords; offsets below the start begin at the start; at or past the end: []. */
  read(partition: number, offset: number, maxRecords: number, maxBytes?: number): Promise<ConsumerRecord[]>;
  /** First offset whose timestamp >= ts, or the end offset. */
  offsetForTime(partition: number, ts: number): Promise<number>;
  startOffset(partition: number): number;
  /** Next offset to be written. */
  endOffset(partition: number): number;
  /** Append notification (src/log's onAppend): a caught-up follower sleeps on it; without it, followers poll. */
  onAppend?(listener: (partition: number, endOffset: number) => void): () => void;
  /** The partition a key (topic) lives in; lets a reader of one exact topic read one partition. */
  partitionFor?(key: string): number;
}

export type StartPoint = 'first' | 'last' | 'next' | { offset: number } | { timestamp: number };

/** Called once per matching message, in per-partition order; a returned promise is awaited before the next read (backpressure). */
export type Visitor = (msg: Message) => void | Promise<void>;

/** Filters deeper than this are refused; it only bounds validation, topics themselves are not limited here. */
const MAX_FILTER_LEVELS = 1024;
const DEFAULT_BATCH = 256;
const DEFAULT_BATCH_BYTES = 1 << 20;
const DEFAULT_POLL_MS = 100;

/** Throws GatewayError TOPIC_FILTER_INVALID for a filter the MQTT rules reject; `$share/<g>/` prefixes are matched on their inner filter. */
export function checkFilter(filter: string): void {
  const bad = validateTopicFilter(filter, MAX_FILTER_LEVELS);
  if (bad) throw gatewayError(bad, JSON.stringify(filter));
}

/** The offset a consumer starting at `from` reads first in `partition` (see the start points above). */
export async function resolveStart(log: ConsumerLogPort, partition: number, from: StartPoint): Promise<number> {
  const start = log.startOffset(partition);
  const end = log.endOffset(partition);
  if (from === 'first') return start;
  if (from === 'next') return end;
  if (from === 'last') return Math.max(start, end - 1);
  if ('offset' in from) {
    if (!Number.isSafeInteger(from.offset)) throw new RangeError(`start offset must be an integer, got ${from.offset}`);
    return Math.min(end, Math.max(start, from.offset));
  }
  if (!Number.isFinite(from.timestamp)) throw new RangeError(`start timestamp must be a finite number, got ${from.timestamp}`);
  return Math.min(end, Math.max(start, await log.offsetForTime(partition, from.timestamp)));
}

/** resolveStart for every partition, in partition order. */
export async function resolveStarts(log: ConsumerLogPort, from: StartPoint): Promise<number[]> {
  const out: number[] = [];
  for (let p = 0; p < log.partitions; p++) out.push(await resolveStart(log, p, from));
  return out;
}

export interface ReplayOptions {
  /** Records per read (default 256). */
  batch?: number;
  /** About this many bytes per read (default 1 MiB; a read returns at least one record). */
  batchBytes?: number;
  /** Stop after visiting this many matching messages (default: no limit). */
  limit?: number;
}

export interface ReplayResult {
  /** Matching messages visited. */
  visited: number;
  /** Records read (matching or not). */
  scanned: number;
  /** Per partition: the next offset to read (resume here with { offset } per partition via a ConsumerGroup or a later replay). */
  positions: number[];
}

type ReadResult = Promise<ConsumerRecord[]>;
const inFlightReads = new WeakMap<ConsumerLogPort, Map<string, ReadResult>>();

/**
 * log.read, shared among readers asking for the same (partition, offset, maxRecords, maxBytes) at the same time:
 * when an append wakes many caught-up readers at once, the tail is read once, not once per reader. The records
 * are shared read-only (recordToMessage copies nothing it changes).
 */
export function sharedRead(log: ConsumerLogPort, partition: number, offset: number, maxRecords: number, maxBytes?: number): ReadResult {
  let m = inFlightReads.get(log);
  if (!m) inFlightReads.set(log, (m = new Map()));
  const key = `${partition}:${offset}:${maxRecords}:${maxBytes ?? ''}`;
  const hit = m.get(key);
  if (hit) return hit;
  const map = m;
  const p = log.read(partition, offset, maxRecords, maxBytes).finally(() => map.delete(key));
  map.set(key, p);
  return p;
}

function positiveInt(name: string, n: number | undefined, dflt: number): number {
  const v = n ?? dflt;
  if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
}

/**
 * Reads partition `p` from positions[p] up to (not including) `until`, one batch, visiting matches.
 * Advances positions[p] past every record returned. Returns records read (0 = nothing there).
 */
async function readBatch(
  log: ConsumerLogPort,
  p: number,
  positions: number[],
  until: number,
  filter: string,
  visit: Visitor,
  opts: { batch: number; batchBytes: number },
  budget: { left: number; visited: number },
): Promise<number> {
  const pos = positions[p]!;
  if (pos >= until || budget.left <= 0) return 0;
  const recs = await sharedRead(log, p, pos, Math.min(opts.batch, until - pos), opts.batchBytes);
  let n = 0;
  for (const r of recs) {
    if (r.offset >= until) break;
    n++;
    positions[p] = r.offset + 1;
    if (!topicMatches(filter, r.key)) continue;
    await visit(recordToMessage(r));
    budget.visited++;
    if (--budget.left <= 0) break;
  }
  return n;
}

/**
 * Visits every message whose topic matches `filter`, from `from` up to the end offsets seen when the
 * replay starts (records appended meanwhile are left for a later replay or a follow).
 * Concurrency: one replay holds one batch at a time; any number of replays may run side by side.
 */
export async function replay(log: ConsumerLogPort, filter: string, from: StartPoint, visit: Visitor, options: ReplayOptions = {}): Promise<ReplayResult> {
  checkFilter(filter);
  const opts = { batch: positiveInt('batch', options.batch, DEFAULT_BATCH), batchBytes: positiveInt('batchBytes', options.batchBytes, DEFAULT_BATCH_BYTES) };
  const budget = { left: options.limit === undefined ? Infinity : positiveInt('limit', options.limit, 1), visited: 0 };
  const positions = await resolveStarts(log, from);
  const ends = Array.from({ length: log.partitions }, (_, p) => log.endOffset(p));
  let scanned = 0;
  for (;;) {
    let round = 0;
    for (let p = 0; p < log.partitions; p++) round += await readBatch(log, p, positions, ends[p]!, filter, visit, opts, budget);
    scanned += round;
    // An empty round with positions short of the end means records vanished (retention raced us): done either way.
    if (round === 0 || budget.left <= 0) break;
  }
  return { visited: budget.visited, scanned, positions };
}

export interface FollowOptions extends Omit<ReplayOptions, 'limit'> {
  /** Only for a log without onAppend: wait this long after a round that found nothing new (default 100 ms). */
  pollMs?: number;
}

export interface Follower {
  /** Ends the follow after the batch in hand; resolves when it has ended (also after an error). */
  stop(): Promise<void>;
  /** Resolves after stop(); rejects with the first read or visit error (the follow ends there). */
  readonly done: Promise<void>;
  /** Per partition: the next offset to read. */
  positions(): number[];
}

/**
 * Like replay, then keeps reading new appends until stop(). Reads run back to back while there is something to
 * read; a round that found nothing sleeps until the log reports an append to one of the partitions (log-notifier.ts):
 * no timer, no wake-up while nothing is appended. A log without onAppend is polled every pollMs instead.
 */
export function follow(log: ConsumerLogPort, filter: string, from: StartPoint, visit: Visitor, options: FollowOptions = {}): Follower {
  checkFilter(filter);
  const opts = { batch: positiveInt('batch', options.batch, DEFAULT_BATCH), batchBytes: positiveInt('batchBytes', options.batchBytes, DEFAULT_BATCH_BYTES) };
  const pollMs = positiveInt('pollMs', options.pollMs, DEFAULT_POLL_MS);
  const notifier = appendNotifier(log);
  // An exact topic lives in one partition: read and wake on that one only (`$log/next/a/b` sleeps through appends elsewhere).
  const all = !hasWildcard(filter) && !filter.startsWith('$share/') && log.partitionFor ? [log.partitionFor(filter)] : Array.from({ length: log.partitions }, (_, p) => p);
  let stopped = false;
  let wake: (() => void) | undefined;
  let positions: number[] = [];
  const budget = { left: Infinity, visited: 0 };

  const run = async (): Promise<void> => {
    positions = await resolveStarts(log, from);
    while (!stopped) {
      const seen = notifier?.snapshot(all);
      let round = 0;
      for (const p of all) {
        if (stopped) break;
        round += await readBatch(log, p, positions, log.endOffset(p), filter, visit, opts, budget);
      }
      if (round === 0 && !stopped) {
        const sleep = sleepUntilAppend(log, all, seen, pollMs);
        wake = sleep.wake;
        await sleep.promise;
        wake = undefined;
      }
    }
  };
  const done = run().finally(() => {
    stopped = true;
    wake?.();
  });
  done.catch(() => undefined); // the error stays on `done` for whoever awaits it; no unhandled rejection otherwise
  return {
    stop() {
      stopped = true;
      wake?.();
      return done.catch(() => undefined);
    },
    done,
    positions: () => [...positions],
  };
}
