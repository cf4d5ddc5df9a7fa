// One STOMP 1.0/1.1/1.2 connection: the protocol state machine between a byte stream and the broker. Imports core APIs and sibling stomp files.
//
// States: awaiting-connect -> (authenticating) -> connected -> closed.
// Contracts:
// - CONNECT / STOMP negotiates the version from accept-version (absent = 1.0), heart-beats both ways
//   (STOMP 1.2 "Heart-beating": we send every max(sx, cy) ms, expect every max(cx, sy) ms, 0 = off; a
//   peer silent for heartbeatGrace x that interval is closed), and authenticates login/passcode.
// - Any frame with a `receipt` header gets a RECEIPT, in the order the frames arrived; a SEND's RECEIPT
//   waits until broker.publish() says the message is durable and routed (never before).
// - A malformed frame, a limit breach or a protocol error gets one ERROR frame (`message` header = the
//   coded error text, body = detail, `receipt-id` if the frame asked for a receipt), one log line, and
//   the connection closes. Nothing else is affected.
// - Each SUBSCRIBE is a source (./topic-subscription.ts, ./stream-subscription.ts, or ./queues.ts: a consumer of the core queue). Every MESSAGE needing an ACK
//   gets a connection-unique id used as message-id and (1.2) ack; ACK/NACK take `id` (1.2) or
//   `message-id` (1.0/1.1). ack:client ACK/NACK are cumulative over that subscription.
// - Durable topic subscriptions: CONNECT `client-id` + SUBSCRIBE `durable:true` (or RabbitMQ's
//   `persistent:true`) + `id` -> broker session `stomp/<client-id>/<id>` that outlives the connection and
//   restarts (./topic-subscription.ts). UNSUBSCRIBE with `durable:true` deletes it; a plain UNSUBSCRIBE
//   or disconnect keeps it.
// - Replay: SUBSCRIBE `x-stream-offset` on a /topic reads the durable log from that point, then follows it
//   (./stream-subscription.ts); MESSAGEs then carry x-stream-offset / x-stream-partition.
// - Transactions buffer SEND / ACK / NACK and apply them on COMMIT; ABORT or the end of the
//   connection discards them.
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { AuthResult, ClientIdentity } from '../../src/core/auth.ts';
import { peerInfo } from '../peer.ts';
import type { Broker } from '../../src/core/broker.ts';
import { GatewayError, type ErrorCode } from '../../src/core/errors.ts';
import { bareErrorFrame, errorFrame, versionsHeader } from './error-frame.ts';
import type { Message } from '../../src/core/message.ts';
import { encodeFrame, header, HEARTBEAT, type StompFrame, type StompVersion } from './frame.ts';
import { headersFromMessage, messageFromSend, parseSendDestination, parseStreamOffset, parseSubscribeDestination } from './mapping.ts';
import type { StompOptions } from './options.ts';
import { StompParser } from './parser.ts';
import type { QueueRegistry } from '../../src/core/queue-registry.ts';
import { isQueueMode } from '../../src/core/queue.ts';
import { QueueSubscription } from './queues.ts';
import type { QueueAdmission } from './queue-limits.ts';
import { ConnectionShell, Pacer } from '../connection-shell.ts';
import { OrderedReplies, type ReplySlot } from '../ordered-replies.ts';
import { PendingAcks } from './pending-acks.ts';
import { Transactions } from './transactions.ts';
import { ackModeOf, isDurable, prefetchOf, required, settlementOf, subscribeTarget, unsubscribeId } from './frame-headers.ts';
import { connectedHeaders, heartbeats, negotiateVersion, parseHeartBeat, SUPPORTED, validateClientName } from './negotiate.ts';
import type { AckMode, DeliverySink, StompSubscription } from './subscription.ts';
import { StreamSubscription } from './stream-subscription.ts';
import { TopicSubscription } from './topic-subscription.ts';

type State = 'awaiting-connect' | 'authenticating' | 'connected' | 'closed';


/** Counters the listener aggregates for metrics. */
export interface StompCounters {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  slowConsumerDrops: number;
  errors: number;
}

/** Pending entries without a token (QoS 0 on an acked subscription) a connection keeps before forgetting the oldest. */
const MAX_UNSETTLED_QOS0 = 10_000;

/** One in-order RECEIPT slot (../ordered-replies.ts): ready once `value` is its id; `thenClose` on DISCONNECT. */
type ReceiptSlot = ReplySlot<string> & { id: string };

