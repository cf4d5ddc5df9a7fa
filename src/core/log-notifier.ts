// Wakes log readers on append, per partition, so a reader that has caught up sleeps with no timer and an idle reader costs nothing. Imports nothing.
//
// Contract: one AppendNotifier per log (appendNotifier() caches it), fed by the log's onAppend. Each partition
// has an append counter. A reader takes snapshot() of the counters of the partitions it reads BEFORE it reads;
// when the read found nothing new it calls wait(partitions, seen, wake): `wake` runs once, at the first append to
// one of those partitions after the snapshot, at once (in a microtask) if one already happened while it read.
// So no append is missed between "read found nothing" and "asleep". wait() returns a cancel function.
// A log without onAppend (a test double, an older backend) gets undefined: the caller falls back to polling.

/** The slice of a log the notifier needs. */
export interface AppendSource {
  readonly partitions: number;
  onAppend?(listener: (partition: number, endOffset: number) => void): () => void;
}

interface Waiter {
  fired: boolean;
  /** In the waiting sets (counted in `sleepers`). */
  parked: boolean;
  partitions: readonly number[];
  wake: () => void;
}

export class AppendNotifier {
  private readonly counts: number[];
  private readonly waiting: Set<Waiter>[];
  private parked = 0;

  constructor(readonly partitions: number) {
    this.counts = new Array<number>(partitions).fill(0);
    this.waiting = Array.from({ length: partitions }, () => new Set<Waiter>());
  }

  /** The log appended to `partition` (records readable now). */
  notify(partition: number): void {
    if (partition < 0 || partition >= this.partitions) return;
    this.counts[partition]!++;
    const set = this.waiting[partition]!;
    if (set.size === 0) return;
    for (const w of [...set]) this.fire(w);
  }

  /** Append counters of `partitions`, in that order (take before reading). */
  snapshot(partitions: readonly number[]): number[] {
    return partitions.map((p) => this.counts[p] ?? 0);
  }

  /** Sleepers right now (tests, metrics). */
  get sleepers(): number {
    return this.parked;
  }

  /** Calls `wake` once at the first append to one of `partitions` after `seen` (a snapshot of them). Returns cancel. */
  wait(partitions: readonly number[], seen: readonly number[], wake: () => void): () => void {
    const w: Waiter = { fired: false, parked: false, partitions, wake };
    for (let i = 0; i < partitions.length; i++) {
      if ((this.counts[partitions[i]!] ?? 0) !== seen[i]) {
        queueMicrotask(() => this.fire(w));
        return () => { w.fired = true; };
      }
    }
    for (const p of partitions) this.waiting[p]?.add(w);
    w.parked = true;
    this.parked++;
    return () => this.remove(w);
  }

  private remove(w: Waiter): void {
    w.fired = true;
    if (!w.parked) return;
    w.parked = false;
    this.parked--;
    for (const p of w.partitions) this.waiting[p]?.delete(w);
  }

  private fire(w: Waiter): void {
    if (w.fired) return;
    this.remove(w);
    w.wake();
  }
}

const notifiers = new WeakMap<object, AppendNotifier>();

/** The notifier of `log` (created and subscribed on first use); undefined when the log cannot notify. */
export function appendNotifier(log: AppendSource): AppendNotifier | undefined {
  let n = notifiers.get(log);
  if (n) return n;
  if (typeof log.onAppend !== 'function') return undefined;
  const created = new AppendNotifier(log.partitions);
  log.onAppend((p) => created.notify(p));
  notifiers.set(log, created);
  return created;
}

/**
 * Sleeps until an append to one of `partitions` after `seen`, or until the returned `wake()` is called. Without a
 * notifier it sleeps `fallbackMs` (polling). `promise` resolves either way; `wake` is idempotent.
 */
export function sleepUntilAppend(
  log: AppendSource,
  partitions: readonly number[],
  seen: readonly number[] | undefined,
  fallbackMs: number,
): { promise: Promise<void>; wake: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  const n = appendNotifier(log);
  if (n && seen) {
    const cancel = n.wait(partitions, seen, resolve);
    return { promise, wake: () => { cancel(); resolve(); } };
  }
  const t = setTimeout(resolve, fallbackMs);
  return { promise, wake: () => { clearTimeout(t); resolve(); } };
}
