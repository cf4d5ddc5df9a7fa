// Durable state for the broker over the log and key/value ports: messages, retained, sessions as log cursors, QoS 2 receipts. Imports core types and codecs only.
//
// Key/value layout (values are binary unless noted):
//   r/<topic>                 retained message (record-codec encodeMessage)
//   s/<sessionId>             session image, JSON: StoredSession (messages as log refs, never payloads)
//   q/<sessionId>/<packetId>  inbound QoS 2 receipt, JSON {p, o, released}: written after the append and
//                             before PUBREC; `released` set before PUBCOMP. Replay of the log tail restores
//                             receipts whose write a crash cut off, so a resent PUBLISH is never routed twice.
import type { LogRef, Message } from './message.ts';
import type { MessageLogPort, MessagePersistence, StatePort } from './persistence.ts';
import { decodeHeaders, decodeMessage, encodeHeaders, encodeMessage, recordToMessage } from './record-codec.ts';
import type { SubscriptionOptions } from './router.ts';
import type { DeliveryRequest, SessionSnapshot } from './session.ts';
import type { CatchUpBatch } from './catch-up.ts';

interface StoredRequest {
  p: number;
  o: number;
  qos: 0 | 1 | 2;
  retain: boolean;
  ids: number[];
}

/** The stored image of one persistent session. */
export interface StoredSession {
  id: string;
  expiryInterval: number;
  /** Epoch ms the session lost its connection (0 while connected at the time of the image). */
  detachedAt: number;
  subscriptions: [string, SubscriptionOptions][];
  inflight: { packetId: number; state: 'publish' | 'pubrel'; req: StoredRequest }[];
  queue: StoredRequest[];
  nextPacketId: number;
  /** Per partition: the first offset NOT reflected in this image; replay re-routes from here. */
  watermarks: number[];
  will?: { delay: number; msg: string /* base64 encodeMessage */ };
}

export interface RestoredSession {
  snapshot: SessionSnapshot;
  detachedAt: number;
  watermarks: number[];
  will?: { delay: number; msg: Message };
}

interface Receipt {
  p: number;
  o: number;
  released: boolean;
}

/** Catch-up reads: bytes per read, batches kept for sharing, payload size below which it is copied out. */
const READ_BYTES = 256 * 1024;
const READ_CACHE_BATCHES = 64;
const COPY_BELOW = 64 * 1024;

export class DurableStore implements MessagePersistence {
  /** Per partition: the first offset not yet routed (appends resolve in offset order per partition). */
  private readonly unrouted: number[];
  /** Recent catch-up reads by `partition:from:max`, insertion order = age. */
  private readonly readCache = new Map<string, Promise<CatchUpBatch>>();

  constructor(
    readonly log: MessageLogPort,
    readonly state: StatePort,
    private readonly persistQos0: boolean,
  ) {
    this.unrouted = Array.from({ length: log.partitions }, (_, p) => log.endOffset(p));
  }

  wants(msg: Message): boolean {
    return msg.qos > 0 || this.persistQos0;
  }

  /** Appends; `inboundQos2` puts the publisher's packet id in the record header (see recordQos2). */
  append(msg: Message, inboundQos2?: { sessionId: string; packetId: number }): Promise<LogRef> {
    return this.log.append({
      key: msg.topic,
      timestamp: msg.createdAt,
      headers: encodeHeaders(msg, inboundQos2?.packetId ?? 0),
      value: msg.payload,
    });
  }

  /** The QoS 2 receipt for a persistent publisher, written after the append and before PUBREC. */
  recordQos2(inboundQos2: { sessionId: string; packetId: number }, ref: LogRef): Promise<void> {
    const r: Receipt = { p: ref.partition, o: ref.offset, released: false };
    return this.state.put(`q/${inboundQos2.sessionId}/${inboundQos2.packetId}`, Buffer.from(JSON.stringify(r)));
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
    const r = JSON.parse(cur.toString()) as Receipt;
    r.released = true;
    return this.state.put(key, Buffer.from(JSON.stringify(r)));
  }

  saveRetained(msg: Message): Promise<void> {
    const key = `r/${msg.topic}`;
    if (msg.payload.length === 0) return this.state.get(key) ? this.state.delete(key) : Promise.resolve();
    return this.state.put(key, encodeMessage(msg));
  }

  loadRetained(): Message[] {
    const out: Message[] = [];
    for (const [, v] of this.state.entries('r/')) out.push(decodeMessage(v));
    return out;
  }

  /** `cursor`: the session is behind; its cursor is stored as its watermarks (else the routed watermarks). */
  saveSession(s: SessionSnapshot, detachedAt: number, will: { delay: number; msg: Message } | undefined, cursor?: readonly number[]): Promise<void> {
    const toStored = (r: DeliveryRequest): StoredRequest | undefined =>
      r.msg.ref ? { p: r.msg.ref.partition, o: r.msg.ref.offset, qos: r.qos, retain: r.retain, ids: [...r.subscriptionIds] } : undefined;
    const stored: StoredSession = {
      id: s.id,
      expiryInterval: s.expiryInterval,
      detachedAt,
      subscriptions: s.subscriptions,
      inflight: [],
      queue: [],
      nextPacketId: s.nextPacketId,
      watermarks: cursor ? [...cursor] : [...this.unrouted],
    };
    // Messages without a log ref (QoS 0 never appended) are not part of the durable promise.
    for (const f of s.inflight) {
      const req = toStored(f.req);
      if (req) stored.inflight.push({ packetId: f.packetId, state: f.state, req });
    }
    for (const q of s.queue) {
      const req = toStored(q);
      if (req) stored.queue.push(req);
    }
    if (will) stored.will = { delay: will.delay, msg: encodeMessage(will.msg).toString('base64') };
    return this.state.put(`s/${s.id}`, Buffer.from(JSON.stringify(stored)));
  }

