// What a STOMP connection and its message sources (topic subscriptions, queue consumers) agree on, plus the dead-letter publish (through the core policy). Imports core types and the core dead-letter module.
import type { Logger } from 'pino';
import type { Broker } from '../../src/core/broker.ts';
import type { Message } from '../../src/core/message.ts';
import type { ErrorCode } from '../../src/core/errors.ts';
import { deadLetter, type DeadLetterPolicy } from '../../src/core/dead-letter.ts';

/** SUBSCRIBE `ack` header values (STOMP 1.2 "SUBSCRIBE ack Header"). */
export type AckMode = 'auto' | 'client' | 'client-individual';

/** One SUBSCRIBE as the connection sees it. `token`s are source-local handles of unacknowledged messages. */
export interface StompSubscription {
  /** The SUBSCRIBE `id` (1.0 without one: the destination). */
  readonly id: string;
  readonly destination: string;
  readonly ackMode: AckMode;
  /** MESSAGEs carry `x-stream-offset` / `x-stream-partition` (replay subscriptions). */
  readonly streamOffsets?: boolean;
  /** The client acknowledged the message: free its window slot. Unknown tokens are ignored. */
  ack(token: number): void;
  /**
   * The client refused it: redeliver (with the count raised) or, past the limit, dead-letter it. `requeue`
   * false (NACK header `requeue:false`): dead-letter it now, where the source supports that (queues, replay).
   */
  nack(token: number, requeue?: boolean): void;
  /**
   * UNSUBSCRIBE or connection end: unacknowledged messages are redelivered (queue) or dropped with the
   * subscription (topic). A durable topic subscription keeps its session (messages wait for the next
   * SUBSCRIBE with the same client-id and id) unless `forget` (UNSUBSCRIBE with `durable:true`).
   */
  end(forget?: boolean): void;
}

/** The connection side: write one MESSAGE. `token` undefined = nothing to acknowledge (ack:auto or QoS 0). */
export interface DeliverySink {
  deliver(sub: StompSubscription, msg: Message, token: number | undefined, redeliveries: number): void;
  /** Resolves once the outgoing buffer is below half of maxWriteBuffer (replay backpressure for ack:auto). */
  whenWritable(): Promise<void>;
  /** The outgoing buffer is below half of maxWriteBuffer now (an ack:auto queue consumer takes more only then). */
  canWrite(): boolean;
  /** The broker closes the subscription's session (shutdown, administrative action). */
  closeFromBroker(code: ErrorCode): void;
}

/** The core dead-letter policy (src/core/dead-letter.ts): stomp.maxRedeliveries, stomp.deadLetterTopic. */
export type DeadLetterOptions = DeadLetterPolicy;

/**
 * Publishes the dead-letter copy of `msg` (src/core/dead-letter.ts: `$dlq/<topic>` unless configured, user
 * properties `x-original-topic` and `x-redelivery-count`). Failures are logged, not thrown.
 */
export function publishDeadLetter(broker: Broker, msg: Message, redeliveries: number, opts: DeadLetterOptions, log: Logger): void {
  log.info({ topic: msg.topic, redeliveries }, 'stomp message dead-lettered');
  deadLetter((m) => broker.publish(m), msg, redeliveries, opts).catch((err: unknown) => log.warn({ err: String(err), topic: msg.topic }, 'dead letter not stored'));
}
