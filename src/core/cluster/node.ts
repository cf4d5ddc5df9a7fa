// One broker's part in a cluster over a shared backend (persistence.ts ClusterPort): routes other nodes' records, mirrors retained messages, claims sessions, splits `$share` groups, forwards QoS 0. Imports core cluster modules, codecs and types.
//
// The broker holds one ClusterNode when its backend has a cluster port (Broker option `cluster`), none
// otherwise: then nothing here runs and the single-node path is unchanged. Parts:
//   sequencer.ts   every record of the shared log routed here once, in per-partition order (the watermark invariant)
//   membership.ts  live nodes (heartbeat signals)
//   ownership.ts   session owner records, takeover and handoff
//   shares.ts      one delivery per `$share` group across nodes
//   share-recovery.ts  `$share` records assigned to a node that died are re-read and delivered by another (at least once)
//   queue-lease.ts one node serves each partition of a queue / mode-based consumer group at a time, balanced over the nodes with consumers
//   orphans.ts     sessions of a dead node adopted by a live one (expiry, wills)
// Retained messages: every node watches `r/` and applies each change to its in-memory RetainedStore (its own
// writes included, so every node converges on the store's order); the local write path is unchanged.
// QoS 0 messages that are not in the log (persistence.persistQos0 off) travel as a best-effort `q0` signal
// (encodeMessage), matching their at-most-once promise; every other message travels in the log.
import type { Logger } from 'pino';
import type { DurableStore } from '../durable.ts';
import type { Message } from '../message.ts';
import type { BackendLog, ClusterPort } from '../persistence.ts';
import { decodeMessage, encodeMessage } from '../record-codec.ts';
import type { RetainedStore } from '../retained.ts';
import { Membership } from './membership.ts';
import { Ownership, type ClaimResult } from './ownership.ts';
import { ClusterSequencer } from './sequencer.ts';
import { ShareAssigner } from './shares.ts';
import { ShareRecovery } from './share-recovery.ts';
import { QueueLeases } from './queue-lease.ts';
import { OrphanSweeper } from './orphans.ts';
import type { QueueGate } from '../queue.ts';

/** Broker option `cluster`: the shared backend's port and log, and timings (tests shorten them). */
export interface ClusterOptions {
  port: ClusterPort;
  log: BackendLog;
  /** Heartbeat period (default 1000 ms). */
  heartbeatMs?: number;
  /** A node silent this long is dead (default 3500 ms). */
  deadAfterMs?: number;
  /** How long a node taking a session over waits for the old owner's handoff (default 3000 ms). */
  handoffTimeoutMs?: number;
  /** How long the sessions of a node that stopped gracefully wait for it to come back before a live node adopts them (default 30000 ms; orphans.ts). */
  adoptAfterStopMs?: number;
  /** The same for a node that fell silent (default 30000 ms: longer than a NATS failover, during which nodes may miss each other's heartbeats). */
  adoptAfterDeadMs?: number;
}

/** What the broker lends its cluster node. */
export interface ClusterHost {
  readonly store: DurableStore;
  readonly retained: RetainedStore;
  /** Live routing of one message (router match, sessions, `$share` choice): Broker.routeLive. */
  routeLive(msg: Message): void;
  /** Another node took session `key` over: close it here (0x8E), save it, drop it from memory. */
  release(key: string): Promise<void>;
  /** This node adopted session `key` from a dead node: load it as after that node's crash (will, expiry). */
  adopted(key: string): Promise<void>;
  /** Whether this node's router has a member of `$share` group `key`. */
  hasShareMembers(key: string): boolean;
  /** This node's progress for `$share` group `key` (share-recovery.ts contract): per partition. */
  shareProgress(key: string): number[];
  /** Re-reads group `key`'s records in [from, end) and delivers those `accept` passes to members here (ShareBacklog.recover). */
  recoverShare(key: string, from: readonly number[], end: readonly number[], accept: (msg: Message) => boolean, done: () => void): { cancel(): void; kick(): void };
  /** This node's connected clients and sessions (heartbeats carry them for cluster totals). */
  load(): { connected: number; sessions: number };
}

