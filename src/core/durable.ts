// Durable state for the broker over the log and key/value ports: messages, retained, sessions as log cursors, QoS 2 receipts. Imports core types and codecs only.
//
// Key/value layout. Every value carries a format version (state-codec.ts; record-codec.ts for binary
// messages); the golden files under test/unit/files/ pin each one. <id> is a session key: a client id,
// or U+0000 + name for an internal session (broker.ts INTERNAL_KEY).
//   r/<topic>                   retained message: record-codec encodeMessage (header version byte 1)
//   s/<id>                      session meta v2 {v, expiry, detachedAt, will?}: written at connect and disconnect
//   f/<id>U+0000<filter>        one subscription v1 {v, qos, nl, rap, rh, sid?}: written by SUBSCRIBE, deleted by
//                               UNSUBSCRIBE (filters never contain U+0000 [MQTT-1.5.4-2], so the last one splits)
//   c/<id>                      cursor / in-flight v1 {v, w, next, inflight, extra}: per partition the first offset
//                               the session still has to read, its outbound QoS 1/2 flows as log refs, and the few
//                               buffered deliveries the log cannot re-derive (retained, `$share`). Its size is
//                               bounded by the window, never by the backlog. Written at connect and disconnect, and
//                               at most once a second while it changes; a crash can redeliver (never lose) what
//                               was acknowledged in that second.
//   q/<id>/<packetId>           inbound QoS 2 receipt v1 {v, p, o, released, t?, m?}: written after the append and before
//                               PUBREC; `released` before PUBCOMP. A header-only scan of the log tail at start restores
//                               receipts whose write a crash cut off, so a resent PUBLISH is never routed twice.
//   sg/<$share/group/filter>    cursor of a behind `$share` group v1 {v, cursor}
//   m/routed[/<nodeId>]         routed watermarks v1 {v, cursor} (per node in a cluster), written once a second when they moved: every
//                               receipt of a record below them was queued before it, so the restart scan for
//                               cut-off receipts starts here (about a second of log), not at the oldest session
//   queue/<name>/<p>, g/<group>/<p>   queue and consumer-group offsets (queue.ts, consumer-group.ts; not read here)
//   o/<id>, n/<node>, gm/<group>U+0000<node>, sp/<group>U+0000<node>U+0000<run>, qm/<queue>U+0000<node>,
//   ql/<queue>U+0000<partition>  cluster only: session owner, live node, `$share` group membership and progress,
//                               queue interest and partition lease (src/core/cluster/*.ts; docs/CLUSTER.md)
// So a SUBSCRIBE / UNSUBSCRIBE writes one small key, an ack at most one bounded cursor record a second;
// nothing rewrites a session's subscriptions. Images written before v2 (one JSON per session, no `v`)
// are read and rewritten in this layout at start.
import { createHash } from 'node:crypto';
import type { LogRef, Message } from './message.ts';
import type { InboundQos2, MessageLogPort, MessagePersistence, StatePort, StorageBackend } from './persistence.ts';
import { decodeHeaders, decodeMessage, encodeHeaders, encodeMessage, recordToMessage, type DecodedHeaders } from './record-codec.ts';
import type { SubscriptionOptions } from './router.ts';
import type { DeliveryRequest, SessionSnapshot } from './session.ts';
import type { CatchUpBatch } from './catch-up.ts';
import { UnsureAppends } from './unsure-appends.ts';
import {
  decodeCursor,
  decodeFilter,
  decodeGroupCursor,
  decodeLegacySession,
  decodeReceipt,
  decodeSessionMeta,
  encodeCursor,
  encodeFilter,
  encodeGroupCursor,
  encodeReceipt,
  encodeSessionMeta,
  type SessionCursor,
  type Receipt,
  type SessionMeta,
  type StoredRef,
} from './state-codec.ts';

/** A record as the log port reads it. */
type StoredRecord = Awaited<ReturnType<MessageLogPort['read']>>[number];

export interface RestoredSession {
  snapshot: SessionSnapshot;
  detachedAt: number;
  watermarks: number[];
  will?: { delay: number; msg: Message };
}

/** Separates the session key from the filter in `f/` keys. */
const SEP = '\u0000';

