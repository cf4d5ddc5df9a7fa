// Record codec shared by the partitioned log and the key/value store: encode/decode one framed, checksummed record. Imports ./crc32c.ts only.
//
// Record format, version 1 (all integers big-endian):
//   off  size  field
//   0    4     length      u32, bytes that follow this field (total record size - 4)
//   4    4     crc         CRC-32C of bytes [8, 4 + length): everything after the crc
//   8    1     version     = 1
//   9    1     attributes  bit 0 = tombstone (key/value store delete); other bits 0
//   10   8     offset      u64 (< 2^53): absolute offset (log) or sequence (key/value store)
//   18   8     timestamp   i64, ms since the epoch
//   26   2     key length  u16, then the key's UTF-8 bytes
//   ..   4     hdr length  u32, then the opaque headers bytes
//   ..   4     val length  u32, then the value bytes
// A record whose length, crc, version or inner lengths disagree is corrupt; a buffer that ends inside a record is short.
// Compatibility: a reader must reject versions it does not know; new fields go after the value and bump the version.
import { crc32c } from './crc32c.ts';

export const RECORD_VERSION = 1;
/** Bytes of a record with an empty key, headers and value. */
export const RECORD_OVERHEAD = 36;
export const ATTR_TOMBSTONE = 1;
const TWO32 = 0x1_0000_0000;

export interface RecordFields { offset: number; timestamp: number; key: string; headers: Buffer; value: Buffer; attributes: number }
export interface DecodedRecord extends RecordFields { /** total bytes of the record in the buffer */ size: number }
export type DecodeResult =
  | { ok: true; record: DecodedRecord }
  | { ok: false; reason: 'short' | 'length' | 'crc' | 'version' };

/** Encoded size of a record, without encoding it. */
export function recordSize(key: string, headers: Buffer, value: Buffer): number {
  return RECORD_OVERHEAD + Buffer.byteLength(key, 'utf8') + headers.length + value.length;
}

/** Encodes one record. Throws RangeError on a key over 65535 UTF-8 bytes or an offset/timestamp that is not a safe integer. */
export function encodeRecord(f: RecordFields): Buffer {
  const keyLen = Buffer.byteLength(f.key, 'utf8');
  if (keyLen > 0xffff) throw new RangeError(`record key is ${keyLen} bytes; the limit is 65535`);
  if (!Number.isSafeInteger(f.offset) || f.offset < 0) throw new RangeError(`bad record offset ${f.offset}`);
  if (!Number.isSafeInteger(f.timestamp)) throw new RangeError(`bad record timestamp ${f.timestamp}`);
  const size = RECORD_OVERHEAD + keyLen + f.headers.length + f.value.length;
  const b = Buffer.allocUnsafe(size);
  b.writeUInt32BE(size - 4, 0);
  b[8] = RECORD_VERSION;
  b[9] = f.attributes & 0xff;
  b.writeUInt32BE(Math.floor(f.offset / TWO32), 10);
  b.writeUInt32BE(f.offset >>> 0, 14);
  const tsHi = Math.floor(f.timestamp / TWO32);
  b.writeInt32BE(tsHi, 18);
  b.writeUInt32BE(f.timestamp - tsHi * TWO32, 22);
  b.writeUInt16BE(keyLen, 26);
  let p = 28;
  p += b.write(f.key, p, keyLen, 'utf8');
  b.writeUInt32BE(f.headers.length, p); p += 4;
  p += f.headers.copy(b, p);
  b.writeUInt32BE(f.value.length, p); p += 4;
  f.value.copy(b, p);
  b.writeUInt32BE(crc32c(b, 8, size), 4);
  return b;
}

/**
 * Encodes one record into buf at pos (the caller made room for `size` = recordSize(...) bytes, `keyLen` = the key's UTF-8 length)
 * and returns size. Same bytes as encodeRecord; for batch buffers (no allocation per record). Throws RangeError like encodeRecord.
 */
