// Encoders and checked decoders for every session-state record in the key/value store (layout: see durable.ts). Pure; imports core types only.
//
// Every record is UTF-8 JSON with a format version `v`. Decoders never throw: a truncated, corrupt or
// unknown-version value gives `{ ok: false, why }`, and the caller logs it and goes on without it.
// Compatibility: a reader accepts every version listed here; a new field gets a new version (or is optional).
import type { QoS } from './message.ts';
import type { SubscriptionOptions } from './router.ts';

export type Decoded<T> = { ok: true; value: T } | { ok: false; why: string };

/** `s/<id>` v2: what changes at connect / disconnect only. */
export interface SessionMeta {
  expiryInterval: number;
  /** Epoch ms the session lost its connection (0 while connected). */
  detachedAt: number;
  will?: { delay: number; msg: string /* base64 record-codec encodeMessage */ };
}

/** A message reference with its delivery parameters. */
export interface StoredRef {
  p: number;
  o: number;
  qos: QoS;
  retain: boolean;
  ids: number[];
  /** `$share` group delivery (re-derived by the group, not by the session's own subscriptions). */
  shared?: boolean;
}

/** `c/<id>` v1: where the session stands in the log; written when it changed (at most once a second) and at disconnect. */
export interface SessionCursor {
  /** Per partition: the first offset this session still has to read (cursor, or routed watermark when live, lowered to the first buffered plain delivery). */
  watermarks: number[];
  nextPacketId: number;
  /** Outbound QoS 1/2 flows: 'publish' ones in send order, then 'pubrel' ones in PUBREC order. */
  inflight: { packetId: number; state: 'publish' | 'pubrel'; ref: StoredRef }[];
  /** Buffered deliveries the log cannot re-derive from `watermarks` (retained deliveries, `$share` deliveries), in order. */
  extra: StoredRef[];
}

/** `q/<id>/<packetId>` v1: inbound QoS 2 receipt. Records without `v` (written before versions) are read as v1. */
export interface Receipt {
  p: number;
  o: number;
  released: boolean;
  /** The record's timestamp (Message.createdAt): orders receipts of one packet id across partitions. Optional (older receipts lack it). */
  t?: number;
  /**
   * The predecessor marker this record's dedup id was computed with (DurableStore.append; NATS only): a resend after a
   * failed receipt write finds this unreleased receipt and must compute the same dedup id as the first copy.
   */
  m?: string;
}

/** `sg/<$share/group/filter>` v1: a behind `$share` group's cursor. */
export interface GroupCursor {
  cursor: number[];
}

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);
const isNonNegInt = (x: unknown): x is number => isInt(x) && x >= 0;
const isQos = (x: unknown): x is QoS => x === 0 || x === 1 || x === 2;

function parse(buf: Buffer): Decoded<Record<string, unknown>> {
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8'));
  } catch {
    return { ok: false, why: buf.length === 0 ? 'empty' : 'not JSON (truncated or corrupt)' };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, why: 'not an object' };
  return { ok: true, value: raw as Record<string, unknown> };
}

const enc = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

// ---- session meta ----

export function encodeSessionMeta(m: SessionMeta): Buffer {
  return enc({ v: 2, expiry: m.expiryInterval, detachedAt: m.detachedAt, ...(m.will ? { will: m.will } : {}) });
}

export function decodeSessionMeta(buf: Buffer): Decoded<SessionMeta> {
  const r = parse(buf);
  if (!r.ok) return r;
  const o = r.value;
  if (o.v !== 2) return { ok: false, why: `unknown session meta version ${String(o.v)}` };
  if (!isNonNegInt(o.expiry) || !isNonNegInt(o.detachedAt)) return { ok: false, why: 'bad expiry / detachedAt' };
  const out: SessionMeta = { expiryInterval: o.expiry, detachedAt: o.detachedAt };
  if (o.will !== undefined) {
    const w = o.will as Record<string, unknown>;
    if (!w || !isNonNegInt(w.delay) || typeof w.msg !== 'string') return { ok: false, why: 'bad will' };
    out.will = { delay: w.delay, msg: w.msg };
  }
  return { ok: true, value: out };
}

// ---- one subscription ----

