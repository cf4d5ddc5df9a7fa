// openKeyValueStore: a compacted last-value-per-key log (retained messages, sessions, consumer offsets). Imports ./codec.ts, ./write-queue.ts, ./fileio.ts, ./types.ts.
//
// Files: `<dir>/kv.log` = records in the codec.ts format; key = the key, value = the value, headers empty,
// attributes bit 0 = tombstone (delete), offset = a sequence number (ignored on read), timestamp = write time.
// The last record for a key wins. At open the whole file is loaded into memory; a torn or corrupt tail is truncated
// and reported via warn. Compaction writes the live entries to `kv.log.compact`, fsyncs it, renames it over
// `kv.log` (atomic) and fsyncs the directory; a leftover `kv.log.compact` at open is an interrupted compaction and
// is deleted. Compaction also runs automatically after a write when dead bytes exceed live bytes and the file is
// at least compactMinBytes.
// Concurrency: get/entries see every put/delete already called; writes, fsyncs and compaction run one at a time
// (write-queue.ts); a failed write or fsync is sticky: every later put/delete rejects with the same error.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { ATTR_TOMBSTONE, decodeRecord, encodeRecord } from './codec.ts';
import { WriteQueue } from './write-queue.ts';
import { nodeFileIO, syncDir, type FileIO, type FileLike } from './fileio.ts';
import type { FlushPolicy, KeyValueStore, LogEvents } from './types.ts';

export interface KeyValueOptions { logger?: LogEvents; io?: FileIO; /** default 1 MiB */ compactMinBytes?: number }

interface Entry { value: Buffer; bytes: number }

const FILE = 'kv.log';
const COMPACT = 'kv.log.compact';
const NO_HEADERS = Buffer.alloc(0);

