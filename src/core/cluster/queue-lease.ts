// Queues and mode-based consumer groups across nodes: one node serves a queue at a time, under a lease `ql/<queue>` taken with compare-and-set. Imports core persistence, queue and membership types.
//
// A queue (queue.ts LogQueue) is a committed cursor in the shared store over records of the shared log, so any
// node can serve it, but two nodes serving it at once would both deliver each record. So:
//   ql/<queue name>  JSON {v:1, node}: the node serving the queue.
// - A node whose queue has consumers takes the lease when it is free: absent, held by itself, or held by a
//   node that membership.ts no longer sees alive (putIfVersion, so two takers cannot both win). It then
//   starts from the stored committed offsets (LogQueue.resync) and serves its local consumers.
// - While another live node holds it, the queue here is on standby: its consumers get nothing (failover
//   across nodes, not load sharing), and it tries again when the lease key changes or a node dies.
// - The holder deletes the lease when its last consumer leaves (after committing what was settled), or at a
//   graceful stop. A holder killed -9 holds it until the others declare it dead (deadAfterMs); the next
//   holder redelivers what the dead one had handed out but not committed (at least once).
// Limit: consumers of one queue on several nodes do not share its load; only the lease holder's do.
import type { Logger } from 'pino';
import type { ClusterPort, StatePort } from '../persistence.ts';
import type { QueueGate } from '../queue.ts';
import type { Membership } from './membership.ts';

const PREFIX = 'ql/';

interface Lease {
  name: string;
  held: boolean;
  trying: boolean;
  /** The queue's restart hook (LogQueue.resync), set once the queue exists. */
  onGained: (() => void) | undefined;
  wanted: boolean;
}

export class QueueLeases {
  private readonly leases = new Map<string, Lease>();
  private readonly stops: (() => void)[] = [];

  constructor(
    private readonly port: ClusterPort,
    private readonly state: StatePort,
    private readonly membership: Membership,
    private readonly logger: Logger,
  ) {}

  start(): void {
    // Leases an earlier run of this node (killed) left: it has no consumers yet, so they are free.
    for (const [k] of this.state.entries(PREFIX)) {
      const name = k.slice(PREFIX.length);
      if (this.holderOf(name) === this.port.nodeId) this.state.delete(k).catch((err: unknown) => this.logger.warn({ err, queue: name }, 'stale queue lease not released'));
    }
    this.stops.push(
      this.port.watch(PREFIX, (k) => {
        const l = this.leases.get(k.slice(PREFIX.length));
        if (l && !l.held && l.wanted) this.tryTake(l);
      }),
      this.membership.onChange(() => {
        for (const l of this.leases.values()) if (!l.held && l.wanted) this.tryTake(l);
      }),
    );
  }

  /** Graceful stop: free every lease held here. */
  stop(): void {
    for (const s of this.stops.splice(0)) s();
    for (const l of this.leases.values()) if (l.held) this.release(l);
  }

  /** The gate for queue `name` (queue.ts LogQueueOptions.gate); `onGained` restarts the queue from its stored offsets. */
  gate(name: string, onGained: () => void): QueueGate {
    let l = this.leases.get(name);
    if (!l) this.leases.set(name, (l = { name, held: false, trying: false, onGained: undefined, wanted: false }));
    l.onGained = onGained;
    const lease = l;
    return {
      active: () => {
        lease.wanted = true;
        if (lease.held) return true;
        this.tryTake(lease);
        return false;
      },
      idle: () => {
        lease.wanted = false;
        if (lease.held) this.release(lease);
      },
    };
  }

  /** Whether this node serves queue `name` now. */
  holds(name: string): boolean {
    return this.leases.get(name)?.held === true;
  }

  private holderOf(name: string): string | undefined {
    const v = this.state.get(PREFIX + name);
    if (!v) return undefined;
    try {
      const j = JSON.parse(v.toString('utf8')) as { node?: unknown };
      return typeof j.node === 'string' ? j.node : undefined;
    } catch {
      return undefined;
    }
  }

  private tryTake(l: Lease): void {
    if (l.trying || l.held) return;
    const k = PREFIX + l.name;
    const version = this.port.versionOf(k);
    const holder = this.holderOf(l.name);
    if (holder !== undefined && holder !== this.port.nodeId && this.membership.isLive(holder)) return; // standby
    l.trying = true;
    this.port
      .putIfVersion(k, Buffer.from(JSON.stringify({ v: 1, node: this.port.nodeId })), version)
      .then(
        (ok) => {
          if (!ok) return;
          if (!l.wanted) {
            // The consumers left while we were taking it: give it back.
            this.state.delete(k).catch(() => undefined);
            return;
          }
          l.held = true;
          this.logger.info({ queue: l.name }, 'queue lease taken: this node serves the queue');
          l.onGained?.();
        },
        (err: unknown) => this.logger.warn({ err, queue: l.name }, 'queue lease not taken'),
      )
      .finally(() => {
        l.trying = false;
      });
  }

  private release(l: Lease): void {
    l.held = false;
    if (this.holderOf(l.name) === this.port.nodeId) this.state.delete(PREFIX + l.name).catch((err: unknown) => this.logger.warn({ err, queue: l.name }, 'queue lease not released'));
  }
}
