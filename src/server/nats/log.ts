// The message log on JetStream: one stream per partition, offset = stream sequence - 1. Imports ./link.ts, ./codec.ts, src/log's key hash and core persistence types.
//
// Layout: stream `<prefix>_log_p<N>` holds subjects `<prefix>.log.p<N>.>`; a record is one message on
// `<prefix>.log.p<N>.<topic tokens>` (codec.ts) whose payload is the framed record. File storage, limits retention
// (max_age = persistence.retentionMs, max_bytes = persistence.retentionBytes), discard old, replicas as configured.
// Only retention removes messages, and only from the front, so offsets stay dense from startOffset to endOffset.
//
// endOffset / startOffset are kept in memory: read from the stream state at open, moved by this node's PubAcks and
// by a headers-only ordered consumer per partition that sees every append (any node's), and startOffset refreshed
// from the stream state every few seconds (retention). Reads go to the stream leader (STREAM.MSG.GET, never a
// direct get from a replica that may lag), several sequences in parallel (a cache of each partition's tail filled
// from that consumer was tried and removed, see docs/CLUSTER.md); offsetForTime is a binary search on the
// records' own timestamps (they are the producer's times, not JetStream's), assuming they rise with the offset.
import { DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, type ConsumerMessages, type StreamConfig, type StoredMsg } from '@nats-io/jetstream';
import type { BackendLog } from '../../core/persistence.ts';
import { fnv1a } from '../../log/index.ts';
import { decodeRecordPayload, encodeRecordPayload, subjectTokens } from './codec.ts';
import type { LinkEvents, NatsLink } from './link.ts';

export interface NatsLogOptions {
  prefix: string;
  partitions: number;
  replicas: number;
  /** Age after which records are removed, ms; -1 = never. */
  retentionMs: number;
  /** Bytes kept per partition; -1 = no limit. */
  retentionBytes: number;
  /** Largest record payload the stream accepts (bytes, framed); -1 = the server's max_payload. */
  maxRecordBytes: number;
  /** How often startOffset is re-read from the stream state, ms. */
  refreshMs?: number;
}

type Rec = { key: string; timestamp: number; headers: Buffer; value: Buffer; partition: number; offset: number };
type AppendListener = (partition: number, endOffset: number) => void;

/** Parallel gets per read round. */
const WINDOW = 32;

export const streamName = (prefix: string, p: number): string => `${prefix}_log_p${p}`;
export const partitionSubject = (prefix: string, p: number): string => `${prefix}.log.p${p}`;

export class NatsLog implements BackendLog {
  readonly partitions: number;
  readonly deduplicates = true;
  private readonly starts: number[];
  private readonly ends: number[];
  private readonly tails: Promise<unknown>[];
  /** Per partition, the highest sequence a PubAck of this node gave a new record (they rise: one connection, one leader order). */
  private readonly ownHigh: number[];
  /** PubAcks that reused a sequence (see BackendLog.sequenceReuses). */
  sequenceReuses = 0;
  /** Stream bytes per partition as of the last stream-info read (stats()). */
  private readonly bytes: number[];
  private listeners: AppendListener[] = [];
  private readonly followers: ConsumerMessages[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly link: NatsLink, private readonly o: NatsLogOptions, private readonly events: LinkEvents, state: { first: number; last: number; bytes: number }[]) {
    this.partitions = o.partitions;
    this.starts = state.map((s) => Math.max(0, s.first - 1));
    this.ends = state.map((s) => s.last);
    this.tails = state.map(() => Promise.resolve());
    this.ownHigh = state.map(() => 0);
    this.bytes = state.map((s) => s.bytes);
  }

  static async open(link: NatsLink, o: NatsLogOptions, events: LinkEvents): Promise<NatsLog> {
    await checkPartitionCount(link, o);
    const state: { first: number; last: number; bytes: number }[] = [];
    for (let p = 0; p < o.partitions; p++) state.push(await ensureStream(link, o, p, events));
    const log = new NatsLog(link, o, events, state);
    try {
      for (let p = 0; p < o.partitions; p++) await log.follow(p, state[p]!.last + 1);
    } catch (err) {
      await log.close();
      throw err;
    }
    log.timer = setInterval(() => void log.refresh(), o.refreshMs ?? 5000);
    log.timer.unref();
    return log;
  }

