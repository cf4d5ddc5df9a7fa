// Log-backed subscriptions of one connection: replay (`$log/<start>/<filter>`), consumer-group members (`$group/<name>/<filter>`) and queue consumers (`$queue/<name>`) fed through the session window. Imports core consumer, consumer-group, queue, queue-registry, log-notifier, session, message, topic and errors only.
//
// Subscription forms (protocol-neutral; the MQTT adapter recognises them in SUBSCRIBE / UNSUBSCRIBE):
//   $log/<start>/<filter>    start = first | last | next | offset=N | timestamp=T (epoch ms); see consumer.ts
//                            for what each means per partition (offset=N applies to EVERY partition).
//   $group/<name>/<filter>   member of consumer group <name> (no `/`, `+`, `#`); every member of a group uses
//                            the same <filter>; a group with no commit yet starts at 'first'.
//   $queue/<name>            consumer of queue <name> (queue.ts via queue-registry.ts): the log records of topic
//                            `$queue/<name>` from the queue's committed offset, shared with STOMP /queue/<name>.
//   Mode (LogFilter.mode, from the MQTT 5 SUBSCRIBE user property `x-queue-mode`): queues shared | key-shared |
//   failover (default: the queue's configured mode); groups `partition` (default: the partition assignment below)
//   or shared | key-shared | failover (a LogQueue over the group's filter, offsets under the same `g/` keys).
//   Valid:   `$log/first/#`, `$log/offset=0/sensors/+/temp`, `$log/timestamp=1700000000000/a`, `$group/g1/jobs/#`
//   Invalid: `$log/first`, `$log/offset=-1/a`, `$log/offset=1.5/a`, `$log/oldest/a`, `$log/first/a#`, `$group/g/`,
//            `$group/g+/a`, `$group//a`
//
// Contract (single-threaded, like Session):
// - Only the log is read (consumer.ts follow / ConsumerGroup.poll), never the live router, so the switch from
//   history to live is one loop over one log: no gap, no duplicate. A caught-up feeder sleeps until the log
//   reports an append (log-notifier.ts; no timer while idle; pollMs only for a log without onAppend). Only what is
//   in the log is seen: QoS 1/2 messages, and QoS 0 only when persistence.persistQos0 is on.
// - Window: a message is handed to Session.deliver only when the session is connected, its queue is empty
//   and it has a free in-flight slot (delivery QoS 1), or when the link is writable (delivery QoS 0). Reads
//   are at most one window (or 256) records, so memory stays at about one window per subscription.
// - Delivered messages are copies with user properties `x-partition` and `x-offset` added (v5 clients see
//   them), keeping `ref`. Expired messages, and own messages under no-local, are skipped. RETAIN is set only
//   with retain-as-published and a message stored retained. Retain handling does not apply.
// - Groups: members share partitions (ConsumerGroup, range assignment, rebalance on join/leave). The group's
//   committed offset per partition advances when the member acknowledges (acked() after PUBACK; QoS 0
//   deliveries and skipped messages count as acknowledged on send): it is the lowest unacknowledged
//   offset, or last delivered + 1. At least once: unacknowledged messages of a member that leaves are read
//   again by the new owner from the commit.
// - Queues and mode-based groups: one QueueConsumer per subscription; QoS 1 deliveries are settled 'ack' by the
//   PUBACK (acked()), or 'nack' (redelivered, dead-lettered past stomp.maxRedeliveries) by an MQTT 5 PUBACK with a
//   reason code >= 0x80, or 'reject' (dead-lettered now) by reason 0x99 Payload format invalid; QoS 0
//   deliveries are settled as they are sent. A redelivery carries user property
//   `x-redelivery-count`. On remove the consumer's unsettled messages go back to the queue.
// - remove() / closeAll() stop feeding at once; nothing is kept (a replay subscription is not durable).
import { ConsumerGroup, type OffsetStorePort } from './consumer-group.ts';
import { checkFilter, follow, type ConsumerLogPort, type Follower, type StartPoint } from './consumer.ts';
import { GatewayError, type ErrorCode } from './errors.ts';
import { appendNotifier } from './log-notifier.ts';
import { isExpired, type Message, type QoS } from './message.ts';
import type { SubscriptionOptions } from './router.ts';
import type { Outbound, Session } from './session.ts';
import { isQueueMode, type LogQueue, type QueueConsumer, type QueueDelivery, type QueueMode, type SettleOutcome } from './queue.ts';
import { QUEUE_TOPIC_PREFIX, validQueueName, type QueueRegistry } from './queue-registry.ts';

