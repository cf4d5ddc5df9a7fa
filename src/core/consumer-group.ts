// Consumer groups over the log: deterministic partition assignment, rebalance on join/leave, committed offsets in the key/value store, lag. Imports ./consumer.ts, core types and codecs only.
//
// Key/value layout: `g/<group>/<partition>` -> JSON {"offset": N, "at": epochMs}. N is the NEXT offset the
// group will read in that partition (last processed + 1, Kafka's convention). Group names are non-empty and
// contain no `/`, so the partition is everything after the last `/`.
// Delivery: at least once. Each partition has one owner at a time and a fetch position held in memory;
// poll advances the position, commit makes it durable. When a partition changes owner (join, leave) or the
// group is reopened, the new owner starts at the committed offset, so records polled but not committed
// are delivered again. With no commit yet, a partition starts at the group's `reset` start point.
// Concurrency: one ConsumerGroup object per group name per store (the object is the coordinator; two objects
// for the same group would not see each other's members). poll calls may overlap: a partition being read
// is skipped by a concurrent poll, and records read across a rebalance are dropped, not returned twice.
import { gatewayError } from './errors.ts';
import type { Message } from './message.ts';
import { recordToMessage } from './record-codec.ts';
import { checkFilter, resolveStart, type ConsumerLogPort, type StartPoint } from './consumer.ts';
import { topicMatches } from './topic.ts';

/** The slice of the compacted key/value store groups keep offsets in (src/log's KeyValueStore satisfies it). */
export interface OffsetStorePort {
  get(key: string): Buffer | undefined;
  put(key: string, value: Buffer): Promise<void>;
  delete(key: string): Promise<void>;
  entries(prefix?: string): IterableIterator<[string, Buffer]>;
}

export type AssignmentStrategy = 'range' | 'round-robin';

export interface ConsumerGroupOptions {
  /** Non-empty, no `/`. */
  group: string;
  log: ConsumerLogPort;
  store: OffsetStorePort;
  /** default 'range' */
  strategy?: AssignmentStrategy;
  /** Where a partition without a committed offset starts (default 'first'). */
  reset?: StartPoint;
  /** Only messages whose topic matches are returned; others are skipped but still advance the position (default '#'). */
  filter?: string;
}

export interface PartitionLag {
  partition: number;
  /** undefined when the group never committed in this partition. */
  committed: number | undefined;
  start: number;
  end: number;
  /** end - committed; with no commit, end - start (everything retained is unconsumed). Never negative. */
  lag: number;
  /** Current owner, if the group is live in this process. */
  owner: string | undefined;
}

export interface CommittedOffset { group: string; partition: number; offset: number; at: number }

const PREFIX = 'g/';

export function offsetKey(group: string, partition: number): string {
  return `${PREFIX}${group}/${partition}`;
}

function decodeCommit(v: Buffer): { offset: number; at: number } | undefined {
  try {
    const j = JSON.parse(v.toString('utf8')) as { offset?: unknown; at?: unknown };
    if (typeof j.offset !== 'number' || !Number.isSafeInteger(j.offset) || j.offset < 0) return undefined;
    return { offset: j.offset, at: typeof j.at === 'number' ? j.at : 0 };
  } catch {
    return undefined;
  }
}

/** Every committed offset in the store, sorted by group then partition (for tools such as the log CLI). Unreadable values are skipped. */
export function listCommitted(store: OffsetStorePort): CommittedOffset[] {
  const out: CommittedOffset[] = [];
  for (const [k, v] of store.entries(PREFIX)) {
    const slash = k.lastIndexOf('/');
    const group = k.slice(PREFIX.length, slash);
    const partition = Number(k.slice(slash + 1));
    const c = decodeCommit(v);
    if (!group || !Number.isSafeInteger(partition) || partition < 0 || !c) continue;
    out.push({ group, partition, offset: c.offset, at: c.at });
  }
  return out.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : a.partition - b.partition));
}

/**
 * Deterministic assignment of `partitions` partitions to `members` (sorted by id, so every coordinator agrees).
 * range: contiguous blocks, the first (partitions % members) members get one extra. round-robin: partition p -> member p % n.
 */
