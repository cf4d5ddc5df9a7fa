// One client's session as a pure QoS state machine (window, packet ids, queue, redelivery, expiry); no I/O. Imports ./message.ts, ./errors.ts and the SubscriptionOptions type from ./router.ts.
import type { Message, QoS } from './message.ts';
import { isExpired } from './message.ts';
import { gatewayError } from './errors.ts';
import type { SubscriptionOptions } from './router.ts';

/*
 * Contract (single-threaded; the owner calls every method from one event-loop turn at a time):
 *
 * - Every method that can put packets on the wire returns them as `Outbound[]`, in wire order.
 *   The caller writes them and must not mutate the returned array: "nothing" is one shared,
 *   frozen empty array (pushing onto it throws).
 * - Outbound state per packet id (ids 1..65535, shared by QoS 1 and QoS 2 [MQTT-2.2.1-3]):
 *     deliver ──► 'publish' (QoS 1) ──PUBACK──► free
 *     deliver ──► 'publish' (QoS 2) ──PUBREC──► 'pubrel' ──PUBCOMP──► free
 *   Both states hold a window slot; the window is `limits.maxInflight` [MQTT-3.3.4-9].
 * - Queue: FIFO of DeliveryRequests (Message references, never payload copies), bounded by
 *   `maxQueued` messages and `maxQueuedBytes` payload bytes. QoS 1/2 messages leave it in order
 *   [MQTT-4.6.0-6]; expired ones are dropped instead of sent [MQTT-3.3.2-5].
 * - Reconnect (`attach`): unacknowledged PUBLISHes go out again with DUP=1 and their original ids
 *   [MQTT-4.4.0-1] [MQTT-3.3.1-1], in original send order [MQTT-4.6.0-1]; then PUBRELs for those
 *   awaiting PUBCOMP, in PUBREC order [MQTT-4.6.0-3]; then the queue up to the window.
 *   If the new window is smaller than what is in flight, only as many PUBLISHes are resent as fit
 *   (PUBRELs always go out, and count); the rest are resent, still DUP=1 with the same id, as acks
 *   free slots, before anything from the queue.
 * - Inbound QoS 2 (client -> server) is a separate id space: the set of ids awaiting PUBREL.
 * - Read-ahead and "behind" (the log is the queue): when the owner sets `logPosition` (persistence on),
 *   the queue is only a read-ahead buffer over the durable log. A log-backed message (msg.ref set) that
 *   would overflow it is not dropped: the session enters behind mode with a per-partition `cursor` =
 *   logPosition() (the broker's routed watermarks), except the overflowing message's own partition,
 *   whose cursor is that message's offset. While behind, `deliver` skips log-backed plain deliveries
 *   (the owner's catch-up reader reads them from the log from `cursor` and hands them over with `feed`);
 *   `leaveBehind()` returns it to live delivery once the cursor reached the routed watermark.
 *   `onRoom` fires (once per `wantRoom = true`) when the buffer drained to half of its bounds.
 *   Messages without a log ref, and every message when `logPosition` is unset (persistence off), keep
 *   the old bounded queue with its drop policy.
 */

export type DropPolicy = 'drop-oldest' | 'drop-newest';

export interface SessionLimits {
  /** How many QoS 1/2 PUBLISHes may be unacknowledged towards the client: min(client's v5 Receive Maximum, server config) [MQTT-3.3.4-9]. Integer >= 1; values above 65535 act as 65535 (the id space). */
  maxInflight: number;
  /** Offline/overflow queue bound in messages and in payload bytes; beyond it the drop policy applies and the drop is counted. */
  maxQueued: number;
  maxQueuedBytes: number;
  dropPolicy: DropPolicy;
  /** Queue QoS 0 messages while the client is offline (default false: drop, counted as 'offline-qos0'). */
  queueQos0: boolean;
}

export interface DeliveryRequest {
  msg: Message;
  /** Routed to this session as one member of a `$share` group (the group, not the session, keeps the log cursor for these). */
  shared?: boolean;
  /** A retained message delivered at SUBSCRIBE (not re-derivable from the log position). */
  retained?: boolean;
  /** Delivery QoS: min(message QoS, subscription QoS), decided by the router. */
  qos: QoS;
  retain: boolean;
  subscriptionIds: readonly number[];
}