export interface ClusterStats {
  /** Records appended by other nodes and routed here. */
  foreignRouted: number;
  /** QoS 0 messages received from other nodes by signal. */
  qos0In: number;
  /** Sessions this node took over from another node. */
  takeovers: number;
  /** Sessions of dead nodes this node adopted (orphans.ts). */
  adopted: number;
  /** `$share` records of a node that is gone, re-read and delivered here (share-recovery.ts). */
  shareRecovered: number;
  /** New records the shared log gave a sequence it had acknowledged to this node before (BackendLog.sequenceReuses). */
  sequenceReused: number;
}

export class ClusterNode {
  readonly membership: Membership;
  readonly ownership: Ownership;
  readonly shares: ShareAssigner;
  readonly shareRecovery: ShareRecovery;
  readonly queues: QueueLeases;
  private readonly orphans: OrphanSweeper;
  private readonly sequencer: ClusterSequencer;
  private readonly stops: (() => void)[] = [];
  /** In-flight inbound QoS 2 publishes per session (a takeover waits for their receipts). */
  private readonly inbound = new Map<string, Set<Promise<unknown>>>();
  private readonly counts = { qos0In: 0, takeovers: 0 };

  constructor(
    private readonly opts: ClusterOptions,
    private readonly host: ClusterHost,
    private readonly logger: Logger,
    sticky: boolean,
  ) {
    const port = opts.port;
    host.store.origin = port.nodeId;
    this.membership = new Membership(port, host.store.state, logger, opts);
    this.membership.load = () => host.load();
    this.ownership = new Ownership(port, host.store.state, this.membership, { release: (key) => host.release(key) }, logger, opts.handoffTimeoutMs);
    this.shares = new ShareAssigner(port, host.store.state, this.membership, sticky, (key) => host.hasShareMembers(key), logger);
    const log = opts.log;
    this.shareRecovery = new ShareRecovery(
      port,
      host.store.state,
      this.membership,
      this.shares,
      {
        progress: (key) => host.shareProgress(key),
        endOffsets: () => Array.from({ length: log.partitions }, (_, p) => log.endOffset(p)),
        hasLocalMembers: (key) => host.hasShareMembers(key),
        recover: (key, from, end, accept, done) => host.recoverShare(key, from, end, accept, done),
      },
      sticky,
      logger,
    );
    this.shares.onLocalChange = (key, has) => this.shareRecovery.localChanged(key, has);
    this.queues = new QueueLeases(port, host.store.state, this.membership, logger);
    this.orphans = new OrphanSweeper(host.store.state, this.membership, async (key, from) => {
      if (!(await this.ownership.adopt(key, from))) return false;
      await host.adopted(key);
      return true;
    }, logger, opts.adoptAfterStopMs, opts.adoptAfterDeadMs);
    this.sequencer = new ClusterSequencer({ nodeId: port.nodeId, log: opts.log, mark: host.store, route: (msg) => host.routeLive(msg), logger });
  }

  get nodeId(): string {
    return this.opts.port.nodeId;
  }

  get stats(): ClusterStats {
    return { foreignRouted: this.sequencer.foreignRouted, ...this.counts, adopted: this.orphans.adopted, shareRecovered: this.shareRecovery.recovered, sequenceReused: this.opts.log.sequenceReuses ?? 0 };
  }

  /** Watches first, then starts routing: called by Broker.restore once the local state is loaded. */
  start(): void {
    const port = this.opts.port;
    this.stops.push(
      port.watch('r/', (k, v) => this.retainedChanged(k, v)),
      port.onSignal('q0', (data, from) => {
        if (from === port.nodeId) return;
        let msg: Message;
        try {
          msg = decodeMessage(data);
        } catch (err) {
          this.logger.warn({ err, from }, 'unreadable QoS 0 message from another node, dropped');
          return;
        }
        this.counts.qos0In++;
        this.host.routeLive(msg);
      }),
    );
    this.membership.start();
    this.ownership.start();
    this.shares.start();
    this.queues.start();
    this.sequencer.start();
    this.orphans.start();
    this.shareRecovery.start();
  }

