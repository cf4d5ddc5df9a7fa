// Minimal MQTT 3.1.1 encoder/decoder for the load generator (hot path, no allocations per packet). Imports node:buffer only.
//
// Only what the generator sends or must recognise: CONNECT, CONNACK, SUBSCRIBE, SUBACK, PUBLISH,
// PUBACK, PINGREQ, PINGRESP, DISCONNECT. Fixed header: byte 0 = type << 4 | flags, then the
// remaining length as a 1-4 byte base-128 varint [MQTT-2.2.3]. Strings are u16-length-prefixed UTF-8.
import { Buffer } from 'node:buffer';

export const CONNECT = 1;
export const CONNACK = 2;
export const PUBLISH = 3;
export const PUBACK = 4;
export const SUBSCRIBE = 8;
export const SUBACK = 9;
export const PINGREQ = 12;
export const PINGRESP = 13;
export const DISCONNECT = 14;

/** Bytes needed for the remaining-length varint of `len`. */
export function varintSize(len: number): number {
  return len < 128 ? 1 : len < 16384 ? 2 : len < 2097152 ? 3 : 4;
}

/** Writes the remaining-length varint at `off`; returns the offset after it. */
export function writeVarint(buf: Buffer, off: number, len: number): number {
  let x = len;
  do {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    buf[off++] = b;
  } while (x > 0);
  return off;
}

function packet(first: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(1 + varintSize(body.length) + body.length);
  out[0] = first;
  const off = writeVarint(out, 1, body.length);
  body.copy(out, off);
  return out;
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

/** CONNECT, protocol level 4 (3.1.1), clean session unless clean=false (flag 0x02 [MQTT-3.1.2-4]), no will/credentials [MQTT-3.1.2-2]. */
export function encodeConnect(clientId: string, keepaliveS: number, clean = true): Buffer {
  const head = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, clean ? 0x02 : 0x00, (keepaliveS >> 8) & 0xff, keepaliveS & 0xff]);
  return packet(CONNECT << 4, Buffer.concat([head, str(clientId)]));
}

/** SUBSCRIBE has fixed-header flags 0010 [MQTT-3.8.1-1]; one filter with the requested QoS. */
export function encodeSubscribe(packetId: number, filter: string, qos: 0 | 1): Buffer {
  const id = Buffer.from([(packetId >> 8) & 0xff, packetId & 0xff]);
  return packet((SUBSCRIBE << 4) | 0x02, Buffer.concat([id, str(filter), Buffer.from([qos])]));
}

export const PINGREQ_BYTES: Buffer = Buffer.from([PINGREQ << 4, 0]);
export const DISCONNECT_BYTES: Buffer = Buffer.from([DISCONNECT << 4, 0]);

/** Writes a PUBACK for `packetId` at `off` (4 bytes); returns the offset after it. */
export function writePuback(buf: Buffer, off: number, packetId: number): number {
  buf[off] = PUBACK << 4;
  buf[off + 1] = 2;
  buf[off + 2] = (packetId >> 8) & 0xff;
  buf[off + 3] = packetId & 0xff;
  return off + 4;
}

/**
 * A pre-encoded PUBLISH (no DUP, no RETAIN). Layout: fixed header | topic | [packet id if qos 1] |
 * payload. `payloadOffset` and `packetIdOffset` (-1 at QoS 0) are relative to the packet start, so
 * a batch of copies can be patched in place.
 */
export interface PublishTemplate {
  bytes: Buffer;
  payloadOffset: number;
  packetIdOffset: number;
}

export function encodePublish(topic: string, qos: 0 | 1, payload: Buffer): PublishTemplate {
  const t = str(topic);
  const idLen = qos > 0 ? 2 : 0;
  const remaining = t.length + idLen + payload.length;
  const bytes = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining);
  bytes[0] = (PUBLISH << 4) | (qos << 1);
  let off = writeVarint(bytes, 1, remaining);
  t.copy(bytes, off);
  off += t.length;
  const packetIdOffset = qos > 0 ? off : -1;
  if (qos > 0) bytes.writeUInt16BE(1, off); // QoS > 0 packet ids are non-zero [MQTT-2.3.1-1]
  off += idLen;
  payload.copy(bytes, off);
  return { bytes, payloadOffset: off, packetIdOffset };
}

/**
 * Splits a byte stream into packets without copying unless a packet straddles two reads.
 * `feed(chunk, onPacket)` calls onPacket(buf, start, end, bodyStart) for each complete packet,
 * where buf[start] is the first header byte and the body is buf[bodyStart..end). Contract: the
 * callback must not keep `buf` beyond the call. Throws on a remaining length over 4 bytes.
 */
export class PacketReader {
  private rest: Buffer | null = null;

  feed(chunk: Buffer, onPacket: (buf: Buffer, start: number, end: number, bodyStart: number) => void): void {
    let buf = chunk;
    if (this.rest !== null) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    const n = buf.length;
    let pos = 0;
    while (pos + 2 <= n) {
      let len = 0;
      let mul = 1;
      let i = pos + 1;
      let complete = false;
      for (let k = 0; k < 4 && i < n; k++) {
        const b = buf[i++]!;
        len += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
        if (k === 3) throw new Error('malformed remaining length');
      }
      if (!complete || i + len > n) break;
      onPacket(buf, pos, i + len, i);
      pos = i + len;
    }
    if (pos < n) this.rest = buf.subarray(pos);
  }
}
