// Routes every record of the shared log on this node, in offset order per partition: this node's own appends (the publisher's Message) and other nodes' (read from the log). Imports core message, record-codec and persistence types.
//
// Invariant (the one catch-up relies on, see catch-up.ts and docs/ARCHITECTURE.md "Falling behind"): in cluster
// mode the routed watermark `routed(p)` (DurableStore.unrouted) moves ONLY here, one offset at a time, and the
// record at that offset is routed live in the same synchronous turn the watermark passes it. So, on this node,
// every offset below routed(p) was routed (a session that was behind skipped it and reads it from the log) and
// every offset at or above it will be routed live later. A session falling behind gets cursor = routed(p): it
// can never skip a foreign record, and a record is routed once, in per-partition order.
//
// Why not route a local append as soon as it resolves (as the single node does)? In a shared partition other
// nodes' records interleave with ours: when our append resolves at offset o, records below o from other nodes
// may not have been read yet. Moving the watermark past o then would skip them for a session that falls
// behind meanwhile, and deliver o before them. So:
// - a local append that resolves at o == routed(p) is routed at once (the common case: the same cost as the
//   single node, no read);
// - one that resolves above routed(p) waits in `pending` until the tail reaches it (its Message object is
//   routed then, never re-decoded);
// - the tail reads records at routed(p) in batches (woken by onAppend, never polling): a record from another
//   node is decoded and routed; a record of ours waits for its append to resolve (it may be readable first),
//   unless no append of ours to that partition is in flight or a later one already resolved (appends from
//   one node resolve in offset order): then its append was refused after all, or it predates this process,
//   and it is routed from the log like a foreign record (the publisher was told it failed: at least once).
import type { Logger } from 'pino';
import type { LogRef, Message } from '../message.ts';
import type { BackendLog } from '../persistence.ts';
import { originOf, recordToMessage } from '../record-codec.ts';

type Rec = { key: string; timestamp: number; headers: Buffer; value: Buffer; partition: number; offset: number };

/** The routed watermark (DurableStore): routed(p) = first offset not routed; markRouted moves it past ref. */
export interface RoutedMark {
  routed(p: number): number;
  markRouted(ref: LogRef): void;
}

export interface SequencerOptions {
  nodeId: string;
  log: BackendLog;
  mark: RoutedMark;
  /** Route one record live (local: the publisher's Message; foreign: decoded from the log, msg.ref set). */
  route(msg: Message, foreign: boolean): void;
  logger: Logger;
}

/** Records read per tail read. */
const TAIL_BATCH = 256;
/** Payloads below this are copied out of the read buffer (a routed message must not pin a large chunk). */
const COPY_BELOW = 64 * 1024;

interface PartitionTail {
  /** Local appends in flight (started, not settled). */
  inflight: number;
  /** Highest offset a local append resolved at. */
  lastLocal: number;
  /** Local appends resolved above the watermark, waiting for their turn. */
  pending: Map<number, Message>;
  /** Records read and not routed yet, in offset order, from `head`. */
  buffer: Rec[];
  head: number;
  reading: boolean;
}

export class ClusterSequencer {
  private readonly parts: PartitionTail[];
  private readonly waiters: { want: readonly number[]; done: () => void }[] = [];
  private stopAppend: (() => void) | undefined;
  private stopped = false;
  /** Records of other nodes routed here (metrics). */
  foreignRouted = 0;

  constructor(private readonly o: SequencerOptions) {
    this.parts = Array.from({ length: o.log.partitions }, () => ({ inflight: 0, lastLocal: -1, pending: new Map(), buffer: [], head: 0, reading: false }));
  }

  /** Starts tailing at the current watermark of every partition. */
  start(): void {
    this.stopAppend = this.o.log.onAppend((p) => this.pump(p));
    for (let p = 0; p < this.parts.length; p++) this.pump(p);
  }

  stop(): void {
    this.stopped = true;
    this.stopAppend?.();
    for (const w of this.waiters.splice(0)) w.done();
  }

  /** A local append to partition p is about to start. */
  appending(p: number): void {
    this.parts[p]!.inflight++;
  }

  /** A local append to partition p was refused (nothing to route; a record it may have left is routed from the log). */
  failed(p: number): void {
    this.parts[p]!.inflight--;
    this.pump(p);
  }

  /** A local append resolved (msg.ref set): routed now when it is next in its partition, else when the tail reaches it. */
  appended(msg: Message): void {
    const ref = msg.ref!;
    const t = this.parts[ref.partition]!;
    t.inflight--;
    if (ref.offset > t.lastLocal) t.lastLocal = ref.offset;
    if (ref.offset < this.o.mark.routed(ref.partition)) return; // routed from the log already (cannot happen while inflight counted it)
    t.pending.set(ref.offset, msg);
    this.pump(ref.partition);
  }

  /** Resolves once routed(p) >= want[p] in every partition (a session moving here must not see records again that its old node routed). */
  reached(want: readonly number[]): Promise<void> {
    if (this.isReached(want) || this.stopped) return Promise.resolve();
    return new Promise((done) => this.waiters.push({ want, done }));
  }

  private isReached(want: readonly number[]): boolean {
    for (let p = 0; p < this.parts.length; p++) if (this.o.mark.routed(p) < (want[p] ?? 0)) return false;
    return true;
  }

  /** Routes what is next in partition p, as far as possible, synchronously; reads more when the buffer ran dry. */
  private pump(p: number): void {
    if (this.stopped) return;
    const t = this.parts[p]!;
    const mark = this.o.mark;
    for (;;) {
      const at = mark.routed(p);
      const local = t.pending.get(at);
      if (local !== undefined) {
        t.pending.delete(at);
        mark.markRouted(local.ref!);
        this.o.route(local, false);
        continue;
      }
      while (t.head < t.buffer.length && t.buffer[t.head]!.offset < at) t.head++;
      const rec = t.buffer[t.head];
      if (rec === undefined || rec.offset !== at) break;
      if (originOf(rec.headers) === this.o.nodeId && t.inflight > 0 && t.lastLocal < at) break; // ours, its append not resolved yet
      t.head++;
      const msg = recordToMessage(rec);
      if (rec.value.length < COPY_BELOW) msg.payload = Buffer.from(rec.value);
      mark.markRouted(msg.ref!);
      this.foreignRouted++;
      this.o.route(msg, true);
    }
    if (t.head >= t.buffer.length) {
      t.buffer = [];
      t.head = 0;
    }
    if (this.waiters.length !== 0) this.wakeWaiters();
    if (!t.reading && t.head >= t.buffer.length && mark.routed(p) < this.o.log.endOffset(p)) this.read(p);
  }

  private read(p: number): void {
    const t = this.parts[p]!;
    t.reading = true;
    const from = this.o.mark.routed(p);
    this.o.log.read(p, from, TAIL_BATCH).then(
      (recs) => {
        t.reading = false;
        if (this.stopped) return;
        const at = this.o.mark.routed(p);
        t.buffer = recs.filter((r) => r.offset >= at);
        t.head = 0;
        this.pump(p);
      },
      (err: unknown) => {
        t.reading = false;
        this.o.logger.error({ err, partition: p }, 'cluster tail read failed; retried in 1 s or at the next append');
        setTimeout(() => this.pump(p), 1000).unref();
      },
    );
  }

  private wakeWaiters(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (this.isReached(w.want)) {
        this.waiters.splice(i, 1);
        w.done();
      }
    }
  }
}