export function assignPartitions(members: readonly string[], partitions: number, strategy: AssignmentStrategy): Map<string, number[]> {
  const sorted = [...members].sort();
  const out = new Map<string, number[]>(sorted.map((m) => [m, []]));
  const n = sorted.length;
  if (n === 0) return out;
  if (strategy === 'round-robin') {
    for (let p = 0; p < partitions; p++) out.get(sorted[p % n]!)!.push(p);
    return out;
  }
  const base = Math.floor(partitions / n);
  const extra = partitions % n;
  let p = 0;
  for (let i = 0; i < n; i++) {
    const count = base + (i < extra ? 1 : 0);
    for (let k = 0; k < count; k++) out.get(sorted[i]!)!.push(p++);
  }
  return out;
}

interface PartitionState {
  owner: string | undefined;
  /** Bumped on every owner change; a read that started under an older generation is dropped. */
  generation: number;
  /** Fetch position of the current owner; undefined = resolve from the commit or `reset` on the next poll. */
  position: number | undefined;
  busy: boolean;
}

export class ConsumerGroup {
  readonly group: string;
  private readonly log: ConsumerLogPort;
  private readonly store: OffsetStorePort;
  private readonly strategy: AssignmentStrategy;
  private readonly reset: StartPoint;
  private readonly filter: string;
  private readonly members = new Set<string>();
  private readonly parts: PartitionState[];
  /** Per member: which of its partitions the next poll starts with, so a small `max` does not starve the rest. */
  private readonly turn = new Map<string, number>();
  private readonly rebalanceListeners = new Set<() => void>();

  constructor(opts: ConsumerGroupOptions) {
    if (!opts.group || opts.group.includes('/')) throw new RangeError(`consumer group name must be non-empty without '/', got ${JSON.stringify(opts.group)}`);
    this.group = opts.group;
    this.log = opts.log;
    this.store = opts.store;
    this.strategy = opts.strategy ?? 'range';
    this.reset = opts.reset ?? 'first';
    this.filter = opts.filter ?? '#';
    checkFilter(this.filter);
    this.parts = Array.from({ length: opts.log.partitions }, () => ({ owner: undefined, generation: 0, position: undefined, busy: false }));
  }

  /** Adds a member (idempotent) and rebalances; returns the member's partitions. */
  join(memberId: string): number[] {
    if (!memberId) throw new RangeError('member id must be non-empty');
    if (!this.members.has(memberId)) {
      this.members.add(memberId);
      this.rebalance();
    }
    return this.assignment(memberId);
  }

  /** Removes a member and hands its partitions to the others (uncommitted progress is lost: they start at the commit). False if unknown. */
  leave(memberId: string): boolean {
    if (!this.members.delete(memberId)) return false;
    this.turn.delete(memberId);
    this.rebalance();
    return true;
  }

  /** Called after every change of partition owners or positions (join, leave, deleteOffsets): sleeping members look again. Returns remove. */
  onRebalance(listener: () => void): () => void {
    this.rebalanceListeners.add(listener);
    return () => this.rebalanceListeners.delete(listener);
  }

  private rebalanced(): void {
    for (const l of [...this.rebalanceListeners]) l();
  }

  memberIds(): string[] {
    return [...this.members].sort();
  }

  /** Partitions the member owns now, ascending ([] for a non-member). */
  assignment(memberId: string): number[] {
    const out: number[] = [];
    this.parts.forEach((s, p) => { if (s.owner === memberId) out.push(p); });
    return out;
  }

  private rebalance(): void {
    const plan = assignPartitions([...this.members], this.parts.length, this.strategy);
    for (const [member, ps] of plan) {
      for (const p of ps) {
        const s = this.parts[p]!;
        if (s.owner === member) continue;
        s.owner = member;
        s.generation++;
        s.position = undefined;
      }
    }
    if (this.members.size === 0) {
      for (const s of this.parts) {
        if (s.owner === undefined) continue;
        s.owner = undefined;
        s.generation++;
        s.position = undefined;
      }
    }
    this.rebalanced();
  }

  /** The committed (next-to-read) offset of a partition, or undefined. */
  committed(partition: number): number | undefined {
    const v = this.store.get(offsetKey(this.group, partition));
    return v ? decodeCommit(v)?.offset : undefined;
  }