export function encodeFilter(o: SubscriptionOptions): Buffer {
  return enc({ v: 1, qos: o.qos, nl: o.noLocal ? 1 : 0, rap: o.retainAsPublished ? 1 : 0, rh: o.retainHandling, ...(o.subscriptionId !== undefined ? { sid: o.subscriptionId } : {}) });
}

export function decodeFilter(buf: Buffer): Decoded<SubscriptionOptions> {
  const r = parse(buf);
  if (!r.ok) return r;
  const o = r.value;
  if (o.v !== 1) return { ok: false, why: `unknown subscription version ${String(o.v)}` };
  if (!isQos(o.qos) || (o.rh !== 0 && o.rh !== 1 && o.rh !== 2)) return { ok: false, why: 'bad qos / retain handling' };
  const out: SubscriptionOptions = { qos: o.qos, noLocal: o.nl === 1, retainAsPublished: o.rap === 1, retainHandling: o.rh };
  if (o.sid !== undefined) {
    if (!isInt(o.sid) || o.sid < 1 || o.sid > 268_435_455) return { ok: false, why: 'bad subscription id' };
    out.subscriptionId = o.sid;
  }
  return { ok: true, value: out };
}

// ---- cursor / in-flight ----

type RefTuple = [number, number, number, number, number[], number?];

function refToTuple(r: StoredRef): RefTuple {
  const t: RefTuple = [r.p, r.o, r.qos, r.retain ? 1 : 0, r.ids];
  if (r.shared) t.push(1);
  return t;
}

function tupleToRef(t: unknown): StoredRef | undefined {
  if (!Array.isArray(t) || t.length < 5) return undefined;
  const [p, o, qos, retain, ids, shared] = t as unknown[];
  if (!isNonNegInt(p) || !isNonNegInt(o) || !isQos(qos) || !Array.isArray(ids) || !ids.every(isInt)) return undefined;
  const r: StoredRef = { p, o, qos, retain: retain === 1, ids: ids as number[] };
  if (shared === 1) r.shared = true;
  return r;
}

export function encodeCursor(c: SessionCursor): Buffer {
  return enc({
    v: 1,
    w: c.watermarks,
    next: c.nextPacketId,
    inflight: c.inflight.map((f) => [f.packetId, f.state === 'publish' ? 0 : 1, refToTuple(f.ref)]),
    extra: c.extra.map(refToTuple),
  });
}

export function decodeCursor(buf: Buffer): Decoded<SessionCursor> {
  const r = parse(buf);
  if (!r.ok) return r;
  const o = r.value;
  if (o.v !== 1) return { ok: false, why: `unknown cursor version ${String(o.v)}` };
  if (!Array.isArray(o.w) || !o.w.every(isNonNegInt) || !isInt(o.next)) return { ok: false, why: 'bad watermarks / next packet id' };
  if (!Array.isArray(o.inflight) || !Array.isArray(o.extra)) return { ok: false, why: 'bad inflight / extra' };
  const inflight: SessionCursor['inflight'] = [];
  for (const f of o.inflight as unknown[]) {
    if (!Array.isArray(f) || f.length !== 3 || !isInt(f[0]) || (f[1] !== 0 && f[1] !== 1)) return { ok: false, why: 'bad inflight entry' };
    const ref = tupleToRef(f[2]);
    if (!ref) return { ok: false, why: 'bad inflight ref' };
    inflight.push({ packetId: f[0], state: f[1] === 0 ? 'publish' : 'pubrel', ref });
  }
  const extra: StoredRef[] = [];
  for (const e of o.extra as unknown[]) {
    const ref = tupleToRef(e);
    if (!ref) return { ok: false, why: 'bad extra ref' };
    extra.push(ref);
  }
  return { ok: true, value: { watermarks: o.w as number[], nextPacketId: o.next, inflight, extra } };
}

// ---- receipts, group cursors ----

export function encodeReceipt(r: Receipt): Buffer {
  return enc({ v: 1, p: r.p, o: r.o, released: r.released, ...(r.t !== undefined ? { t: r.t } : {}), ...(r.m !== undefined ? { m: r.m } : {}) });
}