  stop(): void {
    for (const s of this.stops.splice(0)) s();
    this.orphans.stop();
    this.sequencer.stop();
    this.shareRecovery.stop();
    this.shares.stop();
    this.queues.stop();
    this.ownership.stop();
    this.membership.stop();
  }

  private retainedChanged(key: string, value: Buffer | undefined): void {
    const topic = key.slice(2);
    if (value === undefined) {
      this.host.retained.delete(topic);
      return;
    }
    try {
      this.host.retained.set(decodeMessage(value));
    } catch (err) {
      this.logger.warn({ err, key }, 'unreadable retained message from the shared store, ignored');
    }
  }

  /** A local append of `topic` is about to start; returns its partition (for failed()). */
  appending(topic: string): number {
    const p = this.opts.log.partitionFor(topic);
    this.sequencer.appending(p);
    return p;
  }

  appended(msg: Message): void {
    this.sequencer.appended(msg);
  }

  failed(partition: number): void {
    this.sequencer.failed(partition);
  }

  /** A QoS 0 message routed here without the log: the other nodes get it by signal (none when this node is alone). */
  forward(msg: Message): void {
    if (this.membership.live().length < 2) return;
    this.opts.port.signal('q0', encodeMessage(msg));
  }

  /** Tracks an inbound QoS 2 publish of session `sessionId` until it settles (a takeover waits for it). */
  trackInbound(sessionId: string, work: Promise<unknown>): void {
    let set = this.inbound.get(sessionId);
    if (!set) this.inbound.set(sessionId, (set = new Set()));
    set.add(work);
    const done = (): void => {
      set.delete(work);
      if (set.size === 0 && this.inbound.get(sessionId) === set) this.inbound.delete(sessionId);
    };
    work.then(done, done);
  }

  /** Resolves once the session's inbound QoS 2 publishes in flight have settled (their receipts written). */
  async inboundSettled(sessionId: string): Promise<void> {
    const set = this.inbound.get(sessionId);
    if (set) await Promise.allSettled([...set]);
  }

  deliversShare(key: string, msg: Message): boolean {
    return this.shares.delivers(key, msg);
  }

  shareChanged(key: string): void {
    this.shares.update(key);
  }

  /** Claims session `key` for this node (ownership.ts), waiting for the old owner's handoff. */
  async claim(key: string): Promise<ClaimResult> {
    const r = await this.ownership.claim(key);
    if (r.previous !== undefined && r.previous.node !== this.nodeId) this.counts.takeovers++;
    return r;
  }

  /** Whether a session found in the store at start is this node's to restore (its owner record names this node). */
  ownsAtStart(key: string): boolean {
    const owner = this.ownership.ownerOf(key);
    if (owner?.node !== this.nodeId) return false;
    this.ownership.adoptOwned(key);
    return true;
  }

  /** A session ended here: forget its ownership (the record is deleted when it still names this node). */
  ended(key: string): void {
    this.ownership.forget(key);
    if (this.ownership.ownerOf(key)?.node === this.nodeId) this.host.store.state.delete(`o/${key}`).catch(() => undefined);
  }

  /** Resolves when this node has routed up to `want` in every partition, or after `timeoutMs`. */
  async reached(want: readonly number[], timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.sequencer.reached(want), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** The lease gate of queue `name` (queue-registry.ts passes it to the LogQueue). */
  queueGate(name: string): QueueGate {
    return this.queues.gate(name);
  }

  /** Connected clients and sessions summed over the live nodes (from their heartbeats; this node's now). */
  totals(): { connected: number; sessions: number } {
    return this.membership.totals();
  }

  /** Live node ids, sorted ($SYS, metrics). */
  liveNodes(): readonly string[] {
    return this.membership.live();
  }
}
