// A log-backed queue: a durable committed cursor over the log records of one topic (`$queue/<name>`) or one filter (a consumer group), shared by competing consumers in a subscription mode, with one settle call. Imports core consumer, notifier, dead-letter, message, topic and hash modules.
//
// The log is the queue. A queue holds no copy of a message: its records are in the log (the publish path
// appends them before the publisher is acknowledged), and the queue is, per partition, a committed offset
// plus the records read from there and not yet settled. So nothing acknowledged is lost however slow or
// absent the consumers are; only retention bounds how long a record waits.
//
// Delivery and settle (protocol-neutral; docs/ARCHITECTURE.md "Delivery handles and settle"):
// - A consumer is added with a prefetch (unsettled deliveries at most), autoAck (settled when handed over:
//   STOMP ack:auto, MQTT QoS 0) and an optional ready() gate (socket writable, session window open). Each
//   delivery carries a handle; the consumer settles it once with settle(handle, outcome):
//     'ack'     done;
//     'nack'    redeliver (to any consumer the mode allows), its redelivery count raised; past the
//               dead-letter policy's maxRedeliveries it is dead-lettered instead (dead-letter.ts);
//     'reject'  dead-letter now.
//   A consumer that leaves (close()) hands its unsettled deliveries back, counted as redelivered.
//   Redeliveries go out before anything newer (they are put back in log order).
// - Modes (Pulsar's subscription types):
//     shared      round robin over consumers with room;
//     key-shared  one consumer per key at a time, so one key's order holds: the key is the message's
//                 `JMSXGroupID` user property (STOMP header; ActiveMQ message groups) or else its topic
//                 (in a group: one topic stays on one member). A key stays with the consumer that has its
//                 unsettled messages; a free key goes to consumer hash(key) mod n;
//     failover    only the first consumer (in order of joining) receives; when it leaves, the next takes
//                 over from where it stopped, in order (its unsettled messages come first).
// - Committed offset (per partition) = the lowest unsettled offset, or the read position when nothing is
//   unsettled; written after settles (one write in flight per partition, the newest value wins) under
//   offsetKey(partition) as JSON {"v":1,"offset":N,"at":epochMs} (N = next offset to read). Records settled
//   above the commit (acknowledged out of order) are delivered again after a restart: at least once.
//   A stored value with another "v" is not trusted: the queue starts at the log start (never skips).
// - Reading: at most readAhead entries are held ready (read, not yet handed out); nothing is read while no
//   consumer has room. A caught-up queue sleeps until the log reports an append (log-notifier.ts): no timer.
// - Single-threaded like Session: every method runs to completion; deliver() callbacks must not throw.
import { resolveStart, sharedRead, type ConsumerLogPort } from './consumer.ts';
import type { OffsetStorePort } from './consumer-group.ts';
import { deadLetter, exhausted, type DeadLetterPolicy, type PublishFn } from './dead-letter.ts';
import { appendNotifier, sleepUntilAppend } from './log-notifier.ts';
import { isExpired, type Message } from './message.ts';
import { recordToMessage } from './record-codec.ts';
import { topicMatches } from './topic.ts';
import { fnv1a } from './hash.ts';

export type QueueMode = 'shared' | 'key-shared' | 'failover';
export const QUEUE_MODES: readonly QueueMode[] = ['shared', 'key-shared', 'failover'];

export function isQueueMode(s: string): s is QueueMode {
  return (QUEUE_MODES as readonly string[]).includes(s);
}

/** ack: done. nack: redeliver (dead-letter past maxRedeliveries). reject: dead-letter now. */
export type SettleOutcome = 'ack' | 'nack' | 'reject';

/** One message handed to a consumer. */
export interface QueueDelivery {
  /** Pass to settle(); unique within the queue for its life. */
  readonly handle: number;
  /** The stored message (msg.ref = its log position). */
  readonly msg: Message;
  /** Times it was handed out before without being acknowledged (0 on the first delivery). */
  readonly redeliveries: number;
}