/** Catch-up reads: bytes per read, batches kept for sharing, payload size below which it is copied out. */
const READ_BYTES = 256 * 1024;
const READ_CACHE_BATCHES = 64;
const COPY_BELOW = 64 * 1024;
/** A resend's second look for its first copy (see append). */
const FIRST_COPY_RETRY_MS = 500;

export class DurableStore implements MessagePersistence {
  /** Per partition: the first offset not yet routed (appends resolve in offset order per partition). */
  private readonly unrouted: number[];
  /** Inbound QoS 2 appends that failed (outcome unknown), by dedup id: a resend looks for its first copy first. */
  private readonly unsure = new UnsureAppends();
  /** Recent catch-up reads by `partition:from:max`, insertion order = age. */
  private readonly readCache = new Map<string, Promise<CatchUpBatch>>();

  /** The first state-store write error (the store is sticky: every later write fails too). */
  stateError: Error | undefined;
  /** Called once, with the first state-store write error (the gateway logs it and fails /readyz). */
  onStateError?: (err: Error) => void;

  /** This node's id in a cluster (ClusterNode sets it): written into each record's header as its origin; '' alone. */
  origin = '';

  /** The broker's store over one storage backend (persistence.ts StorageBackend): how the gateway opens it. */
  static over(backend: StorageBackend, persistQos0: boolean): DurableStore {
    const store = new DurableStore(backend.log, backend.state, persistQos0);
    store.backend = backend;
    return store;
  }

  /** Set by over(): close() closes the backend as one (else the log, then the state store). */
  private backend: StorageBackend | undefined;

  constructor(
    readonly log: MessageLogPort,
    readonly state: StatePort,
    private readonly persistQos0: boolean,
  ) {
    this.unrouted = Array.from({ length: log.partitions }, (_, p) => log.endOffset(p));
  }

  /** Every state write goes through here, so a failure is never silent. */
  private put(key: string, value: Buffer): Promise<void> {
    return this.state.put(key, value).catch((err: unknown) => this.failed(err));
  }

  private del(key: string): Promise<void> {
    if (this.state.get(key) === undefined) return Promise.resolve();
    return this.state.delete(key).catch((err: unknown) => this.failed(err));
  }

  private failed(err: unknown): never {
    const e = err instanceof Error ? err : new Error(String(err));
    if (this.stateError === undefined) {
      this.stateError = e;
      this.onStateError?.(e);
    }
    throw e;
  }

  wants(msg: Message): boolean {
    // A queue is its log records (queue.ts): a QoS 0 publish to `$queue/<name>` is enqueued too.
    return msg.qos > 0 || this.persistQos0 || msg.topic.startsWith('$queue/');
  }

  /**
   * Appends; `inboundQos2` puts the publisher's packet id in the record header (see recordQos2) and, on a log that
   * deduplicates, gives the append a dedup id (MessageLogPort.append) over the session, packet id, content and a
   * predecessor marker: the (partition:offset) of the flow that used this packet id before, as its receipt says.
   * A resend of the same PUBLISH gets the same id, the next message under that id a different one (its
   * predecessor's receipt was written before PUBREC). The marker goes into this record's receipt (`m`), so a
   * resend after a receipt write that failed (the receipt then names this record, unreleased, in the cache, and
   * perhaps in the store) still computes the first copy's id. A new message equal in content to one whose
   * append failed, resent under the same id, may resolve at that record: it is delivered once, as one message.
   */
  append(msg: Message, inboundQos2?: InboundQos2): Promise<LogRef> {
    const headers = encodeHeaders(msg, inboundQos2?.packetId ?? 0, this.origin);
    const input = { key: msg.topic, timestamp: msg.createdAt, headers, value: msg.payload };
    // The hash costs a pass over the payload on every inbound QoS 2 publish: only for a log that uses it.
    if (!inboundQos2 || !this.log.deduplicates) return this.log.append(input);
    const marker = this.predecessorMarker(inboundQos2);
    inboundQos2.marker = marker;
    const h = createHash('sha256');
    for (const part of [inboundQos2.sessionId, String(inboundQos2.packetId), marker, msg.topic, String(msg.retain)]) {
      h.update(part);
      h.update('\0');
    }
    h.update(msg.payload);
    const dedupId = h.digest('base64url');
    inboundQos2.dedupId = dedupId;
    const p = this.log.partitionFor?.(msg.topic);
    if (p === undefined) return this.log.append({ ...input, dedupId });
    const unsure = this.unsure.get(dedupId);
    if (unsure?.stored !== undefined) {
      // Stored, and its receipt write failed: the resend is that record.
      this.unsure.forget(dedupId);
      return Promise.resolve({ partition: unsure.partition, offset: unsure.stored });
    }
    const from = this.log.endOffset(p);
    const append = (): Promise<LogRef> => this.log.append({ ...input, dedupId }).then(
      (ref) => { this.unsure.forget(dedupId); return ref; },
      (err: unknown) => { this.unsure.remember(dedupId, p, from); throw err; },
    );
    if (!unsure) return append();
    // A resend after an append whose outcome was never learned: the first copy, if stored, is used as is. Not
    // found: looked for once more a moment later (a new stream leader commits what the old one left pending).
    const look = (): Promise<LogRef | undefined> => this.findFirstCopy(unsure.partition, unsure.from, msg, inboundQos2);
    return look()
      .then((found) => found ?? new Promise<void>((r) => setTimeout(r, FIRST_COPY_RETRY_MS)).then(look))
      .then((found) => {
        if (!found) return append();
        this.unsure.forget(dedupId);
        return found;
      });
  }