export const LOG_PREFIX = '$log/';
export const GROUP_PREFIX = '$group/';

/** A group's mode: `partition` (partitions split among members, consumer-group.ts) or a queue mode (queue.ts). */
export type GroupMode = 'partition' | QueueMode;

export type LogFilter =
  | { kind: 'log'; from: StartPoint; filter: string }
  | { kind: 'group'; group: string; filter: string; mode?: GroupMode }
  | { kind: 'queue'; name: string; mode?: QueueMode };

/** Checks an `x-queue-mode` value for a parsed filter and sets it; returns an error for a mode the kind does not have. */
export function withMode(parsed: LogFilter, mode: string | undefined): LogFilter | { error: ErrorCode; detail: string } {
  if (mode === undefined || parsed.kind === 'log') return parsed;
  if (isQueueMode(mode)) return { ...parsed, mode };
  if (parsed.kind === 'group' && mode === 'partition') return { ...parsed, mode };
  return { error: 'TOPIC_FILTER_INVALID', detail: `x-queue-mode ${JSON.stringify(mode.slice(0, 100))}` };
}

/** undefined: an ordinary filter. `{ error }`: a `$log/` or `$group/` filter that is not valid. */
export function parseLogFilter(topic: string): LogFilter | { error: ErrorCode; detail: string } | undefined {
  if (topic.startsWith(QUEUE_TOPIC_PREFIX)) {
    const name = topic.slice(QUEUE_TOPIC_PREFIX.length);
    if (!validQueueName(name)) return { error: 'TOPIC_FILTER_INVALID', detail: `queue name ${JSON.stringify(name.slice(0, 100))}` };
    return { kind: 'queue', name };
  }
  const kind = topic.startsWith(LOG_PREFIX) ? 'log' : topic.startsWith(GROUP_PREFIX) ? 'group' : undefined;
  if (!kind) return undefined;
  const prefix = kind === 'log' ? LOG_PREFIX : GROUP_PREFIX;
  const slash = topic.indexOf('/', prefix.length);
  const bad = (detail: string) => ({ error: 'TOPIC_FILTER_INVALID' as const, detail });
  if (slash < 0) return bad(`${prefix}<${kind === 'log' ? 'start' : 'name'}>/<filter> expected`);
  const head = topic.slice(prefix.length, slash);
  const filter = topic.slice(slash + 1);
  try {
    checkFilter(filter);
  } catch (err) {
    return bad(err instanceof Error ? err.message : String(err));
  }
  if (kind === 'group') {
    if (head.length === 0 || /[+#\u0000]/.test(head)) return bad(`group name ${JSON.stringify(head)}`);
    return { kind, group: head, filter };
  }
  const from = parseStart(head);
  if (!from) return bad(`start point ${JSON.stringify(head)} (first | last | next | offset=N | timestamp=T)`);
  return { kind, from, filter };
}

/** first | last | next | offset=N | timestamp=T with N, T non-negative decimal integers; else undefined. */
export function parseStart(s: string): StartPoint | undefined {
  if (s === 'first' || s === 'last' || s === 'next') return s;
  const m = /^(offset|timestamp)=(\d{1,15})$/.exec(s);
  if (!m) return undefined;
  const n = Number(m[2]);
  return m[1] === 'offset' ? { offset: n } : { timestamp: n };
}

/** The session and its connection, as the broker's SessionEntry has them. */
export interface FeedTarget {
  readonly id: string;
  readonly session: Session;
  readonly link: { send(out: readonly Outbound[]): void } | undefined;
}

export interface LogSubscriptionsOptions {
  target: FeedTarget;
  log: ConsumerLogPort;
  /** Where group offsets live: the backend's key/value store (adapters get all three through broker.logSubscriptions). */
  store: OffsetStorePort;
  /** The broker's queues (QueueRegistry.for(broker)); without it `$queue/` and mode-based groups are refused. */
  queues?: QueueRegistry;
  /** Resolves when the connection's write buffer has room (QoS 0 backpressure); undefined = room now. */
  whenWritable?: () => Promise<void> | undefined;
  /** Idle wait between looks for new appends, only for a log without onAppend (default 10 ms). */
  pollMs?: number;
  /** A feeder failed (read error); it has stopped. */
  onError?: (err: unknown, topic: string) => void;
}

const MAX_BATCH = 256;
const MAX_PACKET_ID = 0xffff;
/** Fallback re-check of the window while waiting, in case an ack path did not call acked(). */
const CREDIT_RECHECK_MS = 50;

/** Free window slots for a new QoS 1 PUBLISH; 0 while offline or while the session queue holds anything. */
function credit(s: Session): number {
  if (!s.connected || s.queuedCount !== 0) return 0;
  return Math.max(0, Math.min(s.limits.maxInflight, MAX_PACKET_ID) - s.inflightCount);
}

/** One group per name per offset store in this process (ConsumerGroup's contract), with its members' filter. */
const groups = new WeakMap<OffsetStorePort, Map<string, { cg: ConsumerGroup; filter: string }>>();

/** What a PUBACK of a remembered delivery does, by its reason code (0 for v3.1.1). */
type Settle = (reasonCode: number) => void;

/** PUBACK reason code -> settle outcome: < 0x80 ack; 0x99 (Payload format invalid: it will never be processed) reject; other >= 0x80 nack. */
export function outcomeOfPuback(reasonCode: number): SettleOutcome {
  if (reasonCode < 0x80) return 'ack';
  return reasonCode === 0x99 ? 'reject' : 'nack';
}

abstract class Feeder {
  stopped = false;
  protected readonly wakers = new Set<() => void>();
  private stopSignal!: () => void;
  protected readonly stopPromise = new Promise<void>((r) => (this.stopSignal = r));

  constructor(
    protected readonly owner: LogSubscriptions,
    readonly topic: string,
    protected readonly options: SubscriptionOptions,
  ) {}

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopSignal();
    this.wake();
  }

  wake(): void {
    const ws = [...this.wakers];
    this.wakers.clear();
    for (const w of ws) w();
  }

  protected get notifier(): ReturnType<typeof appendNotifier> {
    return appendNotifier(this.owner.log);
  }

  /**
   * Sleeps until an append to one of `partitions` after `seen`, or until woken (ack, rebalance, stop): no timer.
   * Without a notifier (a log without onAppend) it naps pollMs.
   */
  protected sleepUntilAppend(partitions: readonly number[], seen: readonly number[] | undefined): Promise<void> {
    const n = this.notifier;
    if (!n || !seen) return this.nap(this.owner.pollMs);
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        cancel();
        this.wakers.delete(done);
        resolve();
      };
      const cancel = n.wait(partitions, seen, done);
      this.wakers.add(done);
    });
  }

  /** Waits up to `ms` or until woken (ack, stop). */
  protected nap(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wakers.add(done);
    });
  }

  protected get batch(): number {
    return Math.max(1, Math.min(MAX_BATCH, this.options.qos === 0 ? MAX_BATCH : this.owner.target.session.limits.maxInflight));
  }

  /**
   * Hands one log message to the session once there is room. Returns the delivered copy (to recognise its
   * ack), 'settled' when nothing awaits an ack (skipped, or sent at QoS 0), or 'stopped'.
   */
  protected async deliver(msg: Message): Promise<Message | 'settled' | 'stopped'> {
    const t = this.owner.target;
    if (isExpired(msg, Date.now())) return 'settled';
    if (this.options.noLocal && msg.senderId === t.id) return 'settled'; // [MQTT-3.8.3-3]
    const qos = (msg.qos < this.options.qos ? msg.qos : this.options.qos) as QoS;
    if (qos === 0) {
      const w = this.owner.whenWritable();
      if (w) await Promise.race([w, this.stopPromise]);
    } else {
      while (!this.stopped && credit(t.session) === 0) await this.nap(CREDIT_RECHECK_MS);
    }
    if (this.stopped || !t.link || !t.session.connected) return 'stopped';
    const ref = msg.ref!;
    const user = { ...msg.properties.userProperties, 'x-partition': String(ref.partition), 'x-offset': String(ref.offset) };
    const copy: Message = { ...msg, properties: { ...msg.properties, userProperties: user } };
    const ids = this.options.subscriptionId ? [this.options.subscriptionId] : [];
    const out = t.session.deliver({ msg: copy, qos, retain: this.options.retainAsPublished && msg.retain, subscriptionIds: ids }, Date.now());
    if (out.length !== 0) t.link.send(out);
    return qos === 0 ? 'settled' : copy;
  }
}

