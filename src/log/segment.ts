// One log segment: `<base>.log` records plus its sparse `.index` / `.timeindex`; append, scan, read, recover, checkpoint, seal, delete. Imports ./codec.ts, ./crc32c.ts, ./sparse-index.ts, ./recovery-point.ts (types), ./fileio.ts, ./types.ts.
//
// Files (base = 20-digit zero-padded base offset): `<base>.log` holds records (codec.ts) with dense offsets base, base+1, ...
// The active segment's indexes live in memory; checkpoint() appends their new entries to the index files (only the
// last time index entry is ever rewritten), writeClean() writes them whole at a clean close, seal() when the segment
// rolls. At open the active segment is recovered in one of three ways (recovery-point.ts states the hint formats):
//   clean marker matches  -> load the index files, scan only from the last index entry (re-validates the tail);
//   checkpoint matches    -> load the index prefix it names, scan from its last index entry (at or before the fsynced position);
//   otherwise             -> scan the whole segment (CRC of every record), truncate a torn/corrupt tail.
// Sealed segments load their index files at open and rebuild them (one scan of that segment) when missing or invalid.
// Concurrency: the owning partition's write queue is the only writer; reads may run at any time and only see
// bytes below `size` (fully written records). destroy() waits for in-flight reads.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { decodeRecord, peekOffset, type DecodedRecord } from './codec.ts';
import { OffsetIndex, TimeIndex } from './sparse-index.ts';
import { crc32c } from './crc32c.ts';
import type { Checkpoint, CleanMarker } from './recovery-point.ts';
import type { FileIO, FileLike } from './fileio.ts';
import type { LogEvents } from './types.ts';

export interface SegmentContext { io: FileIO; indexIntervalBytes: number; logger: LogEvents; partition: number }
export type ScanStop = 'short' | 'length' | 'crc' | 'version' | 'offset';
/** Return false to stop the scan. */
export type Visitor = (record: DecodedRecord, position: number) => boolean;
/** How recoverActive got the segment's state: which hint it trusted, and how many bytes of the file it scanned. */
export interface Recovered { segment: Segment; via: 'clean' | 'checkpoint' | 'scan'; scannedBytes: number }

const SCAN_CHUNK = 1 << 20;

export function segmentName(base: number, ext: 'log' | 'index' | 'timeindex'): string {
  return `${String(base).padStart(20, '0')}.${ext}`;
}

export class Segment {
  /** Bytes of complete records in the file. */
  size = 0;
  /** Records in the segment (next offset = baseOffset + records). */
  records = 0;
  maxTimestamp = -Infinity;
  /** Wall-clock ms when this segment became active (creation or open); drives roll by age. */
  readonly activeSince = Date.now();
  private index = new OffsetIndex();
  private timeIndex = new TimeIndex();
  private bytesSinceIndex = 0;
  /** Entries of the offset index already in `.index` (never change again). */
  private persistedIndex = 0;
  /** Entries of the time index already in `.timeindex` (the last one may be stale). */
  private persistedTime = 0;
  private indexFile: FileLike | undefined;
  private timeIndexFile: FileLike | undefined;
  private readers = 0;
  private idle: (() => void)[] = [];
  private destroyed = false;

  private constructor(readonly dir: string, readonly baseOffset: number, private file: FileLike, private readonly ctx: SegmentContext) {}

  get path(): string { return join(this.dir, segmentName(this.baseOffset, 'log')); }
  get nextOffset(): number { return this.baseOffset + this.records; }

  /** A new, empty segment (replaces any leftover file of the same name). */
  static async create(dir: string, base: number, ctx: SegmentContext): Promise<Segment> {
    const file = await ctx.io.open(join(dir, segmentName(base, 'log')), 'w+');
    return new Segment(dir, base, file, ctx);
  }

