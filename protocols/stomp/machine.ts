// One STOMP 1.0/1.1/1.2 connection as a pure, event-driven state machine: frames, broker answers and timer ticks in, effects out (./machine-types.ts). No sockets, timers or promises. Imports core types/errors, ../error-code.ts, ../ordered-replies.ts and sibling stomp files.
//
// States: awaiting-connect -> (authenticating) -> connected -> closed.
// Events: frame(f); authenticated(result) / authFailed(err); published(ticket) / publishFailed(ticket, err);
// saved(ticket) / saveFailed(ticket, err); timer(name, now, lastRead, lastWrite); deliver(sub, msg, token,
// redeliveries, overWriteBuffer); close(code) / fail(code, detail); released(). Each returns the effects to
// apply, in order. The machine never calls back into the shell; the StompPort is asked synchronously only.
// Contracts:
// - CONNECT / STOMP negotiates the version from accept-version (absent = 1.0), heart-beats both ways
//   (STOMP 1.2 "Heart-beating": we send every max(sx, cy) ms, expect every max(cx, sy) ms, 0 = off; a
//   peer silent for heartbeatGrace x that interval is closed), and authenticates login/passcode. Frames read
//   while the auth hook answers are kept and replayed once connected.
// - Any frame with a `receipt` header gets a RECEIPT, in the order the frames arrived (../ordered-replies.ts);
//   a SEND's RECEIPT waits until the broker says the message is durable and routed (never before); a failed
//   append of a receipted SEND is an ERROR carrying that SEND's receipt-id.
// - A malformed frame, a limit breach or a protocol error gets one ERROR frame (./error-frame.ts: `message`
//   = the coded error text, body = detail, `receipt-id` if the frame asked for a receipt), and the
//   connection closes. Nothing else is affected.
// - Each SUBSCRIBE (./subscribe-plan.ts) opens one message source. Every MESSAGE needing an ACK gets a
//   connection-unique id used as message-id and (1.2) ack; ACK/NACK take `id` (1.2) or `message-id`
//   (1.0/1.1). ack:client ACK/NACK are cumulative over that subscription (./pending-acks.ts).
// - Durable topic subscriptions: CONNECT `client-id` + SUBSCRIBE `durable:true` + `id` -> broker session
//   `stomp/<client-id>/<id>`. A receipted one's RECEIPT waits for its session image to be durable, and
//   MESSAGEs are held meanwhile so the RECEIPT still comes first. UNSUBSCRIBE `durable:true` deletes it.
// - Transactions (./transactions.ts) buffer SEND / ACK / NACK as data and apply them on COMMIT, whose
//   RECEIPT waits for every SEND in it; ABORT or the end of the connection discards them.
import type { AuthResult, ClientIdentity } from '../../src/core/auth.ts';
import { GatewayError, type ErrorCode } from '../../src/core/errors.ts';
import type { Message } from '../../src/core/message.ts';
import { errorCodeOf } from '../error-code.ts';
import { OrderedReplies, type ReplySlot } from '../ordered-replies.ts';
import { encodeErrorFrame, versionsHeader } from './error-frame.ts';
import { encodeFrame, header, HEARTBEAT, type StompFrame, type StompVersion } from './frame.ts';
import { isDurable, required, settlementOf, unsubscribeId } from './frame-headers.ts';
import type { StompEffect, StompPort, SubRecord, TimerName } from './machine-types.ts';
import { messageFromSend, parseSendDestination } from './mapping.ts';
import { encodeMessage } from './message-frame.ts';
import { connectedHeaders, heartbeats, negotiateVersion, parseHeartBeat, SUPPORTED, validateClientName } from './negotiate.ts';
import type { StompOptions } from './options.ts';
import { PendingAcks } from './pending-acks.ts';
import { planSubscribe } from './subscribe-plan.ts';
import { Transactions } from './transactions.ts';

type State = 'awaiting-connect' | 'authenticating' | 'connected' | 'closed';

/** Pending entries without a token (QoS 0 on an acked subscription) a connection keeps before forgetting the oldest. */
const MAX_UNSETTLED_QOS0 = 10_000;

/** One in-order RECEIPT slot: ready once `value` is its id; `thenClose` on DISCONNECT. */
type ReceiptSlot = ReplySlot<string> & { id: string };