export type Outbound =
  | { type: 'publish'; packetId: number /* 0 for QoS 0 */; msg: Message; qos: QoS; dup: boolean; retain: boolean; subscriptionIds: readonly number[] }
  | { type: 'pubrel'; packetId: number };

export type DropReason = 'queue-full' | 'expired' | 'offline-qos0';

/** Plain-data image for persistence. `inflight` lists 'publish' entries in send order, then 'pubrel' entries in PUBREC order. */
export interface SessionSnapshot {
  id: string;
  expiryInterval: number;
  subscriptions: [string, SubscriptionOptions][];
  inflight: { packetId: number; state: 'publish' | 'pubrel'; req: DeliveryRequest }[];
  queue: DeliveryRequest[];
  inboundQos2: number[];
  nextPacketId: number;
}

const MAX_PACKET_ID = 0xffff;

/** The shared "nothing to send"; frozen so a caller that pushes onto it fails loudly. */
const NONE = Object.freeze([]) as unknown as Outbound[];

/** FIFO with a head index over a power-of-two array: O(1) push/shift, no Array.shift. */
class Ring<T> {
  private buf: (T | undefined)[] = new Array<T | undefined>(16);
  private head = 0;
  size = 0;

  push(v: T): void {
    if (this.size === this.buf.length) this.grow();
    this.buf[(this.head + this.size) & (this.buf.length - 1)] = v;
    this.size++;
  }

  /** Puts `v` in front of the head (a requeued message goes out next). */
  unshift(v: T): void {
    if (this.size === this.buf.length) this.grow();
    this.head = (this.head - 1) & (this.buf.length - 1);
    this.buf[this.head] = v;
    this.size++;
  }

  peek(): T | undefined {
    return this.size === 0 ? undefined : this.buf[this.head];
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const v = this.buf[this.head];
    this.buf[this.head] = undefined; // let the Message be collected
    this.head = (this.head + 1) & (this.buf.length - 1);
    this.size--;
    return v;
  }

  forEach(fn: (v: T) => void): void {
    for (let i = 0; i < this.size; i++) fn(this.buf[(this.head + i) & (this.buf.length - 1)] as T);
  }

  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.buf[(this.head + i) & (this.buf.length - 1)] as T);
    return out;
  }

  clear(): void {
    this.buf = new Array<T | undefined>(16);
    this.head = 0;
    this.size = 0;
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.buf.length * 2);
    for (let i = 0; i < this.size; i++) next[i] = this.buf[(this.head + i) & (this.buf.length - 1)];
    this.buf = next;
    this.head = 0;
  }
}

function checkLimits(l: SessionLimits): SessionLimits {
  if (!Number.isInteger(l.maxInflight) || l.maxInflight < 1) {
    throw gatewayError('CONFIG_INVALID', `session maxInflight must be an integer >= 1, got ${l.maxInflight}`);
  }
  if (!(l.maxQueued >= 0) || !(l.maxQueuedBytes >= 0)) {
    throw gatewayError('CONFIG_INVALID', 'session maxQueued / maxQueuedBytes must be >= 0');
  }
  return l;
}

function payloadBytes(req: DeliveryRequest): number {
  return req.msg.payload.length;
}

function publishOf(req: DeliveryRequest, packetId: number, dup: boolean): Outbound {
  return { type: 'publish', packetId, msg: req.msg, qos: req.qos, dup, retain: req.retain, subscriptionIds: req.subscriptionIds };
}

