// The catch-up reader: moves a "behind" subscriber (a session or a `$share` group) along the durable log from its cursor until it reaches the routed watermark, then hands it back to live routing. Imports message types only.
//
// Contract (single-threaded):
// - The target owns its cursor (per partition: the next offset to read). The reader reads bounded
//   batches from the lowest partition that is behind, offers each record with offset < routed(p) (the
//   CURRENT routed watermark: a read may return records that are appended but not routed yet; those are
//   left for live routing) and advances the cursor past every record it consumed, matched or not.
// - Before every read and after every batch it checks, synchronously, whether cursor >= routed(p) in
//   every partition; if so it calls caughtUp() in that same turn. Live routing runs in the turn an append
//   resolves and advances routed(p) in that turn, so every offset below routed(p) was routed (and skipped
//   for this target) and every offset at or above it will be routed live after caughtUp(): no gap, no duplicate.
// - When the target cannot take more (its read-ahead buffer is full) the reader asks for room and
//   sleeps until kick() (the target's buffer drained). No timers: an idle or caught-up target costs nothing.
// - Records gone from the log (retention) are skipped and reported through skipped().
import type { Message } from './message.ts';

/** Where the reader reads from: the durable store (see DurableStore.readMessages). */
export interface CatchUpSource {
  readonly partitions: number;
  /** First offset of partition p not yet routed live. */
  routed(p: number): number;
  /** First offset still in the log (retention moves it). */
  startOffset(p: number): number;
  /** First offset whose timestamp is >= ts (endOffset when none). */
  offsetForTime(p: number, ts: number): Promise<number>;
  /** Stored bytes of partition p from `offset` to its end, approximate; absent = the bytes bound does not apply. */
  bytesSince?(p: number, offset: number): number;
  /** Up to `max` messages from offset `from` of partition p, in offset order, each with its ref (offsets >= from only). */
  readMessages(p: number, from: number, max: number): Promise<CatchUpBatch>;
}

export interface CatchUpBatch {
  readonly msgs: readonly Message[];
  /** routed(p) when the read was issued: every routed record below it (and at or after `from`) is in `msgs` unless the batch is full. */
  readonly routedAtIssue: number;
}

export interface CatchUpTarget {
  /** Current cursor; undefined once the target is live again (or gone). */
  cursor(): readonly number[] | undefined;
  /** Whether reading is useful now (e.g. the session is connected). The reader stops when false; kick() restarts it. */
  active(): boolean;
  /** Whether the target can take one more message now. */
  canTake(): boolean;
  /** One record below the routed watermark: deliver it if it matches (the reader advances the cursor). */
  offer(msg: Message): void;
  advance(partition: number, offset: number): void;
  /** Ask to be kicked once there is room again. */
  requestRoom(): void;
  /** cursor >= routed in every partition: switch to live (called synchronously in the turn of the check). */
  caughtUp(): void;
  /** Records [from, to) of a partition were skipped: deleted by retention, or past the max-lag policy. */
  skipped(partition: number, from: number, to: number, reason: SkipReason): void;
}

export type SkipReason = 'retention' | 'max-lag';

/** `sessions.maxLag`: how far behind a subscriber may fall before it skips ahead (0 = no bound). Per partition. */
export interface MaxLag {
  /** Records behind the routed watermark. */
  messages: number;
  /** Age of the oldest unread record, ms. */
  ageMs: number;
  /** Stored log bytes behind the routed watermark (approximate: exact to one log index interval). */
  bytes?: number;
}

export const NO_MAX_LAG: MaxLag = Object.freeze({ messages: 0, ageMs: 0, bytes: 0 });

