// Queues and mode-based consumer groups across nodes: each (queue, log partition) is served by one node at a time, under a lease taken with compare-and-set, and the partitions are balanced over the nodes that have consumers of the queue. Imports core persistence, queue and membership types, the cluster's hash and ./node-sets.ts.
//
// A queue (queue.ts LogQueue) is, per log partition, a committed offset in the shared store over records of the
// shared log, so any node can serve a partition, but two nodes serving the same one would both deliver its
// records. State (shared store):
//   qm/<queue name>U+0000<nodeId>      exists while that node's queue has consumers (interest)
//   ql/<queue name>U+0000<partition>   JSON {v:2, node}: the node serving that partition of the queue
//   ql/<queue name>U+0000all           the same for a failover-mode queue: one node serves every partition
// - Owner. The candidates of a queue are the live nodes (membership.ts) with interest, sorted (this node counts
//   itself from its own consumers at once). The desired owner of partition p is the rendezvous winner: the
//   candidate n with the highest FNV-1a(queue U+0000 p U+0000 n). Every node computes the same one from the
//   same view; a node joining or leaving moves only the partitions it wins or held.
// - Take. The desired owner takes the lease when it is free: absent, its own, or held by a node that is no
//   longer alive (putIfVersion, so two takers cannot both win). It then restarts that partition from its stored
//   committed offset (LogQueue.resync(p)) and hands its records to its local consumers. A live holder that is
//   no longer the desired owner gives the partition up first (below); the desired owner waits for that.
// - Give up (a node with consumers joined and wins p, or this node lost its last consumer): the queue stops
//   reading p and drops p's records read but not handed out, waits (bounded, queue.ts YIELD_WAIT_MS) until its
//   consumers settled what they hold from p, writes p's committed offset, and only then is the lease deleted.
//   So a rebalance hands each record on once: exactly once while consumers settle in time (a delivery still
//   unsettled after the wait, or settled out of order, is delivered again by the next owner: at least once).
// - Death. A holder killed -9 holds its partitions until the others declare it dead (deadAfterMs); their new
//   owners redeliver what it had handed out but not committed (at least once). Its qm/ key stays; it no longer
//   counts (not live); an earlier run's own qm/ and ql/ keys are deleted when a node starts.
// Failover mode (one active consumer, the first to join) keeps the whole-queue lease: the first node to take
// `ql/<name>U+0000all` serves every partition until its last consumer leaves or it dies; no rebalance.
// Key-shared mode balances by partition like shared mode: a key in several partitions (a JMSXGroupID used on
// several topics) may then be on one consumer per node at a time.
// So a queue's load is shared by partition: a queue whose records are all in one partition (a `$queue/<name>`
// topic is one topic, so one partition) is served by one node at a time (failover, not load sharing); a
// mode-based consumer group over a filter spreads over its partitions. Per-partition order holds.
import type { Logger } from 'pino';
import type { ClusterPort, StatePort } from '../persistence.ts';
import type { QueueGate, QueueGateHooks } from '../queue.ts';
import type { Membership } from './membership.ts';
import { rendezvous } from '../hash.ts';
import { NodeSets, SEP, splitNodeKey } from './node-sets.ts';

const LEASE = 'ql/';
const INTEREST = 'qm/';

interface PartLease {
  held: boolean;
  trying: boolean;
  releasing: boolean;
}

/** The one lease of a queue whose partitions go together (failover mode): `ql/<queue>U+0000all`. */
const ALL = -1;

interface Lease {
  name: string;
  wanted: boolean;
  partitions: readonly number[];
  /** Failover mode: one node serves every partition, and keeps them while it has consumers (no rebalance). */
  together: boolean;
  parts: Map<number, PartLease>;
  hooks: QueueGateHooks | undefined;
}

/** Rendezvous: the node among `cands` with the highest FNV-1a(queue U+0000 partition U+0000 node); undefined when none. */
export function partitionOwner(queue: string, p: number, cands: readonly string[]): string | undefined {
  return rendezvous(`${queue}${SEP}${p}`, cands);
}

export class QueueLeases {
  private readonly leases = new Map<string, Lease>();
  /** Queue name -> nodes that said they have consumers. */
  private readonly interest = new NodeSets(INTEREST);
  private readonly stops: (() => void)[] = [];