  /** The record of this inbound QoS 2 PUBLISH (same publisher, packet id, topic and payload) in partition p from `from` on, if any. */
  private async findFirstCopy(p: number, from: number, msg: Message, q: InboundQos2): Promise<LogRef | undefined> {
    for await (const { h, r } of this.recordsFrom(p, from, this.log.endOffset(p), 256)) {
      if (h && h.senderId === q.sessionId && h.inboundPacketId === q.packetId && r.key === msg.topic && Buffer.from(r.value).equals(msg.payload)) return { partition: p, offset: r.offset };
    }
    return undefined;
  }

  /**
   * Records of partition p from `from` (at least the start) to `end`, read `batch` at a time, each with its
   * decoded headers when it is an inbound QoS 2 publish (flags bit 4, record-codec.ts; the full decode is skipped
   * otherwise): the receipt scan and the first-copy lookup.
   */
  private async *recordsFrom(p: number, from: number, end: number, batch: number): AsyncGenerator<{ r: StoredRecord; h: DecodedHeaders | undefined }> {
    let off = Math.max(from, this.log.startOffset(p));
    while (off < end) {
      const recs = await this.log.read(p, off, batch);
      if (recs.length === 0) return;
      for (const r of recs) yield { r, h: r.headers.length >= 2 && (r.headers[1]! & 16) !== 0 ? decodeHeaders(r.headers) : undefined };
      off = recs[recs.length - 1]!.offset + 1;
    }
  }

  /** '-' (no receipt), an unreleased receipt's own marker (this flow's earlier attempt), or the receipt's `p:o`. */
  private predecessorMarker(q: InboundQos2): string {
    const cur = this.state.get(`q/${q.sessionId}/${q.packetId}`);
    if (cur === undefined) return '-';
    const r = decodeReceipt(cur);
    if (!r.ok) return '-';
    if (!r.value.released && r.value.m !== undefined) return r.value.m;
    return `${r.value.p}:${r.value.o}`;
  }

  /** The QoS 2 receipt for a persistent publisher, written after the append and before PUBREC. */
  recordQos2(inboundQos2: InboundQos2, ref: LogRef, createdAt: number): Promise<void> {
    const r: Receipt = { p: ref.partition, o: ref.offset, released: false, t: createdAt };
    if (inboundQos2.marker !== undefined) r.m = inboundQos2.marker;
    const written = this.put(`q/${inboundQos2.sessionId}/${inboundQos2.packetId}`, encodeReceipt(r));
    const id = inboundQos2.dedupId;
    if (id === undefined) return written;
    // The publish fails with it; the record stays: the publisher's resend resolves at it (append above).
    return written.catch((err: unknown) => {
      this.unsure.rememberStored(id, ref.partition, ref.offset);
      throw err;
    });
  }

  /** First offset of partition p not yet routed (the routed watermark). */
  routed(p: number): number {
    return this.unrouted[p]!;
  }

