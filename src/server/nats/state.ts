// The key/value state on a JetStream KV bucket, with a full in-memory cache, plus the ClusterPort's watch and compare-and-set. Imports ./link.ts, ./codec.ts, @nats-io/kv and core persistence types.
//
// Bucket `<prefix>_state` (stream KV_<prefix>_state), history 1, replicas as configured; keys encoded by codec.ts.
// The cache holds every key (live or deleted) with the KV revision last applied to it. It is filled at open from a
// watch with initial values, and the same watch keeps it fresh with every node's writes.
//
// Ordering rules (StatePort contract "get sees the last put / delete at once"; ClusterPort "watch after get"):
// - A local put / delete changes the cache and tells the watchers at once, then publishes; its PubAck gives the
//   revision. While a key has local writes in flight, updates of it from the watch are held back (the newest one
//   kept) and applied when the last local write settles, if newer than what this node wrote.
// - A watch update older than (or as old as) the cached revision is an echo or stale: ignored.
// - putIfVersion applies only after the store accepted it (it may fail); version = the cached revision of a live
//   key, 0 = absent. For a deleted key the expectation is its tombstone's revision, so "create" works after delete.
//   At replicas > 1 a barrier and a leader read confirm the win (stillLast: nats-server 2.9's check races).
// - A local write that fails re-reads the key once the connection is back, so the cache does not keep a value the
//   store never took.
import { headers } from '@nats-io/transport-node';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/transport-node';
import type { StatePort } from '../../core/persistence.ts';
import { decodeStateKey, encodeStateKey, frameHashedValue, unframeHashedValue } from './codec.ts';
import type { LinkEvents, NatsLink } from './link.ts';

type Entry = { value: Buffer | undefined; rev: number };
type Watcher = { prefix: string; fn: (key: string, value: Buffer | undefined) => void };

export const bucketName = (prefix: string): string => `${prefix}_state`;

/** KV key of the compare-and-set barrier (stillLast); decodeStateKey gives null for it, so the cache ignores it. */
const BARRIER_KEY = '=Z';

export class NatsState implements StatePort {
  private readonly entries_ = new Map<string, Entry>();
  /** Local writes in flight per key. */
  private readonly pending = new Map<string, number>();
  /** Per key with local writes in flight: the newest update the watch brought meanwhile. */
  private readonly heldBack = new Map<string, Entry>();
  /** KV keys of hashed (long) state keys -> the key, learnt from their values (a tombstone has none). */
  private readonly hashedKeys = new Map<string, string>();
  private watchers: Watcher[] = [];
  private iter: QueuedIterator<KvWatchEntry> | undefined;
  private lastRev = 0;
  private closed = false;
  private readonly subjectPrefix: string;

  private readonly stream: string;

  private constructor(private readonly link: NatsLink, private readonly kv: KV, bucket: string, private readonly replicas: number, private readonly events: LinkEvents) {
    this.subjectPrefix = `$KV.${bucket}.`;
    this.stream = `KV_${bucket}`;
  }

  static async open(link: NatsLink, o: { prefix: string; replicas: number }, events: LinkEvents): Promise<NatsState> {
    const bucket = bucketName(o.prefix);
    const kv = await new Kvm(link.js).create(bucket, { history: 1, replicas: o.replicas, timeout: link.timeoutMs });
    const state = new NatsState(link, kv, bucket, o.replicas, events);
    try {
      await state.load();
    } catch (err) {
      await state.close();
      throw err;
    }
    link.onReady((up) => { if (up) void state.refreshFailed(); });
    return state;
  }

