// One partition: an ordered list of segments in `<dir>/<partition>/`, offset assignment, batched appends, roll, retention, recovery hints, reads. Imports ./segment.ts, ./write-queue.ts, ./codec.ts, ./recovery-point.ts, ./fileio.ts (types), ./types.ts.
//
// Offsets are assigned when append is called (dense, per partition); the write queue writes them in that order.
// Appends encode straight into the partition's open batch buffer (no Buffer per record); the write queue gets one
// item per batch and settles it with one loop over the batch's resolvers.
// Roll: before a record that would push a non-empty active segment past segmentBytes, or when the active segment
// has been active for segmentMs. Retention deletes whole sealed segments, oldest first, outside the write queue
// (appends never wait for it): by size (while the rest still holds >= retentionBytes) and by age (newest timestamp
// older than now - retentionMs). The active segment is never deleted.
// Recovery hints (recovery-point.ts): after an fsync of the active segment, at most once per checkpointIntervalMs, the
// segment's new index entries and `.recovery-point` are written (failures only warn: the hint is an optimisation).
// The first write after open deletes `.clean`; a clean close that had writes (or opened without a valid marker) writes
// the active segment's index files and then `.clean`. A close with nothing written leaves every file untouched.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { encodeRecordInto, RECORD_OVERHEAD } from './codec.ts';
import { Segment, type SegmentContext } from './segment.ts';
import { CHECKPOINT_FILE, CLEAN_FILE, decodeCheckpoint, decodeCleanMarker, encodeCheckpoint, encodeCleanMarker, type Checkpoint, type CleanMarker } from './recovery-point.ts';
import type { FileLike } from './fileio.ts';
import { WriteQueue } from './write-queue.ts';
import type { AppendInput, LogConfig, LogRecord, PartitionStats } from './types.ts';

type Resolve = (r: { partition: number; offset: number }) => void;
type Reject = (e: Error) => void;

/**
 * Records appended while no write had taken them yet, encoded back to back into one buffer: one write-queue item.
 * Open until writeBatch takes it (taken = true, synchronously); settled once, resolving or rejecting every record in one loop.
 */
class Batch {
  used = 0;
  taken = false;
  readonly sizes: number[] = [];
  readonly stamps: number[] = [];
  readonly resolves: Resolve[] = [];
  readonly rejects: Reject[] = [];
  constructor(public buf: Buffer, readonly firstOffset: number) {}

  /** Room for `bytes` more (grows by doubling, copying what is encoded). */
  reserve(bytes: number): void {
    if (this.used + bytes <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.used + bytes) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }
}

/** Initial batch buffer; buffers of this size are reused (at most 2 spare per partition). */
const BATCH_BYTES = 64 * 1024;

const SEGMENT_FILE = /^(\d{20})\.log$/;
const DEFAULT_READ_BYTES = 1 << 20;

export class Partition {
  readonly queue: WriteQueue<Batch>;
  /** Maps a failed write's error to what appends reject with (the log sets it: the log-wide sticky error). */
  mapWriteError: (e: Error) => Error = (e) => e;
  /** Told after a batch's records became readable (the log sets it: its append listeners). */
  onWritten: ((partition: number, endOffset: number) => void) | undefined;
  private open: Batch | undefined;
  /** Batch buffers whose write finished, reused by later batches. */
  private readonly spare: Buffer[] = [];
  private segments: Segment[];
  private nextOffset: number;
  private readonly deletions = new Set<Promise<void>>();
  /** A `.clean` file exists (valid or not): deleted before the first write. */
  private markerOnDisk: boolean;
  /** The files on disk are exactly what `.clean` describes (opened through it, nothing written since). */
  private cleanOnDisk: boolean;
  private checkpointFile: FileLike | undefined;
  private lastCheckpointAt = -Infinity;
  private lastCheckpointPosition = -1;
  private checkpointWarned = false;