  /**
   * The tail segment at open. With a matching clean marker: scans from the last index entry to the end (about
   * indexIntervalBytes). With a matching checkpoint: scans from the last index entry at or before its position.
   * Otherwise scans every record. Every scan truncates a torn/corrupt tail (reported via warn) and completes the indexes in memory.
   */
  static async recoverActive(dir: string, base: number, ctx: SegmentContext, hints: { clean?: CleanMarker; checkpoint?: Checkpoint } = {}): Promise<Recovered> {
    const file = await ctx.io.open(join(dir, segmentName(base, 'log')), 'r+');
    const seg = new Segment(dir, base, file, ctx);
    const fileBytes = await file.size();
    let via: Recovered['via'] = 'scan';
    if (hints.clean && await seg.trustClean(hints.clean, fileBytes)) via = 'clean';
    else if (hints.checkpoint && await seg.trustCheckpoint(hints.checkpoint, fileBytes)) via = 'checkpoint';
    else seg.reset();
    const from = seg.size;
    const { end, stop } = await seg.rebuild(fileBytes);
    if (end < fileBytes) {
      await file.truncate(end);
      ctx.logger.warn({ partition: ctx.partition, segment: seg.path, position: end, cutBytes: fileBytes - end, reason: stop ?? 'short', lastGoodOffset: seg.nextOffset - 1 },
        'log recovery truncated a torn or corrupt tail');
    }
    if (via === 'clean' && (end < fileBytes || seg.nextOffset !== hints.clean!.nextOffset)) via = 'scan'; // the marker lied: files no longer match it
    return { segment: seg, via, scannedBytes: fileBytes - from };
  }

  /** Adopts the clean-close state (indexes from the files) when the marker names this file at its size; the caller rescans from the last index entry. */
  private async trustClean(m: CleanMarker, fileBytes: number): Promise<boolean> {
    const records = m.nextOffset - m.base;
    if (m.base !== this.baseOffset || m.bytes !== fileBytes || (records === 0) !== (m.bytes === 0)) return false;
    this.size = m.bytes;
    this.records = records;
    if (!(await this.loadIndexes())) { this.reset(); return false; }
    this.persistedIndex = this.index.rels.length;
    this.persistedTime = this.timeIndex.rels.length;
    this.rewind();
    return true;
  }

  /**
   * Steps the in-memory state back to the last offset index entry (rel k at position p), so a scan from p re-validates
   * every record after it: drops index entry k and time entries at or after k; the max timestamp becomes the first
   * dropped time entry's (= max of records [0, k], since entries only merge when equal). Without entries: back to 0.
   */
  private rewind(): void {
    const n = this.index.rels.length;
    if (n === 0) { this.reset(); return; }
    const rel = this.index.rels[n - 1]!, pos = this.index.positions[n - 1]!;
    this.index.rels.length = n - 1; this.index.positions.length = n - 1;
    const t = this.timeIndex;
    let keep = t.rels.length;
    while (keep > 0 && t.rels[keep - 1]! >= rel) keep--;
    this.maxTimestamp = keep < t.rels.length ? t.timestamps[keep]! : t.maxTimestamp;
    t.rels.length = keep; t.timestamps.length = keep;
    this.records = rel; this.size = pos;
    this.bytesSinceIndex = this.ctx.indexIntervalBytes; // the scan re-adds the entry at rel
    this.persistedIndex = Math.min(this.persistedIndex, n - 1);
    this.persistedTime = Math.min(this.persistedTime, keep);
  }