/** A buffered SEND / ACK / NACK of a transaction: applied at COMMIT; a SEND returns its durable write. */
type TxAction = () => Promise<void> | undefined;

export class StompConnection implements DeliverySink {
  identity: ClientIdentity = { clientId: '', protocol: 'stomp' };
  version: StompVersion = '1.0';
  readonly sessionId = `stomp-${randomBytes(8).toString('hex')}`;
  private state: State = 'awaiting-connect';
  private readonly parser: StompParser;
  private readonly subs = new Map<string, StompSubscription>();
  private subCounter = 0;
  /** Unacknowledged MESSAGEs by ack id, in send order (./pending-acks.ts). */
  private readonly pending = new PendingAcks<StompSubscription>(MAX_UNSETTLED_QOS0);
  private ackCounter = 0;
  /** RECEIPTs in frame order (../ordered-replies.ts). */
  private readonly receipts = new OrderedReplies<string>();
  /** MESSAGE frames held while a receipted durable SUBSCRIBE waits for its image write (see subscribeDurable). */
  private held: Buffer[] | undefined;
  private holds = 0;
  private readonly transactions: Transactions<TxAction>;
  private backlog: StompFrame[] | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  /** Reads, writes, timers and closing (../connection-shell.ts). */
  private readonly io: ConnectionShell;
  /** Inbound publish pacing; frames read while paused wait in it. */
  private readonly pacer: Pacer<StompFrame>;
  /** Negotiated heart-beat intervals in ms (0 = off). */
  heartbeatOut = 0;
  heartbeatIn = 0;
  /** CONNECT `client-id` (names durable subscriptions); undefined when the client sent none. */
  clientName: string | undefined;