export function encodeRecordInto(buf: Buffer, pos: number, f: RecordFields, keyLen: number, size: number): number {
  if (keyLen > 0xffff) throw new RangeError(`record key is ${keyLen} bytes; the limit is 65535`);
  if (!Number.isSafeInteger(f.offset) || f.offset < 0) throw new RangeError(`bad record offset ${f.offset}`);
  if (!Number.isSafeInteger(f.timestamp)) throw new RangeError(`bad record timestamp ${f.timestamp}`);
  put32(buf, pos, size - 4);
  buf[pos + 8] = RECORD_VERSION;
  buf[pos + 9] = f.attributes & 0xff;
  put32(buf, pos + 10, Math.floor(f.offset / TWO32));
  put32(buf, pos + 14, f.offset >>> 0);
  const tsHi = Math.floor(f.timestamp / TWO32);
  put32(buf, pos + 18, tsHi >>> 0);
  put32(buf, pos + 22, f.timestamp - tsHi * TWO32);
  buf[pos + 26] = keyLen >>> 8; buf[pos + 27] = keyLen & 0xff;
  let p = pos + 28;
  if (keyLen > 0) p += buf.write(f.key, p, keyLen, 'utf8');
  put32(buf, p, f.headers.length); p += 4;
  if (f.headers.length > 0) { buf.set(f.headers, p); p += f.headers.length; }
  put32(buf, p, f.value.length); p += 4;
  if (f.value.length > 0) buf.set(f.value, p);
  put32(buf, pos + 4, crc32c(buf, pos + 8, pos + size));
  return size;
}

function put32(b: Buffer, at: number, v: number): void {
  b[at] = v >>> 24; b[at + 1] = (v >>> 16) & 0xff; b[at + 2] = (v >>> 8) & 0xff; b[at + 3] = v & 0xff;
}

/** Reads the offset field of a record starting at `pos` (no validation). */
export function peekOffset(buf: Buffer, pos: number): number {
  return buf.readUInt32BE(pos + 10) * TWO32 + buf.readUInt32BE(pos + 14);
}

/**
 * Decodes the record starting at buf[pos], looking no further than `end`.
 * key is copied; headers and value are views (subarray) into buf — callers pass buffers they do not reuse.
 */
export function decodeRecord(buf: Buffer, pos = 0, end = buf.length): DecodeResult {
  if (end - pos < 4) return { ok: false, reason: 'short' };
  const len = buf.readUInt32BE(pos);
  if (len < RECORD_OVERHEAD - 4) return { ok: false, reason: 'length' };
  const size = len + 4;
  if (end - pos < size) return { ok: false, reason: 'short' };
  const stop = pos + size;
  if (crc32c(buf, pos + 8, stop) !== buf.readUInt32BE(pos + 4)) return { ok: false, reason: 'crc' };
  if (buf[pos + 8] !== RECORD_VERSION) return { ok: false, reason: 'version' };
  const attributes = buf[pos + 9]!;
  const offset = peekOffset(buf, pos);
  const timestamp = buf.readInt32BE(pos + 18) * TWO32 + buf.readUInt32BE(pos + 22);
  let p = pos + 26;
  const keyLen = buf.readUInt16BE(p); p += 2;
  if (p + keyLen + 8 > stop) return { ok: false, reason: 'length' };
  const key = buf.toString('utf8', p, p + keyLen); p += keyLen;
  const hLen = buf.readUInt32BE(p); p += 4;
  if (p + hLen + 4 > stop) return { ok: false, reason: 'length' };
  const headers = buf.subarray(p, p + hLen); p += hLen;
  const vLen = buf.readUInt32BE(p); p += 4;
  if (p + vLen !== stop) return { ok: false, reason: 'length' };
  const value = buf.subarray(p, stop);
  return { ok: true, record: { offset, timestamp, key, headers, value, attributes, size } };
}