  /** Adopts the checkpoint's state (indexes from the files' verified prefix) so the scan starts at its position. */
  private async trustCheckpoint(c: Checkpoint, fileBytes: number): Promise<boolean> {
    if (c.base !== this.baseOffset || c.position > fileBytes) return false;
    let ib: Buffer, tb: Buffer;
    try {
      ib = await readPrefix(join(this.dir, segmentName(this.baseOffset, 'index')), c.indexEntries * 8);
      tb = await readPrefix(join(this.dir, segmentName(this.baseOffset, 'timeindex')), c.timeFinal * 12);
    } catch { return false; }
    if (crc32c(ib) !== c.indexCrc || crc32c(tb) !== c.timeCrc) return false;
    const idx = OffsetIndex.fromBuffer(ib, c.records, c.position);
    const tidx = TimeIndex.fromBuffer(tb, c.records, false);
    if (!idx || !tidx) return false;
    if (c.last) {
      if (c.last.rel >= c.records || c.last.ts < tidx.maxTimestamp || (tidx.rels.length > 0 && c.last.rel <= tidx.rels[tidx.rels.length - 1]!)) return false;
      tidx.timestamps.push(c.last.ts); tidx.rels.push(c.last.rel);
    }
    const n = idx.rels.length;
    if (n > 0) {
      const head = Buffer.alloc(18);
      if ((await this.file.read(head, 0, 18, idx.positions[n - 1]!)) < 18 || peekOffset(head, 0) !== this.baseOffset + idx.rels[n - 1]!) return false;
    }
    this.index = idx; this.timeIndex = tidx;
    this.size = c.position; this.records = c.records; this.maxTimestamp = c.maxTimestamp; this.bytesSinceIndex = c.bytesSinceIndex;
    this.persistedIndex = n; this.persistedTime = c.timeFinal;
    this.rewind();
    return true;
  }

  private reset(): void {
    this.index = new OffsetIndex(); this.timeIndex = new TimeIndex();
    this.records = 0; this.size = 0; this.bytesSinceIndex = 0; this.maxTimestamp = -Infinity;
    this.persistedIndex = 0; this.persistedTime = 0;
  }

  /** A sealed segment holding offsets [base, nextBase): loads index files, rebuilds them if missing or invalid. */
  static async openSealed(dir: string, base: number, nextBase: number, ctx: SegmentContext): Promise<Segment> {
    const file = await ctx.io.open(join(dir, segmentName(base, 'log')), 'r+');
    const seg = new Segment(dir, base, file, ctx);
    seg.size = await file.size();
    seg.records = nextBase - base;
    if (!(await seg.loadIndexes())) {
      const limit = seg.size;
      seg.reset();
      const { end, stop } = await seg.rebuild(limit);
      if (stop || seg.records !== nextBase - base) {
        ctx.logger.warn({ partition: ctx.partition, segment: seg.path, position: end, reason: stop ?? 'offset', records: seg.records, expected: nextBase - base },
          'sealed segment is damaged; records after the damage are unreadable');
        seg.size = end;
      }
      seg.finishTimeIndex();
      await seg.writeIndexes();
      ctx.logger.info({ partition: ctx.partition, segment: seg.path }, 'rebuilt segment indexes');
    }
    return seg;
  }

  private async loadIndexes(): Promise<boolean> {
    let ib: Buffer, tb: Buffer;
    try {
      ib = await fsp.readFile(join(this.dir, segmentName(this.baseOffset, 'index')));
      tb = await fsp.readFile(join(this.dir, segmentName(this.baseOffset, 'timeindex')));
    } catch { return false; }
    const idx = OffsetIndex.fromBuffer(ib, this.records, this.size);
    const tidx = TimeIndex.fromBuffer(tb, this.records);
    if (!idx || !tidx) return false;
    const n = idx.rels.length;
    if (n > 0) { // the last entry must point at the record it names
      const head = Buffer.alloc(18);
      if ((await this.file.read(head, 0, 18, idx.positions[n - 1]!)) < 18 || peekOffset(head, 0) !== this.baseOffset + idx.rels[n - 1]!) return false;
    }
    this.index = idx;
    this.timeIndex = tidx;
    this.maxTimestamp = tidx.maxTimestamp;
    return true;
  }

  /** Scans from the current size (0 after reset) to limit, accepting records with the expected dense offsets; extends size/records/indexes. */
  private async rebuild(limit: number): Promise<{ end: number; stop?: ScanStop }> {
    let badOffset = false;
    const r = await this.scan(this.size, limit, SCAN_CHUNK, (rec, pos) => {
      if (rec.offset !== this.nextOffset) { badOffset = true; return false; }
      this.track(pos, rec.size, rec.timestamp);
      return true;
    });
    return { end: r.end, stop: badOffset ? 'offset' : r.stop };
  }

