// An in-memory ClusterBackend for tests (src/core/persistence.ts): N nodes over one shared log and one key/value map, with watch, compare-and-set and signals. Imports core persistence types and src/log's partition function.
//
// Model (what a NATS JetStream backend gives, minus the network):
// - One log of `partitions` partitions, dense offsets from 0, partition = src/log's fnv1a(key) mod partitions,
//   so a topic lands in the same partition as on the local backend. An append is readable on every node at
//   once; the appending node's onAppend listeners are told before it resolves (as src/log does), every other
//   open node's on a later turn (setImmediate), as a remote stream consumer would be.
// - One key/value map; every put / delete gets the next global revision (versionOf), as a JetStream KV does.
//   Watchers on every open node are told on a later turn, in revision order.
// - Signals reach every open node (the sender included) on a later turn, with the sender's nodeId.
// - kill(): the node stops at once (no flush, no goodbye): its writes reject, its listeners go quiet. close()
//   is the same in memory (everything acknowledged is already in the shared data). Reopening a node id gives a
//   new node over the same data, so the backend contract's close + reopen test holds.
import { fnv1a } from '../../src/log/index.ts';
import type { BackendLog, ClusterBackend, ClusterPort, StatePort } from '../../src/core/persistence.ts';

type Watcher = { prefix: string; fn: (key: string, value: Buffer | undefined) => void };
type Rec = { key: string; timestamp: number; headers: Buffer; value: Buffer; partition: number; offset: number };

export interface MemoryClusterOptions {
  /** Log partitions (default 4). */
  partitions?: number;
}

export class MemoryCluster {
  readonly partitions: number;
  readonly logs: Rec[][];
  readonly kv = new Map<string, { value: Buffer; version: number }>();
  private revision = 0;
  readonly nodes = new Set<MemoryNode>();

  constructor(opts: MemoryClusterOptions = {}) {
    this.partitions = opts.partitions ?? 4;
    this.logs = Array.from({ length: this.partitions }, () => []);
  }

  /** Opens node `nodeId` (a new node object over the shared data; ids must be unique among open nodes). */
  node(nodeId: string): MemoryNode {
    for (const n of this.nodes) if (n.nodeId === nodeId) throw new Error(`node ${nodeId} is open`);
    const n = new MemoryNode(this, nodeId);
    this.nodes.add(n);
    return n;
  }

  /** Opens `count` nodes named n1..nN. */
  open(count: number): MemoryNode[] {
    return Array.from({ length: count }, (_, i) => this.node(`n${i + 1}`));
  }

  nextRevision(): number {
    return ++this.revision;
  }

  /** Runs fn for every open node on a later turn (in call order). */
  broadcast(fn: (n: MemoryNode) => unknown): void {
    for (const n of this.nodes) n.later(() => void fn(n));
  }
}

/** One node's view of the shared data. */
export class MemoryNode implements ClusterBackend {
  readonly log: BackendLog;
  readonly state: StatePort;
  readonly cluster: ClusterPort;
  private open = true;
  private readonly appendListeners = new Set<(partition: number, endOffset: number) => void>();
  private readonly watchers = new Set<Watcher>();
  private readonly signalListeners = new Map<string, Set<(data: Buffer, from: string) => void>>();
  private readonly tasks: (() => void)[] = [];
  private scheduled = false;

