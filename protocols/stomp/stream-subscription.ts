// A STOMP SUBSCRIBE to `/topic/<filter>` with `x-stream-offset`: reads the durable log from a start point (broker.follow), then keeps following it. Imports core consumer/broker/message types, the core dead-letter policy and ./subscription.ts.
//
// Contract:
// - One broker.follow() (src/core/consumer.ts follow over the durable log) with the subscription's filter, from the start
//   point. It reads the log only: no broker session, no live routing, so the switch from history to
//   live is the same loop reading the same log - no gap, no duplicate. A caught-up follower sleeps until the
//   log reports an append (src/core/log-notifier.ts): no polling, no timer while idle.
// - Only what is in the log is seen: every QoS 1/2 message, and QoS 0 messages only when
//   persistence.persistQos0 is on.
// - Every MESSAGE carries `x-stream-offset: <offset>` and `x-stream-partition: <partition>` (offsets are
//   per partition; a topic always lives in one partition).
// - Window: client / client-individual hold at most `prefetch` unacknowledged MESSAGEs; the follower waits
//   (inside its visitor) for an ACK before the next, and reads at most `prefetch` records per batch, so
//   memory stays at about one window. ack:auto waits for the socket's buffer to drain instead (no drops).
// - NACK redelivers the message (before anything newer) with the count raised; past maxRedeliveries it
//   goes to the dead-letter topic and counts as settled (the core policy, src/core/dead-letter.ts). Expired
//   messages are skipped.
// - end() stops the follower; nothing is kept (a replay subscription is not durable: the client resumes
//   with `x-stream-offset: offset=<last offset + 1>`).
import type { Logger } from 'pino';
import type { ClientIdentity } from '../../src/core/auth.ts';
import type { Broker } from '../../src/core/broker.ts';
import type { Follower, StartPoint } from '../../src/core/consumer.ts';
import { isExpired, type Message } from '../../src/core/message.ts';
import { exhausted } from '../../src/core/dead-letter.ts';
import { publishDeadLetter, type AckMode, type DeadLetterOptions, type DeliverySink, type StompSubscription } from './subscription.ts';

interface Held {
  msg: Message;
  redeliveries: number;
}

/** Only for a log without append notification: how often an idle follower looks for new appends. */
const POLL_MS = 10;

export class StreamSubscription implements StompSubscription {
  readonly streamOffsets = true;
  private follower: Follower | undefined;
  private readonly outstanding = new Map<number, Held>();
  private readonly retry: Held[] = [];
  private seq = 0;
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(
    readonly id: string,
    readonly destination: string,
    readonly ackMode: AckMode,
    private readonly prefetch: number,
    private readonly sink: DeliverySink,
    private readonly broker: Broker,
    private readonly dl: DeadLetterOptions,
    private readonly log: Logger,
    /** The subscriber: a replayed topic it may not read is skipped (ACL at delivery). */
    private readonly reader?: ClientIdentity,
  ) {}

  /** Starts following; returns false when the broker has no durable log (persistence off). */
  start(filter: string, from: StartPoint): boolean {
    const batch = this.ackMode === 'auto' ? 256 : Math.max(1, Math.min(256, this.prefetch));
    this.follower = this.broker.follow(filter, from, (msg) => this.visit(msg), { pollMs: POLL_MS, batch });
    if (!this.follower) return false;
    this.follower.done.catch((err: unknown) => {
      if (this.closed) return;
      this.log.warn({ err: String(err), subscription: this.id }, 'stomp stream subscription failed');
      this.sink.closeFromBroker('IMPLEMENTATION_SPECIFIC');
    });
    return true;
  }

  private get hasCredit(): boolean {
    return this.outstanding.size < this.prefetch;
  }

  /** The follower's visitor: waits for window credit (or a drained socket), then writes one MESSAGE. */
  private async visit(msg: Message): Promise<void> {
    if (this.closed || isExpired(msg, Date.now())) return;
    if (this.reader && !this.broker.auth.authorizeRead(this.reader, msg.topic)) return;
    if (this.ackMode === 'auto') {
      await this.sink.whenWritable();
      if (!this.closed) this.sink.deliver(this, msg, undefined, 0);
      return;
    }
    while (!this.closed && (this.retry.length !== 0 || !this.hasCredit)) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (!this.closed) this.write({ msg, redeliveries: 0 });
  }

  private write(h: Held): void {
    const token = ++this.seq;
    this.outstanding.set(token, h);
    this.sink.deliver(this, h.msg, token, h.redeliveries);
  }

  /** Redeliveries first, then lets the follower continue. */
  private pump(): void {
    while (!this.closed && this.retry.length !== 0 && this.hasCredit) this.write(this.retry.shift() as Held);
    if (this.retry.length === 0 && this.hasCredit) {
      const w = this.wake;
      this.wake = undefined;
      w?.();
    }
  }

  ack(token: number): void {
    if (this.outstanding.delete(token)) this.pump();
  }

  nack(token: number, requeue = true): void {
    const h = this.outstanding.get(token);
    if (!h) return;
    this.outstanding.delete(token);
    if (!requeue) publishDeadLetter(this.broker, h.msg, h.redeliveries, this.dl, this.log);
    else if (exhausted(++h.redeliveries, this.dl)) publishDeadLetter(this.broker, h.msg, h.redeliveries - 1, this.dl, this.log);
    else this.retry.push(h);
    this.pump();
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.outstanding.clear();
    this.retry.length = 0;
    const w = this.wake;
    this.wake = undefined;
    w?.();
    void this.follower?.stop();
  }
}
