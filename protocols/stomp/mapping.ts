// STOMP <-> core mapping: destinations to MQTT topics/filters, SEND headers to Message properties, Message to MESSAGE headers. Imports core message/topic helpers only.
//
// Destinations (STOMP destination <-> MQTT topic):
//
//   | STOMP destination        | MQTT topic / filter        | notes                                              |
//   |--------------------------|----------------------------|----------------------------------------------------|
//   | /topic/<mqtt topic>      | <mqtt topic> verbatim      | /topic/sensors/1/temp = sensors/1/temp             |
//   | /topic/<filter>          | <filter>                   | SUBSCRIBE only: `+` and `#` as in MQTT             |
//   | /queue/<name>            | $queue/<name>              | durable queue, competing consumers; MQTT publishes |
//   |                          |                            | to `$queue/<name>` to reach it                     |
//   | (dead letters)           | $dlq/<original topic>      | or the configured dead-letter topic                |
//
// Headers (STOMP SEND -> Message, and Message -> STOMP MESSAGE):
//
//   | STOMP header            | Message / MQTT 5 property                 | notes                                      |
//   |-------------------------|-------------------------------------------|--------------------------------------------|
//   | destination             | topic                                     | table above                                |
//   | content-type            | contentType                               |                                            |
//   | correlation-id          | correlationData (UTF-8 bytes)             | non-UTF-8 data goes out as                 |
//   |                         |                                           | x-correlation-data-base64                  |
//   | reply-to                | responseTopic                             | mapped like destination                    |
//   | expires                 | expiresAt (epoch ms); messageExpiryInterval | 0 or absent = never                      |
//   | x-retain: true          | retain                                    | SEND only                                  |
//   | any other header        | userProperties[name] = value              | first value of a repeated header (STOMP    |
//   |                         |                                           | 1.2 "Repeated Header Entries"); repeated   |
//   |                         |                                           | user properties become repeated headers    |
//   | content-length          | payload length                            | always written on MESSAGE                  |
//   | message-id, subscription, ack | (per delivery)                      | ack only for client / client-individual    |
//   | redelivered, x-redelivery-count | (per delivery)                    | on a redelivery after NACK / consumer loss |
//   | x-stream-offset, x-stream-partition | msg.ref (log position)            | replay subscriptions only                  |
//
// SUBSCRIBE `x-stream-offset` (RabbitMQ streams' convention) -> consumer StartPoint:
//   first | last | next | offset=N (N in every partition) | timestamp=T (T in epoch seconds as RabbitMQ,
//   or epoch milliseconds when T >= 100000000000). See parseStreamOffset.
//
// Reserved names (never copied to or from user properties) are in RESERVED below.

import { isUtf8 } from 'node:buffer';
import type { Message, MessageProperties } from '../../src/core/message.ts';
import type { ErrorCode } from '../../src/core/errors.ts';
import type { StartPoint } from '../../src/core/consumer.ts';
import { validateTopicFilter, validateTopicName, hasWildcard } from '../../src/core/topic.ts';

export const TOPIC_PREFIX = '/topic/';
export const QUEUE_PREFIX = '/queue/';
/** The MQTT topic form of `/queue/<name>`. */
export const MQTT_QUEUE_PREFIX = '$queue/';
export const MQTT_DLQ_PREFIX = '$dlq/';

export const RESERVED: ReadonlySet<string> = new Set([
  'destination', 'content-length', 'content-type', 'receipt', 'receipt-id', 'transaction', 'correlation-id',
  'x-correlation-data-base64', 'reply-to', 'expires', 'message-id', 'subscription', 'ack', 'id', 'redelivered',
  'x-redelivery-count', 'x-retain', 'host', 'login', 'passcode', 'accept-version', 'heart-beat', 'version',
  'session', 'server', 'message', 'prefetch-count', 'x-stream-offset', 'x-stream-partition',
]);

/** Epoch values below this are seconds (RabbitMQ), at or above it milliseconds. */
const MS_EPOCH_FLOOR = 100_000_000_000;

/** SUBSCRIBE `x-stream-offset` -> the consumer's start point; undefined for a value it does not know. */
export function parseStreamOffset(v: string): StartPoint | undefined {
  const s = v.trim();
  if (s === 'first' || s === 'last' || s === 'next') return s;
  let m = /^offset=(\d{1,15})$/.exec(s);
  if (m) return { offset: Number(m[1]) };
  m = /^timestamp=(\d{1,15})$/.exec(s);
  if (m) {
    const t = Number(m[1]);
    return { timestamp: t >= MS_EPOCH_FLOOR ? t : t * 1000 };
  }
  return undefined;
}

export type Destination =
  | { kind: 'topic'; topic: string }
  | { kind: 'queue'; name: string; topic: string };

/** A SEND destination: a topic name (no wildcards) or a queue. */
export function parseSendDestination(dest: string, maxLevels: number): Destination | ErrorCode {
  if (dest.startsWith(QUEUE_PREFIX)) return parseQueue(dest.slice(QUEUE_PREFIX.length), maxLevels);
  if (!dest.startsWith(TOPIC_PREFIX)) return 'TOPIC_NAME_INVALID';
  const topic = dest.slice(TOPIC_PREFIX.length);
  const bad = validateTopicName(topic, maxLevels);
  return bad ?? { kind: 'topic', topic };
}

