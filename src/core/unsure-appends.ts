// Inbound QoS 2 publishes that failed around their append (the append failed: the record may be stored or not; or it succeeded and the receipt write failed), by dedup id, so the publisher's resend uses or looks for the first copy instead of appending again. Pure; imports nothing.
//
// Why (docs/CLUSTER.md "Kill loop"): JetStream's duplicate detection (Nats-Msg-Id) is the other guard, but each
// duplicate it drops goes through its replicated apply path, and nats-server 2.9.10 lost acknowledged records in
// the cluster kill loop in runs full of such duplicates. A resend that finds its first copy is not sent at all.
// Bounded: at most MAX entries (the oldest go first), each kept at most TTL_MS (JetStream's default duplicate window).

export interface UnsureAppend {
  partition: number;
  /** The partition's end offset when the append started: a stored first copy is at or after it. */
  from: number;
  /** Where the first copy is, when the append itself succeeded and a later step (the receipt write) failed. */
  stored?: number;
  at: number;
}

const MAX = 10_000;
const TTL_MS = 120_000;

export class UnsureAppends {
  private readonly byId = new Map<string, UnsureAppend>();

  /** The append with this dedup id failed; keeps the earliest `from` of repeated failures. */
  remember(dedupId: string, partition: number, from: number, now = Date.now()): void {
    const had = this.byId.get(dedupId);
    this.set(dedupId, { partition, from: had ? Math.min(had.from, from) : from, at: now });
  }

  /** The append with this dedup id stored its record at `offset`, but the publish failed after it (its receipt write). */
  rememberStored(dedupId: string, partition: number, offset: number, now = Date.now()): void {
    this.set(dedupId, { partition, from: offset, stored: offset, at: now });
  }

  /** Newest last (Map order), so the oldest goes first past MAX. */
  private set(dedupId: string, u: UnsureAppend): void {
    this.byId.delete(dedupId);
    this.byId.set(dedupId, u);
    if (this.byId.size > MAX) this.byId.delete(this.byId.keys().next().value as string);
  }

  /** The failed append with this dedup id, if one is remembered and recent; it stays until forget(). */
  get(dedupId: string, now = Date.now()): UnsureAppend | undefined {
    const u = this.byId.get(dedupId);
    if (u && now - u.at > TTL_MS) {
      this.byId.delete(dedupId);
      return undefined;
    }
    return u;
  }

  forget(dedupId: string): void {
    this.byId.delete(dedupId);
  }
}