export interface ConsumerSpec {
  /** For logs. */
  readonly id: string;
  /** Unsettled deliveries at most (ignored when autoAck). */
  readonly prefetch: number;
  /** Settled as it is handed over (at most once). */
  readonly autoAck: boolean;
  /** Extra gate checked before each delivery (default: always open); call pull() when it opens again. */
  ready?(): boolean;
  deliver(d: QueueDelivery): void;
}

/** Format version of a stored committed offset. */
export const QUEUE_OFFSET_VERSION = 1;

export interface LogQueueOptions {
  /** For logs and stats. */
  name: string;
  log: ConsumerLogPort;
  store: OffsetStorePort;
  /** Which records belong to the queue: one exact topic, or every topic a filter matches (a group). */
  match: { topic: string } | { filter: string };
  mode: QueueMode;
  /** State-store key of the committed offset of a partition. */
  offsetKey: (partition: number) => string;
  /** The policy, or a function giving the current one (the registry's, which start-up configuration may set later). */
  deadLetter: DeadLetterPolicy | (() => DeadLetterPolicy);
  publish: PublishFn;
  /** Entries held read-but-not-handed-out at most (default 1000). */
  readAhead?: number;
  /** A read or commit failed (the queue retries reads after 1 s). */
  onError?: (err: unknown, what: string) => void;
  /** Only for a log without onAppend: idle poll interval (default 10 ms). */
  pollMs?: number;
  /**
   * A cluster's leases on this queue (cluster/queue-lease.ts): the queue reads, hands out and commits only the
   * partitions serves(p) allows; want() tells whether it has consumers. Unset: every partition, always.
   */
  gate?: QueueGate;
}

/** See LogQueueOptions.gate. */
export interface QueueGate {
  /**
   * Called once by the queue (constructor): its partitions, the hooks the leases call, and whether the
   * partitions go together (failover mode: one active consumer across the cluster, so one node serves them all).
   */
  attach(partitions: readonly number[], hooks: QueueGateHooks, together: boolean): void;
  /** The queue has consumers here (true) or none left (false). */
  want(wanted: boolean): void;
  /** Whether this node serves partition p now. */
  serves(p: number): boolean;
}

export interface QueueGateHooks {
  /** This node took partition p's lease: restart it from its stored committed offset (LogQueue.resync). */
  gained(p: number): void;
  /** This node must give partition p up: resolves once p is drained and committed (LogQueue.yieldPartition). */
  revoke(p: number): Promise<void>;
}

/** How long a partition given up waits for its unsettled deliveries before its commit is written anyway. */
export const YIELD_WAIT_MS = 5000;

interface Entry {
  seq: number;
  partition: number;
  offset: number;
  msg: Message;
  key: string;
  redeliveries: number;
}

interface Part {
  p: number;
  /** Next offset to read. */
  next: number;
  committed: number;
  /** Offsets read and not settled (ready, handed out, or on their way to the dead-letter topic), ascending. */
  unsettled: number[];
  committing: boolean;
  again: boolean;
}

const MAX_READ = 256;

export function encodeQueueOffset(offset: number, at = Date.now()): Buffer {
  return Buffer.from(JSON.stringify({ v: QUEUE_OFFSET_VERSION, offset, at }));
}

/** The stored next offset, or undefined when absent or unreadable (a missing "v" is version 1: the group format before it had one). */
export function decodeQueueOffset(v: Buffer | undefined): number | undefined {
  if (!v) return undefined;
  try {
    const j = JSON.parse(v.toString('utf8')) as { v?: unknown; offset?: unknown };
    if (j.v !== undefined && j.v !== QUEUE_OFFSET_VERSION) return undefined;
    if (typeof j.offset !== 'number' || !Number.isSafeInteger(j.offset) || j.offset < 0) return undefined;
    return j.offset;
  } catch {
    return undefined;
  }
}

/** Index of the first element >= x in the ascending array `a`. */
function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(a: number[], x: number): void {
  a.splice(lowerBound(a, x), 0, x);
}

function removeSorted(a: number[], x: number): boolean {
  const lo = lowerBound(a, x);
  if (a[lo] !== x) return false;
  a.splice(lo, 1);
  return true;
}