export class Session {
  readonly id: string;
  /** Seconds; 0 = ends when the connection closes; 0xFFFFFFFF = never expires. */
  expiryInterval = 0;
  /** Full filter -> options the client subscribed with (the router owns the index; this is the session's own record for persistence/restore). */
  readonly subscriptions = new Map<string, SubscriptionOptions>();
  /** Optional hook called on every drop (for metrics / logs), after the state is updated. */
  onDrop?: (reason: DropReason, msg: Message) => void;
  /**
   * Set by the owner when a durable log backs log-ref'd messages: the routed watermark per partition
   * (first offset not yet routed). Enables behind mode instead of dropping on overflow.
   */
  logPosition?: () => readonly number[];
  /** Called when the session enters behind mode (the owner starts its catch-up reader). */
  onBehind?: () => void;
  /** Called once after `wantRoom` was set, when the buffer has drained to half of its bounds (or is empty). */
  onRoom?: () => void;
  /** Set by a waiting reader; cleared when onRoom fires. */
  wantRoom = false;

  private _limits: SessionLimits;
  private window: number;
  private _connected = false;
  /** Outbound QoS 1/2 PUBLISHes sent, not yet PUBACKed / PUBRECed; Map order = send order. */
  private readonly awaitingAck = new Map<number, DeliveryRequest>();
  /** Outbound QoS 2 after PUBREC, awaiting PUBCOMP; Map order = PUBREC order. */
  private readonly awaitingComp = new Map<number, DeliveryRequest>();
  /** Ids in awaitingAck not yet resent on this connection (window shrank on attach); they hold no window slot yet. */
  private readonly pendingResend = new Set<number>();
  private readonly queue = new Ring<DeliveryRequest>();
  private _queuedBytes = 0;
  /** Inbound QoS 2 ids received and PUBRECed, awaiting PUBREL [MQTT-4.3.3-9..11]. */
  private readonly inboundQos2 = new Set<number>();
  private nextPacketId = 1;
  /** Bumped by every change of flows, buffer or cursor: the owner re-saves the cursor record only when it moved. */
  private _version = 0;
  /** Behind mode: per partition, the next log offset the catch-up reader must read for this session. */
  private _cursor: number[] | undefined;
  private readonly _drops: Record<DropReason, number> = { 'queue-full': 0, expired: 0, 'offline-qos0': 0 };

  constructor(id: string, limits: SessionLimits) {
    this.id = id;
    this._limits = checkLimits(limits);
    this.window = Math.min(limits.maxInflight, MAX_PACKET_ID);
  }

  get connected(): boolean {
    return this._connected;
  }
  get limits(): Readonly<SessionLimits> {
    return this._limits;
  }
  /** Outbound QoS 1/2 not yet completed (PUBACK / PUBCOMP), including ones awaiting resend. */
  get inflightCount(): number {
    return this.awaitingAck.size + this.awaitingComp.size;
  }
  get queuedCount(): number {
    return this.queue.size;
  }
  get queuedBytes(): number {
    return this._queuedBytes;
  }
  get inboundQos2Count(): number {
    return this.inboundQos2.size;
  }
  /** Changes with every change of outbound flows, buffer or cursor (see _version). */
  get version(): number {
    return this._version;
  }

  /** Per partition, the next offset to read from the log while behind; undefined when live. */
  get cursor(): readonly number[] | undefined {
    return this._cursor;
  }
  get behind(): boolean {
    return this._cursor !== undefined;
  }
  /** Whether the read-ahead buffer can take `bytes` more payload without passing its bounds. */
  hasRoom(bytes = 0): boolean {
    const l = this._limits;
    return this.queue.size < l.maxQueued && this._queuedBytes + bytes <= l.maxQueuedBytes;
  }
  /** Whether `deliver(req)` would send or keep it without passing the buffer bounds (or drop it by QoS 0 rules, not for lack of room). */
  canAccept(req: DeliveryRequest): boolean {
    if (this._connected) {
      if (req.qos === 0) return true;
      if (this.queue.size === 0 && this.pendingResend.size === 0 && this.used < this.window) return true;
    } else if (req.qos === 0 && !this._limits.queueQos0) {
      return true;
    }
    return this.hasRoom(payloadBytes(req));
  }

  /** Messages the buffer can still take (by count; bytes are checked by hasRoom). */
  get room(): number {
    return this.hasRoom() ? this._limits.maxQueued - this.queue.size : 0;
  }