class ReplayFeeder extends Feeder {
  private follower: Follower | undefined;

  start(filter: string, from: StartPoint): void {
    this.follower = follow(this.owner.log, filter, from, async (msg) => {
      if (!this.stopped) await this.deliver(msg);
    }, { batch: this.batch, pollMs: this.owner.pollMs });
    this.follower.done.catch((err: unknown) => {
      if (!this.stopped) this.owner.failed(this, err);
    });
  }

  override stop(): void {
    super.stop();
    void this.follower?.stop();
  }
}

interface PartitionProgress {
  /** Delivered offsets awaiting an ack, ascending. */
  outstanding: number[];
  /** Last delivered (or settled) offset + 1. */
  next: number;
  committed: number;
  committing: boolean;
  again: boolean;
}

class GroupFeeder extends Feeder {
  private readonly progress = new Map<number, PartitionProgress>();

  constructor(
    owner: LogSubscriptions,
    topic: string,
    options: SubscriptionOptions,
    private readonly cg: ConsumerGroup,
    private readonly member: string,
  ) {
    super(owner, topic, options);
  }

  private offRebalance: (() => void) | undefined;

  start(): void {
    this.offRebalance = this.cg.onRebalance(() => this.wake());
    this.cg.join(this.member);
    this.run().catch((err: unknown) => {
      if (!this.stopped) this.owner.failed(this, err);
    });
  }