  /** Starts the watch and resolves once the initial values are in the cache. */
  private async load(): Promise<void> {
    const initial = (await this.kv.status()).values;
    let resolveLoaded!: () => void;
    const loaded = new Promise<void>((r) => { resolveLoaded = r; });
    if (initial === 0) resolveLoaded();
    await this.startWatch((e) => { if (e.delta === 0) resolveLoaded(); });
    // Bounded: a bucket that never reports its last initial value fails the open instead of hanging the start.
    let timer: NodeJS.Timeout | undefined;
    const limit = Math.max(30_000, this.link.timeoutMs * 6);
    const late = new Promise<never>((_r, reject) => { timer = setTimeout(() => reject(new Error(`state bucket not loaded within ${limit} ms`)), limit); });
    try {
      await Promise.race([loaded, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async startWatch(onEntry: (e: KvWatchEntry) => void): Promise<void> {
    const iter = await this.kv.watch(this.lastRev > 0 ? { resumeFromRevision: this.lastRev + 1 } : {});
    this.iter = iter;
    void (async () => {
      try {
        for await (const e of iter) {
          this.lastRev = Math.max(this.lastRev, e.revision);
          this.fromStore(e);
          onEntry(e);
        }
      } catch (err) {
        this.events.warn({ err: (err as Error).message }, 'nats state watch failed');
      }
      if (!this.closed) {
        // The watch ended under us: start it again from the next revision.
        await new Promise((r) => setTimeout(r, 500));
        if (!this.closed) await this.startWatch(() => undefined).catch((err: unknown) => this.events.warn({ err: (err as Error).message }, 'nats state watch restart failed'));
      }
    })();
  }

  /** A write as the store applied it (this node's echo or another node's write). */
  private fromStore(e: KvWatchEntry): void {
    const raw = e.key;
    let key: string;
    let value: Buffer | undefined = e.operation === 'PUT' ? Buffer.from(e.value) : undefined;
    const decoded = decodeStateKey(raw);
    if (decoded === null) return;
    if (typeof decoded === 'string') key = decoded;
    else if (value !== undefined) {
      const f = unframeHashedValue(value);
      if (!f) return;
      key = f.key;
      value = Buffer.from(f.value);
      this.hashedKeys.set(raw, key);
    } else {
      const known = this.hashedKeys.get(raw);
      if (known === undefined) return;
      key = known;
    }
    this.apply(key, { value, rev: e.revision });
  }

  private apply(key: string, next: Entry): void {
    if ((this.pending.get(key) ?? 0) > 0) {
      const held = this.heldBack.get(key);
      if (!held || next.rev > held.rev) this.heldBack.set(key, next);
      return;
    }
    const cur = this.entries_.get(key);
    if (cur && next.rev <= cur.rev) return;
    this.entries_.set(key, next);
    this.tell(key, next.value);
  }

  private tell(key: string, value: Buffer | undefined): void {
    for (const w of this.watchers) {
      if (!key.startsWith(w.prefix)) continue;
      try { w.fn(key, value); } catch { /* a watcher must not break the store */ }
    }
  }

  // --- StatePort ---

  get(key: string): Buffer | undefined {
    const v = this.entries_.get(key)?.value;
    return v === undefined ? undefined : Buffer.from(v);
  }

  *entries(prefix = ''): IterableIterator<[string, Buffer]> {
    // Map iteration tolerates writes during it (a key deleted meanwhile is skipped), so no copy of the whole cache.
    for (const [k, e] of this.entries_) if (e.value !== undefined && k.startsWith(prefix)) yield [k, Buffer.from(e.value)];
  }

  put(key: string, value: Buffer): Promise<void> {
    return this.write(key, Buffer.from(value));
  }

  delete(key: string): Promise<void> {
    const cur = this.entries_.get(key);
    if (this.closed || !this.link.ready || (cur !== undefined && cur.value !== undefined) || (this.pending.get(key) ?? 0) > 0) return this.write(key, undefined);
    return Promise.resolve(); // nothing to delete (the contract's "delete of a missing key resolves")
  }

  private write(key: string, value: Buffer | undefined): Promise<void> {
    const refused = this.closed ? new Error('state store is closed') : this.link.refusal();
    if (refused) return Promise.reject(refused);
    const cur = this.entries_.get(key);
    this.entries_.set(key, { value, rev: cur?.rev ?? 0 });
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    this.tell(key, value);
    return this.publish(key, value).then(
      (rev) => this.settle(key, rev),
      (err: unknown) => {
        this.settle(key, undefined);
        this.failedKeys.add(key);
        throw err;
      },
    );
  }

  private publish(key: string, value: Buffer | undefined, expectRev?: number): Promise<number> {
    const { kvKey, hashed } = encodeStateKey(key);
    if (hashed) this.hashedKeys.set(kvKey, key);
    const subject = this.subjectPrefix + kvKey;
    const opts: Parameters<NatsLink['js']['publish']>[2] = { timeout: this.link.timeoutMs };
    if (value === undefined) {
      const h = headers();
      h.set('KV-Operation', 'DEL');
      opts.headers = h;
    }
    if (expectRev !== undefined) opts.expect = { lastSubjectSequence: expectRev };
    const payload = value === undefined ? new Uint8Array(0) : hashed ? frameHashedValue(key, value) : value;
    return this.link.guard(() => this.link.js.publish(subject, payload, opts)).then((ack) => ack.seq);
  }

  private settle(key: string, rev: number | undefined): void {
    const cur = this.entries_.get(key);
    if (cur && rev !== undefined && rev > cur.rev) cur.rev = rev;
    const left = (this.pending.get(key) ?? 1) - 1;
    if (left > 0) { this.pending.set(key, left); return; }
    this.pending.delete(key);
    const held = this.heldBack.get(key);
    this.heldBack.delete(key);
    if (held) this.apply(key, held);
  }

  private readonly failedKeys = new Set<string>();

  /** After a reconnect: keys whose local write failed are read back from the store (the write may not have happened). */
  private async refreshFailed(): Promise<void> {
    const keys = [...this.failedKeys];
    this.failedKeys.clear();
    for (const key of keys) {
      if (this.closed) return;
      try {
        // At the stream leader, not kv.get: that is a direct get, which any replica answers, one that lags too.
        const { kvKey, hashed } = encodeStateKey(key);
        const m = await this.link.guard(() => this.link.jsm.streams.getMessage(this.stream, { last_by_subj: this.subjectPrefix + kvKey }));
        if ((this.pending.get(key) ?? 0) > 0) continue;
        const cur = this.entries_.get(key);
        let value: Buffer | undefined;
        const op = m?.header?.get('KV-Operation');
        if (m && op !== 'DEL' && op !== 'PURGE') {
          value = Buffer.from(m.data);
          if (hashed) value = unframeHashedValue(value)?.value;
        }
        const rev = m?.seq ?? 0;
        if (!cur || rev >= cur.rev) {
          const changed = !(cur?.value === undefined ? value === undefined : value !== undefined && cur.value.equals(value));
          this.entries_.set(key, { value, rev });
          if (changed) this.tell(key, value);
        }
      } catch {
        this.failedKeys.add(key);
      }
    }
  }

  // --- ClusterPort parts ---

  watch(prefix: string, fn: (key: string, value: Buffer | undefined) => void): () => void {
    const w: Watcher = { prefix, fn };
    this.watchers = [...this.watchers, w];
    return () => { this.watchers = this.watchers.filter((x) => x !== w); };
  }

  versionOf(key: string): number {
    const e = this.entries_.get(key);
    return e && e.value !== undefined ? e.rev : 0;
  }

  async putIfVersion(key: string, value: Buffer, version: number): Promise<boolean> {
    const refused = this.closed ? new Error('state store is closed') : this.link.refusal();
    if (refused) throw refused;
    const cur = this.entries_.get(key);
    let expect = version;
    if (version === 0) {
      if (cur && cur.value !== undefined) return false; // exists (as far as this node knows)
      expect = cur?.rev ?? 0; // a tombstone's revision, or 0 for a key never written
    } else if (!cur || cur.value === undefined || cur.rev !== version) {
      return false;
    }
    const copy = Buffer.from(value);
    let rev: number;
    try {
      rev = await this.publish(key, copy, expect);
    } catch (err) {
      if (/wrong last sequence/i.test((err as Error).message)) return false;
      throw err;
    }
    if (this.replicas > 1 && !(await this.stillLast(key, rev))) return false;
    this.apply(key, { value: copy, rev });
    return true;
  }

  /**
   * Whether revision `rev` of `key` is still its last one, checked after a barrier. nats-server 2.9 checks a clustered
   * stream's expected-last-subject-sequence before the Raft proposal only (nats-io/nats-server#4320), so two writers
   * expecting the same revision can both be accepted at R > 1. A barrier message published after our PubAck is
   * applied after every proposal that raced ours; the key's last revision read at the leader after it names the one
   * winner (the later write). The loser's value was stored for a moment: watchers see it, then the winner's.
   */
  private async stillLast(key: string, rev: number): Promise<boolean> {
    await this.link.guard(() => this.link.js.publish(this.subjectPrefix + BARRIER_KEY, new Uint8Array(0), { timeout: this.link.timeoutMs }));
    const subject = this.subjectPrefix + encodeStateKey(key).kvKey;
    const last = await this.link.guard(() => this.link.jsm.streams.getMessage(this.stream, { last_by_subj: subject }));
    return last !== null && last.seq === rev;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watchers = [];
    this.iter?.stop();
  }
}