  constructor(
    private readonly stream: Duplex & { remoteAddress?: string },
    private readonly broker: Broker,
    /** undefined when persistence is off: queues need the durable log. */
    private readonly queues: QueueRegistry | undefined,
    private readonly opts: StompOptions,
    private readonly log: Logger,
    private readonly counters: StompCounters,
    private readonly onClosed: (c: StompConnection) => void,
    private readonly queueAdmission?: QueueAdmission,
  ) {
    this.parser = new StompParser(opts.limits, '1.0', opts.guards?.unfinished);
    this.transactions = new Transactions<TxAction>(opts.maxTransactions, opts.maxTransactionFrames);
    this.identity = { clientId: this.sessionId, protocol: 'stomp', ...peerInfo(stream) };
    this.io = new ConnectionShell(
      stream,
      'stomp',
      log,
      counters,
      opts.maxWriteBuffer,
      { data: (chunk) => this.parser.push(chunk, (f) => this.onFrame(f)), fail: (code, detail) => this.fail(code, detail), release: () => this.release() },
      () => ({ session: this.sessionId }),
    );
    this.pacer = new Pacer<StompFrame>(
      this.io,
      opts.guards,
      (f) => {
        if (this.state !== 'closed') this.onFrame(f);
        return true;
      },
      () => (this.io.lastRead = Date.now()), // time paused by us does not count against the heart-beat
    );
    this.connectTimer = this.io.timeout(() => {
      if (this.state === 'awaiting-connect' || this.state === 'authenticating') {
        this.opts.guards?.counters.timedOut('stomp', 'connect');
        this.fail('PROTOCOL_ERROR', 'no CONNECT frame in time');
      }
    }, opts.connectTimeoutMs);
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  // ---- inbound ----

  private failWith(err: unknown): void {
    this.io.failWith(err);
  }

  /** Wraps a promise continuation so nothing it throws escapes as an unhandled rejection (closes this connection instead). */
  private guarded<T>(fn: (v: T) => void): (v: T) => void {
    return this.io.guarded(fn);
  }

  private currentReceipt: string | undefined;

  private onFrame(f: StompFrame): void {
    if (this.state === 'closed') return;
    if (this.pacer.holding) {
      this.pacer.deferred!.push(f);
      return;
    }
    if (this.state === 'authenticating') {
      (this.backlog ??= []).push({ command: f.command, headers: f.headers, body: Buffer.from(f.body) });
      return;
    }
    this.currentReceipt = header(f, 'receipt');
    if (this.state === 'awaiting-connect') {
      if (f.command !== 'CONNECT' && f.command !== 'STOMP') throw new GatewayError('PROTOCOL_ERROR', `${f.command} before CONNECT`);
      return this.onConnect(f);
    }
    switch (f.command) {
      case 'SEND':
        return this.onSend(f);
      case 'SUBSCRIBE':
        return this.onSubscribe(f);
      case 'UNSUBSCRIBE':
        return this.onUnsubscribe(f);
      case 'ACK':
      case 'NACK':
        return this.onAck(f);
      case 'BEGIN':
        return this.onBegin(f);
      case 'COMMIT':
        return this.onCommit(f);
      case 'ABORT':
        return this.onAbort(f);
      case 'DISCONNECT':
        return this.onDisconnect();
      case 'CONNECT':
      case 'STOMP':
        throw new GatewayError('PROTOCOL_ERROR', 'already connected');
      default:
        throw new GatewayError('PROTOCOL_ERROR', `unknown command ${f.command}`);
    }
  }

  // ---- CONNECT ----

  private onConnect(f: StompFrame): void {
    const version = negotiateVersion(header(f, 'accept-version'));
    if (!version) {
      // 1.2 "Protocol Negotiation": ERROR with the versions we support, then close.
      return this.fail('UNSUPPORTED_PROTOCOL_VERSION', `supported versions are ${SUPPORTED.join(',')}`, [versionsHeader(SUPPORTED)]);
    }
    const hb = parseHeartBeat(header(f, 'heart-beat'));
    const sx = this.opts.heartbeatSendMs;
    const sy = this.opts.heartbeatReceiveMs;
    this.version = version;
    this.parser.setVersion(version);
    this.clientName = validateClientName(header(f, 'client-id'));
    const login = header(f, 'login');
    const passcode = header(f, 'passcode');
    this.identity = { clientId: this.sessionId, username: login, protocol: 'stomp', ...peerInfo(this.stream) };
    const finish = (ok: AuthResult): void => {
      if (this.state === 'closed') return;
      // STOMP 1.2 "CONNECT or STOMP Frame": refused credentials get an ERROR frame, then the connection closes.
      if (ok === false) return this.fail('BAD_CREDENTIALS', `login refused${login === undefined ? '' : ` for ${JSON.stringify(login.slice(0, 100))}`}`);
      if (ok !== true) return this.fail('NOT_AUTHORIZED', 'anonymous login is not allowed here');
      this.state = 'connected';
      this.io.clear(this.connectTimer);
      const hbs = heartbeats(hb, sx, sy);
      this.heartbeatOut = hbs.out;
      this.heartbeatIn = hbs.in;
      this.writeFrame({ command: 'CONNECTED', headers: connectedHeaders(version, sx, sy, this.sessionId, this.opts.serverName), body: Buffer.alloc(0) });
      this.startHeartbeats();
      this.log.debug({ session: this.sessionId, version, login }, 'stomp client connected');
      const backlog = this.backlog;
      this.backlog = undefined;
      if (backlog) {
        try {
          for (const b of backlog) if (this.state === 'connected') this.onFrame(b);
        } catch (err) {
          this.failWith(err);
        }
      }
    };
    const auth = this.broker.auth.authenticate(this.identity, passcode === undefined ? undefined : Buffer.from(passcode, 'utf8'));
    if (typeof auth !== 'object') return finish(auth);
    this.state = 'authenticating';
    auth.then(
      this.guarded(finish),
      this.guarded((err: unknown) => {
        this.log.error({ err, session: this.sessionId }, 'authentication hook failed');
        this.fail('IMPLEMENTATION_SPECIFIC', 'authentication failed');
      }),
    );
  }

  private startHeartbeats(): void {
    if (this.heartbeatOut > 0) {
      const every = Math.max(1, Math.floor(this.heartbeatOut / 2));
      this.io.interval(() => {
        if (Date.now() - this.io.lastWrite >= every) this.writeRaw(HEARTBEAT);
      }, every);
    }
    if (this.heartbeatIn > 0) {
      const limit = this.heartbeatIn * this.opts.heartbeatGrace;
      this.io.interval(() => {
        if (Date.now() - this.io.lastRead > limit) this.fail('KEEPALIVE_TIMEOUT', `nothing received for ${limit} ms`);
      }, Math.max(1, Math.floor(this.heartbeatIn / 2)));
    }
  }

  // ---- SEND ----

  private onSend(f: StompFrame): void {
    const dest = required(f, 'destination');
    const d = parseSendDestination(dest, this.opts.maxTopicLevels);
    if (typeof d === 'string') throw new GatewayError(d, `destination ${JSON.stringify(dest.slice(0, 200))}`);
    if (!this.broker.auth.authorizePublish(this.identity, d.topic)) throw new GatewayError('NOT_AUTHORIZED', `SEND to ${dest}`);
    if (d.kind === 'queue') this.admitQueue(d.name);
    const build = (): Message => {
      const msg = messageFromSend(d.topic, f.headers, f.body, this.sessionId, Date.now());
      if (typeof msg === 'string') throw new GatewayError(msg, 'expires must be epoch milliseconds');
      return msg;
    };
    const msg = build(); // validates now, even inside a transaction
    if (msg.retain && msg.payload.length > 0) {
      const over = this.broker.retained.admits(msg.topic, msg.payload.length);
      if (over) {
        this.opts.guards?.counters.refused(over);
        throw new GatewayError('QUOTA_EXCEEDED', `retained messages: ${over} limit reached`);
      }
    }
    this.pacer.charge(f.body.length); // over the publish rate: reading pauses, never a drop
    const tx = this.transactionOf(f);
    if (tx) {
      this.transactions.add(tx, () => this.publish(build()));
      return this.receiptNow();
    }
    this.counters.messagesIn++;
    const done = this.publish(msg);
    const slot = this.receiptSlot();
    if (!done) {
      if (slot) slot.value = slot.id;
      return this.flushReceipts();
    }
    done.then(
      this.guarded(() => {
        if (slot) slot.value = slot.id;
        this.flushReceipts();
      }),
      this.guarded((err: unknown) => {
        this.log.error({ err: String(err), session: this.sessionId, topic: msg.topic }, 'stomp send not durable');
        // Never a RECEIPT for what is not durable.
        if (slot) this.fail('PERSIST_FAILED', 'message could not be stored');
      }),
    );
  }

  private publish(msg: Message): Promise<void> | undefined {
    try {
      return this.broker.publish(msg);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Creates a queue on first use, within the queue limits (./queue-limits.ts); a refusal is an ERROR frame. */
  /** A queue this SEND / SUBSCRIBE would create is admitted (stomp.maxQueues, maxCreatedQueues, autoCreateQueues) and registered. */
  private admitQueue(name: string): void {
    if (!this.queues) throw new GatewayError('IMPLEMENTATION_SPECIFIC', '/queue destinations need persistence (the durable log)');
    if (this.queues.has(name)) return;
    const no = this.queueAdmission?.admit(name);
    if (no) throw new GatewayError(no.code, no.detail);
    this.queues.queue(name);
  }

  // ---- SUBSCRIBE / UNSUBSCRIBE ----

  private onSubscribe(f: StompFrame): void {
    const { dest, id } = subscribeTarget(f, this.version);
    if (this.subs.has(id)) throw new GatewayError('PROTOCOL_ERROR', `subscription id ${JSON.stringify(id)} already in use`);
    const maxSubs = Math.min(this.opts.maxSubscriptions, this.opts.guards?.client.maxSubscriptions || Infinity);
    if (this.subs.size >= maxSubs) {
      this.opts.guards?.counters.refused('subscriptions');
      throw new GatewayError('QUOTA_EXCEEDED', `more than ${maxSubs} subscriptions`);
    }
    const ackMode = ackModeOf(f);
    const prefetch = prefetchOf(f, this.opts.defaultPrefetch, this.opts.maxPrefetch);
    const d = parseSubscribeDestination(dest, this.opts.maxTopicLevels);
    if (typeof d === 'string') throw new GatewayError(d, `destination ${JSON.stringify(dest.slice(0, 200))}`);
    if (!this.broker.auth.authorizeSubscribe(this.identity, d.topic)) throw new GatewayError('NOT_AUTHORIZED', `SUBSCRIBE to ${dest}`);
    const durable = isDurable(f);
    const offsetHeader = header(f, 'x-stream-offset');
    if (d.kind === 'topic' && durable) {
      if (this.clientName === undefined) throw new GatewayError('STOMP_FRAME_INVALID', 'a durable SUBSCRIBE needs a client-id header on CONNECT');
      if (offsetHeader !== undefined) throw new GatewayError('STOMP_FRAME_INVALID', 'durable and x-stream-offset cannot be combined');
      const maxSessions = this.opts.guards?.client.maxSessions ?? 0;
      if (maxSessions > 0 && this.broker.sessionCount >= maxSessions && !this.broker.getSession(`stomp/${this.clientName}/${id}`)) {
        this.opts.guards!.counters.refused('sessions');
        throw new GatewayError('QUOTA_EXCEEDED', `${maxSessions} sessions exist (limits.maxSessions)`);
      }
    }
    let from: ReturnType<typeof parseStreamOffset>;
    if (offsetHeader !== undefined) {
      if (d.kind !== 'topic') throw new GatewayError('STOMP_HEADER_INVALID', 'x-stream-offset is for /topic destinations');
      from = parseStreamOffset(offsetHeader);
      if (!from) throw new GatewayError('STOMP_HEADER_INVALID', `x-stream-offset ${JSON.stringify(offsetHeader.slice(0, 100))}`);
      if (!this.broker.hasLog) throw new GatewayError('IMPLEMENTATION_SPECIFIC', 'x-stream-offset needs persistence (the durable log)');
      const maxLog = this.opts.guards?.client.maxLogSubscriptions ?? 0;
      let streams = 0;
      for (const s of this.subs.values()) if (s.streamOffsets) streams++;
      if (maxLog > 0 && streams >= maxLog) {
        this.opts.guards!.counters.refused('log-subscriptions');
        throw new GatewayError('QUOTA_EXCEEDED', `more than ${maxLog} x-stream-offset subscriptions`);
      }
    }
    // A queue consumer: the core queue (src/core/queue.ts), in the mode `x-queue-mode` asks for (docs/STOMP.md "Queues").
    let queue: ReturnType<QueueRegistry['queue']> | undefined;
    if (d.kind === 'queue') {
      if (!this.queues) throw new GatewayError('IMPLEMENTATION_SPECIFIC', '/queue destinations need persistence (the durable log)');
      const mode = header(f, 'x-queue-mode');
      if (mode !== undefined && !isQueueMode(mode)) throw new GatewayError('STOMP_FRAME_INVALID', `x-queue-mode ${JSON.stringify(mode.slice(0, 100))} (shared | key-shared | failover)`);
      queue = this.queues.queue(d.name, mode);
    }
    if (d.kind === 'topic' && durable) {
      // A cluster node first claims the durable subscription's session (the node serving it hands it over).
      const claimed = this.broker.prepareConnect(`stomp/${this.clientName}/${id}`, false, true);
      if (claimed) return this.subscribeDurable(id, dest, ackMode, prefetch, d.topic, claimed);
      if (this.currentReceipt !== undefined) return this.subscribeDurable(id, dest, ackMode, prefetch, d.topic);
    }
    // The RECEIPT goes first, then any retained / queued messages.
    this.receiptNow();
    if (d.kind === 'queue') {
      this.subs.set(id, new QueueSubscription(id, ackMode, prefetch, this, queue!));
      return;
    }
    if (from) {
      const stream = new StreamSubscription(id, dest, ackMode, prefetch, this, this.broker, this.opts, this.log, this.identity);
      this.subs.set(id, stream);
      stream.start(d.topic, from);
      return;
    }
    const sessionId = durable ? `stomp/${this.clientName}/${id}` : `${this.sessionId}/${++this.subCounter}`;
    const sub = new TopicSubscription(id, dest, ackMode, this, this.broker, this.opts, this.log, this.identity, sessionId, durable);
    this.subs.set(id, sub);
    sub.start(d.topic, this.opts.session, prefetch);
  }

  /**
   * A receipted durable SUBSCRIBE: the RECEIPT waits until the subscription's session image is durable
   * (so it survives kill -9), and MESSAGE frames are held meanwhile so the RECEIPT still comes first.
   */
  private subscribeDurable(id: string, dest: string, ackMode: AckMode, prefetch: number, topic: string, claimed?: Promise<void>): void {
    const slot = this.receiptSlot();
    this.holds++;
    this.held ??= [];
    const sub = new TopicSubscription(id, dest, ackMode, this, this.broker, this.opts, this.log, this.identity, `stomp/${this.clientName}/${id}`, true);
    this.subs.set(id, sub);
    const release = (): void => {
      if (slot) {
        slot.value = slot.id;
        this.flushReceipts();
      }
      if (--this.holds !== 0 || this.state === 'closed') return;
      const held = this.held ?? [];
      this.held = undefined;
      for (const b of held) this.writeRaw(b);
    };
    const begin = (): void => {
      if (this.state === 'closed' || this.subs.get(id) !== sub) return release(); // gone while the claim ran
      sub.start(topic, this.opts.session, prefetch);
      const saved = slot ? sub.saved() : undefined;
      if (!saved) return release();
      saved.then(
        this.guarded(release),
        this.guarded((err: unknown) => {
          this.log.error({ err: String(err), session: this.sessionId, subscription: id }, 'durable subscription not stored');
          this.fail('PERSIST_FAILED', 'subscription could not be stored');
        }),
      );
    };
    if (!claimed) return begin();
    claimed.then(
      this.guarded(begin),
      this.guarded((err: unknown) => {
        this.log.error({ err: String(err), session: this.sessionId, subscription: id }, 'durable subscription could not be claimed from the cluster');
        this.fail('SERVER_BUSY', 'durable subscription could not be claimed');
      }),
    );
  }

  private onUnsubscribe(f: StompFrame): void {
    const sub = this.subs.get(unsubscribeId(f, this.version));
    // `durable:true` on UNSUBSCRIBE deletes a durable subscription; without it the subscription only detaches.
    if (sub) this.endSubscription(sub, isDurable(f));
    this.receiptNow();
  }

  private endSubscription(sub: StompSubscription, forget: boolean): void {
    this.subs.delete(sub.id);
    this.pending.dropSubscription(sub);
    sub.end(forget);
  }

  // ---- ACK / NACK ----

  private onAck(f: StompFrame): void {
    // RabbitMQ's NACK header `requeue:false`: dead-letter now instead of redelivering.
    const { ackId: id, positive, requeue } = settlementOf(f);
    const tx = this.transactionOf(f);
    if (tx) {
      this.transactions.add(tx, () => {
        this.settle(id, positive, requeue);
        return undefined;
      });
    } else {
      this.settle(id, positive, requeue);
    }
    this.receiptNow();
  }

  /** Applies an ACK / NACK; cumulative for ack:client (every earlier message of that subscription too). Unknown ids are ignored. */
  private settle(ackId: string, positive: boolean, requeue = true): void {
    const todo = this.pending.settle(ackId);
    if (!todo) {
      this.log.debug({ session: this.sessionId, ackId }, 'stomp ack for an unknown message id');
      return;
    }
    for (const p of todo) {
      if (p.token === undefined) continue; // QoS 0: nothing to settle upstream
      if (positive) p.sub.ack(p.token);
      else p.sub.nack(p.token, requeue);
    }
  }

  // ---- transactions ----

  /** The open transaction a frame names (./transactions.ts); an unknown name is a protocol error. */
  private transactionOf(f: StompFrame): TxAction[] | undefined {
    const name = header(f, 'transaction');
    return name === undefined ? undefined : this.transactions.get(name);
  }

  private onBegin(f: StompFrame): void {
    this.transactions.begin(required(f, 'transaction'));
    this.receiptNow();
  }

  private onCommit(f: StompFrame): void {
    const name = required(f, 'transaction');
    const actions = this.transactions.commit(name);
    // Every SEND is handed to the broker in this one turn, in order; the RECEIPT waits for all of them.
    const waits: Promise<void>[] = [];
    for (const act of actions) {
      const p = act();
      if (p) waits.push(p);
    }
    const slot = this.receiptSlot();
    if (waits.length === 0) {
      if (slot) slot.value = slot.id;
      return this.flushReceipts();
    }
    Promise.all(waits).then(
      this.guarded(() => {
        if (slot) slot.value = slot.id;
        this.flushReceipts();
      }),
      this.guarded((err: unknown) => {
        this.log.error({ err: String(err), session: this.sessionId, transaction: name }, 'stomp commit not durable');
        this.fail('PERSIST_FAILED', `transaction ${name} could not be stored`);
      }),
    );
  }

  private onAbort(f: StompFrame): void {
    this.transactions.abort(required(f, 'transaction'));
    this.receiptNow();
  }

  private onDisconnect(): void {
    const slot = this.receiptSlot();
    if (!slot) return this.destroy();
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
    if (now !== undefined && this.state !== 'closed') this.writeReceipt(now);
  }

  private flushReceipts(): void {
    const { send, close } = this.receipts.take();
    for (const id of send) if (this.state !== 'closed') this.writeReceipt(id);
    if (close) this.destroy(); // DISCONNECT: its RECEIPT was the last frame
  }

  private writeReceipt(id: string): void {
    this.writeFrame({ command: 'RECEIPT', headers: [['receipt-id', id]], body: Buffer.alloc(0) });
  }

  // ---- outbound ----

  /** DeliverySink: one MESSAGE frame. */
  deliver(sub: StompSubscription, msg: Message, token: number | undefined, redeliveries: number): void {
    if (this.state === 'closed') return;
    if (token === undefined && this.io.overWriteBuffer) {
      // A slow reader must not grow memory without bound: at-most-once deliveries are dropped, and counted.
      this.counters.slowConsumerDrops++;
      return;
    }
    const messageId = String(++this.ackCounter);
    const delivery: [string, string][] = [['subscription', sub.id], ['message-id', messageId]];
    // 1.2 "MESSAGE": a client / client-individual subscription's MESSAGE carries an ack header, even for a
    // QoS 0 message that has nothing to settle.
    const acked = sub.ackMode !== 'auto';
    if (acked && this.version === '1.2') delivery.push(['ack', messageId]);
    if (redeliveries > 0) delivery.push(['redelivered', 'true'], ['x-redelivery-count', String(redeliveries)]);
    if (sub.streamOffsets && msg.ref) delivery.push(['x-stream-offset', String(msg.ref.offset)], ['x-stream-partition', String(msg.ref.partition)]);
    delivery.push(['content-length', '0']); // encodeFrame writes the real length
    let buf: Buffer;
    try {
      buf = encodeFrame({ command: 'MESSAGE', headers: [...headersFromMessage(msg), ...delivery], body: msg.payload }, this.version);
    } catch {
      // A header this version cannot carry (e.g. a newline in 1.0): send without the mapped extras.
      buf = encodeFrame({ command: 'MESSAGE', headers: [headersFromMessage(msg)[0] as [string, string], ...delivery], body: msg.payload }, this.version);
    }
    if (acked) this.pending.add(messageId, sub, token);
    this.counters.messagesOut++;
    if (this.held) this.held.push(buf);
    else this.writeRaw(buf);
  }

  /** DeliverySink: resolves once the outgoing buffer is under half of maxWriteBuffer (or the connection closed). */
  whenWritable(): Promise<void> {
    return this.io.whenWritable() ?? Promise.resolve();
  }

  /** DeliverySink: the outgoing buffer is under half of maxWriteBuffer and the connection is open. */
  canWrite(): boolean {
    return this.io.canWrite();
  }

  /** DeliverySink: a subscription's session was closed by the broker (shutdown, takeover). */
  closeFromBroker(code: ErrorCode): void {
    this.fail(code, 'closed by the server');
  }

  private writeFrame(f: StompFrame): void {
    this.writeRaw(encodeFrame(f, this.version));
  }

  /** Corked, counted, never after the stream ended (../connection-shell.ts). */
  private writeRaw(buf: Buffer): void {
    this.io.write(buf);
  }

  // ---- closing ----

  /** Server-initiated close (shutdown): an ERROR frame with the reason, then close. */
  close(code: ErrorCode): void {
    this.fail(code, 'closed by the server');
  }

  /** Protocol / limit / auth failure: one ERROR frame, one log line, close. Other connections are untouched. */
  fail(code: ErrorCode, detail: string, extra: [string, string][] = []): void {
    if (this.state === 'closed') return;
    this.counters.errors++;
    this.io.logFailure(code, detail);
    try {
      this.writeFrame(errorFrame(code, detail, this.currentReceipt, extra));
    } catch {
      this.writeFrame(bareErrorFrame(code));
    }
    this.destroy();
  }

  /** Ends the stream and releases (../connection-shell.ts: once, with the stream's own close). */
  private destroy(): void {
    this.io.destroy();
  }

  /** The STOMP part of releasing a connection (the shell already cleared its timers); runs once. */
  private release(): void {
    this.state = 'closed';
    this.parser.dispose(); // an unfinished frame's bytes go back to the shared budget
    this.transactions.clear(); // uncommitted SENDs are never published
    this.pending.clear();
    const subs = [...this.subs.values()];
    this.subs.clear();
    for (const s of subs) s.end(false);
    this.onClosed(this);
  }
}
