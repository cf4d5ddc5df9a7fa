// One log segment: `<base>.log` records plus its sparse `.index` / `.timeindex`; append, scan, read, recover, seal, delete. Imports ./codec.ts, ./sparse-index.ts, ./fileio.ts, ./types.ts.
//
// Files (base = 20-digit zero-padded base offset): `<base>.log` holds records (codec.ts) with dense offsets base, base+1, ...
// The active segment's indexes live only in memory (rebuilt by the recovery scan at open); seal() writes both
// index files once, when the segment rolls. Sealed segments load their index files at open and rebuild them
// (one scan of that segment) when missing or invalid.
// Concurrency: the owning partition's write queue is the only writer; reads may run at any time and only see
// bytes below `size` (fully written records). destroy() waits for in-flight reads.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { decodeRecord, peekOffset, type DecodedRecord } from './codec.ts';
import { OffsetIndex, TimeIndex } from './sparse-index.ts';
import type { FileIO, FileLike } from './fileio.ts';
import type { LogEvents } from './types.ts';

export interface SegmentContext { io: FileIO; indexIntervalBytes: number; logger: LogEvents; partition: number }
export type ScanStop = 'short' | 'length' | 'crc' | 'version' | 'offset';
/** Return false to stop the scan. */
export type Visitor = (record: DecodedRecord, position: number) => boolean;

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

  /** The tail segment at open: scans every record, truncates a torn/corrupt tail (reported via warn), rebuilds indexes in memory. */
  static async recoverActive(dir: string, base: number, ctx: SegmentContext): Promise<Segment> {
    const file = await ctx.io.open(join(dir, segmentName(base, 'log')), 'r+');
    const seg = new Segment(dir, base, file, ctx);
    const fileBytes = await file.size();
    const { end, stop } = await seg.rebuild(fileBytes);
    if (end < fileBytes) {
      await file.truncate(end);
      ctx.logger.warn({ partition: ctx.partition, segment: seg.path, position: end, cutBytes: fileBytes - end, reason: stop ?? 'short', lastGoodOffset: seg.nextOffset - 1 },
        'log recovery truncated a torn or corrupt tail');
    }
    return seg;
  }

  /** A sealed segment holding offsets [base, nextBase): loads index files, rebuilds them if missing or invalid. */
  static async openSealed(dir: string, base: number, nextBase: number, ctx: SegmentContext): Promise<Segment> {
    const file = await ctx.io.open(join(dir, segmentName(base, 'log')), 'r+');
    const seg = new Segment(dir, base, file, ctx);
    seg.size = await file.size();
    seg.records = nextBase - base;
    if (!(await seg.loadIndexes())) {
      seg.records = 0;
      const { end, stop } = await seg.rebuild(seg.size);
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

  /** Scans from 0 to limit, accepting records with the expected dense offsets; sets size/records/indexes. */
  private async rebuild(limit: number): Promise<{ end: number; stop?: ScanStop }> {
    this.index = new OffsetIndex(); this.timeIndex = new TimeIndex();
    this.records = 0; this.size = 0; this.bytesSinceIndex = 0; this.maxTimestamp = -Infinity;
    let badOffset = false;
    const r = await this.scan(0, limit, SCAN_CHUNK, (rec, pos) => {
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

  /** Appends encoded records (dense offsets starting at nextOffset) in one write. Caller: the partition's write queue only. */
  async append(bufs: Buffer[], timestamps: number[]): Promise<void> {
    const data = bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs);
    await this.file.writeAll(data, this.size);
    let pos = this.size;
    for (let i = 0; i < bufs.length; i++) { this.track(pos, bufs[i]!.length, timestamps[i]!); pos += bufs[i]!.length; }
  }

  sync(): Promise<void> { return this.file.sync(); }

  /** The segment stops being active: completes the time index and writes both index files. */
  async seal(): Promise<void> {
    this.finishTimeIndex();
    await this.writeIndexes();
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

  /** Relative offset from which every later-or-equal timestamp search must scan (time index). */
  timeScanStart(ts: number): number { return this.baseOffset + this.timeIndex.scanStart(ts); }

  /** Closes the file after in-flight reads finish. */
  async close(): Promise<void> {
    if (this.readers > 0) await new Promise<void>((r) => this.idle.push(r));
    await this.file.close();
  }

  /** Closes (after in-flight reads) and unlinks the segment's files. Caller already removed it from the partition. */
  async destroy(): Promise<void> {
    this.destroyed = true;
    await this.close();
    for (const ext of ['log', 'index', 'timeindex'] as const) await fsp.rm(join(this.dir, segmentName(this.baseOffset, ext)), { force: true });
  }
}