  /** Enter behind mode at `cursor` (restore: the stored watermarks). Replaces an existing cursor. */
  goBehind(cursor: readonly number[]): void {
    this._version++;
    this._cursor = [...cursor];
  }
  /** The catch-up reader consumed the record at `offset` of `partition` (matched or not). */
  advance(partition: number, offset: number): void {
    this._version++;
    const c = this._cursor;
    if (c && offset >= (c[partition] ?? 0)) c[partition] = offset + 1;
  }
  /** Caught up with the routed watermark: live routing reaches this session again. */
  leaveBehind(): void {
    this._version++;
    this._cursor = undefined;
  }

  /**
   * Catch-up delivery from the log: like `deliver` but never enters behind mode and is not bounded by
   * the buffer limits (the reader checks `hasRoom` first); expired messages are dropped [MQTT-3.3.2-5].
   */
  feed(req: DeliveryRequest, now: number): Outbound[] {
    if (isExpired(req.msg, now)) {
      this.drop('expired', req.msg);
      return NONE;
    }
    if (this._connected) {
      if (req.qos === 0) return [publishOf(req, 0, false)];
      if (this.queue.size === 0 && this.pendingResend.size === 0 && this.used < this.window) return [this.sendNew(req)];
    } else if (req.qos === 0 && !this._limits.queueQos0) {
      this.drop('offline-qos0', req.msg);
      return NONE;
    }
    this.queue.push(req);
    this._queuedBytes += payloadBytes(req);
    this._version++;
    return NONE;
  }

  /** Counted drops by reason (never silent). Live view; not persisted. */
  get drops(): Readonly<Record<DropReason, number>> {
    return this._drops;
  }

  /** Window slots held on the current connection. */
  private get used(): number {
    return this.awaitingAck.size + this.awaitingComp.size - this.pendingResend.size;
  }

  /**
   * Offer a message. Online and window free -> returns the PUBLISH to send (QoS 0 is always sent
   * immediately when online, not counted in the window). Otherwise it is queued (returns []),
   * subject to limits; QoS 0 offline per queueQos0. Order of QoS 1/2 messages is kept [MQTT-4.6.0-6].
   * An already expired message is dropped ('expired') [MQTT-3.3.2-5].
   */
  deliver(req: DeliveryRequest, now: number): Outbound[] {
    // Behind: the catch-up reader delivers this one from the log, in order after the buffer.
    if (this._cursor !== undefined && req.msg.ref !== undefined && req.shared !== true && req.retained !== true && this.logPosition !== undefined) return NONE;
    if (isExpired(req.msg, now)) {
      this.drop('expired', req.msg);
      return NONE;
    }
    if (this._connected) {
      if (req.qos === 0) return [publishOf(req, 0, false)]; // DUP is 0 for QoS 0 [MQTT-3.3.1-2]
      // Invariant after every drain: queue or pending resends non-empty => window full. The first two
      // tests keep order [MQTT-4.6.0-6] even if that ever stops holding.
      if (this.queue.size === 0 && this.pendingResend.size === 0 && this.used < this.window) {
        return [this.sendNew(req)];
      }
    } else if (req.qos === 0 && !this._limits.queueQos0) {
      this.drop('offline-qos0', req.msg);
      return NONE;
    }
    this.enqueue(req, now);
    return NONE;
  }

  /** PUBACK for an outbound QoS 1 (any reason code): frees the id and the slot; returns what now fits. Unknown id (or not a QoS 1 awaiting PUBACK) -> []. */
  onPuback(packetId: number, now: number): Outbound[] {
    const req = this.awaitingAck.get(packetId);
    if (req === undefined || req.qos !== 1) return NONE;
    this.awaitingAck.delete(packetId);
    this.pendingResend.delete(packetId);
    this._version++;
    return this.drain(now);
  }