  private constructor(readonly id: number, private readonly dir: string, private readonly cfg: LogConfig, private readonly ctx: SegmentContext, segments: Segment[], marker: { onDisk: boolean; valid: boolean }) {
    this.segments = segments;
    this.nextOffset = this.active.nextOffset;
    this.markerOnDisk = marker.onDisk;
    this.cleanOnDisk = marker.valid;
    this.queue = new WriteQueue<Batch>({ writeBatch: (items) => this.writeBatch(items), sync: () => this.syncActive() }, cfg.flush);
  }

  /** Opens (or creates) the partition directory; recovers only the tail segment. */
  static async open(id: number, cfg: LogConfig, ctx: SegmentContext): Promise<Partition> {
    const dir = join(cfg.dir, String(id));
    await fsp.mkdir(dir, { recursive: true });
    const bases = (await fsp.readdir(dir)).map((f) => SEGMENT_FILE.exec(f)).filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1])).sort((a, b) => a - b);
    const segments: Segment[] = [];
    const clean = await readHint(join(dir, CLEAN_FILE), (b) => decodeCleanMarker(b.toString('utf8')));
    let valid = false;
    if (bases.length === 0) segments.push(await Segment.create(dir, 0, ctx));
    else {
      for (let i = 0; i < bases.length - 1; i++) segments.push(await Segment.openSealed(dir, bases[i]!, bases[i + 1]!, ctx));
      const checkpoint = await readHint(join(dir, CHECKPOINT_FILE), decodeCheckpoint);
      const r = await Segment.recoverActive(dir, bases[bases.length - 1]!, ctx, { clean: clean.value, checkpoint: checkpoint.value });
      segments.push(r.segment);
      valid = r.via === 'clean';
      ctx.logger.info({ partition: id, segment: r.segment.path, via: r.via, scannedBytes: r.scannedBytes, bytes: r.segment.size },
        'log recovery: active segment opened');
    }
    return new Partition(id, dir, cfg, ctx, segments, { onDisk: clean.exists, valid });
  }

  private get active(): Segment { return this.segments[this.segments.length - 1]!; }
  get startOffset(): number { return this.segments[0]!.baseOffset; }
  get endOffset(): number { return this.nextOffset; }

  /**
   * Assigns the next offset and encodes the record into the open batch; resolve({ partition, offset }) when durable,
   * reject(mapWriteError(err)) when the write fails. Throws (before assigning an offset) on an oversized record.
   */
  append(input: AppendInput, resolve: Resolve, reject: Reject): void {
    const keyLen = isAscii(input.key) ? input.key.length : Buffer.byteLength(input.key, 'utf8');
    const size = RECORD_OVERHEAD + keyLen + input.headers.length + input.value.length;
    if (size > this.cfg.maxRecordBytes) throw new RangeError(`record of ${size} bytes exceeds maxRecordBytes (${this.cfg.maxRecordBytes})`);
    let b = this.open;
    if (!b || b.taken) {
      b = new Batch(this.spare.pop() ?? Buffer.allocUnsafe(BATCH_BYTES), this.nextOffset);
      this.open = b;
      const batch = b;
      this.queue.push(batch, (err) => this.settle(batch, err));
      if (batch.taken) { // refused synchronously (sticky error or closed): this record fails too
        reject(this.mapWriteError(this.queue.error ?? new Error('log is closed')));
        return;
      }
    }
    b.reserve(size);
    encodeRecordInto(b.buf, b.used, { offset: this.nextOffset, timestamp: input.timestamp, key: input.key, headers: input.headers, value: input.value, attributes: 0 }, keyLen, size);
    this.nextOffset++;
    b.used += size;
    b.sizes.push(size); b.stamps.push(input.timestamp); b.resolves.push(resolve); b.rejects.push(reject);
  }

  /** Resolves (or rejects) every record of a batch in one loop; recycles its buffer. */
  private settle(b: Batch, err: Error | undefined): void {
    b.taken = true;
    if (err) {
      const e = this.mapWriteError(err);
      for (const r of b.rejects) r(e);
    } else {
      const id = this.id, first = b.firstOffset, rs = b.resolves;
      for (let i = 0; i < rs.length; i++) rs[i]!({ partition: id, offset: first + i });
      if (rs.length !== 0) this.onWritten?.(id, first + rs.length);
    }
    if (b.buf.length === BATCH_BYTES && this.spare.length < 2) this.spare.push(b.buf);
  }

  /** Write-queue sink for fsync: fsyncs the active segment, then maybe writes a checkpoint of what is now durable. */
  private async syncActive(): Promise<void> {
    const seg = this.active;
    await seg.sync();
    const now = Date.now();
    if (now - this.lastCheckpointAt < (this.cfg.checkpointIntervalMs ?? 1000) || seg.size === this.lastCheckpointPosition) return;
    this.lastCheckpointAt = now;
    try {
      const c: Checkpoint = await seg.checkpoint();
      this.checkpointFile ??= await this.ctx.io.open(join(this.dir, CHECKPOINT_FILE), 'w+');
      await this.checkpointFile.writeAll(encodeCheckpoint(c), 0);
      this.lastCheckpointPosition = c.position;
    } catch (e) {
      if (!this.checkpointWarned) this.ctx.logger.warn({ partition: this.id, err: String(e) }, 'log checkpoint not written; a crash would scan the whole active segment');
      this.checkpointWarned = true;
    }
  }

  /** Write-queue sink: writes batches in order, rolling between records when needed. */
  private async writeBatch(batches: Batch[]): Promise<void> {
    for (const b of batches) b.taken = true; // first, synchronously: appends from now on open a new batch
    this.cleanOnDisk = false;
    if (this.markerOnDisk) { // from now on the files differ from what the marker says [clean marker contract]
      await fsp.rm(join(this.dir, CLEAN_FILE), { force: true });
      this.markerOnDisk = false;
    }
    for (const b of batches) await this.writeOne(b);
  }

  private async writeOne(b: Batch): Promise<void> {
    let agedPending = Date.now() - this.active.activeSince >= this.cfg.segmentMs;
    let from = 0, fromPos = 0, pos = 0; // records [from, i) = bytes [fromPos, pos) are not written yet
    const n = b.sizes.length;
    for (let i = 0; i < n; i++) {
      const size = b.sizes[i]!;
      const seg = this.active;
      const nonEmpty = seg.records + (i - from) > 0;
      if (nonEmpty && (agedPending || seg.size + (pos - fromPos) + size > this.cfg.segmentBytes)) {
        if (i > from) await seg.append(b.buf.subarray(fromPos, pos), b.sizes, b.stamps, from, i);
        from = i; fromPos = pos;
        await this.roll(b.firstOffset + i);
        agedPending = false;
      }
      pos += size;
    }
    if (n > from) await this.active.append(b.buf.subarray(fromPos, pos), b.sizes, b.stamps, from, n);
  }

  /** Index files of the active segment, then the marker (both fsynced): the next open can skip the scan. */
  private async writeClean(): Promise<void> {
    const m: CleanMarker = await this.active.writeClean();
    const fh = await fsp.open(join(this.dir, CLEAN_FILE), 'w');
    try { await fh.writeFile(encodeCleanMarker(m)); await fh.sync(); } finally { await fh.close(); }
    this.markerOnDisk = true;
    this.cleanOnDisk = true;
  }

  private async roll(base: number): Promise<void> {
    const old = this.active;
    if (this.cfg.flush.mode !== 'never') await old.sync();
    await old.seal();
    this.segments.push(await Segment.create(this.dir, base, this.ctx));
    this.applyRetention(Date.now());
  }

  /** Drops expired sealed segments from the list now; their files are closed and unlinked in the background. */
  applyRetention(now: number): void {
    const { retentionBytes, retentionMs } = this.cfg;
    if (retentionBytes < 0 && retentionMs < 0) return;
    let total = this.segments.reduce((n, s) => n + s.size, 0);
    while (this.segments.length > 1) {
      const s = this.segments[0]!;
      const bySize = retentionBytes >= 0 && total - s.size >= retentionBytes;
      const byAge = retentionMs >= 0 && s.maxTimestamp < now - retentionMs;
      if (!bySize && !byAge) break;
      this.segments.shift();
      total -= s.size;
      const p = s.destroy().catch((e: unknown) => this.ctx.logger.warn({ partition: this.id, segment: s.path, err: String(e) }, 'retention could not delete segment'));
      this.deletions.add(p);
      void p.finally(() => this.deletions.delete(p));
    }
  }

  async read(offset: number, maxRecords: number, maxBytes = DEFAULT_READ_BYTES): Promise<LogRecord[]> {
    const out: LogRecord[] = [];
    if (maxRecords <= 0) return out;
    let from = Math.max(offset, this.startOffset);
    const segs = this.segments.slice();
    let i = segs.length - 1;
    while (i > 0 && segs[i]!.baseOffset > from) i--;
    let bytes = 0;
    const chunk = Math.min(DEFAULT_READ_BYTES, Math.max(16 * 1024, maxBytes));
    let full = false;
    for (; i < segs.length && !full; i++) {
      await segs[i]!.readFrom(from, chunk, (rec) => {
        if (out.length > 0 && bytes + rec.size > maxBytes) { full = true; return false; }
        out.push({ partition: this.id, offset: rec.offset, key: rec.key, timestamp: rec.timestamp, headers: rec.headers, value: rec.value });
        bytes += rec.size;
        if (out.length >= maxRecords || bytes >= maxBytes) { full = true; return false; }
        return true;
      });
      if (out.length > 0) from = out[out.length - 1]!.offset + 1;
    }
    return out;
  }

  /** Stored bytes from `offset` to the end (sessions.maxLag.bytes); exact to one index interval, 0 at or past the end. */
  bytesSince(offset: number): number {
    if (offset >= this.endOffset) return 0;
    const from = Math.max(offset, this.startOffset);
    const segs = this.segments;
    let i = segs.length - 1;
    while (i > 0 && segs[i]!.baseOffset > from) i--;
    let n = segs[i]!.bytesFrom(from);
    for (let j = i + 1; j < segs.length; j++) n += segs[j]!.size;
    return n;
  }

  async offsetForTime(ts: number): Promise<number> {
    for (const seg of this.segments.slice()) {
      if (seg.maxTimestamp < ts) continue;
      let found = -1;
      await seg.readFrom(seg.timeScanStart(ts), DEFAULT_READ_BYTES / 4, (rec) => {
        if (rec.timestamp >= ts) { found = rec.offset; return false; }
        return true;
      });
      if (found >= 0) return found;
    }
    return this.endOffset;
  }

  stats(): PartitionStats {
    const segments = this.segments.map((s) => ({ baseOffset: s.baseOffset, bytes: s.size }));
    return { partition: this.id, segments, startOffset: this.startOffset, endOffset: this.endOffset, bytes: segments.reduce((n, s) => n + s.bytes, 0) };
  }

  /** After queued writes: fsync (unless nothing to), close every file, wait for background deletions. */
  async close(closedError: Error): Promise<void> {
    this.queue.refuse(closedError);
    let failure: unknown;
    if (!this.queue.error) await this.queue.syncIfDirty().catch((e: unknown) => { failure = e; });
    if (!this.queue.error && !failure && !this.cleanOnDisk) {
      await this.queue.run(() => this.writeClean(), false).catch((e: unknown) => {
        this.ctx.logger.warn({ partition: this.id, err: String(e) }, 'clean-close marker not written; the next open scans the active segment');
      });
    }
    await this.checkpointFile?.close().catch(() => undefined);
    await Promise.all([...this.deletions]);
    for (const s of this.segments) await s.close().catch(() => undefined);
    if (failure) throw failure;
  }
}

/** Reads and decodes a small hint file; exists says whether the file was there at all. */
async function readHint<T>(path: string, decode: (b: Buffer) => T | undefined): Promise<{ exists: boolean; value: T | undefined }> {
  let b: Buffer;
  try { b = await fsp.readFile(path); } catch { return { exists: false, value: undefined }; }
  return { exists: true, value: decode(b) };
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}