  constructor(
    private readonly c: MemoryCluster,
    readonly nodeId: string,
  ) {
    const node = this;
    const closedError = (): Error => new Error(`node ${nodeId} closed`);
    this.log = {
      partitions: c.partitions,
      partitionFor: (key) => fnv1a(key) % c.partitions,
      append(input) {
        if (!node.open) return Promise.reject(closedError());
        const partition = fnv1a(input.key) % c.partitions;
        const log = c.logs[partition]!;
        const offset = log.length;
        log.push({ key: input.key, timestamp: input.timestamp, headers: Buffer.from(input.headers), value: Buffer.from(input.value), partition, offset });
        const end = log.length;
        // This node's listeners before the append resolves (as src/log does); the others on a later turn.
        node.tellAppend(partition, end);
        c.broadcast((n) => n !== node && n.tellAppend(partition, end));
        return Promise.resolve({ partition, offset });
      },
      read(partition, offset, maxRecords, maxBytes = Infinity) {
        const log = c.logs[partition] ?? [];
        const out: Rec[] = [];
        let bytes = 0;
        for (let o = Math.max(0, offset); o < log.length && out.length < maxRecords; o++) {
          const r = log[o]!;
          const size = r.key.length + r.headers.length + r.value.length + 32;
          if (out.length > 0 && bytes + size > maxBytes) break;
          bytes += size;
          out.push({ ...r, headers: Buffer.from(r.headers), value: Buffer.from(r.value) });
        }
        return Promise.resolve(out);
      },
      endOffset: (p) => c.logs[p]?.length ?? 0,
      startOffset: () => 0,
      offsetForTime(p, ts) {
        const log = c.logs[p] ?? [];
        const i = log.findIndex((r) => r.timestamp >= ts);
        return Promise.resolve(i < 0 ? log.length : i);
      },
      onAppend(listener) {
        node.appendListeners.add(listener);
        return () => void node.appendListeners.delete(listener);
      },
      close: () => node.close(),
    };
    const write = (key: string, value: Buffer | undefined): Promise<void> => {
      if (!node.open) return Promise.reject(closedError());
      node.apply(key, value);
      return Promise.resolve();
    };
    this.state = {
      get: (key) => {
        const v = c.kv.get(key);
        return v ? Buffer.from(v.value) : undefined;
      },
      put: (key, value) => write(key, value),
      delete: (key) => write(key, undefined),
      entries(prefix = '') {
        const out: [string, Buffer][] = [];
        for (const [k, v] of [...c.kv].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) if (k.startsWith(prefix)) out.push([k, Buffer.from(v.value)]);
        return out.values();
      },
      close: () => node.close(),
    };
    this.cluster = {
      nodeId,
      watch(prefix, fn) {
        const w = { prefix, fn };
        node.watchers.add(w);
        return () => void node.watchers.delete(w);
      },
      versionOf: (key) => c.kv.get(key)?.version ?? 0,
      putIfVersion(key, value, version) {
        if (!node.open) return Promise.reject(closedError());
        if ((c.kv.get(key)?.version ?? 0) !== version) return Promise.resolve(false);
        node.apply(key, value);
        return Promise.resolve(true);
      },
      signal(subject, data) {
        if (!node.open) return;
        const copy = Buffer.from(data);
        c.broadcast((n) => n.tellSignal(subject, copy, nodeId));
      },
      onSignal(subject, fn) {
        let set = node.signalListeners.get(subject);
        if (!set) node.signalListeners.set(subject, (set = new Set()));
        set.add(fn);
        return () => void set.delete(fn);
      },
    };
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** A put (value) or delete (undefined) applied to the shared map, then told to every node's watchers. */
  private apply(key: string, value: Buffer | undefined): void {
    if (value === undefined) {
      if (!this.c.kv.has(key)) return;
      this.c.kv.delete(key);
      this.c.nextRevision();
    } else this.c.kv.set(key, { value: Buffer.from(value), version: this.c.nextRevision() });
    const copy = value === undefined ? undefined : Buffer.from(value);
    // Watchers present when the change applied (a watch started later does not see it: no replay).
    for (const n of this.c.nodes) {
      const ws = [...n.watchers].filter((w) => key.startsWith(w.prefix));
      if (ws.length !== 0) n.later(() => n.tellWatch(ws, key, copy));
    }
  }

  later(task: () => void): void {
    if (!this.open) return;
    this.tasks.push(task);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const run = this.tasks.splice(0);
      for (const t of run) if (this.open) t();
    });
  }

  tellAppend(partition: number, end: number): void {
    for (const l of [...this.appendListeners]) if (this.appendListeners.has(l)) l(partition, end);
  }

  tellWatch(ws: readonly Watcher[], key: string, value: Buffer | undefined): void {
    for (const w of ws) if (this.watchers.has(w)) w.fn(key, value === undefined ? undefined : Buffer.from(value));
  }

  tellSignal(subject: string, data: Buffer, from: string): void {
    for (const l of [...(this.signalListeners.get(subject) ?? [])]) l(Buffer.from(data), from);
  }

  /** Stops the node as a kill -9 would: nothing more is written or told; the shared data keeps what was acknowledged. */
  kill(): void {
    this.open = false;
    this.tasks.length = 0;
    this.appendListeners.clear();
    this.watchers.clear();
    this.signalListeners.clear();
    this.c.nodes.delete(this);
  }

  close(): Promise<void> {
    if (this.open) this.kill();
    return Promise.resolve();
  }
}

/** One shared cluster per directory, so the backend contract's reopen finds its data. */
const byDir = new Map<string, MemoryCluster>();

/** A node named `nodeId` of the memory cluster kept for `dir` (the backend contract's open(dir)). */
export function memoryNodeFor(dir: string, nodeId = 'n1', opts?: MemoryClusterOptions): MemoryNode {
  let c = byDir.get(dir);
  if (!c) byDir.set(dir, (c = new MemoryCluster(opts)));
  return c.node(nodeId);
}