  /** Index bookkeeping for one record written at `position`. */
  private track(position: number, bytes: number, timestamp: number): void {
    const rel = this.records;
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
    if (rel > 0 && this.bytesSinceIndex >= this.ctx.indexIntervalBytes) {
      this.index.add(rel, position);
      this.timeIndex.add(this.maxTimestamp, rel);
      this.bytesSinceIndex = 0;
    }
    this.bytesSinceIndex += bytes;
    this.records++;
    this.size = position + bytes;
  }

  private finishTimeIndex(): void { if (this.records > 0) this.timeIndex.add(this.maxTimestamp, this.records - 1); }

  private async writeIndexes(): Promise<void> {
    await fsp.writeFile(join(this.dir, segmentName(this.baseOffset, 'index')), this.index.toBuffer());
    await fsp.writeFile(join(this.dir, segmentName(this.baseOffset, 'timeindex')), this.timeIndex.toBuffer());
  }

  /**
   * Appends encoded records in one write: `data` holds records [from, to) of a batch (dense offsets starting at nextOffset),
   * sizes[i] / timestamps[i] describe record i. Caller: the partition's write queue only.
   */
  async append(data: Buffer, sizes: readonly number[], timestamps: readonly number[], from: number, to: number): Promise<void> {
    await this.file.writeAll(data, this.size);
    let pos = this.size;
    for (let i = from; i < to; i++) { this.track(pos, sizes[i]!, timestamps[i]!); pos += sizes[i]!; }
  }

  sync(): Promise<void> { return this.file.sync(); }

  /**
   * Call right after sync() (no write in between): writes the index entries added since the last call (the last time
   * index entry is rewritten) and returns the checkpoint describing the fsynced state. Caller: the write queue only.
   */
  async checkpoint(): Promise<Checkpoint> {
    const state: Checkpoint = {
      base: this.baseOffset, position: this.size, records: this.records, maxTimestamp: this.maxTimestamp,
      bytesSinceIndex: this.bytesSinceIndex, indexEntries: this.index.rels.length, indexCrc: 0,
      timeFinal: Math.max(0, this.timeIndex.rels.length - 1), timeCrc: 0, last: undefined,
    };
    const m = this.timeIndex.rels.length;
    if (m > 0) state.last = { ts: this.timeIndex.timestamps[m - 1]!, rel: this.timeIndex.rels[m - 1]! };
    const ib = this.index.toBuffer(), tb = this.timeIndex.toBuffer();
    state.indexCrc = crc32c(ib);
    state.timeCrc = crc32c(tb, 0, state.timeFinal * 12);
    this.indexFile ??= await this.openIndexFile('index');
    this.timeIndexFile ??= await this.openIndexFile('timeindex');
    const iFrom = this.persistedIndex * 8, tFrom = Math.max(0, this.persistedTime - 1) * 12;
    if (ib.length > iFrom) await this.indexFile.writeAll(ib.subarray(iFrom), iFrom);
    if (tb.length > tFrom) await this.timeIndexFile.writeAll(tb.subarray(tFrom), tFrom);
    this.persistedIndex = state.indexEntries;
    this.persistedTime = m;
    return state;
  }

  /** Opens an index file for positional writes, keeping the verified prefix (or starting a new file when there is none). */
  private async openIndexFile(ext: 'index' | 'timeindex'): Promise<FileLike> {
    const path = join(this.dir, segmentName(this.baseOffset, ext));
    const keep = ext === 'index' ? this.persistedIndex : this.persistedTime;
    if (keep > 0) {
      try { return await this.ctx.io.open(path, 'r+'); } catch { /* gone: rewrite from 0 */ }
    }
    if (ext === 'index') this.persistedIndex = 0; else this.persistedTime = 0;
    return this.ctx.io.open(path, 'w+');
  }