  /**
   * Negative acknowledgement of an outbound QoS 1 (STOMP NACK): frees the id and the slot and puts the
   * message at the head of the queue, so it is the next one sent (under a new id, dup=false: the
   * caller counts redeliveries). Not subject to the queue bounds (it was already accepted). Returns
   * what now fits. Unknown id (or not a QoS 1 awaiting PUBACK) -> [].
   */
  requeue(packetId: number, now: number): Outbound[] {
    const req = this.awaitingAck.get(packetId);
    if (req === undefined || req.qos !== 1) return NONE;
    this.awaitingAck.delete(packetId);
    this.pendingResend.delete(packetId);
    this._version++;
    this.queue.unshift(req);
    this._queuedBytes += payloadBytes(req);
    return this.drain(now);
  }

  /**
   * PUBREC (reason < 0x80) for an outbound QoS 2: the message becomes 'awaiting PUBCOMP'; returns
   * [{type:'pubrel'}] [MQTT-4.3.3-4]. A repeated PUBREC for an id already awaiting PUBCOMP gets the
   * PUBREL again. Unknown id -> [] (the connection answers PUBREL 0x92; see isKnownOutbound).
   * For a PUBREC with reason >= 0x80 call onPubrecError instead.
   */
  onPubrec(packetId: number, _now: number): Outbound[] {
    const req = this.awaitingAck.get(packetId);
    if (req === undefined || req.qos !== 2) {
      return this.awaitingComp.has(packetId) ? [{ type: 'pubrel', packetId }] : NONE;
    }
    this.awaitingAck.delete(packetId);
    this.pendingResend.delete(packetId);
    this._version++;
    this.awaitingComp.set(packetId, req);
    return [{ type: 'pubrel', packetId }];
  }

  /** v5 PUBREC with reason >= 0x80: the receiver refused it; the flow ends, id and slot are freed, no PUBREL. Returns what now fits. */
  onPubrecError(packetId: number, now: number): Outbound[] {
    const req = this.awaitingAck.get(packetId);
    if (req === undefined || req.qos !== 2) return NONE;
    this.awaitingAck.delete(packetId);
    this.pendingResend.delete(packetId);
    this._version++;
    return this.drain(now);
  }

  /** PUBCOMP: frees id and window slot, returns queued PUBLISHes that now fit. Unknown id -> []. */
  onPubcomp(packetId: number, now: number): Outbound[] {
    this._version++;
    if (!this.awaitingComp.delete(packetId)) return NONE;
    return this.drain(now);
  }

  /** The message of an outbound QoS 1/2 awaiting PUBACK / PUBREC under `packetId`, if any. */
  unackedMessage(packetId: number): Message | undefined {
    return this.awaitingAck.get(packetId)?.msg;
  }

  /**
   * Lowers `into[p]` to the log offset of every `$share` delivery (req.shared, log-backed) this session holds
   * unacknowledged: sent and awaiting PUBACK / PUBREC, or buffered. A QoS 2 delivery past PUBREC counts as
   * received. A cluster node's `$share` progress (cluster/share-recovery.ts) is bounded by these.
   */
  lowerToShared(into: number[]): void {
    const lower = (req: DeliveryRequest): void => {
      const ref = req.msg.ref;
      if (req.shared === true && ref !== undefined && ref.offset < (into[ref.partition] ?? Infinity)) into[ref.partition] = ref.offset;
    };
    for (const req of this.awaitingAck.values()) lower(req);
    this.queue.forEach(lower);
  }

  /** Whether the id is in use by an outbound QoS 1/2 flow (either state). */
  isKnownOutbound(packetId: number): boolean {
    return this.awaitingAck.has(packetId) || this.awaitingComp.has(packetId);
  }

  /**
   * Inbound QoS 2 [MQTT-4.3.3-9..11]: true = first time (route it), false = duplicate while
   * awaiting PUBREL (do not route again, just PUBREC). The caller bounds inboundQos2Count by the
   * server's Receive Maximum before calling (0x93 otherwise).
   */
  receiveQos2(packetId: number): boolean {
    if (this.inboundQos2.has(packetId)) return false;
    this.inboundQos2.add(packetId);
    return true;
  }

  /** PUBREL from the client: forget the id. Returns whether it was known (v5 PUBCOMP reason 0x92 if not). */
  release(packetId: number): boolean {
    return this.inboundQos2.delete(packetId);
  }