  /** Copy of the routed watermark of every partition. */
  watermarks(): number[] {
    return [...this.unrouted];
  }

  get partitions(): number {
    return this.log.partitions;
  }

  startOffset(p: number): number {
    return this.log.startOffset(p);
  }

  bytesSince(p: number, offset: number): number {
    return this.log.bytesSince?.(p, offset) ?? 0;
  }

  offsetForTime(p: number, ts: number): Promise<number> {
    return this.log.offsetForTime(p, ts);
  }

  /**
   * Up to `max` messages of partition p from `from`, for catch-up readers. One read is shared: concurrent
   * requests for the same range wait on the same read, and recent batches are kept in a small cache, so
   * sessions reading the same stretch in step get the same Message objects. Payloads of records smaller
   * than COPY_BELOW are copied out of the read buffer, so a buffered message does not pin the whole chunk.
   */
  readMessages(p: number, from: number, max: number): Promise<CatchUpBatch> {
    const key = `${p}:${from}:${max}`;
    const cached = this.readCache.get(key);
    if (cached !== undefined) return cached;
    const routedAtIssue = this.unrouted[p]!;
    const read = this.log.read(p, from, max, READ_BYTES).then((recs): CatchUpBatch => {
      const msgs = recs.map((r) => {
        const m = recordToMessage(r);
        if (r.value.length < COPY_BELOW) m.payload = Buffer.from(r.value);
        return m;
      });
      // A short batch may miss records appended later: only full batches stay cached for other readers.
      if (msgs.length < max) this.readCache.delete(key);
      return { msgs, routedAtIssue };
    });
    this.readCache.set(key, read);
    if (this.readCache.size > READ_CACHE_BATCHES) this.readCache.delete(this.readCache.keys().next().value as string);
    read.catch(() => this.readCache.delete(key));
    return read;
  }

  /** The broker routed the message at `ref`: session images taken from now on need not replay it. */
  markRouted(ref: LogRef): void {
    if (ref.offset >= this.unrouted[ref.partition]!) this.unrouted[ref.partition] = ref.offset + 1;
  }

  /** PUBREL: the receipt is released before PUBCOMP goes out. */
  releaseQos2(sessionId: string, packetId: number): Promise<void> | undefined {
    const key = `q/${sessionId}/${packetId}`;
    const cur = this.state.get(key);
    if (!cur) return undefined;
    const r = decodeReceipt(cur);
    if (!r.ok) return this.del(key); // unreadable: nothing left to release
    return this.put(key, encodeReceipt({ ...r.value, released: true }));
  }

  saveRetained(msg: Message): Promise<void> {
    const key = `r/${msg.topic}`;
    if (msg.payload.length === 0) return this.del(key);
    return this.put(key, encodeMessage(msg));
  }

  /** Every stored retained message; an unreadable value is reported through `bad` and skipped. */
  loadRetained(bad: (key: string, why: string) => void = () => undefined): Message[] {
    const out: Message[] = [];
    for (const [k, v] of this.state.entries('r/')) {
      try {
        out.push(decodeMessage(v));
      } catch (err) {
        bad(k, err instanceof Error ? err.message : String(err));
      }
    }
    return out;
  }

  /** `s/<id>`: expiry, detach time and will (connect / disconnect). */
  saveSessionMeta(id: string, expiryInterval: number, detachedAt: number, will: { delay: number; msg: Message } | undefined): Promise<void> {
    const meta: SessionMeta = { expiryInterval, detachedAt };
    if (will) meta.will = { delay: will.delay, msg: encodeMessage(will.msg).toString('base64') };
    return this.put(`s/${id}`, encodeSessionMeta(meta));
  }