/** A buffered transaction step, as data: applied in order at COMMIT. */
type TxAction =
  | { kind: 'send'; topic: string; headers: [string, string][]; body: Buffer }
  | { kind: 'settle'; ackId: string; positive: boolean; requeue: boolean };

/** What an outstanding ticket waits for: broker appends (a SEND, or all SENDs of a COMMIT) or a durable subscription's image. */
type Wait =
  | { kind: 'send'; slot: ReceiptSlot | undefined; topic: string }
  | { kind: 'commit'; slot: ReceiptSlot | undefined; name: string; remaining: number }
  | { kind: 'saved'; slot: ReceiptSlot; subscription: string };

const NONE: readonly StompEffect[] = Object.freeze([]);
const DROPPED: readonly StompEffect[] = Object.freeze([{ type: 'dropped' } as const]);

export interface MachineContext {
  /** The connection's id: CONNECTED `session`, the identity's clientId, the sender id of its messages. */
  sessionId: string;
  /** What the socket says about the peer (addresses, TLS client CN), merged into the identity. */
  peer: Omit<ClientIdentity, 'clientId' | 'protocol' | 'username'>;
  opts: StompOptions;
  port: StompPort;
  /** Wall clock in epoch ms (message timestamps, expiry); injectable for tests. */
  now?: () => number;
}

export class StompMachine {
  identity: ClientIdentity;
  version: StompVersion = '1.0';
  /** Negotiated heart-beat intervals in ms (0 = off). */
  heartbeatOut = 0;
  heartbeatIn = 0;
  /** CONNECT `client-id` (names durable subscriptions); undefined when the client sent none. */
  clientName: string | undefined;
  private state: State = 'awaiting-connect';
  private wasReleased = false;
  private readonly subs = new Map<string, SubRecord>();
  private subCounter = 0;
  private readonly pending = new PendingAcks<SubRecord>(MAX_UNSETTLED_QOS0);
  private ackCounter = 0;
  private readonly receipts = new OrderedReplies<string>();
  private readonly transactions: Transactions<TxAction>;
  private readonly waits = new Map<number, Wait>();
  private ticket = 0;
  /** MESSAGE frames held while receipted durable SUBSCRIBEs wait for their image writes. */
  private held: Buffer[] | undefined;
  private holds = 0;
  /** Frames read while the auth hook answers. */
  private backlog: StompFrame[] | undefined;
  private currentReceipt: string | undefined;
  private out: StompEffect[] = [];
  private readonly opts: StompOptions;
  private readonly port: StompPort;
  private readonly now: () => number;