/** The key-shared key of a message: its JMSXGroupID user property, else its topic. */
export function messageKey(msg: Message): string {
  const g = msg.properties.userProperties?.['JMSXGroupID'];
  if (typeof g === 'string') return g;
  if (Array.isArray(g) && g.length !== 0) return g[0]!;
  return msg.topic;
}

export class QueueConsumer {
  /** handle -> entry handed out and not settled. */
  readonly outstanding = new Map<number, Entry>();
  closed = false;
  constructor(
    readonly spec: ConsumerSpec,
    private readonly queue: LogQueue,
  ) {}

  /** Settles one delivery; false for an unknown or already settled handle. */
  settle(handle: number, outcome: SettleOutcome): boolean {
    return this.queue.settle(this, handle, outcome);
  }

  /** The ready() gate opened again, or the consumer has room again for another reason. */
  pull(): void {
    this.queue.pump();
  }

  /** Leaves the queue; unsettled deliveries go back to the queue, counted as redelivered. */
  close(): void {
    this.queue.removeConsumer(this);
  }

  get unsettled(): number {
    return this.outstanding.size;
  }

  /** Room for one more delivery now. */
  get hasRoom(): boolean {
    if (this.closed) return false;
    if (!this.spec.autoAck && this.outstanding.size >= this.spec.prefetch) return false;
    return this.spec.ready ? this.spec.ready() : true;
  }
}

export interface QueueStats {
  name: string;
  mode: QueueMode;
  consumers: number;
  /** Read and waiting for a consumer. */
  ready: number;
  /** Handed out and not settled. */
  unacked: number;
  /** Per partition the queue reads: committed offset, log end and (end - committed): an upper bound of the backlog. */
  partitions: { partition: number; committed: number; end: number; lag: number }[];
}

export class LogQueue {
  readonly name: string;
  readonly mode: QueueMode;
  private readonly log: ConsumerLogPort;
  private readonly store: OffsetStorePort;
  private readonly opts: LogQueueOptions;
  private readonly readAhead: number;
  private readonly parts: Part[];
  private readonly partIds: number[];
  private readonly consumers: QueueConsumer[] = [];
  private ready: Entry[] = [];
  private seq = 0;
  private handles = 0;
  private rr = 0;
  private turn = 0;
  /** key-shared: key -> the consumer holding its unsettled messages, and how many. */
  private readonly pins = new Map<string, { c: QueueConsumer; n: number }>();
  private looping = false;
  private kicked = false;
  private dispatching = false;
  private wakeSleep: (() => void) | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(opts: LogQueueOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.mode = opts.mode;
    this.log = opts.log;
    this.store = opts.store;
    this.readAhead = Math.max(1, opts.readAhead ?? 1000);
    const all = Array.from({ length: opts.log.partitions }, (_, p) => p);
    this.partIds = 'topic' in opts.match && opts.log.partitionFor ? [opts.log.partitionFor(opts.match.topic)] : all;
    this.parts = this.partIds.map((p) => {
      const stored = decodeQueueOffset(this.store.get(opts.offsetKey(p)));
      const start = this.log.startOffset(p);
      const committed = Math.min(Math.max(stored ?? start, start), this.log.endOffset(p));
      return { p, next: committed, committed, unsettled: [], committing: false, again: false };
    });
    opts.gate?.attach(this.partIds, { gained: (p) => this.resync(p), revoke: (p) => this.yieldPartition(p) }, this.mode === 'failover');
  }

  /** Whether this node reads and commits partition p (always without a cluster gate). */
  private serves(p: number): boolean {
    return this.opts.gate === undefined || this.opts.gate.serves(p);
  }

  private policy(): DeadLetterPolicy {
    const d = this.opts.deadLetter;
    return typeof d === 'function' ? d() : d;
  }

