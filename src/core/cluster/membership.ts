// Which gateway nodes are alive: a heartbeat signal per node, a node record `n/<nodeId>` in the shared key/value store, and a dead-after timeout. Imports core persistence types.
//
// Protocol: every node signals `hb` (JSON {v:1, startedAt, load: {connected, sessions}}) every heartbeatMs; a node not heard from for
// deadAfterMs is dead. At start a node writes `n/<nodeId>` (JSON {v:1, startedAt}) and takes every node listed
// under `n/` as alive until deadAfterMs has passed without its heartbeat (so a node that just started does not
// believe it is alone); a graceful stop deletes its record and signals `bye`, so the others drop it at once.
// Views are eventually consistent: two nodes may disagree for up to deadAfterMs after a death or a start
// (what that means for `$share` groups is in docs/CLUSTER.md).
import type { Logger } from 'pino';
import type { ClusterPort, StatePort } from '../persistence.ts';

export interface MembershipOptions {
  /** Heartbeat period (default 1000 ms). */
  heartbeatMs?: number;
  /** A node silent this long is dead (default 3500 ms; at least twice heartbeatMs). */
  deadAfterMs?: number;
}

/** What each heartbeat carries besides liveness: a few counters for cluster totals ($SYS, /metrics). */
export interface NodeLoad {
  connected: number;
  sessions: number;
}

const NODE_PREFIX = 'n/';

export class Membership {
  readonly heartbeatMs: number;
  readonly deadAfterMs: number;
  /** nodeId -> epoch ms last heard from (this node: always alive). */
  private readonly heard = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly stops: (() => void)[] = [];
  private readonly listeners = new Set<() => void>();
  private liveCache: string[] | undefined;
  readonly startedAt = Date.now();
  /** Nodes that said `bye` (graceful) or fell silent and have not beaten since -> since when (orphans.ts gives them time to come back). */
  private readonly gone = new Map<string, { at: number; graceful: boolean }>();
  /** nodeId -> the `startedAt` its heartbeats carry: the run of that node (a restarted node has a new one). */
  private readonly runs = new Map<string, number>();
  /** The last load each node reported (this one: read when asked). */
  private readonly loads = new Map<string, NodeLoad>();
  /** This node's load for its heartbeats (set by the owner). */
  load: () => NodeLoad = () => ({ connected: 0, sessions: 0 });

  constructor(
    private readonly port: ClusterPort,
    private readonly state: StatePort,
    private readonly logger: Logger,
    opts: MembershipOptions = {},
  ) {
    this.heartbeatMs = opts.heartbeatMs ?? 1000;
    this.deadAfterMs = Math.max(opts.deadAfterMs ?? 3500, 2 * this.heartbeatMs);
  }

  get nodeId(): string {
    return this.port.nodeId;
  }

  start(): void {
    const now = Date.now();
    for (const [k] of this.state.entries(NODE_PREFIX)) {
      const id = k.slice(NODE_PREFIX.length);
      if (id !== this.nodeId) this.heard.set(id, now);
    }
    this.stops.push(
      this.port.onSignal('hb', (d, from) => {
        if (from === this.nodeId) return;
        try {
          const j = JSON.parse(d.toString('utf8')) as { startedAt?: unknown; load?: Partial<NodeLoad> };
          if (typeof j.startedAt === 'number') this.runs.set(from, j.startedAt);
          if (j.load) this.loads.set(from, { connected: Number(j.load.connected) || 0, sessions: Number(j.load.sessions) || 0 });
        } catch {
          // an unreadable heartbeat still proves the node is alive
        }
        const known = this.heard.has(from);
        this.heard.set(from, Date.now());
        this.gone.delete(from);
        if (!known) this.changed(`node ${from} joined`);
      }),
      this.port.onSignal('bye', (_d, from) => {
        this.loads.delete(from);
        if (from !== this.nodeId) this.gone.set(from, { at: Date.now(), graceful: true });
        this.runs.delete(from);
        if (from !== this.nodeId && this.heard.delete(from)) this.changed(`node ${from} left`);
      }),
    );
    this.state.put(NODE_PREFIX + this.nodeId, Buffer.from(JSON.stringify({ v: 1, startedAt: this.startedAt }))).catch((err: unknown) => this.logger.warn({ err }, 'cluster node record not written'));
    this.beat();
    this.timer = setInterval(() => this.beat(), this.heartbeatMs);
    this.timer.unref();
  }

  /** Graceful stop: the others drop this node at once. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const s of this.stops.splice(0)) s();
    try {
      this.port.signal('bye', Buffer.alloc(0));
    } catch {
      // best effort
    }
    this.state.delete(NODE_PREFIX + this.nodeId).catch(() => undefined);
  }

  private beat(): void {
    try {
      this.port.signal('hb', Buffer.from(JSON.stringify({ v: 1, startedAt: this.startedAt, load: this.load() })));
    } catch (err) {
      this.logger.debug({ err }, 'heartbeat not sent');
    }
    // Expire silent nodes.
    const now = Date.now();
    for (const [id, at] of this.heard) {
      if (now - at > this.deadAfterMs) {
        this.heard.delete(id);
        this.loads.delete(id);
        this.runs.delete(id);
        this.gone.set(id, { at, graceful: false });
        this.changed(`node ${id} silent for ${now - at} ms: dead`);
      }
    }
  }

  private changed(why: string): void {
    this.liveCache = undefined;
    this.logger.info({ nodes: this.live() }, `cluster membership: ${why}`);
    for (const l of this.listeners) l();
  }

  /** Live nodes, sorted, this one included. */
  live(): readonly string[] {
    this.liveCache ??= [this.nodeId, ...this.heard.keys()].sort();
    return this.liveCache;
  }

  /** Sum of the live nodes' last reported loads (this node's now). */
  totals(): NodeLoad {
    const t = { ...this.load() };
    for (const id of this.live()) {
      const l = id === this.nodeId ? undefined : this.loads.get(id);
      if (l) {
        t.connected += l.connected;
        t.sessions += l.sessions;
      }
    }
    return t;
  }

  /** This node's run: its start time, carried by its heartbeats (state keys of one run are told from a later run's by it). */
  get run(): number {
    return this.startedAt;
  }

  /** The run of a live node from its last heartbeat (this node: its own); undefined when none was heard yet. */
  runOf(nodeId: string): number | undefined {
    return nodeId === this.nodeId ? this.startedAt : this.runs.get(nodeId);
  }

  isLive(nodeId: string): boolean {
    if (nodeId === this.nodeId) return true;
    const at = this.heard.get(nodeId);
    return at !== undefined && Date.now() - at <= this.deadAfterMs;
  }

  /** Since when node `nodeId` is gone (last heard, or its `bye` when graceful), if this node saw it go and it has not come back. */
  goneSince(nodeId: string): { at: number; graceful: boolean } | undefined {
    return this.gone.get(nodeId);
  }

  /** Called after every change of the live set. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }
}