  /** Every append to partition p from sequence `from` on, whoever made it, moves endOffset and wakes the listeners. */
  private async follow(p: number, from: number): Promise<void> {
    const consumer = await this.link.js.consumers.get(streamName(this.o.prefix, p), {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from,
      headers_only: true,
    });
    const msgs = await consumer.consume({ callback: (m) => this.advance(p, m.seq) });
    this.followers.push(msgs);
  }

  /** Retention moves the start; also the probe that tells the link JetStream answers again. */
  private async refresh(): Promise<void> {
    if (this.closed || this.link.refusal()) return;
    for (let p = 0; p < this.partitions; p++) {
      try {
        const info = await this.link.guard(() => this.link.jsm.streams.info(streamName(this.o.prefix, p)));
        this.moveStart(p, info.state.first_seq - 1);
        this.advance(p, info.state.last_seq);
        this.bytes[p] = info.state.bytes;
      } catch { /* next round */ }
    }
  }

  private moveStart(p: number, start: number): void {
    if (start > this.starts[p]!) this.starts[p] = start;
    if (this.starts[p]! > this.ends[p]!) this.ends[p] = this.starts[p]!;
  }

  /** Sequence `seq` of partition p is readable: the end moves past it and the listeners run. */
  private advance(p: number, seq: number): void {
    if (seq <= this.ends[p]!) return;
    this.ends[p] = seq;
    for (const l of this.listeners) {
      try { l(p, seq); } catch { /* a listener must not break the log */ }
    }
  }

  partitionFor(key: string): number {
    return fnv1a(key) % this.partitions;
  }

  append(input: { key: string; timestamp: number; headers: Buffer; value: Buffer; dedupId?: string }): Promise<{ partition: number; offset: number }> {
    if (this.closed) return Promise.reject(new Error('log is closed'));
    const p = this.partitionFor(input.key);
    const subject = `${partitionSubject(this.o.prefix, p)}.${subjectTokens(input.key)}`;
    const payload = encodeRecordPayload(input);
    const stream = streamName(this.o.prefix, p);
    // dedupId -> Nats-Msg-Id: a second publish with it inside the stream's duplicate window (2 min by default)
    // is not stored again; its PubAck says duplicate and carries the first one's sequence.
    const opts = { expect: { streamName: stream }, timeout: this.link.timeoutMs, ...(input.dedupId !== undefined ? { msgID: input.dedupId } : {}) };
    const acked = this.link.guard(() => this.link.js.publish(subject, payload, opts));
    const prev = this.tails[p]!;
    // Resolves in offset order per partition: after the previous append to p settled.
    const done = acked.then(async (ack) => {
      if (ack.seq < 1) throw new Error(`nats log: PubAck without a sequence (duplicate ${ack.duplicate})`);
      if (!ack.duplicate) {
        if (ack.seq <= this.ownHigh[p]!) {
          this.sequenceReuses++;
          this.events.warn({ partition: p, seq: ack.seq, ownHigh: this.ownHigh[p], end: this.ends[p] }, 'nats log: a new record got a sequence at or below one this node was acknowledged before: the stream lost records');
        }
        this.ownHigh[p] = Math.max(this.ownHigh[p]!, ack.seq);
      }
      if (ack.duplicate) {
        // Nothing new was stored: the first copy is at ack.seq. Checked (a read at the leader, only on this rare
        // path), because routing trusts the offset: a wrong one would route this message in another record's place.
        const m = await this.get(p, ack.seq);
        const r = m ? this.toRecord(p, m) : null;
        if (!r || r.key !== input.key || !Buffer.from(r.value).equals(input.value) || !Buffer.from(r.headers).equals(input.headers)) {
          this.events.warn({ partition: p, seq: ack.seq }, 'nats log: a duplicate PubAck names another record; append refused');
          throw new Error('nats log: duplicate PubAck names another record');
        }
      }
      await prev;
      this.advance(p, ack.seq);
      return { partition: p, offset: ack.seq - 1 };
    });
    this.tails[p] = done.catch(() => undefined);
    return done;
  }