  /**
   * `c/<id>`: the session's position. `cursor` set = the session is behind (stored as its watermarks),
   * else the routed watermarks; lowered per partition to the first buffered plain delivery, which the
   * log re-derives on restore (so the buffer itself is never stored). Retained and `$share` deliveries
   * in the buffer cannot be re-derived and are kept as `extra` refs.
   */
  saveCursor(s: SessionSnapshot, cursor?: readonly number[]): Promise<void> {
    const w = cursor ? [...cursor] : [...this.unrouted];
    const ref = (r: DeliveryRequest): StoredRef | undefined => {
      const at = r.msg.ref;
      if (!at) return undefined; // not in the log (QoS 0): not part of the durable promise
      const out: StoredRef = { p: at.partition, o: at.offset, qos: r.qos, retain: r.retain, ids: [...r.subscriptionIds] };
      if (r.shared) out.shared = true;
      return out;
    };
    const c: SessionCursor = { watermarks: w, nextPacketId: s.nextPacketId, inflight: [], extra: [] };
    for (const f of s.inflight) {
      const r = ref(f.req);
      if (r) c.inflight.push({ packetId: f.packetId, state: f.state, ref: r });
    }
    for (const q of s.queue) {
      const r = ref(q);
      if (!r) continue;
      if (q.shared || q.retained) c.extra.push(r);
      else if (r.o < (w[r.p] ?? 0)) w[r.p] = r.o;
    }
    return this.put(`c/${s.id}`, encodeCursor(c));
  }

  /** `f/<id>U+0000<filter>`: one SUBSCRIBE writes one small key. */
  saveFilter(id: string, filter: string, options: SubscriptionOptions): Promise<void> {
    return this.put(`f/${id}${SEP}${filter}`, encodeFilter(options));
  }

  deleteFilter(id: string, filter: string): Promise<void> {
    return this.del(`f/${id}${SEP}${filter}`);
  }

  /** Every key of the session: meta, cursor, subscriptions, receipts. */
  async deleteSession(id: string): Promise<void> {
    const work: Promise<void>[] = [this.del(`s/${id}`), this.del(`c/${id}`)];
    for (const [k] of this.state.entries(`f/${id}${SEP}`)) work.push(this.del(k));
    const q = `q/${id}/`;
    for (const [k] of this.state.entries(q)) if (/^\d+$/.test(k.slice(q.length))) work.push(this.del(k));
    await Promise.all(work);
  }

  /**
   * Resolves log refs in bounded batch reads (sorted per partition), one Message per record shared by
   * every session that references it; payloads are copied out of the read buffers. Refs retention
   * deleted are missing from the result.
   */
  private async resolveRefs(refs: Iterable<StoredRef>): Promise<Map<string, Message>> {
    const byPartition = new Map<number, Set<number>>();
    for (const r of refs) {
      let set = byPartition.get(r.p);
      if (!set) byPartition.set(r.p, (set = new Set()));
      set.add(r.o);
    }
    const out = new Map<string, Message>();
    for (const [p, set] of byPartition) {
      if (p >= this.log.partitions) continue;
      const offs = [...set].sort((a, b) => a - b);
      let i = 0;
      while (i < offs.length) {
        const recs = await this.log.read(p, offs[i]!, 256, READ_BYTES);
        if (recs.length === 0) break;
        for (const r of recs) {
          if (!set.has(r.offset)) continue;
          const m = recordToMessage(r);
          m.payload = Buffer.from(r.value);
          out.set(`${p}:${r.offset}`, m);
        }
        const last = recs[recs.length - 1]!.offset;
        while (i < offs.length && offs[i]! <= last) i++;
      }
    }
    return out;
  }