  private owned(memberId: string, partition: number): PartitionState {
    if (!this.members.has(memberId)) throw gatewayError('PROTOCOL_ERROR', `${JSON.stringify(memberId)} is not a member of consumer group ${JSON.stringify(this.group)}`);
    const s = this.parts[partition];
    if (!s) throw new RangeError(`no partition ${partition} (log has ${this.parts.length})`);
    if (s.owner !== memberId) throw gatewayError('PROTOCOL_ERROR', `${JSON.stringify(memberId)} does not own partition ${partition} of consumer group ${JSON.stringify(this.group)}`);
    return s;
  }

  /**
   * Up to `max` messages from the member's partitions, each partition in offset order from its fetch position
   * (initially the committed offset). Every message carries `ref` {partition, offset}. [] when there is nothing new,
   * or when every record read was filtered out: `stats.scanned` (added to) tells the two apart.
   */
  async poll(memberId: string, max: number, stats?: { scanned: number }): Promise<Message[]> {
    if (!Number.isSafeInteger(max) || max <= 0) throw new RangeError(`max must be a positive integer, got ${max}`);
    if (!this.members.has(memberId)) throw gatewayError('PROTOCOL_ERROR', `${JSON.stringify(memberId)} is not a member of consumer group ${JSON.stringify(this.group)}`);
    const mine = this.assignment(memberId);
    const out: Message[] = [];
    if (mine.length === 0) return out;
    const first = (this.turn.get(memberId) ?? 0) % mine.length;
    this.turn.set(memberId, first + 1);
    for (let i = 0; i < mine.length && out.length < max; i++) {
      const p = mine[(first + i) % mine.length]!;
      const s = this.parts[p]!;
      if (s.busy) continue;
      s.busy = true;
      try {
        const gen = s.generation;
        if (s.position === undefined) {
          const c = this.committed(p);
          const pos = c ?? (await resolveStart(this.log, p, this.reset));
          if (s.generation !== gen) continue;
          s.position = pos;
        }
        const end = this.log.endOffset(p);
        if (s.position >= end) continue;
        const recs = await this.log.read(p, s.position, max - out.length);
        if (s.generation !== gen || s.owner !== memberId) continue; // rebalanced while reading: the new owner reads these
        if (stats) stats.scanned += recs.length;
        for (const r of recs) {
          s.position = r.offset + 1;
          if (topicMatches(this.filter, r.key)) out.push(recordToMessage(r));
        }
      } finally {
        s.busy = false;
      }
    }
    return out;
  }

  /**
   * Persists `offset` (the next offset to read: last processed + 1) as the group's committed offset for the
   * partition the member owns; also moves the fetch position there when it was behind. Resolves when durable
   * under the store's flush policy. 0 <= offset <= endOffset; committing backwards is allowed (rewind).
   */
  async commit(memberId: string, partition: number, offset: number): Promise<void> {
    const s = this.owned(memberId, partition);
    const end = this.log.endOffset(partition);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > end) throw new RangeError(`commit offset ${offset} outside 0..${end} for partition ${partition}`);
    if (s.position === undefined || s.position < offset) s.position = offset;
    await this.store.put(offsetKey(this.group, partition), Buffer.from(JSON.stringify({ offset, at: Date.now() })));
  }

  /** Commits the member's current fetch position in each partition it owns and has polled (Kafka's commitSync()). */
  async commitPositions(memberId: string): Promise<void> {
    const work: Promise<void>[] = [];
    for (const p of this.assignment(memberId)) {
      const pos = this.parts[p]!.position;
      if (pos !== undefined && pos !== this.committed(p)) work.push(this.commit(memberId, p, pos));
    }
    await Promise.all(work);
  }

  /** Lag per partition from the committed offsets (not the in-memory positions). */
  lag(): PartitionLag[] {
    return this.parts.map((s, p) => {
      const committed = this.committed(p);
      const start = this.log.startOffset(p);
      const end = this.log.endOffset(p);
      return { partition: p, committed, start, end, lag: Math.max(0, end - (committed ?? start)), owner: s.owner };
    });
  }

  /** Deletes every committed offset of this group (members stay; their positions restart from `reset`). */
  async deleteOffsets(): Promise<void> {
    const work: Promise<void>[] = [];
    for (const [k] of this.store.entries(`${PREFIX}${this.group}/`)) work.push(this.store.delete(k));
    for (const s of this.parts) {
      s.generation++;
      s.position = undefined;
    }
    this.rebalanced();
    await Promise.all(work);
  }
}