  private matches(topic: string): boolean {
    const m = this.opts.match;
    return 'topic' in m ? topic === m.topic : topicMatches(m.filter, topic);
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  stats(): QueueStats {
    let unacked = 0;
    for (const c of this.consumers) unacked += c.outstanding.size;
    return {
      name: this.name,
      mode: this.mode,
      consumers: this.consumers.length,
      ready: this.ready.length,
      unacked,
      partitions: this.parts.map((s) => {
        const end = this.log.endOffset(s.p);
        return { partition: s.p, committed: s.committed, end, lag: Math.max(0, end - s.committed) };
      }),
    };
  }

  addConsumer(spec: ConsumerSpec): QueueConsumer {
    if (this.closed) throw new Error(`queue ${this.name} is closed`);
    if (!spec.autoAck && (!Number.isSafeInteger(spec.prefetch) || spec.prefetch < 1)) throw new RangeError(`prefetch must be a positive integer, got ${spec.prefetch}`);
    const c = new QueueConsumer(spec, this);
    this.consumers.push(c);
    this.opts.gate?.want(true);
    // Deferred: the caller finishes its SUBSCRIBE answer (RECEIPT, SUBACK) before the first delivery.
    queueMicrotask(() => this.pump());
    return c;
  }

  removeConsumer(c: QueueConsumer): void {
    if (c.closed) return;
    c.closed = true;
    const i = this.consumers.indexOf(c);
    if (i >= 0) {
      this.consumers.splice(i, 1);
      if (this.rr > i) this.rr--;
    }
    if (this.consumers.length === 0 && c.outstanding.size === 0) this.opts.gate?.want(false);
    const back = [...c.outstanding.values()];
    c.outstanding.clear();
    for (const e of back) {
      this.unpin(e.key, c);
      e.redeliveries++;
      this.requeue(e);
    }
    if (back.length !== 0 && this.consumers.length === 0) {
      // Commit what was settled before the lease goes: the next node starts at the lowest unsettled offset.
      for (const s of this.parts) this.commit(s);
      this.opts.gate?.want(false);
    }
    this.pump();
  }

  /**
   * This node (re)gained partition p's lease (cluster): what it read of p before may be stale (another node
   * served and committed since), so p starts again from its stored committed offset.
   */
  resync(p: number): void {
    const s = this.part(p);
    if (!s || this.closed) return;
    this.ready = this.ready.filter((e) => e.partition !== p);
    const stored = decodeQueueOffset(this.store.get(this.opts.offsetKey(p)));
    const start = this.log.startOffset(p);
    s.committed = s.next = Math.min(Math.max(stored ?? start, start), this.log.endOffset(p));
    s.unsettled = [];
    this.pump();
  }

  /**
   * This node gives partition p up (cluster rebalance; serves(p) is already false): p's records read but not
   * handed out are dropped (the next owner reads them again), then it waits, at most YIELD_WAIT_MS, until the
   * consumers settled what they hold from p, and writes p's committed offset (the lowest record not settled
   * here). Resolves once that is durable; the lease is released after it.
   */
  async yieldPartition(p: number): Promise<void> {
    const s = this.part(p);
    if (!s) return;
    let low = s.next;
    this.ready = this.ready.filter((e) => {
      if (e.partition !== p) return true;
      removeSorted(s.unsettled, e.offset);
      if (e.offset < low) low = e.offset;
      return false;
    });
    s.next = low;
    const held = (): number => {
      let n = 0;
      for (const c of this.consumers) for (const e of c.outstanding.values()) if (e.partition === p) n++;
      return n;
    };
    const until = Date.now() + YIELD_WAIT_MS;
    while (!this.closed && held() !== 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    const target = s.unsettled.length !== 0 ? s.unsettled[0]! : s.next;
    s.unsettled = [];
    if (this.closed || target === s.committed) return;
    await this.store.put(this.opts.offsetKey(p), encodeQueueOffset(target));
    s.committed = target;
  }

  settle(c: QueueConsumer, handle: number, outcome: SettleOutcome): boolean {
    const e = c.outstanding.get(handle);
    if (!e) return false;
    c.outstanding.delete(handle);
    this.unpin(e.key, c);
    if (outcome === 'ack') this.done(e);
    else if (outcome === 'reject') this.toDeadLetter(e);
    else {
      e.redeliveries++;
      if (exhausted(e.redeliveries, this.policy())) {
        e.redeliveries--; // the count the dead letter reports: times it was redelivered
        this.toDeadLetter(e);
      } else this.requeue(e);
    }
    this.pump();
    return true;
  }

  /** Stops reading and forgets consumers (their connections are closing); the committed offsets stay. */
  close(): void {
    this.closed = true;
    this.wakeSleep?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const c of this.consumers) c.closed = true;
    this.consumers.length = 0;
  }

  // ---- dispatch ----

  private hand(c: QueueConsumer, e: Entry): void {
    const handle = ++this.handles;
    if (c.spec.autoAck) {
      c.spec.deliver({ handle, msg: e.msg, redeliveries: e.redeliveries });
      this.done(e);
      return;
    }
    c.outstanding.set(handle, e);
    if (this.mode === 'key-shared') {
      const pin = this.pins.get(e.key);
      if (pin && pin.c === c) pin.n++;
      else this.pins.set(e.key, { c, n: 1 });
    }
    c.spec.deliver({ handle, msg: e.msg, redeliveries: e.redeliveries });
  }

  private unpin(key: string, c: QueueConsumer): void {
    const pin = this.pins.get(key);
    if (!pin || pin.c !== c) return;
    if (--pin.n <= 0) this.pins.delete(key);
  }

  private anyRoom(): boolean {
    for (const c of this.consumers) if (c.hasRoom) return true;
    return false;
  }

  /** Hands ready entries to consumers as the mode says, in log order; expired entries are settled unseen. */
  private dispatch(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      const now = Date.now();
      if (this.mode === 'key-shared') return this.dispatchKeyShared(now);
      while (this.ready.length !== 0 && this.consumers.length !== 0) {
        const head = this.ready[0]!;
        if (isExpired(head.msg, now)) {
          this.ready.shift();
          this.done(head);
          continue;
        }
        const c = this.mode === 'failover' ? this.active() : this.nextShared();
        if (!c) break;
        this.ready.shift();
        this.hand(c, head);
      }
    } finally {
      this.dispatching = false;
    }
  }

