// Hot-path PUBLISH codec for MQTT 3.1 / 3.1.1 (no properties), and the topic UTF-8 check v5 PUBLISHes need before mqtt-packet; v5 PUBLISH goes through mqtt-packet. Imports nothing.
//
// PUBLISH [MQTT 3.3]: byte 1 = 0x30 | DUP<<3 | QoS<<1 | RETAIN; Remaining Length (VBI);
// topic (uint16 length + UTF-8); packet id (uint16) when QoS > 0; payload (the rest).
import { isUtf8 } from 'node:buffer';

export interface RawPublish {
  topic: string;
  qos: 0 | 1 | 2;
  dup: boolean;
  retain: boolean;
  packetId: number;
  payload: Buffer;
}

/** Decodes a whole v3/v4 PUBLISH packet; returns a string naming what is wrong when malformed. */
export function decodePublish(p: Buffer): RawPublish | string {
  const b0 = p[0]!;
  const qos = (b0 >> 1) & 3;
  if (qos === 3) return 'QoS 3 is malformed [MQTT-3.3.1-4]';
  const dup = (b0 & 8) !== 0;
  if (dup && qos === 0) return 'DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2]';
  let i = 1;
  while (p[i]! & 0x80) i++;
  i++;
  if (i + 2 > p.length) return 'PUBLISH too short for a topic';
  const tlen = p.readUInt16BE(i);
  i += 2;
  if (i + tlen > p.length) return 'topic length past the packet end';
  const tb = p.subarray(i, i + tlen);
  // Topic bytes must be well-formed UTF-8 [MQTT-1.5.4-1]; check only when a non-ASCII byte is present.
  let ascii = true;
  for (let k = 0; k < tlen; k++) {
    if (tb[k]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (!ascii && !isUtf8(tb)) return 'topic is not valid UTF-8 [MQTT-1.5.4-1]';
  const topic = tb.toString(ascii ? 'latin1' : 'utf8');
  i += tlen;
  let packetId = 0;
  if (qos > 0) {
    if (i + 2 > p.length) return 'PUBLISH too short for a packet identifier';
    packetId = p.readUInt16BE(i);
    if (packetId === 0) return 'packet identifier 0 [MQTT-2.2.1-3]';
    i += 2;
  }
  return { topic, qos: qos as 0 | 1 | 2, dup, retain: (b0 & 1) !== 0, packetId, payload: p.subarray(i) };
}

/**
 * For any version's whole PUBLISH packet: a string naming the problem when the topic bytes are not
 * well-formed UTF-8 [MQTT-1.5.4-1] (a Malformed Packet, v5 reason 0x81), else undefined. Needed for v5
 * because mqtt-packet decodes bad bytes to U+FFFD, which would otherwise look like a bad topic name.
 */
export function publishTopicUtf8Error(p: Buffer): string | undefined {
  let i = 1;
  while (i < p.length && p[i]! & 0x80) i++;
  i++;
  if (i + 2 > p.length) return undefined; // too short: the full parser reports it
  const tlen = p.readUInt16BE(i);
  i += 2;
  if (i + tlen > p.length) return undefined;
  for (let k = i; k < i + tlen; k++) {
    if (p[k]! >= 0x80) return isUtf8(p.subarray(i, i + tlen)) ? undefined : 'topic is not valid UTF-8 [MQTT-1.5.4-1]';
  }
  return undefined;
}

function vbiLength(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

function writeVbi(buf: Buffer, pos: number, n: number): number {
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    buf[pos++] = b;
  } while (n > 0);
  return pos;
}

/** Encodes a v3/v4 PUBLISH. `topicBytes` may be pre-encoded by the caller. */
export function encodePublish(topic: string, payload: Buffer, qos: number, dup: boolean, retain: boolean, packetId: number): Buffer {
  const tlen = Buffer.byteLength(topic);
  const remaining = 2 + tlen + (qos > 0 ? 2 : 0) + payload.length;
  const buf = Buffer.allocUnsafe(1 + vbiLength(remaining) + remaining);
  buf[0] = 0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0);
  let pos = writeVbi(buf, 1, remaining);
  buf.writeUInt16BE(tlen, pos);
  pos += 2;
  pos += buf.write(topic, pos, 'utf8');
  if (qos > 0) {
    buf.writeUInt16BE(packetId, pos);
    pos += 2;
  }
  payload.copy(buf, pos);
  return buf;
}

/** PUBACK / PUBREC / PUBREL / PUBCOMP without reason code or properties (v3, and v5 success). */
export function encodeAck(type: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', packetId: number): Buffer {
  const b0 = type === 'puback' ? 0x40 : type === 'pubrec' ? 0x50 : type === 'pubrel' ? 0x62 : 0x70;
  const buf = Buffer.allocUnsafe(4);
  buf[0] = b0;
  buf[1] = 2;
  buf.writeUInt16BE(packetId, 2);
  return buf;
}

/**
 * Fan-out hands the same message to many subscribers in a row: the last encoding is kept and, for
 * another subscriber, reused as is (QoS 0) or copied with the packet id patched (QoS 1/2).
 */
let lastKey: object | undefined;
let lastFlags = -1;
let lastBuf: Buffer | undefined;
let lastIdPos = 0;

export function encodePublishShared(key: object, topic: string, payload: Buffer, qos: number, dup: boolean, retain: boolean, packetId: number): Buffer {
  const flags = (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0);
  if (key === lastKey && flags === lastFlags && lastBuf) {
    if (qos === 0) return lastBuf;
    const copy = Buffer.allocUnsafe(lastBuf.length);
    lastBuf.copy(copy);
    copy.writeUInt16BE(packetId, lastIdPos);
    return copy;
  }
  const buf = encodePublish(topic, payload, qos, dup, retain, packetId);
  lastKey = key;
  lastFlags = flags;
  lastBuf = buf;
  if (qos > 0) {
    let i = 1;
    while (buf[i]! & 0x80) i++;
    lastIdPos = i + 1 + 2 + buf.readUInt16BE(i + 1);
  }
  return buf;
}
