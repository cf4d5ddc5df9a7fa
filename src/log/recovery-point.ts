// Recovery hints of one partition: the clean-shutdown marker and the fsync checkpoint (formats, encode/decode, file names). Imports ./crc32c.ts only.
//
// `<partition>/.clean` (JSON, written at a clean close after the active segment's index files were written and fsynced):
//   {"version":1,"base":B,"bytes":S,"nextOffset":O}
//   B = active segment base, S = its byte size, O = next offset.
//   At open the marker is trusted only when B is the newest segment, the file is exactly S bytes and the segment's
//   `.index`/`.timeindex` load and validate; then only the records from the last index entry on are scanned (CRC
//   checked; a damaged tail is cut as in a full scan). Otherwise the whole active segment is scanned.
//   The marker is deleted before the first write after open, so a crash
//   after any write never finds it (a crash with no write leaves the files exactly as the marker says).
//
// `<partition>/.recovery-point` (88 bytes, big-endian; written after an fsync of the active segment, at most once per
//   checkpointIntervalMs): everything below `position` was fsynced, and the first `indexEntries` entries of the
//   segment's `.index` and the first `timeFinal` entries of `.timeindex` (written before this file) describe it.
//   off size field
//   0   4    crc32c of bytes [4, 88)
//   4   4    version = 1
//   8   8    base offset of the active segment
//   16  8    position: fsynced bytes of complete records
//   24  8    records below position
//   32  8    max timestamp of those records (i64; 0 when records = 0)
//   40  8    reserved, 0
//   48  4    bytesSinceIndex: record bytes after the last offset index entry
//   52  4    indexEntries
//   56  4    crc32c of `.index` bytes [0, 8 * indexEntries)
//   60  4    timeFinal: time index entries that never change again
//   64  4    crc32c of `.timeindex` bytes [0, 12 * timeFinal)
//   68  4    hasLast: 1 when the in-memory time index had one more (still mutable) entry, stored here
//   72  8    last time entry max timestamp (i64)
//   80  4    last time entry relative offset
//   84  4    reserved, 0
//   After a crash the active segment is scanned only from the last offset index entry at or before `position`
//   (records before it were fsynced and their index entries verify against the two CRCs; the records from that entry
//   on are re-validated, so damage just before `position` is still cut). A checkpoint that does not match (bad CRC, other base, position past the
//   end of the file, index CRC mismatch) is ignored: the whole active segment is scanned, as before.
// Compatibility: both files are new in this version and optional; an older reader ignores them (it always scans), a
// newer reader of an older log finds none and scans. Segment, index and record formats are unchanged.
import { crc32c } from './crc32c.ts';

export const CLEAN_FILE = '.clean';
export const CHECKPOINT_FILE = '.recovery-point';
export const CHECKPOINT_BYTES = 88;
const VERSION = 1;
const TWO32 = 0x1_0000_0000;

export interface CleanMarker { base: number; bytes: number; nextOffset: number }

export interface Checkpoint {
  base: number; position: number; records: number; maxTimestamp: number; bytesSinceIndex: number;
  indexEntries: number; indexCrc: number; timeFinal: number; timeCrc: number;
  last: { ts: number; rel: number } | undefined;
}

const safe = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

export function encodeCleanMarker(m: CleanMarker): string {
  return JSON.stringify({ version: VERSION, ...m });
}

/** undefined when the text is not a version-1 marker with sane fields. */
export function decodeCleanMarker(text: string): CleanMarker | undefined {
  let o: Record<string, unknown>;
  try { o = JSON.parse(text) as Record<string, unknown>; } catch { return undefined; }
  if (o === null || typeof o !== 'object' || o.version !== VERSION) return undefined;
  const { base, bytes, nextOffset } = o;
  if (!safe(base) || !safe(bytes) || !safe(nextOffset) || nextOffset < base) return undefined;
  return { base, bytes, nextOffset };
}

function putU64(b: Buffer, n: number, at: number): void { b.writeUInt32BE(Math.floor(n / TWO32), at); b.writeUInt32BE(n >>> 0, at + 4); }
function putI64(b: Buffer, n: number, at: number): void { const hi = Math.floor(n / TWO32); b.writeInt32BE(hi, at); b.writeUInt32BE(n - hi * TWO32, at + 4); }
function getU64(b: Buffer, at: number): number { return b.readUInt32BE(at) * TWO32 + b.readUInt32BE(at + 4); }
function getI64(b: Buffer, at: number): number { return b.readInt32BE(at) * TWO32 + b.readUInt32BE(at + 4); }

export function encodeCheckpoint(c: Checkpoint): Buffer {
  const b = Buffer.alloc(CHECKPOINT_BYTES);
  b.writeUInt32BE(VERSION, 4);
  putU64(b, c.base, 8); putU64(b, c.position, 16); putU64(b, c.records, 24);
  putI64(b, c.records > 0 ? c.maxTimestamp : 0, 32);
  b.writeUInt32BE(c.bytesSinceIndex, 48); b.writeUInt32BE(c.indexEntries, 52); b.writeUInt32BE(c.indexCrc, 56);
  b.writeUInt32BE(c.timeFinal, 60); b.writeUInt32BE(c.timeCrc, 64);
  if (c.last) { b.writeUInt32BE(1, 68); putI64(b, c.last.ts, 72); b.writeUInt32BE(c.last.rel, 80); }
  b.writeUInt32BE(crc32c(b, 4, CHECKPOINT_BYTES), 0);
  return b;
}

/** undefined when the buffer is not an intact version-1 checkpoint. */
export function decodeCheckpoint(b: Buffer): Checkpoint | undefined {
  if (b.length !== CHECKPOINT_BYTES || crc32c(b, 4, CHECKPOINT_BYTES) !== b.readUInt32BE(0) || b.readUInt32BE(4) !== VERSION) return undefined;
  const records = getU64(b, 24);
  const c: Checkpoint = {
    base: getU64(b, 8), position: getU64(b, 16), records, maxTimestamp: records > 0 ? getI64(b, 32) : -Infinity,
    bytesSinceIndex: b.readUInt32BE(48), indexEntries: b.readUInt32BE(52), indexCrc: b.readUInt32BE(56),
    timeFinal: b.readUInt32BE(60), timeCrc: b.readUInt32BE(64),
    last: b.readUInt32BE(68) === 1 ? { ts: getI64(b, 72), rel: b.readUInt32BE(80) } : undefined,
  };
  if (!safe(c.base) || !safe(c.position) || !safe(records) || (records === 0) !== (c.position === 0)) return undefined;
  return c;
}
