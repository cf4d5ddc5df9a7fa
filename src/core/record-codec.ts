// Encodes a Message's routing metadata and properties into the log record's header bytes, and back. Imports message types only.
//
// Header format, version 1 (all integers big-endian):
//   u8  version = 1
//   u8  flags: bits 0-1 QoS, bit 2 retain, bit 3 properties present, bit 4 inbound QoS 2 packet id present
//   f64 expiresAt (epoch ms, 0 = never)
//   u16 senderId byte length, then senderId UTF-8
//   [u16 inbound packet id]                   when bit 4
//   [u32 properties byte length, then JSON]  when bit 3; correlationData travels base64 under "correlationData"
//   [u16 origin node byte length, then UTF-8] when bit 5: the cluster node that appended it (issue 11). Last, so a
//                                            reader that predates bit 5 decodes everything before it unchanged;
//                                            records without it (single node, older logs) have origin ''.
// The record's key is the topic, its value the payload, its timestamp Message.createdAt.
// Compatibility: readers reject versions they do not know; add fields only behind a new flag bit or version.
import type { Message, MessageProperties, QoS } from './message.ts';

const VERSION = 1;

export interface DecodedHeaders {
  qos: QoS;
  retain: boolean;
  expiresAt: number;
  senderId: string;
  inboundPacketId: number;
  properties: MessageProperties;
  /** The cluster node that appended the record ('' = none recorded: single node or an older record). */
  origin: string;
}

function hasProperties(p: MessageProperties): boolean {
  for (const k in p) if ((p as Record<string, unknown>)[k] !== undefined) return true;
  return false;
}

export function encodeHeaders(msg: Message, inboundPacketId = 0, origin = ''): Buffer {
  const sender = Buffer.from(msg.senderId, 'utf8');
  const node = origin === '' ? undefined : Buffer.from(origin, 'utf8');
  let props: Buffer | undefined;
  if (hasProperties(msg.properties)) {
    const { correlationData, ...rest } = msg.properties;
    props = Buffer.from(JSON.stringify(correlationData ? { ...rest, correlationData: correlationData.toString('base64') } : rest));
  }
  const size = 1 + 1 + 8 + 2 + sender.length + (inboundPacketId ? 2 : 0) + (props ? 4 + props.length : 0) + (node ? 2 + node.length : 0);
  const b = Buffer.allocUnsafe(size);
  let i = 0;
  b[i++] = VERSION;
  b[i++] = msg.qos | (msg.retain ? 4 : 0) | (props ? 8 : 0) | (inboundPacketId ? 16 : 0) | (node ? 32 : 0);
  b.writeDoubleBE(msg.expiresAt, i);
  i += 8;
  b.writeUInt16BE(sender.length, i);
  i += 2;
  sender.copy(b, i);
  i += sender.length;
  if (inboundPacketId) {
    b.writeUInt16BE(inboundPacketId, i);
    i += 2;
  }
  if (props) {
    b.writeUInt32BE(props.length, i);
    i += 4;
    i += props.copy(b, i);
  }
  if (node) {
    b.writeUInt16BE(node.length, i);
    node.copy(b, i + 2);
  }
  return b;
}

export function decodeHeaders(b: Buffer): DecodedHeaders {
  if (b.length < 12 || b[0] !== VERSION) throw new Error(`record headers: unknown version ${b[0]}`);
  const flags = b[1]!;
  let i = 2;
  const expiresAt = b.readDoubleBE(i);
  i += 8;
  const slen = b.readUInt16BE(i);
  i += 2;
  const senderId = b.toString('utf8', i, i + slen);
  i += slen;
  let inboundPacketId = 0;
  if (flags & 16) {
    inboundPacketId = b.readUInt16BE(i);
    i += 2;
  }
  let properties: MessageProperties = {};
  if (flags & 8) {
    const plen = b.readUInt32BE(i);
    i += 4;
    const raw = JSON.parse(b.toString('utf8', i, i + plen)) as MessageProperties & { correlationData?: string };
    const { correlationData, ...rest } = raw;
    properties = correlationData !== undefined ? { ...rest, correlationData: Buffer.from(correlationData, 'base64') } : rest;
    i += plen;
  }
  const origin = flags & 32 ? b.toString('utf8', i + 2, i + 2 + b.readUInt16BE(i)) : '';
  return { qos: (flags & 3) as QoS, retain: (flags & 4) !== 0, expiresAt, senderId, inboundPacketId, properties, origin };
}

/** The origin node of a record from its headers alone ('' when none), without decoding the properties. */
export function originOf(b: Buffer): string {
  if (b.length < 12 || (b[1]! & 32) === 0) return '';
  const flags = b[1]!;
  let i = 10;
  i += 2 + b.readUInt16BE(i);
  if (flags & 16) i += 2;
  if (flags & 8) i += 4 + b.readUInt32BE(i);
  return b.toString('utf8', i + 2, i + 2 + b.readUInt16BE(i));
}

/** Rebuilds a Message from a stored record. */
export function recordToMessage(rec: { key: string; timestamp: number; headers: Buffer; value: Buffer; partition: number; offset: number }): Message {
  const h = decodeHeaders(rec.headers);
  return {
    topic: rec.key,
    payload: rec.value,
    qos: h.qos,
    retain: h.retain,
    properties: h.properties,
    createdAt: rec.timestamp,
    expiresAt: h.expiresAt,
    senderId: h.senderId,
    ref: { partition: rec.partition, offset: rec.offset },
  };
}

/** A whole message in one buffer (for key/value state such as retained messages): u32 header length, headers, u32 topic length, topic, payload; then i32 partition, f64 offset of its log ref (-1 when none). */
export function encodeMessage(msg: Message): Buffer {
  const h = encodeHeaders(msg);
  const t = Buffer.from(msg.topic, 'utf8');
  const b = Buffer.allocUnsafe(4 + h.length + 4 + t.length + 8 + 4 + 8 + msg.payload.length);
  let i = b.writeUInt32BE(h.length, 0);
  i += h.copy(b, i);
  i = b.writeUInt32BE(t.length, i);
  i += t.copy(b, i);
  i = b.writeDoubleBE(msg.createdAt, i);
  i = b.writeInt32BE(msg.ref ? msg.ref.partition : -1, i);
  i = b.writeDoubleBE(msg.ref ? msg.ref.offset : -1, i);
  msg.payload.copy(b, i);
  return b;
}

export function decodeMessage(b: Buffer): Message {
  let i = 0;
  const hl = b.readUInt32BE(i);
  i += 4;
  const h = decodeHeaders(b.subarray(i, i + hl));
  i += hl;
  const tl = b.readUInt32BE(i);
  i += 4;
  const topic = b.toString('utf8', i, i + tl);
  i += tl;
  const createdAt = b.readDoubleBE(i);
  i += 8;
  const partition = b.readInt32BE(i);
  i += 4;
  const offset = b.readDoubleBE(i);
  i += 8;
  const msg: Message = {
    topic,
    payload: Buffer.from(b.subarray(i)),
    qos: h.qos,
    retain: h.retain,
    properties: h.properties,
    createdAt,
    expiresAt: h.expiresAt,
    senderId: h.senderId,
  };
  if (partition >= 0) msg.ref = { partition, offset };
  return msg;
}
