// `/queue/<name>`: a durable queue with competing consumers on the routing core. Imports core broker/session types and ./subscription.ts.
//
// Design: each queue is a broker session with clientId `$queue/<name>` and session expiry "never",
// subscribed at QoS 1 to the MQTT topic `$queue/<name>` (so MQTT clients publish there to reach it).
// Its link stays attached for the life of the process, with window `queueWindow`:
//   - the session hands up to `queueWindow` messages to the link; they wait in `ready` (in order)
//     until a consumer has credit; beyond the window they wait in the session's own bounded queue;
//   - consumers (STOMP SUBSCRIBEs on /queue/<name>) are served round-robin, each up to its prefetch
//     (ack:auto consumers are settled as soon as the MESSAGE is written: at most once);
//   - ACK settles the message (Session.onPuback), which lets the session hand over the next one;
//   - NACK, UNSUBSCRIBE or a consumer's disconnect put unacknowledged messages back at the head of
//     `ready` with their redelivery count raised; past maxRedeliveries a NACKed message is settled and
//     published to the dead-letter topic.
// Tokens given to consumers are per-queue sequence numbers (unique for the life of the queue).
// A queue exists once a STOMP client SENDs or SUBSCRIBEs to it, or when listed in options.queues.
// Restart: the queue session is persistent (expiry never), so the broker restores it (subscription,
// in-flight and queued references) before listeners open; QueueRegistry.attachRestored() re-binds every
// restored `$queue/<name>` session at listener start, and the handed-over-but-unacknowledged messages
// come back through the session's resend (marked redelivered), then the queued ones, in order.
import type { Logger } from 'pino';
import type { ClientIdentity } from '../../src/core/auth.ts';
import type { Broker, SessionEntry, SessionLink } from '../../src/core/broker.ts';
import type { Message } from '../../src/core/message.ts';
import type { Outbound, SessionLimits } from '../../src/core/session.ts';
import { MQTT_QUEUE_PREFIX, QUEUE_PREFIX } from './mapping.ts';
import { publishDeadLetter, type AckMode, type DeadLetterOptions, type DeliverySink, type StompSubscription } from './subscription.ts';

const NEVER = 0xffffffff;

interface Item {
  seq: number;
  /** The queue session's packet id; 0 for a QoS 0 message (nothing to settle). */
  packetId: number;
  msg: Message;
  redeliveries: number;
}

export interface QueueOptions extends DeadLetterOptions {
  queueWindow: number;
  session: Omit<SessionLimits, 'maxInflight'>;
}

class QueueConsumer implements StompSubscription {
  readonly outstanding = new Map<number, Item>();
  constructor(
    readonly id: string,
    readonly destination: string,
    readonly ackMode: AckMode,
    readonly prefetch: number,
    readonly sink: DeliverySink,
    private readonly queue: StompQueue,
  ) {}
  get hasCredit(): boolean {
    return this.outstanding.size < this.prefetch;
  }
  ack(token: number): void {
    this.queue.settle(this, token);
  }
  nack(token: number): void {
    this.queue.reject(this, token);
  }
  end(): void {
    this.queue.removeConsumer(this);
  }
}

export class StompQueue implements SessionLink {
  readonly identity: ClientIdentity;
  readonly topic: string;
  private readonly entry: SessionEntry;
  private readonly ready: Item[] = [];
  private readonly consumers: QueueConsumer[] = [];
  private next = 0;
  private seq = 0;
  private dispatching = false;

  constructor(
    readonly name: string,
    private readonly broker: Broker,
    private readonly opts: QueueOptions,
    private readonly log: Logger,
  ) {
    this.topic = MQTT_QUEUE_PREFIX + name;
    this.identity = { clientId: this.topic, protocol: 'stomp' };
    const { entry, resend } = broker.connect({
      clientId: this.topic,
      cleanStart: false,
      expiryInterval: NEVER,
      limits: { ...opts.session, maxInflight: opts.queueWindow },
      link: this,
    });
    this.entry = entry;
    broker.subscribe(entry, this.topic, { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 2 });
    // After a restart the session resends what it had handed over before, with DUP: counted as redelivered.
    this.send(resend);
  }

  /** Messages waiting for a consumer (ready + held back by the session window). */
  get depth(): number {
    return this.ready.length + this.entry.session.queuedCount;
  }
  get consumerCount(): number {
    return this.consumers.length;
  }

