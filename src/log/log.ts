// openLog: the partitioned log manager — meta file, partitions, flush timer, retention timer, sticky errors. Imports ./partition.ts, ./fileio.ts, ./types.ts.
//
// Layout: `<dir>/meta.json` = {"version":1,"partitions":N} written once at creation (tmp + rename);
// `<dir>/<partition>/<20-digit base>.log|.index|.timeindex` per segment (segment.ts), and per partition the optional
// recovery hints `.clean` and `.recovery-point` (recovery-point.ts).
// Sticky errors: the first failed write or fsync in any partition fails the whole log; every later append
// rejects with that same error until the log is reopened.
// Open files: every segment keeps its file open (one descriptor per segment).
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Partition } from './partition.ts';
import { nodeFileIO, syncDir, type FileIO } from './fileio.ts';
import type { AppendInput, AppendListener, LogConfig, LogEvents, LogRecord, PartitionedLog, PartitionStats } from './types.ts';

export interface OpenLogOptions {
  /** File layer for segment data files (tests inject failures). */
  io?: FileIO;
}

const META_VERSION = 1;
const silent: LogEvents = { info() {}, warn() {} };

/** FNV-1a, 32-bit, over the key's UTF-8 bytes. Stable across versions: changing it moves keys between partitions. */
export function fnv1a(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) { // ASCII keys (the usual topic) hash without encoding them
    const c = key.charCodeAt(i);
    if (c >= 0x80) return fnv1aBytes(Buffer.from(key, 'utf8'));
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h >>> 0;
}

function fnv1aBytes(b: Buffer): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

function checkConfig(c: LogConfig): void {
  const positiveInt = (n: number) => Number.isSafeInteger(n) && n > 0;
  const limit = (n: number) => n === -1 || (Number.isSafeInteger(n) && n >= 0);
  const bad = (k: string, v: unknown) => new Error(`log config: bad ${k} ${JSON.stringify(v)}`);
  if (!positiveInt(c.partitions)) throw bad('partitions', c.partitions);
  if (!positiveInt(c.segmentBytes) || c.segmentBytes > 0xffff_ffff) throw bad('segmentBytes (1 .. 4 GiB - 1)', c.segmentBytes);
  if (!positiveInt(c.segmentMs)) throw bad('segmentMs', c.segmentMs);
  if (!limit(c.retentionBytes)) throw bad('retentionBytes', c.retentionBytes);
  if (!limit(c.retentionMs)) throw bad('retentionMs', c.retentionMs);
  if (!positiveInt(c.indexIntervalBytes)) throw bad('indexIntervalBytes', c.indexIntervalBytes);
  if (!positiveInt(c.maxRecordBytes)) throw bad('maxRecordBytes', c.maxRecordBytes);
  if (c.flush.mode === 'interval' && !positiveInt(c.flush.intervalMs)) throw bad('flush.intervalMs', c.flush.intervalMs);
  if (c.checkpointIntervalMs !== undefined && !(Number.isSafeInteger(c.checkpointIntervalMs) && c.checkpointIntervalMs >= 0)) throw bad('checkpointIntervalMs', c.checkpointIntervalMs);
}