  async deleteSession(id: string): Promise<void> {
    const work: Promise<void>[] = [];
    if (this.state.get(`s/${id}`)) work.push(this.state.delete(`s/${id}`));
    for (const [k] of this.state.entries(`q/${id}/`)) work.push(this.state.delete(k));
    await Promise.all(work);
  }

  /** One stored ref; `shared` lets sessions restored together reuse one read (and one Message) per record. */
  private readRef(p: number, o: number, shared: Map<string, Promise<Message | undefined>>): Promise<Message | undefined> {
    const key = `${p}:${o}`;
    let got = shared.get(key);
    if (got === undefined) {
      // maxBytes 1: the log reads one small chunk; the payload is copied out so the message pins nothing else.
      got = this.log.read(p, o, 1, 1).then((recs) => {
        const r = recs[0];
        if (!r || r.offset !== o) return undefined;
        const m = recordToMessage(r);
        m.payload = Buffer.from(r.value);
        return m;
      });
      shared.set(key, got);
    }
    return got;
  }

  /** Loads every stored session, resolving log refs (records deleted by retention are dropped). */
  async loadSessions(): Promise<RestoredSession[]> {
    const out: RestoredSession[] = [];
    const shared = new Map<string, Promise<Message | undefined>>();
    for (const [, v] of this.state.entries('s/')) {
      const st = JSON.parse(v.toString()) as StoredSession;
      const resolve = async (r: StoredRequest): Promise<DeliveryRequest | undefined> => {
        const msg = await this.readRef(r.p, r.o, shared);
        return msg ? { msg, qos: r.qos, retain: r.retain, subscriptionIds: r.ids } : undefined;
      };
      const inflight: SessionSnapshot['inflight'] = [];
      for (const f of st.inflight) {
        const req = await resolve(f.req);
        if (req) inflight.push({ packetId: f.packetId, state: f.state, req });
      }
      const queue: DeliveryRequest[] = [];
      for (const q of st.queue) {
        const req = await resolve(q);
        if (req) queue.push(req);
      }
      const inboundQos2: number[] = [];
      for (const [k, rv] of this.state.entries(`q/${st.id}/`)) {
        const r = JSON.parse(rv.toString()) as Receipt;
        if (!r.released) inboundQos2.push(Number(k.slice(k.lastIndexOf('/') + 1)));
      }
      const restored: RestoredSession = {
        snapshot: {
          id: st.id,
          expiryInterval: st.expiryInterval,
          subscriptions: st.subscriptions,
          inflight,
          queue,
          inboundQos2,
          nextPacketId: st.nextPacketId,
        },
        detachedAt: st.detachedAt,
        watermarks: st.watermarks,
      };
      if (st.will) restored.will = { delay: st.will.delay, msg: decodeMessage(Buffer.from(st.will.msg, 'base64')) };
      out.push(restored);
    }
    return out;
  }

  /**
   * Reads the record headers from `from[p]` to the end of each partition and reports every QoS 2 publish
   * whose receipt a crash cut off (appended, receipt missing or not released), so that the publisher's
   * resent PUBLISH is acknowledged but not routed twice. Returns how many records it scanned.
   */
  async scanReceipts(from: number[], unreleased: (sessionId: string, packetId: number) => void): Promise<number> {
    let n = 0;
    for (let p = 0; p < this.log.partitions; p++) {
      let off = Math.max(from[p] ?? this.log.endOffset(p), this.log.startOffset(p));
      const end = this.log.endOffset(p);
      while (off < end) {
        const recs = await this.log.read(p, off, 4096);
        if (recs.length === 0) break;
        for (const r of recs) {
          n++;
          // flags bit 4 = inbound packet id present (record-codec.ts); skip the full decode otherwise.
          if (r.headers.length < 2 || (r.headers[1]! & 16) === 0) continue;
          const h = decodeHeaders(r.headers);
          const cur = this.state.get(`q/${h.senderId}/${h.inboundPacketId}`);
          const rc = cur ? (JSON.parse(cur.toString()) as Receipt) : undefined;
          if (!(rc && rc.p === r.partition && rc.o === r.offset && rc.released)) unreleased(h.senderId, h.inboundPacketId);
        }
        off = recs[recs.length - 1]!.offset + 1;
      }
      this.unrouted[p] = Math.max(this.unrouted[p]!, end);
    }
    return n;
  }

  /** A behind `$share` group's cursor (`$share/<group>/<filter>`), JSON {v:1, cursor}. */
  saveGroupCursor(key: string, cursor: readonly number[]): Promise<void> {
    return this.state.put(`sg/${key}`, Buffer.from(JSON.stringify({ v: 1, cursor })));
  }

  deleteGroupCursor(key: string): Promise<void> {
    return this.state.get(`sg/${key}`) ? this.state.delete(`sg/${key}`) : Promise.resolve();
  }

  loadGroupCursors(): [string, number[]][] {
    const out: [string, number[]][] = [];
    for (const [k, v] of this.state.entries('sg/')) {
      try {
        const st = JSON.parse(v.toString()) as { v: number; cursor: number[] };
        if (st.v === 1 && Array.isArray(st.cursor)) out.push([k.slice(3), st.cursor]);
      } catch {
        // unreadable: ignored, the members' watermarks still bound the group's cursor
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await this.log.close();
    await this.state.close();
  }
}
