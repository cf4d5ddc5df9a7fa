// A STOMP SUBSCRIBE to `/topic/<filter>`: one broker session per subscription, so each has its own ack mode and window. Imports core broker/session types and ./subscription.ts.
//
// Shape (plain): clientId `<connection session id>/<n>` (unique per SUBSCRIBE), clean start, session
// expiry 0 (the session ends with the subscription). Every mode subscribes at QoS 1 with maxInflight =
// prefetch, so a slow reader makes the session fall behind and read the log (never drop an acknowledged
// message). client / client-individual: ACK frees a slot and NACK puts the message back at the head
// (Session.requeue). ack:auto: each MESSAGE is settled once written AND the connection's outgoing buffer
// is under its bound (DeliverySink.whenWritable), so the window follows socket backpressure. Tokens are the session's packet ids. Redelivery
// counts are kept per Message object (a WeakMap), so nothing is copied.
// Shape (durable: SUBSCRIBE `durable:true` + `id`, CONNECT `client-id`): clientId
// `stomp/<client-id>/<subscription id>`, resumed (clean start off), expiry never, always QoS 1 so the
// session queues while the client is away and the broker persists it across restarts. On the next
// SUBSCRIBE with the same client-id and id, unacknowledged MESSAGEs go out again first (redelivered:true)
// then the queue. ack:auto on a durable subscription settles the same way (at most once once written;
// nothing is lost while disconnected). A SUBSCRIBE with another destination replaces the
// stored filter. Retained messages: only when the subscription is new (retain handling 1).
import type { Logger } from 'pino';
import type { ClientIdentity } from '../../src/core/auth.ts';
import type { Broker, SessionEntry, SessionLink } from '../../src/core/broker.ts';
import type { ErrorCode } from '../../src/core/errors.ts';
import type { Message } from '../../src/core/message.ts';
import type { SubscriptionOptions } from '../../src/core/router.ts';
import type { Outbound, SessionLimits } from '../../src/core/session.ts';
import { publishDeadLetter, type AckMode, type DeadLetterOptions, type DeliverySink, type StompSubscription } from './subscription.ts';

const NEVER = 0xffffffff;

export class TopicSubscription implements StompSubscription, SessionLink {
  readonly identity: ClientIdentity;
  private entry: SessionEntry | undefined;
  private readonly redeliveries = new WeakMap<Message, number>();
  private closed = false;
  /** ack:auto: packet ids written, settled once the sink is writable again. */
  private unsettled: number[] = [];
  private settling = false;

  constructor(
    readonly id: string,
    readonly destination: string,
    readonly ackMode: AckMode,
    private readonly sink: DeliverySink,
    private readonly broker: Broker,
    private readonly dl: DeadLetterOptions,
    private readonly log: Logger,
    owner: ClientIdentity,
    sessionId: string,
    readonly durable = false,
  ) {
    this.identity = { ...owner, clientId: sessionId };
  }

  /** Binds the session (resumed when durable) and subscribes; stored unacknowledged / queued messages, then retained ones, follow through the window. */
  start(filter: string, limits: Omit<SessionLimits, 'maxInflight'>, prefetch: number): void {
    const { entry, resend } = this.broker.connect({
      clientId: this.identity.clientId,
      internal: true, // its own keyspace: no client id can reach it
      cleanStart: !this.durable,
      expiryInterval: this.durable ? NEVER : 0,
      limits: { ...limits, maxInflight: prefetch },
      link: this,
    });
    this.entry = entry;
    if (this.durable) {
      // One filter per durable subscription: a SUBSCRIBE to another destination replaces the stored one.
      for (const f of [...this.broker.subscriptionsOf(entry).keys()]) if (f !== filter) this.broker.unsubscribe(entry, f);
    }
    const options: SubscriptionOptions = {
      qos: 1,
      noLocal: false,
      retainAsPublished: false,
      retainHandling: this.durable ? 1 : 0,
    };
    this.send(resend);
    const retained = this.broker.subscribe(entry, filter, options);
    if (retained.length !== 0) this.broker.deliverRetained(entry, retained, options);
  }

  /** Resolves once this subscription's session image is durable (durable subscriptions); else undefined. */
  saved(): Promise<void> | undefined {
    return this.durable && this.entry ? this.broker.sessionSaved(this.entry) : undefined;
  }

  /** SessionLink: PUBLISH items become MESSAGE frames. ack:auto settles them once the sink is writable again. */
  send(out: readonly Outbound[]): void {
    for (const o of out) {
      if (o.type !== 'publish' || this.closed) continue;
      if (!this.broker.auth.authorizeRead(this.identity, o.msg.topic)) {
        // ACL at delivery, for what was queued before the check could run (a durable session restored from disk): settled unsent.
        if (o.qos !== 0) this.unsettled.push(o.packetId);
        continue;
      }
      const redeliveries = this.redeliveries.get(o.msg) ?? (o.dup ? 1 : 0);
      if (this.ackMode === 'auto' && o.qos !== 0) {
        // A token (the packet id) marks it as one that must not be dropped by the sink's at-most-once rule;
        // an ack:auto subscription's MESSAGE carries no ack header, so the client never sees it.
        this.sink.deliver(this, o.msg, o.packetId, redeliveries);
        this.unsettled.push(o.packetId);
      } else {
        this.sink.deliver(this, o.msg, o.qos === 0 ? undefined : o.packetId, redeliveries);
      }
    }
    if (this.unsettled.length !== 0 && !this.settling) {
      this.settling = true;
      this.sink.whenWritable().then(
        () => this.settle(),
        () => this.settle(),
      );
    }
  }

  /** ack:auto: the written MESSAGEs left the connection's buffer bound; free their slots and send what fits. */
  private settle(): void {
    this.settling = false;
    const ids = this.unsettled;
    this.unsettled = [];
    const e = this.entry;
    if (!e || this.closed) return;
    const now = Date.now();
    const next: Outbound[] = [];
    for (const id of ids) for (const o of this.broker.settleOutbound(e, id, 'puback', now)) next.push(o);
    if (next.length !== 0) this.send(next);
  }

  /** SessionLink: the broker ended this session's connection. */
  close(code: ErrorCode): void {
    if (this.closed) return;
    this.closed = true;
    this.entry = undefined;
    this.sink.closeFromBroker(code);
  }

  ack(token: number): void {
    const e = this.entry;
    if (e) this.send(this.broker.settleOutbound(e, token, 'puback'));
  }

  nack(token: number): void {
    const e = this.entry;
    if (!e) return;
    const msg = this.broker.unackedMessage(e, token);
    if (!msg) return;
    const count = (this.redeliveries.get(msg) ?? 0) + 1;
    if (count > this.dl.maxRedeliveries) {
      this.redeliveries.delete(msg);
      this.send(this.broker.settleOutbound(e, token, 'puback'));
      publishDeadLetter(this.broker, msg, count - 1, this.dl, this.log);
      return;
    }
    this.redeliveries.set(msg, count);
    this.send(this.broker.settleOutbound(e, token, 'requeue'));
  }

  /**
   * UNSUBSCRIBE / connection end. Plain: the session ends (expiry 0) and takes its subscription and queue
   * with it. Durable: the session stays (expiry never) unless `forget`, which ends it and deletes its image.
   */
  end(forget = false): void {
    if (this.closed) return;
    this.closed = true;
    const e = this.entry;
    this.entry = undefined;
    if (!e) return;
    if (this.durable && forget) this.broker.setSessionExpiry(e, 0);
    this.broker.disconnect(e, this, false);
  }
}
