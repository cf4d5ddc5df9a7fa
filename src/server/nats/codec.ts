// Byte formats of the NATS backend: the log record payload, topic -> subject tokens, state key -> KV key. Imports node:crypto only.
//
// Log record payload (one JetStream message per record; NATS headers are text, so nothing of the record is put in them):
//   version  u8       = 1
//   timestamp f64 BE   the record's timestamp (ms), exact for any JS number
//   keyLen   u32 BE, key (UTF-8)
//   hdrLen   u32 BE, headers (the record's binary headers, as given)
//   value    the rest
// A payload with another version or shorter than its lengths say is refused by decodeRecordPayload (null).
//
// Log subject: `<prefix>.log.p<N>.<t1>.<t2>...`, one token per topic level (split on '/'). A token keeps the bytes
// [A-Za-z0-9_-] and writes every other UTF-8 byte as `~XX` (uppercase hex); an empty level is `~`. A subject longer than
// MAX_SUBJECT_TOKENS_BYTES is replaced by `~h.<sha256 hex of the key>`. The subject only places and labels the record (tools
// like `nats stream view` can filter on it); the key itself travels in the payload.
//
// State key -> KV key (KV keys allow [-/=._A-Za-z0-9], no leading/trailing '.'): bytes [A-Za-z0-9_/-] stay; every other
// UTF-8 byte (including '.', '=', space, '+', '#', U+0000) becomes `=XX` (uppercase hex); the empty key is `=`. The
// mapping is reversible (decodeStateKey). A KV key that would exceed MAX_KV_KEY_BYTES is `=H<sha256 hex of the key>`
// and its stored value is framed as [keyLen u32 BE][key UTF-8][value] so the key can be recovered.
import { createHash } from 'node:crypto';

export const RECORD_VERSION = 1;
const FIXED = 1 + 8 + 4 + 4;
export const MAX_SUBJECT_TOKENS_BYTES = 1024;
export const MAX_KV_KEY_BYTES = 1024;

export interface RecordFields { key: string; timestamp: number; headers: Buffer; value: Buffer }

export function encodeRecordPayload(r: RecordFields): Buffer {
  const keyLen = Buffer.byteLength(r.key, 'utf8');
  const buf = Buffer.allocUnsafe(FIXED + keyLen + r.headers.length + r.value.length);
  let pos = buf.writeUInt8(RECORD_VERSION, 0);
  pos = buf.writeDoubleBE(r.timestamp, pos);
  pos = buf.writeUInt32BE(keyLen, pos);
  pos += buf.write(r.key, pos, 'utf8');
  pos = buf.writeUInt32BE(r.headers.length, pos);
  pos += r.headers.copy(buf, pos);
  r.value.copy(buf, pos);
  return buf;
}

/** The record in a payload (key, timestamp, headers and value point into `buf`), or null when it is not one. */
export function decodeRecordPayload(buf: Buffer): RecordFields | null {
  if (buf.length < FIXED || buf[0] !== RECORD_VERSION) return null;
  const timestamp = buf.readDoubleBE(1);
  const keyLen = buf.readUInt32BE(9);
  if (13 + keyLen + 4 > buf.length) return null;
  const key = buf.toString('utf8', 13, 13 + keyLen);
  const hdrLen = buf.readUInt32BE(13 + keyLen);
  const hStart = 17 + keyLen;
  if (hStart + hdrLen > buf.length) return null;
  return { key, timestamp, headers: buf.subarray(hStart, hStart + hdrLen), value: buf.subarray(hStart + hdrLen) };
}

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');
const hex2 = (b: number): string => b.toString(16).toUpperCase().padStart(2, '0');

/** Escapes every byte not in `keep` as `<esc>XX`. */
function escapeBytes(s: string, keep: (b: number) => boolean, esc: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += keep(b) ? String.fromCharCode(b) : esc + hex2(b);
  return out;
}

const alnum = (b: number): boolean => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f || b === 0x2d;

/** The subject tokens (after `<prefix>.log.p<N>.`) for a record key. */
export function subjectTokens(key: string): string {
  const tokens = key.split('/').map((level) => (level === '' ? '~' : escapeBytes(level, alnum, '~'))).join('.');
  return tokens.length <= MAX_SUBJECT_TOKENS_BYTES ? tokens : `~h.${sha256(key)}`;
}

/** A state key as a KV key (see the file comment); `hashed` keys need their value framed (frameHashedValue). */
export function encodeStateKey(key: string): { kvKey: string; hashed: boolean } {
  if (key === '') return { kvKey: '=', hashed: false };
  const kvKey = escapeBytes(key, (b) => alnum(b) || b === 0x2f, '=');
  return kvKey.length <= MAX_KV_KEY_BYTES ? { kvKey, hashed: false } : { kvKey: `=H${sha256(key)}`, hashed: true };
}

/** The state key of a KV key: the key itself, `{ hashed: true }` when it is in the value (unframeHashedValue), or null when the KV key is not ours. */
export function decodeStateKey(kvKey: string): string | { hashed: true } | null {
  if (kvKey === '=') return '';
  if (kvKey.startsWith('=H')) return { hashed: true };
  const bytes: number[] = [];
  for (let i = 0; i < kvKey.length; i++) {
    const c = kvKey.charCodeAt(i);
    if (c === 0x3d) {
      const h = kvKey.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(h)) return null;
      bytes.push(parseInt(h, 16));
      i += 2;
    } else bytes.push(c);
  }
  return Buffer.from(bytes).toString('utf8');
}

export function frameHashedValue(key: string, value: Buffer): Buffer {
  const k = Buffer.from(key, 'utf8');
  const out = Buffer.allocUnsafe(4 + k.length + value.length);
  out.writeUInt32BE(k.length, 0);
  k.copy(out, 4);
  value.copy(out, 4 + k.length);
  return out;
}

export function unframeHashedValue(buf: Buffer): { key: string; value: Buffer } | null {
  if (buf.length < 4) return null;
  const n = buf.readUInt32BE(0);
  if (4 + n > buf.length) return null;
  return { key: buf.toString('utf8', 4, 4 + n), value: buf.subarray(4 + n) };
}
