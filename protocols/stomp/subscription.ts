// What a STOMP connection and its message sources (topic subscriptions, queue consumers) agree on, plus the dead-letter publish. Imports core types and ./mapping.ts.
import type { Logger } from 'pino';
import type { Broker } from '../../src/core/broker.ts';
import type { Message } from '../../src/core/message.ts';
import type { ErrorCode } from '../../src/core/errors.ts';
import { deadLetterTopicOf } from './mapping.ts';

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
  /** The client refused it: redeliver (with the count raised) or, past the limit, dead-letter it. */
  nack(token: number): void;
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
  /** The broker closes the subscription's session (shutdown, administrative action). */
  closeFromBroker(code: ErrorCode): void;
}

export interface DeadLetterOptions {
  maxRedeliveries: number;
  deadLetterTopic: string;
}

/**
 * Publishes a copy of `msg` to the dead-letter topic (`$dlq/<topic>` unless configured), with user
 * properties `x-original-topic` and `x-redelivery-count` added. Failures are logged, not thrown.
 */
export function publishDeadLetter(broker: Broker, msg: Message, redeliveries: number, opts: DeadLetterOptions, log: Logger): void {
  const now = Date.now();
  const user: Record<string, string | string[]> = { ...msg.properties.userProperties };
  user['x-original-topic'] = msg.topic;
  user['x-redelivery-count'] = String(redeliveries);
  const dead: Message = {
    topic: deadLetterTopicOf(msg.topic, opts.deadLetterTopic),
    payload: msg.payload,
    qos: 1,
    retain: false,
    properties: { ...msg.properties, userProperties: user },
    createdAt: now,
    expiresAt: msg.expiresAt,
    senderId: '',
  };
  log.info({ topic: msg.topic, deadLetter: dead.topic, redeliveries }, 'stomp message dead-lettered');
  try {
    const p = broker.publish(dead);
    p?.catch((err: unknown) => log.warn({ err: String(err), topic: dead.topic }, 'dead letter not stored'));
  } catch (err) {
    log.warn({ err: String(err), topic: dead.topic }, 'dead letter not published');
  }
}