  // Reads are refused at once while NATS is unreachable, like writes (not after a request timeout).
  private get(p: number, seq: number): Promise<StoredMsg | null> {
    return this.link.guard(() => this.link.jsm.streams.getMessage(streamName(this.o.prefix, p), { seq }));
  }

  /** The first stored sequence >= seq in partition p, or null. */
  private next(p: number, seq: number): Promise<StoredMsg | null> {
    const query = { seq, next_by_subj: `${partitionSubject(this.o.prefix, p)}.>` };
    return this.link.guard(() => this.link.jsm.streams.getMessage(streamName(this.o.prefix, p), query as unknown as { seq: number }));
  }

  private toRecord(p: number, m: StoredMsg): Rec | null {
    const r = decodeRecordPayload(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
    if (!r) {
      this.events.warn({ partition: p, seq: m.seq, subject: m.subject }, 'nats log: a message that is not a gateway record was skipped');
      return null;
    }
    return { ...r, partition: p, offset: m.seq - 1 };
  }

  async read(partition: number, offset: number, maxRecords: number, maxBytes?: number): Promise<Rec[]> {
    if (partition < 0 || partition >= this.partitions || !Number.isInteger(partition)) throw new RangeError(`no partition ${partition} (log has ${this.partitions})`);
    if (this.closed) throw new Error('log is closed');
    const out: Rec[] = [];
    let bytes = 0;
    let next = Math.max(offset, this.starts[partition]!);
    // A record announced by another node may reach the leader's store a moment after: a few short retries.
    for (let attempt = 0; attempt < 5 && out.length === 0 && next < this.ends[partition]!; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 20 * attempt));
      while (out.length < maxRecords && next < this.ends[partition]!) {
        const n = Math.min(WINDOW, maxRecords - out.length, this.ends[partition]! - next);
        const got = await Promise.all(Array.from({ length: n }, (_, i) => this.get(partition, next + i + 1)));
        let full = false;
        let front = false;
        let seen = next; // offset after the last record looked at
        for (const m of got) {
          // Missing: removed by retention (front), or not readable yet at the leader (a leader elected a moment
          // ago may not have applied every committed entry). Sequences are dense (nothing is deleted in the
          // middle), so a missing one is never skipped on the strength of a later one being there: the gets run
          // in parallel, and a later one may be answered after the leader applied more. After a record it ends
          // the batch (a hole to retry); before any, the check below tells retention from "not yet".
          if (!m) {
            if (out.length > 0) full = true;
            else front = true;
            break;
          }
          const r = this.toRecord(partition, m);
          if (!r) { seen = m.seq; continue; }
          const size = r.key.length + r.headers.length + r.value.length;
          if (out.length > 0 && maxBytes !== undefined && bytes + size > maxBytes) { full = true; break; }
          out.push(r);
          bytes += size;
          seen = m.seq;
        }
        if (full) break;
        if (out.length === 0 && front) {
          // The window's first record is missing: retention moved the start past it, or it is not readable yet.
          // next_by_subj is one answer from one store: a first stored record above it proves retention.
          const first = await this.next(partition, next + 1);
          if (!first) break;
          if (first.seq === next + 1) break; // it is there after all: not readable yet, the attempt loop retries
          this.moveStart(partition, first.seq - 1);
          next = first.seq - 1;
          continue;
        }
        next = seen;
      }
    }
    return out;
  }

  async offsetForTime(partition: number, ts: number): Promise<number> {
    if (partition < 0 || partition >= this.partitions) throw new RangeError(`no partition ${partition} (log has ${this.partitions})`);
    let lo = this.starts[partition]!;
    let hi = this.ends[partition]!;
    for (let i = 0; i < 64 && lo < hi; i++) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const m = await this.next(partition, mid + 1);
      const r = m ? this.toRecord(partition, m) : null;
      if (!m || m.seq - 1 >= hi) { hi = mid; continue; } // nothing stored from mid to the end
      if (r && r.timestamp >= ts) hi = mid;
      else lo = m.seq; // mid .. m.seq-1 are gone or older
    }
    return lo;
  }

  endOffset(partition: number): number {
    const e = this.ends[partition];
    if (e === undefined) throw new RangeError(`no partition ${partition} (log has ${this.partitions})`);
    return e;
  }

  startOffset(partition: number): number {
    const s = this.starts[partition];
    if (s === undefined) throw new RangeError(`no partition ${partition} (log has ${this.partitions})`);
    return s;
  }

  /** Per partition offsets and stream bytes (bytes as of the last stream-info read, every few seconds), for /metrics and $SYS. */
  stats(): { partition: number; segments: never[]; startOffset: number; endOffset: number; bytes: number }[] {
    return this.ends.map((end, partition) => ({ partition, segments: [], startOffset: this.starts[partition]!, endOffset: end, bytes: this.bytes[partition]! }));
  }

  onAppend(listener: AppendListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => { this.listeners = this.listeners.filter((l) => l !== listener); };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const f of this.followers) f.stop();
    await Promise.all(this.tails);
  }
}

