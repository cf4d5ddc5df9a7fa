// A STOMP SUBSCRIBE to `/topic/<filter>`: one broker session per subscription, so each has its own ack mode and window. Imports core broker/session types and ./subscription.ts.
//
// Shape: clientId `<connection session id>/<n>` (unique per SUBSCRIBE), clean start, session expiry 0
// (the session ends with the subscription). ack:auto subscribes at QoS 0 (at most once, no window);
// client / client-individual at QoS 1 with maxInflight = prefetch, so ACK frees a slot and NACK puts the
// message back at the head (Session.requeue). Tokens are the session's packet ids. Redelivery counts are
// kept per Message object (a WeakMap), so nothing is copied.
import type { Logger } from 'pino';
import type { ClientIdentity } from '../../src/core/auth.ts';
import type { Broker, SessionEntry, SessionLink } from '../../src/core/broker.ts';
import type { ErrorCode } from '../../src/core/errors.ts';
import type { Message } from '../../src/core/message.ts';
import type { SubscriptionOptions } from '../../src/core/router.ts';
import type { Outbound, SessionLimits } from '../../src/core/session.ts';
import { publishDeadLetter, type AckMode, type DeadLetterOptions, type DeliverySink, type StompSubscription } from './subscription.ts';

export class TopicSubscription implements StompSubscription, SessionLink {
  readonly identity: ClientIdentity;
  private entry: SessionEntry | undefined;
  private readonly redeliveries = new WeakMap<Message, number>();
  private closed = false;

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
  ) {
    this.identity = { ...owner, clientId: sessionId };
  }

  /** Binds the session and subscribes; retained messages follow through the window. */
  start(filter: string, limits: Omit<SessionLimits, 'maxInflight'>, prefetch: number): void {
    const { entry } = this.broker.connect({
      clientId: this.identity.clientId,
      cleanStart: true,
      expiryInterval: 0,
      limits: { ...limits, maxInflight: prefetch },
      link: this,
    });
    this.entry = entry;
    const options: SubscriptionOptions = { qos: this.ackMode === 'auto' ? 0 : 1, noLocal: false, retainAsPublished: false, retainHandling: 0 };
    const retained = this.broker.subscribe(entry, filter, options);
    if (retained.length !== 0) this.broker.deliverRetained(entry, retained, options);
  }

  /** SessionLink: PUBLISH items become MESSAGE frames. */
  send(out: readonly Outbound[]): void {
    for (const o of out) {
      if (o.type !== 'publish' || this.closed) continue;
      this.sink.deliver(this, o.msg, o.qos === 0 ? undefined : o.packetId, this.redeliveries.get(o.msg) ?? 0);
    }
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
    if (e) this.send(e.session.onPuback(token, Date.now()));
  }

  nack(token: number): void {
    const e = this.entry;
    if (!e) return;
    const msg = e.session.unackedMessage(token);
    if (!msg) return;
    const count = (this.redeliveries.get(msg) ?? 0) + 1;
    if (count > this.dl.maxRedeliveries) {
      this.redeliveries.delete(msg);
      this.send(e.session.onPuback(token, Date.now()));
      publishDeadLetter(this.broker, msg, count - 1, this.dl, this.log);
      return;
    }
    this.redeliveries.set(msg, count);
    this.send(e.session.requeue(token, Date.now()));
  }

  /** UNSUBSCRIBE / connection end: the session ends (expiry 0) and takes its subscription and queue with it. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    const e = this.entry;
    this.entry = undefined;
    if (e) this.broker.disconnect(e, this, false);
  }
}