  /**
   * Loads every stored session (one pass over the key/value store), resolving only the in-flight and
   * `extra` refs; the rest of a session's backlog stays in the log behind its watermarks. A record that
   * does not decode is reported through `bad` and skipped (a session without a readable meta is
   * dropped; one without a readable cursor restarts at the routed watermarks). `only` keeps the sessions
   * whose key it accepts (a cluster node restores the sessions it owns); `source` replaces the full scan.
   */
  async loadSessions(
    bad: (key: string, why: string) => void = () => undefined,
    only?: (id: string) => boolean,
    source: Iterable<[string, Buffer]> = this.state.entries(),
  ): Promise<RestoredSession[]> {
    const metas = new Map<string, SessionMeta>();
    const filters = new Map<string, [string, SubscriptionOptions][]>();
    const cursors = new Map<string, SessionCursor>();
    const receipts = new Map<string, number[]>();
    const legacy: string[] = [];
    for (const [k, v] of source) {
      if (k.startsWith('s/')) {
        const id = k.slice(2);
        if (only && !only(id)) continue;
        const m = decodeSessionMeta(v);
        if (m.ok) {
          metas.set(id, m.value);
          continue;
        }
        const old = decodeLegacySession(v);
        if (!old.ok) {
          bad(k, m.why);
          continue;
        }
        // Pre-v2 image: split it into the v2 keys now.
        const l = old.value;
        metas.set(id, l.meta);
        cursors.set(id, l.cursor);
        filters.set(id, l.subscriptions);
        legacy.push(id);
      } else if (k.startsWith('f/')) {
        const cut = k.lastIndexOf(SEP);
        const f = decodeFilter(v);
        if (cut < 2 || !f.ok) {
          bad(k, f.ok ? 'no filter in key' : f.why);
          continue;
        }
        const id = k.slice(2, cut);
        if (only && !only(id)) continue;
        let list = filters.get(id);
        if (!list) filters.set(id, (list = []));
        list.push([k.slice(cut + 1), f.value]);
      } else if (k.startsWith('c/')) {
        if (only && !only(k.slice(2))) continue;
        const c = decodeCursor(v);
        if (c.ok) cursors.set(k.slice(2), c.value);
        else bad(k, c.why);
      } else if (k.startsWith('q/')) {
        const cut = k.lastIndexOf('/');
        const packetId = Number(k.slice(cut + 1));
        const r = decodeReceipt(v);
        if (!r.ok || !Number.isInteger(packetId) || packetId < 1 || packetId > 0xffff) {
          bad(k, r.ok ? 'bad packet id' : r.why);
          continue;
        }
        if (r.value.released) continue;
        const id = k.slice(2, cut);
        if (only && !only(id)) continue;
        let list = receipts.get(id);
        if (!list) receipts.set(id, (list = []));
        list.push(packetId);
      }
    }
    const refs: StoredRef[] = [];
    for (const [id, c] of cursors) {
      if (!metas.has(id)) continue;
      for (const f of c.inflight) refs.push(f.ref);
      for (const e of c.extra) refs.push(e);
    }
    const msgs = await this.resolveRefs(refs);
    const req = (r: StoredRef): DeliveryRequest | undefined => {
      const msg = msgs.get(`${r.p}:${r.o}`);
      if (!msg) return undefined; // deleted by retention
      const d: DeliveryRequest = { msg, qos: r.qos, retain: r.retain, subscriptionIds: r.ids };
      if (r.shared) d.shared = true;
      return d;
    };
    const out: RestoredSession[] = [];
    for (const [id, meta] of metas) {
      let c = cursors.get(id);
      if (!c) {
        bad(`c/${id}`, 'missing: the session restarts at the routed watermarks');
        c = { watermarks: [...this.unrouted], nextPacketId: 1, inflight: [], extra: [] };
      }
      const inflight: SessionSnapshot['inflight'] = [];
      for (const f of c.inflight) {
        const r = req(f.ref);
        if (r) inflight.push({ packetId: f.packetId, state: f.state, req: r });
      }
      const queue: DeliveryRequest[] = [];
      for (const e of c.extra) {
        const r = req(e);
        if (r) queue.push(r);
      }
      const restored: RestoredSession = {
        snapshot: {
          id,
          expiryInterval: meta.expiryInterval,
          subscriptions: filters.get(id) ?? [],
          inflight,
          queue,
          inboundQos2: receipts.get(id) ?? [],
          nextPacketId: c.nextPacketId,
        },
        detachedAt: meta.detachedAt,
        watermarks: c.watermarks,
      };
      if (meta.will) restored.will = { delay: meta.will.delay, msg: decodeMessage(Buffer.from(meta.will.msg, 'base64')) };
      out.push(restored);
    }
    // Legacy images: write their subscriptions as v2 keys (the broker writes meta and cursor right after restore).
    for (const id of legacy) for (const [f, o] of filters.get(id) ?? []) this.saveFilter(id, f, o).catch(() => undefined);
    return out;
  }

  /** One stored session (a cluster node taking it over from another), reading only its own keys; undefined when none. */
  async loadSession(id: string, bad: (key: string, why: string) => void = () => undefined): Promise<RestoredSession | undefined> {
    const state = this.state;
    function* keys(): Generator<[string, Buffer]> {
      for (const k of [`s/${id}`, `c/${id}`]) {
        const v = state.get(k);
        if (v !== undefined) yield [k, v];
      }
      yield* state.entries(`f/${id}${SEP}`);
      yield* state.entries(`q/${id}/`);
    }
    const found = await this.loadSessions(bad, (x) => x === id, keys());
    return found[0];
  }