/** A SUBSCRIBE destination: a topic filter (`+`, `#`, `$share/...` allowed) or a queue. */
export function parseSubscribeDestination(dest: string, maxLevels: number): Destination | ErrorCode {
  if (dest.startsWith(QUEUE_PREFIX)) return parseQueue(dest.slice(QUEUE_PREFIX.length), maxLevels);
  if (!dest.startsWith(TOPIC_PREFIX)) return 'TOPIC_FILTER_INVALID';
  const topic = dest.slice(TOPIC_PREFIX.length);
  const bad = validateTopicFilter(topic, maxLevels);
  return bad ?? { kind: 'topic', topic };
}

/** Queue names: a valid MQTT topic name without wildcards (it becomes `$queue/<name>`). */
function parseQueue(name: string, maxLevels: number): Destination | ErrorCode {
  if (name.length === 0 || hasWildcard(name)) return 'TOPIC_NAME_INVALID';
  const topic = MQTT_QUEUE_PREFIX + name;
  const bad = validateTopicName(topic, maxLevels);
  return bad ?? { kind: 'queue', name, topic };
}

/** The STOMP destination for an MQTT topic (inverse of the table above). */
export function destinationOf(topic: string): string {
  if (topic.startsWith(MQTT_QUEUE_PREFIX) && topic.length > MQTT_QUEUE_PREFIX.length) {
    return QUEUE_PREFIX + topic.slice(MQTT_QUEUE_PREFIX.length);
  }
  return TOPIC_PREFIX + topic;
}

/** reply-to -> responseTopic: `/topic/x` -> `x`, `/queue/q` -> `$queue/q`, anything else verbatim. */
export function topicOfReplyTo(replyTo: string): string {
  if (replyTo.startsWith(TOPIC_PREFIX)) return replyTo.slice(TOPIC_PREFIX.length);
  if (replyTo.startsWith(QUEUE_PREFIX)) return MQTT_QUEUE_PREFIX + replyTo.slice(QUEUE_PREFIX.length);
  return replyTo;
}

/** First value of each header name, in wire order (1.2 "Repeated Header Entries"). */
function firstValues(headers: readonly [string, string][]): Map<string, string> {
  const m = new Map<string, string>();
  for (const [n, v] of headers) if (!m.has(n)) m.set(n, v);
  return m;
}

/**
 * SEND -> Message. `topic` is already resolved from the destination. Returns an ErrorCode for a bad
 * `expires` (not a non-negative integer). QoS is 1: a SEND is acknowledged (RECEIPT) only once durable.
 */
export function messageFromSend(
  topic: string,
  headers: readonly [string, string][],
  body: Buffer,
  senderId: string,
  now: number,
): Message | ErrorCode {
  const h = firstValues(headers);
  const properties: MessageProperties = {};
  let expiresAt = 0;
  const ct = h.get('content-type');
  if (ct !== undefined) properties.contentType = ct;
  const corr = h.get('correlation-id');
  if (corr !== undefined) properties.correlationData = Buffer.from(corr, 'utf8');
  const corr64 = h.get('x-correlation-data-base64');
  if (corr === undefined && corr64 !== undefined) properties.correlationData = Buffer.from(corr64, 'base64');
  const replyTo = h.get('reply-to');
  if (replyTo !== undefined) properties.responseTopic = topicOfReplyTo(replyTo);
  const expires = h.get('expires');
  if (expires !== undefined && expires !== '' && expires !== '0') {
    if (!/^\d{1,16}$/.test(expires)) return 'STOMP_FRAME_INVALID';
    expiresAt = Number(expires);
    properties.messageExpiryInterval = Math.max(0, Math.ceil((expiresAt - now) / 1000));
  }
  let user: Record<string, string> | undefined;
  for (const [name, value] of h) {
    if (RESERVED.has(name)) continue;
    (user ??= {})[name] = value;
  }
  if (user) properties.userProperties = user;
  return {
    topic,
    // Copied so a queued message does not pin the whole read chunk.
    payload: Buffer.from(body),
    qos: 1,
    retain: h.get('x-retain') === 'true',
    properties,
    createdAt: now,
    expiresAt,
    senderId,
  };
}

/** Message -> the mapped headers of a MESSAGE frame (destination first; delivery headers are added by the caller). */
export function headersFromMessage(msg: Message): [string, string][] {
  const out: [string, string][] = [['destination', destinationOf(msg.topic)]];
  const p = msg.properties;
  if (p.contentType !== undefined) out.push(['content-type', p.contentType]);
  if (p.correlationData !== undefined) {
    if (isUtf8(p.correlationData)) out.push(['correlation-id', p.correlationData.toString('utf8')]);
    else out.push(['x-correlation-data-base64', p.correlationData.toString('base64')]);
  }
  if (p.responseTopic !== undefined) out.push(['reply-to', destinationOf(p.responseTopic)]);
  if (msg.expiresAt !== 0) out.push(['expires', String(msg.expiresAt)]);
  if (p.userProperties) {
    for (const [name, value] of Object.entries(p.userProperties)) {
      if (RESERVED.has(name) || name.length === 0) continue;
      if (Array.isArray(value)) for (const v of value) out.push([name, v]);
      else out.push([name, value]);
    }
  }
  return out;
}