  override stop(): void {
    if (this.stopped) return;
    super.stop();
    this.offRebalance?.();
    this.cg.leave(this.member);
    this.owner.releaseGroup(this.cg);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let room = this.batch;
      if (this.options.qos > 0) {
        room = Math.min(room, credit(this.owner.target.session));
        if (room === 0) {
          await this.nap(CREDIT_RECHECK_MS);
          continue;
        }
      }
      const mine = this.cg.assignment(this.member);
      const seen = this.notifier?.snapshot(mine);
      const stats = { scanned: 0 };
      const msgs = await this.cg.poll(this.member, room, stats);
      if (msgs.length === 0) {
        if (stats.scanned === 0) await this.sleepUntilAppend(mine, seen); // caught up: sleep until an append
        continue; // only filtered-out records: read on
      }
      for (const msg of msgs) {
        if (this.stopped) return;
        const { partition, offset } = msg.ref!;
        if (!this.cg.assignment(this.member).includes(partition)) continue; // rebalanced away: the new owner reads it from the commit
        this.track(partition, offset);
        const r = await this.deliver(msg);
        if (r === 'stopped') return;
        if (r === 'settled') this.settle(partition, offset);
        else this.owner.remember(r, () => { if (!this.stopped) this.settle(partition, offset); }); // partition mode: any PUBACK moves the commit
      }
    }
  }

  private track(partition: number, offset: number): void {
    let pp = this.progress.get(partition);
    if (!pp || offset < pp.next) {
      // First read of this partition, or it came back (rebalance) and restarts at the commit.
      pp = { outstanding: [], next: offset, committed: offset, committing: false, again: false };
      this.progress.set(partition, pp);
    }
    pp.outstanding.push(offset);
    pp.next = offset + 1;
  }

  settle(partition: number, offset: number): void {
    const pp = this.progress.get(partition);
    if (!pp) return;
    const i = pp.outstanding.indexOf(offset);
    if (i < 0) return;
    pp.outstanding.splice(i, 1);
    this.commit(partition, pp);
  }

  /** One commit in flight per partition; a newer target is written when it resolves. */
  private commit(partition: number, pp: PartitionProgress): void {
    if (pp.committing) {
      pp.again = true;
      return;
    }
    const target = pp.outstanding.length !== 0 ? pp.outstanding[0]! : pp.next;
    if (target <= pp.committed || this.stopped) return;
    pp.committing = true;
    this.cg.commit(this.member, partition, target).then(
      () => {
        if (this.progress.get(partition) === pp) pp.committed = Math.max(pp.committed, target);
      },
      // Not the owner any more (rebalanced, left): the new owner starts from the last good commit.
      () => undefined,
    ).finally(() => {
      pp.committing = false;
      if (pp.again) {
        pp.again = false;
        this.commit(partition, pp);
      }
    });
  }
}