  /** SessionLink: the queue session hands over messages. */
  send(out: readonly Outbound[]): void {
    for (const o of out) {
      if (o.type !== 'publish') continue;
      if (o.packetId === 0 && this.ready.length >= this.opts.queueWindow) {
        this.log.warn({ queue: this.name }, 'stomp queue full: QoS 0 message dropped');
        continue;
      }
      this.ready.push({ seq: ++this.seq, packetId: o.packetId, msg: o.msg, redeliveries: o.dup ? 1 : 0 });
    }
    this.dispatch();
  }

  /** SessionLink: broker shutdown. The queue's state stays in its session. */
  close(): void {
    /* nothing to release: consumers are closed through their own connections */
  }

  addConsumer(id: string, ackMode: AckMode, prefetch: number, sink: DeliverySink): StompSubscription {
    const c = new QueueConsumer(id, QUEUE_PREFIX + this.name, ackMode, prefetch, sink, this);
    this.consumers.push(c);
    // Deferred: the RECEIPT for the SUBSCRIBE (if any) is written first.
    queueMicrotask(() => this.dispatch());
    return c;
  }

  removeConsumer(c: QueueConsumer): void {
    const i = this.consumers.indexOf(c);
    if (i === -1) return;
    this.consumers.splice(i, 1);
    if (this.next > i) this.next--;
    // Unacknowledged messages go back to the head, in their original order, counted as redelivered.
    const back = [...c.outstanding.values()].sort((a, b) => a.seq - b.seq);
    c.outstanding.clear();
    for (const item of back) item.redeliveries++;
    this.ready.unshift(...back);
    this.dispatch();
  }

  settle(c: QueueConsumer, token: number): void {
    const item = c.outstanding.get(token);
    if (!item) return;
    c.outstanding.delete(token);
    this.release(item);
    this.dispatch();
  }

  reject(c: QueueConsumer, token: number): void {
    const item = c.outstanding.get(token);
    if (!item) return;
    c.outstanding.delete(token);
    item.redeliveries++;
    if (item.redeliveries > this.opts.maxRedeliveries) {
      this.release(item);
      publishDeadLetter(this.broker, item.msg, item.redeliveries - 1, this.opts, this.log);
    } else {
      this.ready.unshift(item);
    }
    this.dispatch();
  }

  /** Frees the message's slot in the queue session; the session may hand over the next one (re-entering send). */
  private release(item: Item): void {
    if (item.packetId === 0) return;
    const out = this.entry.session.onPuback(item.packetId, Date.now());
    if (out.length !== 0) {
      for (const o of out) {
        if (o.type === 'publish') this.ready.push({ seq: ++this.seq, packetId: o.packetId, msg: o.msg, redeliveries: 0 });
      }
    }
  }

  /** Round-robin over consumers with credit, in `ready` order. */
  private dispatch(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      while (this.ready.length !== 0) {
        const c = this.pick();
        if (!c) break;
        const item = this.ready.shift() as Item;
        if (c.ackMode === 'auto') {
          c.sink.deliver(c, item.msg, undefined, item.redeliveries);
          this.release(item);
        } else {
          c.outstanding.set(item.seq, item);
          c.sink.deliver(c, item.msg, item.seq, item.redeliveries);
        }
      }
    } finally {
      this.dispatching = false;
    }
  }

  private pick(): QueueConsumer | undefined {
    const n = this.consumers.length;
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n;
      const c = this.consumers[i] as QueueConsumer;
      if (c.hasCredit) {
        this.next = (i + 1) % n;
        return c;
      }
    }
    return undefined;
  }
}

/** All queues of one listener, created on first use. */
export class QueueRegistry {
  private readonly queues = new Map<string, StompQueue>();
  constructor(
    private readonly broker: Broker,
    private readonly opts: QueueOptions,
    private readonly log: Logger,
  ) {}

  get(name: string): StompQueue {
    let q = this.queues.get(name);
    if (!q) {
      q = new StompQueue(name, this.broker, this.opts, this.log);
      this.queues.set(name, q);
    }
    return q;
  }

  /** Re-binds every queue whose persistent session the broker restored (call once, at listener start). Returns how many. */
  attachRestored(): number {
    let n = 0;
    for (const e of [...this.broker.sessions()]) {
      if (!e.internal || !e.name.startsWith(MQTT_QUEUE_PREFIX) || e.link || e.name.length === MQTT_QUEUE_PREFIX.length) continue;
      const name = e.name.slice(MQTT_QUEUE_PREFIX.length);
      if (this.queues.has(name)) continue;
      this.get(name);
      n++;
    }
    return n;
  }

  has(name: string): boolean {
    return this.queues.has(name);
  }
}