  constructor(private readonly ctx: MachineContext) {
    this.opts = ctx.opts;
    this.port = ctx.port;
    this.now = ctx.now ?? Date.now;
    this.transactions = new Transactions<TxAction>(ctx.opts.maxTransactions, ctx.opts.maxTransactionFrames);
    this.identity = { clientId: ctx.sessionId, protocol: 'stomp', ...ctx.peer };
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  get subscriptionCount(): number {
    return this.subs.size;
  }

  get pendingAckCount(): number {
    return this.pending.size;
  }

  // ---- events ----

  /** The connection opened: the CONNECT deadline starts. */
  start(): StompEffect[] {
    return [{ type: 'timer', name: 'connect', ms: this.opts.connectTimeoutMs, repeat: false }];
  }

  /** One parsed frame. */
  frame(f: StompFrame): readonly StompEffect[] {
    if (this.state === 'closed') return NONE;
    if (this.state === 'authenticating') {
      (this.backlog ??= []).push({ command: f.command, headers: f.headers, body: Buffer.from(f.body) });
      return NONE;
    }
    const out = this.begin();
    try {
      this.currentReceipt = header(f, 'receipt');
      this.dispatch(f);
    } catch (err) {
      this.failWith(err);
    }
    return out;
  }

  authenticated(ok: AuthResult): readonly StompEffect[] {
    if (this.state === 'closed') return NONE;
    const out = this.begin();
    // STOMP 1.2 "CONNECT or STOMP Frame": refused credentials get an ERROR frame, then the connection closes.
    if (ok === false) {
      const login = this.identity.username;
      this.fail('BAD_CREDENTIALS', `login refused${login === undefined ? '' : ` for ${JSON.stringify(login.slice(0, 100))}`}`);
      return out;
    }
    if (ok !== true) {
      this.fail('NOT_AUTHORIZED', 'anonymous login is not allowed here');
      return out;
    }
    this.state = 'connected';
    this.emit({ type: 'stop-timer', name: 'connect' });
    const sx = this.opts.heartbeatSendMs;
    const sy = this.opts.heartbeatReceiveMs;
    this.writeFrame({ command: 'CONNECTED', headers: connectedHeaders(this.version, sx, sy, this.ctx.sessionId, this.opts.serverName), body: Buffer.alloc(0) });
    if (this.heartbeatOut > 0) this.emit({ type: 'timer', name: 'heartbeat-out', ms: Math.max(1, Math.floor(this.heartbeatOut / 2)), repeat: true });
    if (this.heartbeatIn > 0) this.emit({ type: 'timer', name: 'heartbeat-in', ms: Math.max(1, Math.floor(this.heartbeatIn / 2)), repeat: true });
    this.log('debug', { version: this.version, login: this.identity.username }, 'stomp client connected');
    const backlog = this.backlog;
    this.backlog = undefined;
    if (backlog) this.emit({ type: 'replay', frames: backlog });
    return out;
  }

  authFailed(err: unknown): readonly StompEffect[] {
    const out = this.begin();
    this.log('error', { err }, 'authentication hook failed');
    this.fail('IMPLEMENTATION_SPECIFIC', 'authentication failed');
    return out;
  }

  /** A publish effect's message is durable and routed. */
  published(ticket: number): readonly StompEffect[] {
    const w = this.waits.get(ticket);
    if (!w || w.kind === 'saved') return NONE;
    if (w.kind === 'commit' && --w.remaining > 0) return NONE;
    this.waits.delete(ticket);
    if (this.state === 'closed') return NONE;
    const out = this.begin();
    this.ready(w.slot);
    return out;
  }

  /** A publish effect's message could not be stored: never a RECEIPT for it. */
  publishFailed(ticket: number, err: unknown): readonly StompEffect[] {
    const w = this.waits.get(ticket);
    if (!w || w.kind === 'saved') return NONE;
    this.waits.delete(ticket);
    const out = this.begin();
    if (w.kind === 'send') {
      this.log('error', { err: String(err), topic: w.topic }, 'stomp send not durable');
      if (w.slot) this.fail('PERSIST_FAILED', 'message could not be stored', [], w.slot.id);
    } else {
      this.log('error', { err: String(err), transaction: w.name }, 'stomp commit not durable');
      this.fail('PERSIST_FAILED', `transaction ${w.name} could not be stored`, [], w.slot?.id);
    }
    return out;
  }

  /** A receipted durable SUBSCRIBE's session image is durable: its RECEIPT, then the MESSAGEs held meanwhile. */
  saved(ticket: number): readonly StompEffect[] {
    const w = this.waits.get(ticket);
    if (!w || w.kind !== 'saved') return NONE;
    this.waits.delete(ticket);
    const out = this.begin();
    this.ready(w.slot);
    if (--this.holds !== 0 || this.state === 'closed') return out;
    const held = this.held ?? [];
    this.held = undefined;
    for (const bytes of held) this.emit({ type: 'write', bytes });
    return out;
  }

  saveFailed(ticket: number, err: unknown): readonly StompEffect[] {
    const w = this.waits.get(ticket);
    if (!w || w.kind !== 'saved') return NONE;
    this.waits.delete(ticket);
    const out = this.begin();
    this.log('error', { err: String(err), subscription: w.subscription }, 'durable subscription not stored');
    this.fail('PERSIST_FAILED', 'subscription could not be stored', [], w.slot.id);
    return out;
  }

  /** A timer fired; `lastRead` / `lastWrite` are when the socket last carried bytes (epoch ms). */
  timer(name: TimerName, now: number, lastRead: number, lastWrite: number): readonly StompEffect[] {
    if (this.state === 'closed') return NONE;
    const out = this.begin();
    if (name === 'connect') {
      if (this.state === 'awaiting-connect' || this.state === 'authenticating') {
        this.port.connectTimedOut();
        this.fail('PROTOCOL_ERROR', 'no CONNECT frame in time');
      }
    } else if (name === 'heartbeat-out') {
      if (this.heartbeatOut > 0 && now - lastWrite >= Math.max(1, Math.floor(this.heartbeatOut / 2))) this.emit({ type: 'write', bytes: HEARTBEAT });
    } else if (this.heartbeatIn > 0) {
      const limit = this.heartbeatIn * this.opts.heartbeatGrace;
      if (now - lastRead > limit) this.fail('KEEPALIVE_TIMEOUT', `nothing received for ${limit} ms`);
    }
    return out;
  }

  /**
   * One message for `sub`. `token` undefined = nothing to settle upstream (at most once): dropped, and
   * counted, while the socket is past maxWriteBuffer, so a slow reader cannot grow memory without bound.
   */
  deliver(sub: SubRecord, msg: Message, token: number | undefined, redeliveries: number, overWriteBuffer: boolean): readonly StompEffect[] {
    if (this.state === 'closed') return NONE;
    if (token === undefined && overWriteBuffer) return DROPPED;
    const messageId = String(++this.ackCounter);
    const acked = sub.ackMode !== 'auto';
    const bytes = encodeMessage(msg, { subscription: sub.id, messageId, acked, redeliveries, streamOffsets: sub.streamOffsets }, this.version);
    if (acked) this.pending.add(messageId, sub, token);
    if (this.held) {
      this.held.push(bytes);
      return [{ type: 'message', bytes: undefined }];
    }
    return [{ type: 'message', bytes }];
  }

  /** Server-initiated close (shutdown, administrative action, a source closed by the broker). */
  close(code: ErrorCode): readonly StompEffect[] {
    return this.failNow(code, 'closed by the server');
  }

  /** A failure the shell found (listener refusal, a thrown effect): one ERROR frame, close. */
  failNow(code: ErrorCode, detail: string): readonly StompEffect[] {
    const out = this.begin();
    this.fail(code, detail);
    return out;
  }

  /** The connection is gone (our close or the peer's): uncommitted work is discarded, every source ends. Once. */
  released(): readonly StompEffect[] {
    if (this.wasReleased) return NONE;
    this.wasReleased = true;
    this.state = 'closed';
    this.transactions.clear(); // uncommitted SENDs are never published
    this.pending.clear();
    this.held = undefined;
    this.backlog = undefined;
    const out: StompEffect[] = [];
    for (const sub of this.subs.values()) out.push({ type: 'end', sub, forget: false });
    this.subs.clear();
    return out;
  }

  // ---- frames ----

  private dispatch(f: StompFrame): void {
    if (this.state === 'awaiting-connect') {
      if (f.command !== 'CONNECT' && f.command !== 'STOMP') throw new GatewayError('PROTOCOL_ERROR', `${f.command} before CONNECT`);
      return this.onConnect(f);
    }
    switch (f.command) {
      case 'SEND':
        return this.onSend(f);
      case 'SUBSCRIBE':
        return this.onSubscribe(f);
      case 'UNSUBSCRIBE': {
        const sub = this.subs.get(unsubscribeId(f, this.version));
        // `durable:true` on UNSUBSCRIBE deletes a durable subscription; without it the subscription only detaches.
        if (sub) this.endSubscription(sub, isDurable(f));
        return this.receiptNow();
      }
      case 'ACK':
      case 'NACK':
        return this.onAck(f);
      case 'BEGIN':
        this.transactions.begin(required(f, 'transaction'));
        return this.receiptNow();
      case 'COMMIT':
        return this.onCommit(f);
      case 'ABORT':
        this.transactions.abort(required(f, 'transaction'));
        return this.receiptNow();
      case 'DISCONNECT':
        return this.onDisconnect();
      case 'CONNECT':
      case 'STOMP':
        throw new GatewayError('PROTOCOL_ERROR', 'already connected');
      default:
        throw new GatewayError('PROTOCOL_ERROR', `unknown command ${f.command}`);
    }
  }

  private onConnect(f: StompFrame): void {
    const version = negotiateVersion(header(f, 'accept-version'));
    // 1.2 "Protocol Negotiation": ERROR with the versions we support, then close.
    if (!version) return this.fail('UNSUPPORTED_PROTOCOL_VERSION', `supported versions are ${SUPPORTED.join(',')}`, [versionsHeader(SUPPORTED)]);
    const hb = parseHeartBeat(header(f, 'heart-beat'));
    this.version = version;
    this.emit({ type: 'version', version });
    this.clientName = validateClientName(header(f, 'client-id'));
    const hbs = heartbeats(hb, this.opts.heartbeatSendMs, this.opts.heartbeatReceiveMs);
    this.heartbeatOut = hbs.out;
    this.heartbeatIn = hbs.in;
    const login = header(f, 'login');
    const passcode = header(f, 'passcode');
    this.identity = { clientId: this.ctx.sessionId, username: login, protocol: 'stomp', ...this.ctx.peer };
    this.state = 'authenticating';
    this.emit({ type: 'authenticate', identity: this.identity, passcode: passcode === undefined ? undefined : Buffer.from(passcode, 'utf8') });
  }

  private onSend(f: StompFrame): void {
    const dest = required(f, 'destination');
    const d = parseSendDestination(dest, this.opts.maxTopicLevels);
    if (typeof d === 'string') throw new GatewayError(d, `destination ${JSON.stringify(dest.slice(0, 200))}`);
    if (!this.port.authorizePublish(this.identity, d.topic)) throw new GatewayError('NOT_AUTHORIZED', `SEND to ${dest}`);
    if (d.kind === 'queue') {
      if (!this.port.hasQueues) throw new GatewayError('IMPLEMENTATION_SPECIFIC', '/queue destinations need persistence (the durable log)');
      this.port.admitQueue(d.name);
    }
    const msg = this.message(d.topic, f.headers, f.body); // validates now, even inside a transaction
    if (msg.retain && msg.payload.length > 0) {
      const over = this.port.retainedOver(msg.topic, msg.payload.length);
      if (over) {
        this.port.refused(over);
        throw new GatewayError('QUOTA_EXCEEDED', `retained messages: ${over} limit reached`);
      }
    }
    this.emit({ type: 'charge', bytes: f.body.length }); // over the publish rate: reading pauses, never a drop
    const tx = this.transactionOf(f);
    if (tx) {
      this.transactions.add(tx, { kind: 'send', topic: d.topic, headers: f.headers, body: f.body });
      return this.receiptNow();
    }
    const ticket = ++this.ticket;
    this.waits.set(ticket, { kind: 'send', slot: this.receiptSlot(), topic: msg.topic });
    this.emit({ type: 'publish', ticket, msg });
  }

  private message(topic: string, headers: [string, string][], body: Buffer): Message {
    const msg = messageFromSend(topic, headers, body, this.ctx.sessionId, this.now());
    if (typeof msg === 'string') throw new GatewayError(msg, 'expires must be epoch milliseconds');
    return msg;
  }

  private onSubscribe(f: StompFrame): void {
    const p = planSubscribe(f, { version: this.version, identity: this.identity, clientName: this.clientName, subs: this.subs }, this.opts, this.port);
    const sub: SubRecord = { id: p.id, destination: p.dest, ackMode: p.ackMode, streamOffsets: p.source.kind === 'stream' };
    const source = p.source.kind === 'topic' && !p.durable ? { ...p.source, sessionId: `${this.ctx.sessionId}/${++this.subCounter}` } : p.source;
    this.subs.set(sub.id, sub);
    if (source.kind === 'topic' && p.durable && this.currentReceipt !== undefined) {
      // The RECEIPT waits until the session image is durable (it survives kill -9); MESSAGEs are held meanwhile.
      const ticket = ++this.ticket;
      this.waits.set(ticket, { kind: 'saved', slot: this.receiptSlot()!, subscription: sub.id });
      this.holds++;
      this.held ??= [];
      return this.emit({ type: 'open', sub, source, identity: this.identity, savedTicket: ticket });
    }
    // The RECEIPT goes first, then any retained / queued messages.
    this.receiptNow();
    this.emit({ type: 'open', sub, source, identity: this.identity });
  }

  private endSubscription(sub: SubRecord, forget: boolean): void {
    this.subs.delete(sub.id);
    this.pending.dropSubscription(sub);
    this.emit({ type: 'end', sub, forget });
  }

  private onAck(f: StompFrame): void {
    // RabbitMQ's NACK header `requeue:false`: dead-letter now instead of redelivering.
    const { ackId, positive, requeue } = settlementOf(f);
    const tx = this.transactionOf(f);
    if (tx) this.transactions.add(tx, { kind: 'settle', ackId, positive, requeue });
    else this.settle(ackId, positive, requeue);
    this.receiptNow();
  }

  /** Applies an ACK / NACK; cumulative for ack:client (every earlier message of that subscription too). Unknown ids are ignored. */
  private settle(ackId: string, positive: boolean, requeue: boolean): void {
    const todo = this.pending.settle(ackId);
    if (!todo) return this.log('debug', { ackId }, 'stomp ack for an unknown message id');
    for (const p of todo) {
      if (p.token === undefined) continue; // QoS 0: nothing to settle upstream
      this.emit({ type: 'settle', sub: p.sub, token: p.token, positive, requeue });
    }
  }

  /** The open transaction a frame names; an unknown name is a protocol error. */
  private transactionOf(f: StompFrame): TxAction[] | undefined {
    const name = header(f, 'transaction');
    return name === undefined ? undefined : this.transactions.get(name);
  }

  private onCommit(f: StompFrame): void {
    const name = required(f, 'transaction');
    const actions = this.transactions.commit(name);
    // Every SEND is handed to the broker in this one turn, in order; the RECEIPT waits for all of them.
    const ticket = ++this.ticket;
    let sends = 0;
    for (const a of actions) {
      if (a.kind === 'settle') this.settle(a.ackId, a.positive, a.requeue);
      else {
        sends++;
        this.emit({ type: 'publish', ticket, msg: this.message(a.topic, a.headers, a.body) });
      }
    }
    const slot = this.receiptSlot();
    if (sends === 0) return this.ready(slot);
    this.waits.set(ticket, { kind: 'commit', slot, name, remaining: sends });
  }

  private onDisconnect(): void {
    const slot = this.receiptSlot();
    if (!slot) return this.closeNow();
    slot.value = slot.id;
    slot.thenClose = true;
    this.flushReceipts();
  }

  // ---- receipts ----

  private receiptSlot(): ReceiptSlot | undefined {
    const id = this.currentReceipt;
    if (id === undefined) return undefined;
    return Object.assign(this.receipts.later(), { id });
  }

  /** A RECEIPT for a frame that is done now (still after earlier pending ones). */
  private receiptNow(): void {
    const id = this.currentReceipt;
    if (id === undefined) return;
    const now = this.receipts.now(id); // undefined: queued behind a RECEIPT still waiting
    if (now !== undefined) this.writeReceipt(now);
  }

  private ready(slot: ReceiptSlot | undefined): void {
    if (slot) slot.value = slot.id;
    this.flushReceipts();
  }

  private flushReceipts(): void {
    const { send, close } = this.receipts.take();
    for (const id of send) if (this.state !== 'closed') this.writeReceipt(id);
    if (close) this.closeNow(); // DISCONNECT: its RECEIPT was the last frame
  }

  private writeReceipt(id: string): void {
    this.writeFrame({ command: 'RECEIPT', headers: [['receipt-id', id]], body: Buffer.alloc(0) });
  }

  // ---- output ----

  private begin(): StompEffect[] {
    return (this.out = []);
  }

  private emit(e: StompEffect): void {
    this.out.push(e);
  }

  private writeFrame(f: StompFrame): void {
    this.emit({ type: 'write', bytes: encodeFrame(f, this.version) });
  }

  private log(level: 'debug' | 'error', fields: Record<string, unknown>, msg: string): void {
    this.emit({ type: 'log', level, fields: { ...fields, session: this.ctx.sessionId }, msg });
  }

  private closeNow(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.emit({ type: 'close' });
  }

  private failWith(err: unknown): void {
    const f = errorCodeOf(err);
    this.fail(f.code, f.detail, [], this.currentReceipt, f.unexpected ? err : undefined);
  }

  /** One ERROR frame (./error-frame.ts, the only place ERROR frames are made), then close. */
  private fail(code: ErrorCode, detail: string, extra: [string, string][] = [], receiptId = this.currentReceipt, cause?: unknown): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const bytes = encodeErrorFrame(code, detail, this.version, receiptId, extra);
    this.emit(cause === undefined ? { type: 'error', code, detail, bytes } : { type: 'error', code, detail, bytes, cause });
  }
}