export function decodeReceipt(buf: Buffer): Decoded<Receipt> {
  const r = parse(buf);
  if (!r.ok) return r;
  const o = r.value;
  if (o.v !== undefined && o.v !== 1) return { ok: false, why: `unknown receipt version ${String(o.v)}` };
  if (!isNonNegInt(o.p) || !isNonNegInt(o.o) || typeof o.released !== 'boolean') return { ok: false, why: 'bad receipt' };
  const out: Receipt = { p: o.p, o: o.o, released: o.released };
  if (o.t !== undefined) {
    if (typeof o.t !== 'number' || !Number.isFinite(o.t)) return { ok: false, why: 'bad receipt time' };
    out.t = o.t;
  }
  if (o.m !== undefined) {
    if (typeof o.m !== 'string' || o.m.length > 64) return { ok: false, why: 'bad receipt marker' };
    out.m = o.m;
  }
  return { ok: true, value: out };
}

export function encodeGroupCursor(c: GroupCursor): Buffer {
  return enc({ v: 1, cursor: c.cursor });
}

export function decodeGroupCursor(buf: Buffer): Decoded<GroupCursor> {
  const r = parse(buf);
  if (!r.ok) return r;
  const o = r.value;
  if (o.v !== 1) return { ok: false, why: `unknown group cursor version ${String(o.v)}` };
  if (!Array.isArray(o.cursor) || !o.cursor.every(isNonNegInt)) return { ok: false, why: 'bad cursor' };
  return { ok: true, value: { cursor: o.cursor as number[] } };
}

// ---- legacy: the whole-image format written before v2 (one JSON per session under s/<id>, no `v`) ----

export interface LegacySession {
  id: string;
  meta: SessionMeta;
  subscriptions: [string, SubscriptionOptions][];
  cursor: SessionCursor;
}

/** Reads a pre-v2 `s/<id>` image (no `v`; subscriptions, in-flight and queue inline) into the v2 parts. */
export function decodeLegacySession(buf: Buffer): Decoded<LegacySession> {
  const r = parse(buf);
  if (!r.ok) return r;
  const o = r.value;
  if (o.v !== undefined) return { ok: false, why: 'not a legacy image' };
  if (typeof o.id !== 'string' || !isNonNegInt(o.expiryInterval) || !isNonNegInt(o.detachedAt) || !Array.isArray(o.subscriptions) || !Array.isArray(o.watermarks)) {
    return { ok: false, why: 'bad legacy image' };
  }
  const legacyRef = (x: unknown): StoredRef | undefined => {
    const q = x as Record<string, unknown> | null;
    if (!q || !isNonNegInt(q.p) || !isNonNegInt(q.o) || !isQos(q.qos) || !Array.isArray(q.ids)) return undefined;
    return { p: q.p, o: q.o, qos: q.qos, retain: q.retain === true, ids: q.ids as number[] };
  };
  const inflight: SessionCursor['inflight'] = [];
  for (const f of (o.inflight as unknown[] | undefined) ?? []) {
    const e = f as Record<string, unknown>;
    const ref = legacyRef(e?.req);
    if (!ref || !isInt(e.packetId) || (e.state !== 'publish' && e.state !== 'pubrel')) return { ok: false, why: 'bad legacy inflight' };
    inflight.push({ packetId: e.packetId, state: e.state, ref });
  }
  // The legacy queue is kept whole as `extra` (its position cannot be re-derived reliably).
  const extra: StoredRef[] = [];
  for (const q of (o.queue as unknown[] | undefined) ?? []) {
    const ref = legacyRef(q);
    if (ref) extra.push(ref);
  }
  const meta: SessionMeta = { expiryInterval: o.expiryInterval, detachedAt: o.detachedAt };
  const w = o.will as { delay?: unknown; msg?: unknown } | undefined;
  if (w && isNonNegInt(w.delay) && typeof w.msg === 'string') meta.will = { delay: w.delay, msg: w.msg };
  return {
    ok: true,
    value: {
      id: o.id,
      meta,
      subscriptions: o.subscriptions as [string, SubscriptionOptions][],
      cursor: { watermarks: o.watermarks as number[], nextPacketId: isInt(o.nextPacketId) ? o.nextPacketId : 1, inflight, extra },
    },
  };
}