  constructor(
    private readonly port: ClusterPort,
    private readonly state: StatePort,
    private readonly membership: Membership,
    private readonly logger: Logger,
  ) {}

  start(): void {
    const me = this.port.nodeId;
    // Keys an earlier run of this node (killed) left: it has no consumers yet, so its leases are free.
    for (const [k] of this.state.entries(LEASE)) {
      if (this.holderOf(k) === me) this.state.delete(k).catch((err: unknown) => this.logger.warn({ err, key: k }, 'stale queue lease not released'));
    }
    for (const [k] of this.state.entries(INTEREST)) {
      const split = splitNodeKey(INTEREST, k);
      if (split && split[1] === me && !this.leases.get(split[0])?.wanted) {
        this.state.delete(k).catch((err: unknown) => this.logger.warn({ err, key: k }, 'stale queue interest not deleted'));
        continue;
      }
      this.interest.apply(k, true);
    }
    this.stops.push(
      this.port.watch(INTEREST, (k, v) => {
        const name = this.interest.apply(k, v !== undefined);
        const l = name === undefined ? undefined : this.leases.get(name);
        if (l) this.rebalance(l);
      }),
      this.port.watch(LEASE, (k) => {
        const cut = k.lastIndexOf(SEP);
        const l = cut > 0 ? this.leases.get(k.slice(LEASE.length, cut)) : undefined;
        if (l) this.rebalance(l);
      }),
      this.membership.onChange(() => {
        for (const l of this.leases.values()) this.rebalance(l);
      }),
    );
  }

  /** Graceful stop: free every lease held here (the queues are closing; their commits were written as they settled). */
  stop(): void {
    for (const s of this.stops.splice(0)) s();
    for (const l of this.leases.values()) {
      for (const [p, pl] of l.parts) if (pl.held) this.release(l, p, pl);
      if (l.wanted) this.state.delete(this.interestKey(l.name)).catch(() => undefined);
    }
  }

  /** The gate of queue `name` (queue.ts LogQueueOptions.gate). */
  gate(name: string): QueueGate {
    let l = this.leases.get(name);
    if (!l) this.leases.set(name, (l = { name, wanted: false, partitions: [], together: false, parts: new Map(), hooks: undefined }));
    const lease = l;
    return {
      attach: (partitions, hooks, together) => {
        if (together !== lease.together) {
          // A queue re-created here in another mode: the other kind of lease is given back.
          for (const [p, pl] of lease.parts) if (pl.held) this.release(lease, p, pl);
          lease.parts.clear();
        }
        lease.partitions = partitions;
        lease.together = together;
        lease.hooks = hooks;
        // A queue re-created here (another mode) restarts the partitions this node still holds.
        for (const [p, pl] of lease.parts) if (pl.held && !pl.releasing) queueMicrotask(() => this.gained(lease, p));
      },
      want: (wanted) => {
        if (lease.wanted === wanted) return;
        lease.wanted = wanted;
        const k = this.interestKey(name);
        if (wanted) this.state.put(k, Buffer.from('1')).catch((err: unknown) => this.logger.warn({ err, queue: name }, 'queue interest not written'));
        else this.state.delete(k).catch((err: unknown) => this.logger.warn({ err, queue: name }, 'queue interest not deleted'));
        this.rebalance(lease);
      },
      serves: (p) => {
        const pl = lease.parts.get(lease.together ? ALL : p);
        return pl !== undefined && pl.held && !pl.releasing;
      },
    };
  }

  /** Whether this node serves partition `p` of queue `name` now (any partition when p is omitted). */
  holds(name: string, p?: number): boolean {
    const l = this.leases.get(name);
    if (!l) return false;
    if (p !== undefined) return l.parts.get(l.together ? ALL : p)?.held === true;
    for (const pl of l.parts.values()) if (pl.held) return true;
    return false;
  }

  private interestKey(name: string): string {
    return `${INTEREST}${name}${SEP}${this.port.nodeId}`;
  }

  private leaseKey(name: string, p: number): string {
    return `${LEASE}${name}${SEP}${p === ALL ? 'all' : p}`;
  }