  /**
   * The client (re)connected: set limits (maxInflight may change), mark online, and return what
   * must go out now, in order: unacknowledged PUBLISHes again with dup=true and their original ids
   * (as many as the window allows), PUBRELs for those awaiting PUBCOMP [MQTT-4.4.0-1], then queued
   * messages up to the window. Expired queued messages are dropped here and counted.
   */
  attach(limits: SessionLimits, now: number): Outbound[] {
    this._limits = checkLimits(limits);
    this.window = Math.min(limits.maxInflight, MAX_PACKET_ID);
    this._connected = true;
    this.pendingResend.clear();
    const out: Outbound[] = [];
    // PUBRELs always go out and hold their slots; PUBLISHes get what is left.
    let budget = this.window - this.awaitingComp.size;
    for (const [packetId, req] of this.awaitingAck) {
      if (budget > 0) {
        out.push(publishOf(req, packetId, true)); // resent even if expired: it was already sent
        budget--;
      } else {
        this.pendingResend.add(packetId);
      }
    }
    for (const packetId of this.awaitingComp.keys()) out.push({ type: 'pubrel', packetId });
    return this.drain(now, out);
  }

  /** The connection went away; state is kept (unless the owner discards the session). */
  detach(): void {
    this._connected = false;
    this.pendingResend.clear();
  }

  /** Drop everything (clean start / session ended): flows, queue, inbound ids, subscriptions. Not counted as drops; drop counters are kept. */
  clear(): void {
    this._version++;
    this.awaitingAck.clear();
    this.awaitingComp.clear();
    this.pendingResend.clear();
    this.queue.clear();
    this._queuedBytes = 0;
    this.inboundQos2.clear();
    this.subscriptions.clear();
    this.nextPacketId = 1;
    this._cursor = undefined;
  }

  /** Plain-data image for persistence; messages stay as Message objects (the persistence layer turns them into log refs). */
  snapshot(): SessionSnapshot {
    const inflight: SessionSnapshot['inflight'] = [];
    for (const [packetId, req] of this.awaitingAck) inflight.push({ packetId, state: 'publish', req });
    for (const [packetId, req] of this.awaitingComp) inflight.push({ packetId, state: 'pubrel', req });
    return {
      id: this.id,
      expiryInterval: this.expiryInterval,
      subscriptions: [...this.subscriptions],
      inflight,
      queue: this.queue.toArray(),
      inboundQos2: [...this.inboundQos2],
      nextPacketId: this.nextPacketId,
    };
  }

  /**
   * Rebuild a detached session. The queue is re-offered under `limits` (drops counted if the limits
   * shrank). Throws IMPLEMENTATION_SPECIFIC on an image that breaks the id rules.
   */
  static restore(s: SessionSnapshot, limits: SessionLimits): Session {
    const session = new Session(s.id, limits);
    session.expiryInterval = s.expiryInterval;
    for (const [filter, opts] of s.subscriptions) session.subscriptions.set(filter, opts);
    for (const e of s.inflight) {
      if (!Number.isInteger(e.packetId) || e.packetId < 1 || e.packetId > MAX_PACKET_ID || session.isKnownOutbound(e.packetId)) {
        throw gatewayError('IMPLEMENTATION_SPECIFIC', `session snapshot ${s.id}: bad or repeated packet id ${e.packetId}`);
      }
      if (e.req.qos === 0 || (e.state === 'pubrel' && e.req.qos !== 2)) {
        throw gatewayError('IMPLEMENTATION_SPECIFIC', `session snapshot ${s.id}: packet id ${e.packetId} has state ${e.state} with QoS ${e.req.qos}`);
      }
      (e.state === 'publish' ? session.awaitingAck : session.awaitingComp).set(e.packetId, e.req);
    }
    for (const req of s.queue) session.enqueue(req, 0);
    for (const id of s.inboundQos2) session.inboundQos2.add(id);
    const next = s.nextPacketId;
    session.nextPacketId = Number.isInteger(next) && next >= 1 && next <= MAX_PACKET_ID ? next : 1;
    return session;
  }

