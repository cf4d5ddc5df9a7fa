// The one dead-letter policy: how many redeliveries a message survives, where it goes after, and the copy that goes there. Imports core message types only.
//
// Policy (the same for STOMP topic / stream subscriptions, queues and groups, whatever protocol consumes):
// - A NACK (settle 'nack') raises the message's redelivery count; once the count passes maxRedeliveries the
//   message is dead-lettered instead of redelivered. A 'reject' dead-letters at once.
// - The dead letter is a QoS 1 copy on deadLetterTopic, or `$dlq/<original topic>` when that is '', with user
//   properties `x-original-topic` and `x-redelivery-count` added; payload, other properties and expiry are kept.
// - The original counts as settled only once the dead letter is durable (deadLetter() resolves): a failed
//   dead-letter publish leaves it unsettled, so nothing acknowledged is lost on the way to the DLQ.
import type { Message } from './message.ts';

export const DLQ_PREFIX = '$dlq/';

export interface DeadLetterPolicy {
  /** NACKs a message survives; the next one dead-letters it (config stomp.maxRedeliveries). */
  maxRedeliveries: number;
  /** Fixed dead-letter topic; '' = `$dlq/<original topic>` (config stomp.deadLetterTopic). */
  deadLetterTopic: string;
}

export const DEFAULT_DEAD_LETTER: DeadLetterPolicy = { maxRedeliveries: 5, deadLetterTopic: '' };

/** Where a message of `topic` goes when dead-lettered. */
export function deadLetterTopicOf(topic: string, configured: string): string {
  return configured !== '' ? configured : DLQ_PREFIX + topic;
}

/** True when a message NACKed for the `redeliveries`-th time must be dead-lettered rather than redelivered. */
export function exhausted(redeliveries: number, policy: DeadLetterPolicy): boolean {
  return redeliveries > policy.maxRedeliveries;
}

/** The dead-letter copy of `msg` after `redeliveries` redeliveries. */
export function deadLetterMessage(msg: Message, redeliveries: number, policy: DeadLetterPolicy, now = Date.now()): Message {
  const user: Record<string, string | string[]> = { ...msg.properties.userProperties };
  user['x-original-topic'] = msg.topic;
  user['x-redelivery-count'] = String(redeliveries);
  return {
    topic: deadLetterTopicOf(msg.topic, policy.deadLetterTopic),
    payload: msg.payload,
    qos: 1,
    retain: false,
    properties: { ...msg.properties, userProperties: user },
    createdAt: now,
    expiresAt: msg.expiresAt,
    senderId: '',
  };
}

/** The broker's publish (Broker.publish): resolves once durable and routed; undefined when nothing to wait for. */
export type PublishFn = (msg: Message) => Promise<void> | undefined;

/** Publishes the dead letter; resolves when it is durable, rejects when it could not be stored (never throws synchronously). */
export function deadLetter(publish: PublishFn, msg: Message, redeliveries: number, policy: DeadLetterPolicy): Promise<Message> {
  const dead = deadLetterMessage(msg, redeliveries, policy);
  try {
    const p = publish(dead);
    return p ? p.then(() => dead) : Promise.resolve(dead);
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