class FileKeyValueStore implements KeyValueStore {
  private readonly map = new Map<string, Entry>();
  private liveBytes = 0;
  private fileBytes = 0;
  private seq = 0;
  private closing: Promise<void> | undefined;
  private compacting = false;
  private readonly queue: WriteQueue<Buffer>;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly dir: string, private file: FileLike, flush: FlushPolicy, private readonly opts: Required<KeyValueOptions>) {
    this.queue = new WriteQueue<Buffer>({ writeBatch: (bufs) => this.writeBatch(bufs), sync: () => this.file.sync() }, flush);
    if (flush.mode === 'interval') {
      this.timer = setInterval(() => {
        if (this.queue.dirty && !this.queue.error) this.queue.syncIfDirty().catch((e: unknown) => this.opts.logger.warn({ dir, err: String(e) }, 'key/value fsync failed'));
      }, flush.intervalMs).unref();
    }
  }

  /** Loads the file; returns the byte length of the valid prefix. */
  async load(): Promise<void> {
    const size = await this.file.size();
    const buf = Buffer.allocUnsafe(size);
    const n = await this.file.read(buf, 0, size, 0);
    let p = 0;
    let reason = '';
    while (p < n) {
      const r = decodeRecord(buf, p, n);
      if (!r.ok) { reason = r.reason; break; }
      this.apply(r.record.key, r.record.attributes & ATTR_TOMBSTONE ? undefined : Buffer.from(r.record.value), r.record.size);
      this.seq = r.record.offset + 1;
      p += r.record.size;
    }
    if (p < size) {
      await this.file.truncate(p);
      this.opts.logger.warn({ file: join(this.dir, FILE), position: p, cutBytes: size - p, reason: reason || 'short' }, 'key/value recovery truncated a torn or corrupt tail');
    }
    this.fileBytes = p;
  }

  /** In-memory effect of one record (value undefined = tombstone). */
  private apply(key: string, value: Buffer | undefined, bytes: number): void {
    const old = this.map.get(key);
    if (old) this.liveBytes -= old.bytes;
    if (value === undefined) this.map.delete(key);
    else { this.map.set(key, { value, bytes }); this.liveBytes += bytes; }
  }

  get(key: string): Buffer | undefined { return this.map.get(key)?.value; }

  *entries(prefix = ''): IterableIterator<[string, Buffer]> {
    for (const [k, e] of this.map) if (k.startsWith(prefix)) yield [k, e.value];
  }

  put(key: string, value: Buffer): Promise<void> { return this.write(key, Buffer.from(value)); }
  delete(key: string): Promise<void> { return this.write(key, undefined); }

  private write(key: string, value: Buffer | undefined): Promise<void> {
    if (this.queue.error) return Promise.reject(this.queue.error);
    if (this.closing) return Promise.reject(new Error('key/value store is closed'));
    let buf: Buffer;
    try {
      buf = encodeRecord({ offset: this.seq, timestamp: Date.now(), key, headers: NO_HEADERS, value: value ?? NO_HEADERS, attributes: value ? 0 : ATTR_TOMBSTONE });
    } catch (e) { return Promise.reject(e); }
    this.seq++;
    this.apply(key, value, buf.length);
    return this.queue.enqueue(buf);
  }

  private async writeBatch(bufs: Buffer[]): Promise<void> {
    const data = bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs);
    await this.file.writeAll(data, this.fileBytes);
    this.fileBytes += data.length;
    const dead = this.fileBytes - this.liveBytes;
    if (!this.compacting && !this.closing && this.fileBytes >= this.opts.compactMinBytes && dead > this.liveBytes) {
      this.compacting = true;
      this.queue.run(() => this.rewrite()).catch((e: unknown) => this.opts.logger.warn({ dir: this.dir, err: String(e) }, 'key/value compaction failed'))
        .finally(() => { this.compacting = false; });
    }
  }

  /** Runs inside the write queue: writes live entries to a new file, then renames it over the old one. */
  private async rewrite(): Promise<void> {
    const tmpPath = join(this.dir, COMPACT);
    const tmp = await this.opts.io.open(tmpPath, 'w+');
    let pos = 0;
    try {
      let batch: Buffer[] = [], batchBytes = 0;
      const now = Date.now();
      this.seq = 0;
      for (const [key, e] of this.map) {
        const b = encodeRecord({ offset: this.seq++, timestamp: now, key, headers: NO_HEADERS, value: e.value, attributes: 0 });
        e.bytes = b.length;
        batch.push(b); batchBytes += b.length;
        if (batchBytes >= 1 << 20) { const d = Buffer.concat(batch); await tmp.writeAll(d, pos); pos += d.length; batch = []; batchBytes = 0; }
      }
      if (batch.length) { const d = Buffer.concat(batch); await tmp.writeAll(d, pos); pos += d.length; }
      await tmp.sync();
    } catch (e) {
      await tmp.close().catch(() => undefined);
      await fsp.rm(tmpPath, { force: true });
      throw e;
    }
    await tmp.close();
    await fsp.rename(tmpPath, join(this.dir, FILE));
    await syncDir(this.dir);
    const old = this.file;
    this.file = await this.opts.io.open(join(this.dir, FILE), 'r+');
    await old.close().catch(() => undefined);
    this.fileBytes = pos;
    this.liveBytes = pos;
    this.queue.dirty = false;
  }

  compact(): Promise<void> {
    if (this.closing) return Promise.reject(new Error('key/value store is closed'));
    return this.queue.run(() => this.rewrite());
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      this.queue.refuse(new Error('key/value store is closed'));
      try { if (!this.queue.error) await this.queue.syncIfDirty(); } finally { await this.file.close().catch(() => undefined); }
    })();
    return this.closing;
  }
}

/** Opens (creating if needed) the key/value store in `dir`, loading every live entry into memory. */
export async function openKeyValueStore(dir: string, flush: FlushPolicy, options: KeyValueOptions = {}): Promise<KeyValueStore> {
  const opts: Required<KeyValueOptions> = { logger: options.logger ?? { info() {}, warn() {} }, io: options.io ?? nodeFileIO, compactMinBytes: options.compactMinBytes ?? 1 << 20 };
  await fsp.mkdir(dir, { recursive: true });
  await fsp.rm(join(dir, COMPACT), { force: true }); // an interrupted compaction: kv.log is still complete
  const path = join(dir, FILE);
  let file: FileLike;
  try { file = await opts.io.open(path, 'r+'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    file = await opts.io.open(path, 'wx+');
    await syncDir(dir);
  }
  const store = new FileKeyValueStore(dir, file, flush, opts);
  await store.load();
  return store;
}