  /** Next free id, 1..65535, wrapping, never 0, skipping ids still in use [MQTT-2.2.1-3]. Only called with a free window slot, so a free id exists. */
  private allocateId(): number {
    for (let i = 0; i < MAX_PACKET_ID; i++) {
      const id = this.nextPacketId;
      this.nextPacketId = id === MAX_PACKET_ID ? 1 : id + 1;
      if (!this.awaitingAck.has(id) && !this.awaitingComp.has(id)) return id;
    }
    throw gatewayError('IMPLEMENTATION_SPECIFIC', `session ${this.id}: no free packet id`);
  }

  private sendNew(req: DeliveryRequest): Outbound {
    this._version++;
    const packetId = this.allocateId();
    this.awaitingAck.set(packetId, req);
    return publishOf(req, packetId, false);
  }

  /** Fill the window: pending resends first (in send order), then the queue in order. Appends to `out` (allocated lazily). */
  private drain(now: number, out?: Outbound[]): Outbound[] {
    if (!this._connected) return out ?? NONE;
    if (this.pendingResend.size > 0) {
      for (const packetId of this.pendingResend) {
        if (this.used >= this.window) return out ?? NONE;
        this.pendingResend.delete(packetId);
        (out ??= []).push(publishOf(this.awaitingAck.get(packetId) as DeliveryRequest, packetId, true));
      }
    }
    for (let head = this.queue.peek(); head !== undefined; head = this.queue.peek()) {
      if (isExpired(head.msg, now)) {
        this.dequeue();
        this.drop('expired', head.msg); // never sent from the queue [MQTT-3.3.2-5]
      } else if (head.qos === 0) {
        this.dequeue();
        (out ??= []).push(publishOf(head, 0, false));
      } else if (this.used < this.window) {
        this.dequeue();
        (out ??= []).push(this.sendNew(head));
      } else {
        break;
      }
    }
    return out ?? NONE;
  }

  private dequeue(): void {
    this._version++;
    const req = this.queue.shift();
    if (req !== undefined) this._queuedBytes -= payloadBytes(req);
    if (this.wantRoom && this.queue.size <= this._limits.maxQueued >> 1 && this._queuedBytes <= this._limits.maxQueuedBytes / 2) {
      this.wantRoom = false;
      this.onRoom?.();
    }
  }

  /** Add to the queue under the limits and the drop policy. A message bigger than the whole byte bound is dropped without evicting others. */
  private enqueue(req: DeliveryRequest, now: number): void {
    const bytes = payloadBytes(req);
    const l = this._limits;
    const ref = req.msg.ref;
    const position = this.logPosition;
    if (ref !== undefined && position !== undefined && req.shared !== true && req.retained !== true && (this.queue.size >= l.maxQueued || this._queuedBytes + bytes > l.maxQueuedBytes)) {
      // The log is the queue: remember where to read from instead of dropping [see file contract].
      const cursor = [...position()];
      cursor[ref.partition] = ref.offset;
      this._cursor = cursor;
      this.onBehind?.();
      return;
    }
    if (l.maxQueued < 1 || bytes > l.maxQueuedBytes) {
      this.drop('queue-full', req.msg);
      return;
    }
    const full = (): boolean => this.queue.size >= l.maxQueued || this._queuedBytes + bytes > l.maxQueuedBytes;
    if (full()) {
      if (l.dropPolicy === 'drop-newest') {
        this.drop('queue-full', req.msg);
        return;
      }
      while (full()) {
        const old = this.queue.peek() as DeliveryRequest; // non-empty: bytes <= maxQueuedBytes and maxQueued >= 1
        this.dequeue();
        this.drop(isExpired(old.msg, now) ? 'expired' : 'queue-full', old.msg);
      }
    }
    this.queue.push(req);
    this._queuedBytes += bytes;
    this._version++;
  }

  private drop(reason: DropReason, msg: Message): void {
    this._drops[reason]++;
    this.onDrop?.(reason, msg);
  }
}