/** The first offset in [from, to) from which at most `max` stored bytes remain below `to` (bytesSince is non-increasing). */
export function offsetWithinBytes(bytesSince: (offset: number) => number, from: number, to: number, max: number): number {
  const end = bytesSince(to);
  let lo = from, hi = to;
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (bytesSince(mid) - end <= max) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Records read per batch. */
export const CATCH_UP_BATCH = 256;
/** Wait before reading again after an empty read below the watermark. */
const EMPTY_READ_WAIT_MS = 50;

export class CatchUpReader {
  private running = false;
  private waiter: (() => void) | undefined;

  constructor(
    private readonly src: CatchUpSource,
    private readonly target: CatchUpTarget,
    private readonly onError: (err: unknown) => void,
    private readonly maxLag: MaxLag = NO_MAX_LAG,
  ) {}

  get isRunning(): boolean {
    return this.running;
  }

  /** Start the loop (if not running) or wake it (if waiting for room). Cheap to call often. */
  kick(): void {
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w();
      return;
    }
    if (this.running) return;
    this.running = true;
    this.loop()
      .catch((err: unknown) => this.onError(err))
      .finally(() => {
        this.running = false;
        this.waiter = undefined;
      });
  }

  /** Synchronous: switch the target to live when every partition's cursor reached the routed watermark. */
  private tryFinish(cur: readonly number[]): boolean {
    const n = this.src.partitions;
    for (let p = 0; p < n; p++) if ((cur[p] ?? 0) < this.src.routed(p)) return false;
    this.target.caughtUp();
    return true;
  }

  private async loop(): Promise<void> {
    const t = this.target;
    const src = this.src;
    let next = 0;
    for (;;) {
      const cur = t.cursor();
      if (cur === undefined || !t.active()) return;
      if (this.tryFinish(cur)) return;
      if (!t.canTake()) {
        await new Promise<void>((resolve) => {
          this.waiter = resolve;
          t.requestRoom();
        });
        continue;
      }
      // The next partition (round robin) that is behind.
      let p = -1;
      for (let k = 0; k < src.partitions; k++) {
        const q = (next + k) % src.partitions;
        if ((cur[q] ?? 0) < src.routed(q)) {
          p = q;
          break;
        }
      }
      if (p < 0) continue; // tryFinish above would have returned; defensive
      next = p + 1;
      let from = cur[p] ?? 0;
      const start = src.startOffset(p);
      if (from < start) {
        t.skipped(p, from, start, 'retention');
        t.advance(p, start - 1);
        from = start;
        if (from >= src.routed(p)) continue;
      }
      const lag = this.maxLag;
      if (lag.messages > 0 && src.routed(p) - from > lag.messages) {
        const to = src.routed(p) - lag.messages;
        t.skipped(p, from, to, 'max-lag');
        t.advance(p, to - 1);
        from = to;
      }
      const bytesSince = src.bytesSince;
      if (lag.bytes !== undefined && lag.bytes > 0 && bytesSince !== undefined) {
        const since = (o: number): number => bytesSince.call(src, p, o);
        const routed = src.routed(p);
        if (since(from) - since(routed) > lag.bytes) {
          const to = offsetWithinBytes(since, from, routed, lag.bytes);
          if (to > from) {
            t.skipped(p, from, to, 'max-lag');
            t.advance(p, to - 1);
            from = to;
          }
        }
      }
      const { msgs, routedAtIssue } = await src.readMessages(p, from, CATCH_UP_BATCH);
      let after = t.cursor();
      if (after === undefined) return;
      if (lag.ageMs > 0 && msgs.length > 0 && msgs[0]!.createdAt < Date.now() - lag.ageMs) {
        // Older than the policy allows: skip to the first record young enough (never past the watermark).
        const to = Math.min(await src.offsetForTime(p, Date.now() - lag.ageMs), src.routed(p));
        after = t.cursor();
        if (after === undefined) return;
        const at = after[p] ?? 0;
        if (to > at) {
          t.skipped(p, at, to, 'max-lag');
          t.advance(p, to - 1);
          continue;
        }
      }
      let consumed = false;
      for (const m of msgs) {
        const o = m.ref!.offset;
        if (o < (after[p] ?? 0)) continue;
        if (o >= src.routed(p)) break; // appended, not routed yet: live routing will deliver it
        if (!t.canTake()) break;
        t.offer(m);
        t.advance(p, o);
        consumed = true;
      }
      if (!consumed) {
        if (msgs.length === 0 && from >= src.startOffset(p)) {
          // Nothing read although records below the watermark exist (offsets are dense from the start): a log
          // that cannot read them yet (NATS: a stream leader elected a moment ago) - never a reason to skip them.
          // Retention that removed them moves the start, which the next round sees.
          await new Promise((r) => setTimeout(r, EMPTY_READ_WAIT_MS));
          continue;
        }
        // Nothing below the watermark at the cursor: the range [cursor, first record read) holds no records
        // (deleted by retention, which the log's read stepped over).
        const c = t.cursor();
        if (c === undefined) return;
        const at = c[p] ?? 0;
        const first = msgs.length > 0 ? msgs[0]!.ref!.offset : routedAtIssue;
        const to = Math.min(first, routedAtIssue, src.routed(p));
        if (to > at) t.advance(p, to - 1); // readMessages returns offsets >= from only, so this always moves or waits for room
      }
    }
  }
}