/** The partition count is fixed for the life of the data: the streams present must match the config. */
async function checkPartitionCount(link: NatsLink, o: NatsLogOptions): Promise<void> {
  const re = new RegExp(`^${o.prefix}_log_p(\\d+)$`);
  const found: number[] = [];
  for await (const name of link.jsm.streams.names()) {
    const m = re.exec(name);
    if (m) found.push(Number(m[1]));
  }
  if (found.length > 0 && (found.length !== o.partitions || Math.max(...found) !== o.partitions - 1)) {
    throw new Error(`NATS holds ${found.length} log streams for prefix "${o.prefix}"; persistence.partitions is ${o.partitions} (the count is fixed when the streams are created)`);
  }
}

function streamConfig(o: NatsLogOptions, p: number): Partial<StreamConfig> & { name: string } {
  return {
    name: streamName(o.prefix, p),
    subjects: [`${partitionSubject(o.prefix, p)}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: o.replicas,
    max_age: o.retentionMs > 0 ? o.retentionMs * 1_000_000 : 0,
    max_bytes: o.retentionBytes >= 0 ? o.retentionBytes : -1,
    max_msg_size: o.maxRecordBytes > 0 ? o.maxRecordBytes : -1,
  };
}

/** Creates partition p's stream, or brings an existing one to the configured limits; returns its sequence state. */
async function ensureStream(link: NatsLink, o: NatsLogOptions, p: number, events: LinkEvents): Promise<{ first: number; last: number; bytes: number }> {
  const cfg = streamConfig(o, p);
  let info;
  try {
    info = await link.jsm.streams.info(cfg.name);
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw err;
    info = await link.jsm.streams.add(cfg);
    return { first: info.state.first_seq, last: info.state.last_seq, bytes: info.state.bytes };
  }
  const c = info.config;
  if (c.max_age !== cfg.max_age || c.max_bytes !== cfg.max_bytes || c.num_replicas !== cfg.num_replicas || c.max_msg_size !== cfg.max_msg_size) {
    try {
      info = await link.jsm.streams.update(cfg.name, { max_age: cfg.max_age, max_bytes: cfg.max_bytes, num_replicas: cfg.num_replicas, max_msg_size: cfg.max_msg_size });
      events.info({ stream: cfg.name, replicas: cfg.num_replicas, maxAgeMs: o.retentionMs, maxBytes: o.retentionBytes }, 'nats log stream updated to the configured limits');
    } catch (err) {
      events.warn({ stream: cfg.name, err: (err as Error).message }, 'nats log stream keeps its old limits (update refused)');
    }
  }
  return { first: info.state.first_seq, last: info.state.last_seq, bytes: info.state.bytes };
}