/** A consumer of a core queue (or mode-based group): deliveries through the session window, settled by PUBACK. */
class QueueFeeder {
  stopped = false;
  private consumer: QueueConsumer | undefined;
  private waitingForDrain = false;

  constructor(
    private readonly owner: LogSubscriptions,
    readonly topic: string,
    private readonly options: SubscriptionOptions,
    private readonly queue: LogQueue,
    private readonly onStop: () => void,
  ) {}

  start(): void {
    const t = this.owner.target;
    const qos0 = this.options.qos === 0;
    this.consumer = this.queue.addConsumer({
      id: t.id,
      prefetch: Math.max(1, Math.min(t.session.limits.maxInflight, MAX_PACKET_ID)),
      autoAck: qos0,
      ready: () => (qos0 ? this.writable() : credit(t.session) > 0 && t.link !== undefined),
      deliver: (d) => this.deliver(d),
    });
  }

  private writable(): boolean {
    const t = this.owner.target;
    if (!t.link || !t.session.connected) return false;
    const w = this.owner.whenWritable();
    if (!w) return true;
    if (!this.waitingForDrain) {
      this.waitingForDrain = true;
      void w.then(() => {
        this.waitingForDrain = false;
        this.wake();
      });
    }
    return false;
  }

  private deliver(d: QueueDelivery): void {
    const t = this.owner.target;
    const msg = d.msg;
    if (this.options.noLocal && msg.senderId === t.id) { // [MQTT-3.8.3-3]
      this.consumer?.settle(d.handle, 'ack');
      return;
    }
    const qos = (msg.qos < this.options.qos ? msg.qos : this.options.qos) as QoS;
    const ref = msg.ref!;
    const user: Record<string, string | string[]> = { ...msg.properties.userProperties, 'x-partition': String(ref.partition), 'x-offset': String(ref.offset) };
    if (d.redeliveries > 0) user['x-redelivery-count'] = String(d.redeliveries);
    const copy: Message = { ...msg, properties: { ...msg.properties, userProperties: user } };
    const ids = this.options.subscriptionId ? [this.options.subscriptionId] : [];
    const out = t.session.deliver({ msg: copy, qos, retain: false, subscriptionIds: ids }, Date.now());
    if (qos === 0) {
      // A QoS 0 copy of a QoS 1 queue message on a QoS 1 consumer: nothing will acknowledge it.
      if (this.options.qos !== 0) this.consumer?.settle(d.handle, 'ack');
    } else {
      const handle = d.handle;
      this.owner.remember(copy, (reasonCode) => this.consumer?.settle(handle, outcomeOfPuback(reasonCode)));
    }
    if (out.length !== 0) t.link?.send(out);
  }

  wake(): void {
    this.consumer?.pull();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.consumer?.close();
    this.onStop();
  }
}

/**
 * The log-backed subscriptions of one connection. add() on a topic that already has one replaces it.
 * Throws GatewayError IMPLEMENTATION_SPECIFIC when a group already runs with another filter.
 */
export class LogSubscriptions {
  readonly target: FeedTarget;
  readonly log: ConsumerLogPort;
  readonly pollMs: number;
  private readonly store: OffsetStorePort;
  private readonly writable: (() => Promise<void> | undefined) | undefined;
  private readonly onError: LogSubscriptionsOptions['onError'];
  private readonly queues: QueueRegistry | undefined;
  private readonly feeders = new Map<string, ReplayFeeder | GroupFeeder | QueueFeeder>();
  private readonly awaitingAck = new WeakMap<Message, Settle>();

  constructor(opts: LogSubscriptionsOptions) {
    this.target = opts.target;
    this.log = opts.log;
    this.store = opts.store;
    this.queues = opts.queues;
    this.writable = opts.whenWritable;
    this.pollMs = opts.pollMs ?? 10;
    this.onError = opts.onError;
  }

  get size(): number {
    return this.feeders.size;
  }

  has(topic: string): boolean {
    return this.feeders.has(topic);
  }