/** Creates or checks `<dir>/meta.json`; a different partition count is an error. */
async function ensureMeta(dir: string, partitions: number): Promise<void> {
  const path = join(dir, 'meta.json');
  let text: string | undefined;
  try { text = await fsp.readFile(path, 'utf8'); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; }
  if (text !== undefined) {
    const meta = JSON.parse(text) as { version?: unknown; partitions?: unknown };
    if (meta.version !== META_VERSION) throw new Error(`log at ${dir}: unsupported meta version ${String(meta.version)}`);
    if (meta.partitions !== partitions) throw new Error(`log at ${dir} has ${String(meta.partitions)} partitions; config asks for ${partitions} (the count is fixed at creation)`);
    return;
  }
  const tmp = `${path}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify({ version: META_VERSION, partitions }));
  await fsp.rename(tmp, path);
  await syncDir(dir);
}

class LocalLog implements PartitionedLog {
  private failed: Error | undefined;
  private closing: Promise<void> | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private listeners: AppendListener[] = [];

  constructor(private readonly parts: Partition[], cfg: LogConfig, private readonly logger: LogEvents) {
    for (const p of parts) {
      p.mapWriteError = (err) => (p.queue.error ? (this.fail(p.queue.error, p.id), this.failed!) : err);
      p.onWritten = (partition, end) => this.written(partition, end);
    }
    if (cfg.flush.mode === 'interval') {
      this.timers.push(setInterval(() => {
        for (const p of parts) if (p.queue.dirty && !p.queue.error) p.queue.syncIfDirty().catch((e: unknown) => this.fail(e, p.id));
      }, cfg.flush.intervalMs).unref());
    }
    if (cfg.retentionBytes >= 0 || cfg.retentionMs >= 0) {
      const every = Math.max(50, Math.min(30_000, cfg.retentionMs > 0 ? cfg.retentionMs / 2 : 30_000));
      this.timers.push(setInterval(() => { const now = Date.now(); for (const p of parts) p.applyRetention(now); }, every).unref());
    }
  }

  get partitions(): number { return this.parts.length; }

  partitionFor(key: string): number { return fnv1a(key) % this.parts.length; }

  private fail(e: unknown, partition: number): void {
    if (this.failed) return;
    this.failed = e instanceof Error ? e : new Error(String(e));
    this.logger.warn({ partition, err: this.failed.message }, 'log write failed; appends are refused until reopen');
  }

  private part(partition: number): Partition {
    const p = this.parts[partition];
    if (!p) throw new RangeError(`no partition ${partition} (log has ${this.parts.length})`);
    return p;
  }

  append(input: AppendInput): Promise<{ partition: number; offset: number }> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closing) return Promise.reject(new Error('log is closed'));
    const p = this.parts[this.partitionFor(input.key)]!;
    return new Promise((resolve, reject) => p.append(input, resolve, reject));
  }

  async read(partition: number, offset: number, maxRecords: number, maxBytes?: number): Promise<LogRecord[]> {
    return this.part(partition).read(offset, maxRecords, maxBytes);
  }

  async offsetForTime(partition: number, ts: number): Promise<number> { return this.part(partition).offsetForTime(ts); }
  startOffset(partition: number): number { return this.part(partition).startOffset; }
  endOffset(partition: number): number { return this.part(partition).endOffset; }
  stats(): PartitionStats[] { return this.parts.map((p) => p.stats()); }

  bytesSince(partition: number, offset: number): number {
    return this.part(partition).bytesSince(offset);
  }

  onAppend(listener: AppendListener): () => void {
    this.listeners = [...this.listeners, listener]; // copy on write: a listener may add or remove during a call
    return () => { this.listeners = this.listeners.filter((l) => l !== listener); };
  }

  private written(partition: number, end: number): void {
    for (const l of this.listeners) {
      try { l(partition, end); } catch { /* a listener must not break the write path */ }
    }
  }

  async flush(): Promise<void> {
    if (this.failed) throw this.failed;
    await Promise.all(this.parts.map((p) => p.queue.syncIfDirty().catch((e: unknown) => {
      if (p.queue.error) this.fail(p.queue.error, p.id);
      throw e;
    })));
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const t of this.timers) clearInterval(t);
      const closed = new Error('log is closed');
      const results = await Promise.allSettled(this.parts.map((p) => p.close(closed)));
      const bad = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (bad && !this.failed) throw bad.reason;
    })();
    return this.closing;
  }
}

/** Opens (creating if needed) a partitioned log. Only each partition's tail segment is scanned; see segment.ts for recovery. */
export async function openLog(config: LogConfig, logger: LogEvents = silent, options: OpenLogOptions = {}): Promise<PartitionedLog> {
  checkConfig(config);
  await fsp.mkdir(config.dir, { recursive: true });
  await ensureMeta(config.dir, config.partitions);
  const io = options.io ?? nodeFileIO;
  const parts: Partition[] = [];
  for (let id = 0; id < config.partitions; id++) {
    parts.push(await Partition.open(id, config, { io, indexIntervalBytes: config.indexIntervalBytes, logger, partition: id }));
  }
  return new LocalLog(parts, config, logger);
}