  /** Clean close of the active segment: completes the time index, writes and fsyncs both index files; returns the marker. */
  async writeClean(): Promise<CleanMarker> {
    this.finishTimeIndex();
    for (const [ext, buf] of [['index', this.index.toBuffer()], ['timeindex', this.timeIndex.toBuffer()]] as const) {
      const fh = await fsp.open(join(this.dir, segmentName(this.baseOffset, ext)), 'w');
      try { await fh.writeFile(buf); await fh.sync(); } finally { await fh.close(); }
    }
    this.persistedIndex = this.index.rels.length;
    this.persistedTime = this.timeIndex.rels.length;
    return { base: this.baseOffset, bytes: this.size, nextOffset: this.nextOffset };
  }

  /** The segment stops being active: completes the time index and writes both index files. */
  async seal(): Promise<void> {
    this.finishTimeIndex();
    await this.closeIndexFiles();
    await this.writeIndexes();
  }

  private async closeIndexFiles(): Promise<void> {
    const files = [this.indexFile, this.timeIndexFile];
    this.indexFile = this.timeIndexFile = undefined;
    for (const f of files) await f?.close().catch(() => undefined);
  }

  /**
   * Calls visit for each record from file position `from` up to `limit`, reading `chunk` bytes at a time.
   * Stops at the first undecodable record and reports why (`short` = the file ends inside a record).
   */
  async scan(from: number, limit: number, chunk: number, visit: Visitor): Promise<{ end: number; stop?: ScanStop }> {
    let pos = from;
    let want = chunk;
    while (pos < limit) {
      const len = Math.min(want, limit - pos);
      const buf = Buffer.allocUnsafe(len); // fresh per read: decoded records keep views into it
      const n = await this.file.read(buf, 0, len, pos);
      if (n < len) limit = pos + n;
      let p = 0;
      let grow = 0;
      while (p < n) {
        const r = decodeRecord(buf, p, n);
        if (r.ok) {
          if (!visit(r.record, pos + p)) return { end: pos + p };
          p += r.record.size;
          continue;
        }
        if (r.reason !== 'short') return { end: pos + p, stop: r.reason };
        const need = n - p >= 4 ? buf.readUInt32BE(p) + 4 : 4;
        if (pos + p + need > limit) return { end: pos + p, stop: 'short' };
        grow = need;
        break;
      }
      pos += p;
      want = Math.max(chunk, grow);
    }
    return { end: pos };
  }

  /** Scans records from the indexed position at or before `offset`; visits only records with offset >= `offset`. */
  async readFrom(offset: number, chunk: number, visit: Visitor): Promise<void> {
    if (this.destroyed) return;
    this.readers++;
    try {
      const start = this.index.lookup(offset - this.baseOffset);
      const limit = this.size;
      await this.scan(start, limit, chunk, (rec, pos) => rec.offset < offset || visit(rec, pos));
    } finally {
      if (--this.readers === 0) for (const f of this.idle.splice(0)) f();
    }
  }

  /** Bytes from the record at `offset` (this segment's) to the end of the segment; exact to one index interval (it counts from the index entry at or before it). */
  bytesFrom(offset: number): number {
    return Math.max(0, this.size - this.index.lookup(offset - this.baseOffset));
  }

  /** Relative offset from which every later-or-equal timestamp search must scan (time index). */
  timeScanStart(ts: number): number { return this.baseOffset + this.timeIndex.scanStart(ts); }

  /** Closes the file after in-flight reads finish. */
  async close(): Promise<void> {
    if (this.readers > 0) await new Promise<void>((r) => this.idle.push(r));
    await this.closeIndexFiles();
    await this.file.close();
  }

  /** Closes (after in-flight reads) and unlinks the segment's files. Caller already removed it from the partition. */
  async destroy(): Promise<void> {
    this.destroyed = true;
    await this.close();
    for (const ext of ['log', 'index', 'timeindex'] as const) await fsp.rm(join(this.dir, segmentName(this.baseOffset, ext)), { force: true });
  }
}

/** The first `bytes` bytes of a file; throws when the file is shorter. */
async function readPrefix(path: string, bytes: number): Promise<Buffer> {
  if (bytes === 0) return Buffer.alloc(0);
  const fh = await fsp.open(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    if (bytesRead !== bytes) throw new Error(`${path}: ${bytesRead} of ${bytes} bytes`);
    return buf;
  } finally { await fh.close(); }
}