  /** Lease `p` taken: the queue restarts that partition (every partition for the ALL lease). */
  private gained(l: Lease, p: number): void {
    if (p !== ALL) l.hooks?.gained(p);
    else for (const q of l.partitions) l.hooks?.gained(q);
  }

  /** The live nodes with consumers of queue `l`, sorted (this node from its own consumers). */
  private candidates(l: Lease): string[] {
    return this.interest.candidates(l.name, this.port.nodeId, l.wanted, (n) => this.membership.isLive(n));
  }

  private ownerOf(l: Lease, p: number, cands: readonly string[]): string | undefined {
    return partitionOwner(l.name, p, cands);
  }

  private part(l: Lease, p: number): PartLease {
    let pl = l.parts.get(p);
    if (!pl) l.parts.set(p, (pl = { held: false, trying: false, releasing: false }));
    return pl;
  }

  /** Takes the partitions this node should serve, gives up the ones it should not. */
  private rebalance(l: Lease): void {
    if (l.hooks === undefined) return;
    if (l.together) {
      // Failover mode: the first node to take the lease keeps every partition while it has consumers.
      const pl = this.part(l, ALL);
      if (l.wanted && !pl.held) this.tryTake(l, ALL, pl);
      else if (!l.wanted && pl.held && !pl.releasing) this.giveUp(l, ALL, pl);
      return;
    }
    const me = this.port.nodeId;
    const cands = l.wanted ? this.candidates(l) : [];
    for (const p of l.partitions) {
      const pl = this.part(l, p);
      const mine = l.wanted && this.ownerOf(l, p, cands) === me;
      if (mine && !pl.held) this.tryTake(l, p, pl);
      else if (!mine && pl.held && !pl.releasing) this.giveUp(l, p, pl);
    }
  }

  private holderOf(key: string): string | undefined {
    const v = this.state.get(key);
    if (!v) return undefined;
    try {
      const j = JSON.parse(v.toString('utf8')) as { node?: unknown };
      return typeof j.node === 'string' ? j.node : undefined;
    } catch {
      return undefined;
    }
  }

  private tryTake(l: Lease, p: number, pl: PartLease): void {
    if (pl.trying || pl.held) return;
    const k = this.leaseKey(l.name, p);
    const version = this.port.versionOf(k);
    const holder = this.holderOf(k);
    if (holder !== undefined && holder !== this.port.nodeId && this.membership.isLive(holder)) return; // it gives it up first
    pl.trying = true;
    this.port
      .putIfVersion(k, Buffer.from(JSON.stringify({ v: 2, node: this.port.nodeId })), version)
      .then(
        (ok) => {
          if (!ok) return;
          pl.held = true;
          this.logger.info({ queue: l.name, partition: p === ALL ? 'all' : p }, 'queue lease taken: this node serves the partition');
          this.gained(l, p);
          // Our view may have moved while we were taking it.
          queueMicrotask(() => this.rebalance(l));
        },
        (err: unknown) => this.logger.warn({ err, queue: l.name, partition: p }, 'queue lease not taken'),
      )
      .finally(() => {
        pl.trying = false;
      });
  }

  private giveUp(l: Lease, p: number, pl: PartLease): void {
    pl.releasing = true;
    const hooks = l.hooks;
    // No consumers left: nothing to wait for (their deliveries went back and were committed).
    const drained = l.wanted && hooks ? hooks.revoke(p) : Promise.resolve();
    drained
      .catch((err: unknown) => this.logger.warn({ err, queue: l.name, partition: p }, 'queue partition not drained before its lease was released'))
      .finally(() => {
        pl.releasing = false;
        if (pl.held) this.release(l, p, pl);
        this.rebalance(l);
      });
  }

  private release(l: Lease, p: number, pl: PartLease): void {
    pl.held = false;
    const k = this.leaseKey(l.name, p);
    if (this.holderOf(k) === this.port.nodeId) this.state.delete(k).catch((err: unknown) => this.logger.warn({ err, queue: l.name, partition: p }, 'queue lease not released'));
    this.logger.info({ queue: l.name, partition: p }, 'queue lease released');
  }
}