  /** failover: the first consumer, when it has room. */
  private active(): QueueConsumer | undefined {
    const c = this.consumers[0];
    return c && c.hasRoom ? c : undefined;
  }

  /** shared: the next consumer with room after the last one served. */
  private nextShared(): QueueConsumer | undefined {
    const n = this.consumers.length;
    for (let k = 0; k < n; k++) {
      const i = (this.rr + k) % n;
      const c = this.consumers[i]!;
      if (c.hasRoom) {
        this.rr = (i + 1) % n;
        return c;
      }
    }
    return undefined;
  }

  private dispatchKeyShared(now: number): void {
    if (this.consumers.length === 0) return;
    const keep: Entry[] = [];
    const blocked = new Set<string>();
    for (const e of this.ready) {
      if (isExpired(e.msg, now) && !blocked.has(e.key)) {
        this.done(e);
        continue;
      }
      if (blocked.has(e.key)) {
        keep.push(e);
        continue;
      }
      const pin = this.pins.get(e.key);
      const c = pin ? pin.c : this.consumers[fnv1a(e.key) % this.consumers.length]!;
      if (!c.hasRoom) {
        blocked.add(e.key); // later messages of this key wait too: its order holds
        keep.push(e);
        continue;
      }
      this.hand(c, e);
    }
    this.ready = keep;
  }