  /**
   * Reads the record headers from `from[p]` to the end of each partition and reports every QoS 2 publish
   * whose receipt a crash cut off (appended, receipt missing or not released), so that the publisher's
   * resent PUBLISH is acknowledged but not routed twice. Returns how many records it scanned.
   * `sessionId` limits it to one publisher (a cluster takeover); `keepWatermarks` leaves the routed watermarks
   * alone (a running cluster node: only its sequencer moves them).
   */
  async scanReceipts(
    from: number[],
    unreleased: (sessionId: string, packetId: number) => void,
    opts: { sessionId?: string; keepWatermarks?: boolean } = {},
  ): Promise<number> {
    // A publisher reuses a packet id only after the flow completed, so only the NEWEST record per
    // (publisher, packet id) can be cut off: an older one is superseded by a newer record or receipt.
    type Seen = { sessionId: string; packetId: number; p: number; o: number; t: number };
    const newer = (a: { p: number; o: number; t?: number }, b: { p: number; o: number; t: number }): boolean =>
      a.p === b.p ? a.o > b.o : a.t !== undefined && a.t > b.t;
    const latest = new Map<string, Seen>();
    let n = 0;
    for (let p = 0; p < this.log.partitions; p++) {
      const end = this.log.endOffset(p);
      for await (const { h, r } of this.recordsFrom(p, from[p] ?? end, end, 4096)) {
        n++;
        if (!h || (opts.sessionId !== undefined && h.senderId !== opts.sessionId)) continue;
        const key = `${h.senderId}\u0000${h.inboundPacketId}`;
        const seen: Seen = { sessionId: h.senderId, packetId: h.inboundPacketId, p: r.partition, o: r.offset, t: r.timestamp };
        const prev = latest.get(key);
        if (!prev || newer(seen, prev)) latest.set(key, seen);
      }
      if (!opts.keepWatermarks) this.unrouted[p] = Math.max(this.unrouted[p]!, end);
    }
    for (const s of latest.values()) {
      const cur = this.state.get(`q/${s.sessionId}/${s.packetId}`);
      const rc = cur ? decodeReceipt(cur) : undefined;
      if (rc?.ok && rc.value.p === s.p && rc.value.o === s.o) continue; // its receipt is there (released or not: loadSessions reads it)
      if (rc?.ok && newer(rc.value, s)) continue; // a newer flow with this id completed its receipt: this one is done
      unreleased(s.sessionId, s.packetId);
    }
    return n;
  }

  /** A behind `$share` group's cursor (`$share/<group>/<filter>`), JSON {v:1, cursor}. */
  saveGroupCursor(key: string, cursor: readonly number[]): Promise<void> {
    return this.put(`sg/${key}`, encodeGroupCursor({ cursor: [...cursor] }));
  }

  /** `m/routed`: the routed watermarks now (see the layout above); resolves once durable. */
  saveRoutedMark(): Promise<void> {
    return this.put(this.routedMarkKey(), encodeGroupCursor({ cursor: [...this.unrouted] }));
  }

  /** `m/routed`; per node in a cluster (`m/routed/<nodeId>`: each node's own watermarks bound its own restart scan). */
  private routedMarkKey(): string {
    return this.origin === '' ? 'm/routed' : `m/routed/${this.origin}`;
  }

  /** The stored routed watermarks, if readable. */
  loadRoutedMark(): number[] | undefined {
    const v = this.state.get(this.routedMarkKey());
    const c = v ? decodeGroupCursor(v) : undefined;
    return c?.ok ? c.value.cursor : undefined;
  }

  deleteGroupCursor(key: string): Promise<void> {
    return this.del(`sg/${key}`);
  }

  loadGroupCursors(): [string, number[]][] {
    const out: [string, number[]][] = [];
    for (const [k, v] of this.state.entries('sg/')) {
      const c = decodeGroupCursor(v);
      // Unreadable: ignored; the members' watermarks still bound the group's cursor.
      if (c.ok) out.push([k.slice(3), c.value.cursor]);
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.backend) return this.backend.close();
    await this.log.close();
    await this.state.close();
  }
}
