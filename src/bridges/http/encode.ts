// HTTP sink body encoding: one message as a JSON object, a batch as a JSON document or NDJSON lines, and how many pending messages fit one request. Imports core message types only.
//
// Body formats (the contract with the receiving service):
//   json    Content-Type application/json:       {"messages":[<m>,<m>,...]}
//   ndjson  Content-Type application/x-ndjson:   <m>\n<m>\n...   (one message per line, each line ends with \n)
// where <m> is
//   {"topic":"a/b","payload":"...","encoding":"text"|"base64","qos":0|1|2,"retain":false,
//    "properties":{ contentType?, payloadFormatIndicator?, messageExpiryInterval?, responseTopic?,
//                   correlationData? (base64), userProperties? ({"k":"v"} or {"k":["v1","v2"]} for a repeated key) },
//    "partition":N,"offset":N,"timestamp":<epoch ms the gateway accepted it>}
// (partition, offset) identifies a message: a receiver deduplicates redeliveries (at least once) with it.
// JSON.stringify escapes every control character and lone surrogate, so no <m> contains a raw newline.
import { isUtf8 } from 'node:buffer';
import type { Message } from '../../core/message.ts';
import type { PayloadEncoding, SinkFormat } from './options.ts';

/** One message, encoded once, with its log position. */
export interface EncodedMessage {
  /** The JSON text of <m>, as UTF-8. */
  json: Buffer;
  partition: number;
  offset: number;
  topic: string;
}

export interface SinkEntry {
  topic: string;
  payload: string;
  encoding: 'text' | 'base64';
  qos: 0 | 1 | 2;
  retain: boolean;
  properties: Record<string, unknown>;
  partition: number;
  offset: number;
  timestamp: number;
}

export function contentType(format: SinkFormat): string {
  return format === 'json' ? 'application/json' : 'application/x-ndjson';
}

/** The <m> object of a stored message (msg.ref set: it was read from the log). */
export function sinkEntry(msg: Message, encoding: PayloadEncoding): SinkEntry {
  const text = encoding === 'text' || (encoding === 'auto' && isUtf8(msg.payload));
  const p = msg.properties;
  const properties: Record<string, unknown> = {};
  if (p.contentType !== undefined) properties.contentType = p.contentType;
  if (p.payloadFormatIndicator !== undefined) properties.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.messageExpiryInterval !== undefined) properties.messageExpiryInterval = p.messageExpiryInterval;
  if (p.responseTopic !== undefined) properties.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) properties.correlationData = p.correlationData.toString('base64');
  if (p.userProperties !== undefined && Object.keys(p.userProperties).length > 0) properties.userProperties = p.userProperties;
  return {
    topic: msg.topic,
    // 'text' on a payload that is not UTF-8 replaces the bad sequences with U+FFFD (the operator asked for text).
    payload: text ? msg.payload.toString('utf8') : msg.payload.toString('base64'),
    encoding: text ? 'text' : 'base64',
    qos: msg.qos,
    retain: msg.retain,
    properties,
    partition: msg.ref?.partition ?? -1,
    offset: msg.ref?.offset ?? -1,
    timestamp: msg.createdAt,
  };
}

export function encodeMessage(msg: Message, encoding: PayloadEncoding): EncodedMessage {
  return { json: Buffer.from(JSON.stringify(sinkEntry(msg, encoding)), 'utf8'), partition: msg.ref?.partition ?? -1, offset: msg.ref?.offset ?? -1, topic: msg.topic };
}

const JSON_OPEN = Buffer.from('{"messages":[');
const JSON_CLOSE = Buffer.from(']}');
const COMMA = Buffer.from(',');
const NEWLINE = Buffer.from('\n');

/** Body bytes of `count` messages whose <m> texts total `entryBytes` bytes. */
export function bodyBytes(format: SinkFormat, count: number, entryBytes: number): number {
  if (format === 'ndjson') return entryBytes + count;
  return JSON_OPEN.length + JSON_CLOSE.length + entryBytes + Math.max(0, count - 1);
}

/** The request body of a batch. */
export function encodeBody(format: SinkFormat, batch: readonly EncodedMessage[]): Buffer {
  const parts: Buffer[] = [];
  if (format === 'ndjson') {
    for (const m of batch) parts.push(m.json, NEWLINE);
  } else {
    parts.push(JSON_OPEN);
    batch.forEach((m, i) => {
      if (i > 0) parts.push(COMMA);
      parts.push(m.json);
    });
    parts.push(JSON_CLOSE);
  }
  return Buffer.concat(parts);
}

/**
 * How many messages from the head of `pending` go in the next request: at most maxMessages, and as many as keep
 * the body within maxBytes, but always at least one (a message bigger than maxBytes is sent alone). 0 when empty.
 */
export function batchSize(format: SinkFormat, pending: readonly EncodedMessage[], maxMessages: number, maxBytes: number): number {
  let bytes = 0;
  let n = 0;
  while (n < pending.length && n < maxMessages) {
    const next = bytes + pending[n]!.json.length;
    if (n > 0 && bodyBytes(format, n + 1, next) > maxBytes) break;
    bytes = next;
    n++;
  }
  return n;
}

/** True when `pending` already holds a full batch (by count or bytes): send without waiting for the linger time. */
export function batchFull(format: SinkFormat, pending: readonly EncodedMessage[], pendingBytes: number, maxMessages: number, maxBytes: number): boolean {
  return pending.length >= maxMessages || bodyBytes(format, pending.length, pendingBytes) >= maxBytes;
}