  add(topic: string, parsed: LogFilter, options: SubscriptionOptions): void {
    if (parsed.kind === 'log') {
      this.remove(topic);
      const f = new ReplayFeeder(this, topic, options);
      this.feeders.set(topic, f);
      f.start(parsed.filter, parsed.from);
      return;
    }
    if (parsed.kind === 'queue' || (parsed.mode !== undefined && parsed.mode !== 'partition')) return this.addQueueConsumer(topic, parsed, options);
    if (this.queues?.hasGroup(parsed.group)) {
      throw new GatewayError('IMPLEMENTATION_SPECIFIC', `consumer group ${JSON.stringify(parsed.group)} runs in another mode`);
    }
    let byName = groups.get(this.store);
    if (!byName) groups.set(this.store, (byName = new Map()));
    const existing = byName.get(parsed.group);
    if (existing && existing.filter !== parsed.filter) {
      throw new GatewayError('IMPLEMENTATION_SPECIFIC', `consumer group ${JSON.stringify(parsed.group)} reads ${JSON.stringify(existing.filter)}`);
    }
    this.remove(topic);
    let g = byName.get(parsed.group);
    if (!g) {
      g = { cg: new ConsumerGroup({ group: parsed.group, log: this.log, store: this.store, filter: parsed.filter, reset: 'first' }), filter: parsed.filter };
      byName.set(parsed.group, g);
    }
    const f = new GroupFeeder(this, topic, options, g.cg, this.target.id);
    this.feeders.set(topic, f);
    f.start();
  }

  private addQueueConsumer(topic: string, parsed: LogFilter, options: SubscriptionOptions): void {
    const reg = this.queues;
    if (!reg) throw new GatewayError('IMPLEMENTATION_SPECIFIC', 'queues need persistence (the durable log)');
    let queue: LogQueue;
    let release = (): void => undefined;
    if (parsed.kind === 'queue') queue = reg.queue(parsed.name, parsed.mode);
    else if (parsed.kind === 'group' && parsed.mode !== undefined && parsed.mode !== 'partition') {
      if (groups.get(this.store)?.has(parsed.group)) {
        throw new GatewayError('IMPLEMENTATION_SPECIFIC', `consumer group ${JSON.stringify(parsed.group)} runs in mode partition`);
      }
      this.remove(topic);
      queue = reg.group(parsed.group, parsed.filter, parsed.mode);
      const name = parsed.group;
      release = () => reg.releaseGroup(name);
    } else return;
    this.remove(topic);
    const f = new QueueFeeder(this, topic, options, queue, release);
    this.feeders.set(topic, f);
    f.start();
  }

  /** Stops the subscription on `topic`; false if there was none. */
  remove(topic: string): boolean {
    const f = this.feeders.get(topic);
    if (!f) return false;
    this.feeders.delete(topic);
    f.stop();
    return true;
  }

  /**
   * Call after every acknowledgement that frees a window slot (PUBACK, PUBCOMP) with the message it
   * acknowledged (Session.unackedMessage before onPuback), or undefined: commits a group offset when the
   * message was a group delivery, settles a queue delivery (outcomeOfPuback: an MQTT 5 PUBACK reason code
   * >= 0x80 refuses it), and lets waiting feeders look at the window again.
   */
  acked(msg: Message | undefined, reasonCode = 0): void {
    if (msg) {
      const s = this.awaitingAck.get(msg);
      if (s) {
        this.awaitingAck.delete(msg);
        s(reasonCode);
      }
    }
    for (const f of this.feeders.values()) f.wake();
  }

  /** Stops every subscription (connection closed). */
  closeAll(): void {
    for (const topic of [...this.feeders.keys()]) this.remove(topic);
  }

  // ---- for the feeders ----

  whenWritable(): Promise<void> | undefined {
    return this.writable?.();
  }

  remember(msg: Message, s: Settle): void {
    this.awaitingAck.set(msg, s);
  }

  failed(f: Feeder | QueueFeeder, err: unknown): void {
    if (this.feeders.get(f.topic) === f) this.remove(f.topic);
    this.onError?.(err, f.topic);
  }

  /** Forgets a group object once it has no members, so its filter may change and memory is freed (offsets stay in the store). */
  releaseGroup(cg: ConsumerGroup): void {
    const byName = groups.get(this.store);
    const g = byName?.get(cg.group);
    if (g && g.cg === cg && cg.memberIds().length === 0) byName!.delete(cg.group);
  }
}