  /** Back into `ready` in log order (before anything read after it). */
  private requeue(e: Entry): void {
    // Cluster: a partition given up is not handed out here again; it stays unsettled, so the commit stays below it.
    if (!this.serves(e.partition)) return;
    let lo = 0;
    let hi = this.ready.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ready[mid]!.seq < e.seq) lo = mid + 1;
      else hi = mid;
    }
    this.ready.splice(lo, 0, e);
  }

  // ---- settling and commits ----

  private part(p: number): Part | undefined {
    const i = this.partIds.length === 1 ? (this.partIds[0] === p ? 0 : -1) : p;
    return this.parts[i];
  }

  private done(e: Entry): void {
    const s = this.part(e.partition);
    if (!s) return;
    if (removeSorted(s.unsettled, e.offset)) this.commit(s);
  }

  private toDeadLetter(e: Entry): void {
    deadLetter(this.opts.publish, e.msg, e.redeliveries, this.policy()).then(
      () => this.done(e),
      (err: unknown) => {
        // Not stored: the message stays in the queue and is offered again.
        this.opts.onError?.(err, 'dead letter');
        if (!this.closed) {
          this.requeue(e);
          this.pump();
        }
      },
    );
  }

  private commit(s: Part): void {
    if (this.closed) return; // a queue re-created in another mode owns the key now
    if (!this.serves(s.p)) return; // cluster: another node owns this partition's commit now (or will, after yieldPartition's)
    if (s.committing) {
      s.again = true;
      return;
    }
    const target = s.unsettled.length !== 0 ? s.unsettled[0]! : s.next;
    if (target === s.committed) return;
    s.committing = true;
    this.store.put(this.opts.offsetKey(s.p), encodeQueueOffset(target)).then(
      () => {
        s.committed = target;
      },
      (err: unknown) => this.opts.onError?.(err, 'commit'),
    ).finally(() => {
      s.committing = false;
      if (s.again) {
        s.again = false;
        this.commit(s);
      }
    });
  }

  // ---- reading ----

  /** Dispatch, and read more when a consumer has room; sleeps on the log's append notification when caught up. */
  pump(): void {
    if (this.closed) return;
    if (this.looping) {
      this.kicked = true;
      return;
    }
    const w = this.wakeSleep;
    this.wakeSleep = undefined;
    w?.();
    this.looping = true;
    this.loop().then(
      () => undefined,
      (err: unknown) => {
        this.opts.onError?.(err, 'read');
        if (!this.closed) {
          this.retryTimer = setTimeout(() => this.pump(), 1000);
          this.retryTimer.unref();
        }
      },
    ).finally(() => {
      this.looping = false;
      if (this.kicked) {
        this.kicked = false;
        this.pump();
      }
    });
  }

  private async loop(): Promise<void> {
    const notifier = appendNotifier(this.log);
    while (!this.closed) {
      this.kicked = false;
      // Cluster: a queue without consumers does not read; readSome reads only the partitions served here.
      if (this.opts.gate && this.consumers.length === 0) return;
      this.dispatch();
      if (this.ready.length >= this.readAhead || !this.anyRoom()) return; // a settle, join or pull() pumps again
      const seen = notifier?.snapshot(this.partIds);
      const scanned = await this.readSome();
      if (scanned === 0) {
        if (this.kicked) continue;
        const sleep = sleepUntilAppend(this.log, this.partIds, seen, this.opts.pollMs ?? 10);
        this.wakeSleep = sleep.wake;
        void sleep.promise.then(() => {
          if (this.wakeSleep === sleep.wake) {
            this.wakeSleep = undefined;
            this.pump();
          }
        });
        return;
      }
    }
  }

  /** One bounded read per partition with something new; returns records scanned (matching or not). */
  private async readSome(): Promise<number> {
    let scanned = 0;
    const n = this.parts.length;
    const first = this.turn++ % n; // partitions take turns going first, so a long backlog in one starves none
    for (let k = 0; k < n; k++) {
      const s = this.parts[(first + k) % n]!;
      if (!this.serves(s.p)) continue;
      const room = this.readAhead - this.ready.length;
      if (room <= 0 || this.closed) break;
      const end = this.log.endOffset(s.p);
      if (s.next < this.log.startOffset(s.p)) s.next = await resolveStart(this.log, s.p, 'first'); // retention passed us
      if (s.next >= end) continue;
      const from = s.next;
      const recs = await sharedRead(this.log, s.p, from, Math.min(MAX_READ, room, end - from));
      if (this.closed || s.next !== from || !this.serves(s.p)) continue;
      for (const r of recs) {
        scanned++;
        s.next = r.offset + 1;
        if (!this.matches(r.key)) continue;
        const msg = recordToMessage(r);
        s.unsettled.push(r.offset);
        this.ready.push({ seq: ++this.seq, partition: s.p, offset: r.offset, msg, key: messageKey(msg), redeliveries: 0 });
      }
      if (s.unsettled.length === 0) this.commit(s); // skipped records only: the commit moves past them
    }
    return scanned;
  }
}
