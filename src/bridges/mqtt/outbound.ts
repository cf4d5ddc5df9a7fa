// The outbound half of an MQTT bridge: reads the gateway's log from a committed position (a core ConsumerGroup) and hands matching records to the remote, committing only what the remote acknowledged. Imports core consumer-group, log-notifier, message and topic-map only; the remote is a callback.
//
// Position: consumer group `group` (an internal name, U+0000 first, so no `$group/` subscription can name it), one
// member, every partition; committed offsets `g/<group>/<p>` in the key/value store (consumer-group.ts). A bridge
// with no commit starts at the log's end when it first starts (init), and that start is committed at once, so a
// restart never skips what was published in between.
// Window: at most `window` records in flight over all partitions. Per partition the records taken from the log are
// kept in offset order; a record is done when the remote acknowledged it (QoS 1 PUBACK, QoS 2 PUBCOMP), refused it
// with a reason code, or when it needs no sending (QoS 0 rules: done when handed to the socket; records that came
// in over this bridge; topics no out rule covers; expired; not readable by the bridge's identity). The committed
// offset is one past the longest done prefix: never past a record the remote has not acknowledged.
// Connection loss: stop() drops the in-flight records and rewinds every partition to its committed offset (the
// group's leave + join); the next start() sends them again (QoS 1/2: at least once across a reconnect).
// Order: one partition holds one topic's records in order; they are sent in that order on one connection.
import { ConsumerGroup, type OffsetStorePort } from '../../core/consumer-group.ts';
import type { ConsumerLogPort } from '../../core/consumer.ts';
import { appendNotifier, sleepUntilAppend } from '../../core/log-notifier.ts';
import { isExpired, type Message } from '../../core/message.ts';
import type { TopicRule } from './config.ts';
import { mapOutbound, type Mapped } from './topic-map.ts';

/** How the remote answered one send: acknowledged, refused with a reason code (counted, not retried), or the connection went away. */
export type SendResult = 'ok' | 'refused' | 'lost';

export interface OutboundOptions {
  group: string;
  log: ConsumerLogPort;
  store: OffsetStorePort;
  rules: readonly TopicRule[];
  /** Records published with this sender id came in over this bridge: never sent back out (loop prevention). */
  senderId: string;
  /** The bridge identity's read permission (ACL). */
  mayRead(topic: string): boolean;
  /** Sends one message; `done` is called once (QoS 0: when written). */
  send(msg: Message, to: Mapped, done: (r: SendResult) => void): void;
  onError(err: unknown): void;
}

export interface OutboundStats {
  /** Messages the remote acknowledged (QoS 1/2) or that were written (QoS 0). */
  sent: number;
  /** Refused by the remote with a reason code (v5), counted and not retried. */
  refused: number;
  /** Records skipped because they came in over this bridge. */
  loopSkipped: number;
  /** Records the bridge identity may not read. */
  denied: number;
}

const MEMBER = 'bridge';

interface Entry {
  offset: number;
  done: boolean;
}

export class OutboundPump {
  readonly stats: OutboundStats = { sent: 0, refused: 0, loopSkipped: 0, denied: 0 };
  private readonly group: ConsumerGroup;
  private readonly parts: number[];
  /** Per partition: records taken from the log and not yet part of the committed prefix, offset order. */
  private queues: Entry[][];
  /** Per partition: the offset to commit next (one past the done prefix); the last one written or being written. */
  private readonly want: (number | undefined)[];
  private readonly committing: boolean[];
  private inflight = 0;
  private window = 1;
  /** Bumped by every start() and stop(); callbacks of an older generation are ignored. */
  private gen = 0;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private pendingCommits = new Set<Promise<void>>();
  /** Epoch ms of the last finish() or start(). */
  private progressAt = Date.now();

  constructor(private readonly opts: OutboundOptions) {
    this.group = new ConsumerGroup({ group: opts.group, log: opts.log, store: opts.store, filter: '#', reset: 'next' });
    this.group.join(MEMBER);
    this.parts = Array.from({ length: opts.log.partitions }, (_, p) => p);
    this.queues = this.parts.map(() => []);
    this.want = this.parts.map(() => undefined);
    this.committing = this.parts.map(() => false);
  }

  /** A new bridge starts at the log's end: commit that now, so records appended before a crash are not skipped at restart. */
  async init(): Promise<void> {
    const work: Promise<void>[] = [];
    for (const p of this.parts) if (this.group.committed(p) === undefined) work.push(this.group.commit(MEMBER, p, this.opts.log.endOffset(p)));
    await Promise.all(work);
  }

  /** Records between the committed positions and the log's end, summed over partitions. */
  lag(): number {
    let n = 0;
    for (const l of this.group.lag()) n += l.lag;
    return n;
  }

  get inFlight(): number {
    return this.inflight;
  }

  /**
   * Ms since the last record was done while records are in flight or the log holds records past the commit (0 when
   * neither): the bridge reconnects on a long stall, which rewinds and restarts this reader. A reader that sits idle
   * with a backlog is a stall too (seen once in the kill -9 e2e after a restart, cause not found): never stuck.
   */
  stalledMs(now = Date.now()): number {
    return this.inflight === 0 && this.lag() === 0 ? 0 : now - this.progressAt;
  }

  /** Makes a sleeping reader look at the log again (a periodic safety net; a spurious wake only costs one read). */
  nudge(): void {
    this.wake?.();
  }

  /** Starts reading for a fresh connection with room for `window` unacknowledged messages. */
  start(window: number): void {
    if (this.running) throw new Error('outbound pump already running');
    this.window = Math.max(1, window);
    this.progressAt = Date.now();
    const gen = ++this.gen;
    this.running = this.run(gen).catch((err: unknown) => this.opts.onError(err));
  }

  /** Stops reading, forgets in-flight records and rewinds to the committed offsets; resolves when the reader has stopped. */
  async stop(): Promise<void> {
    this.gen++;
    this.wake?.();
    const r = this.running;
    this.running = undefined;
    await r;
    this.queues = this.parts.map(() => []);
    this.inflight = 0;
    // leave + join: every partition's fetch position restarts at its committed offset.
    this.group.leave(MEMBER);
    this.group.join(MEMBER);
  }

  /** Waits for the commits being written (shutdown). */
  async flush(): Promise<void> {
    while (this.pendingCommits.size !== 0) await Promise.all([...this.pendingCommits]);
  }

  private async run(gen: number): Promise<void> {
    const log = this.opts.log;
    const notifier = appendNotifier(log);
    while (this.gen === gen) {
      if (!this.hasRoom()) {
        await new Promise<void>((r) => (this.wake = r));
        this.wake = undefined;
        continue;
      }
      const seen = notifier?.snapshot(this.parts);
      const scanned = { scanned: 0 };
      let msgs: Message[];
      try {
        msgs = await this.group.poll(MEMBER, this.window - this.inflight, scanned);
      } catch (err) {
        // A failed read (storage error) is reported and retried after a pause; the position has not moved.
        this.opts.onError(err);
        const pause = sleepUntilAppend(log, [], undefined, 1000);
        this.wake = pause.wake;
        await pause.promise;
        this.wake = undefined;
        continue;
      }
      if (this.gen !== gen) return;
      for (const m of msgs) this.dispatch(m, gen);
      if (scanned.scanned === 0) {
        const sleep = sleepUntilAppend(log, this.parts, seen, 100);
        this.wake = sleep.wake;
        await sleep.promise;
        this.wake = undefined;
      }
    }
  }

  private dispatch(msg: Message, gen: number): void {
    const ref = msg.ref!;
    const entry: Entry = { offset: ref.offset, done: false };
    this.queues[ref.partition]!.push(entry);
    this.inflight++;
    const finish = (): void => this.finish(ref.partition, entry, gen);
    if (msg.senderId === this.opts.senderId) {
      this.stats.loopSkipped++;
      return finish();
    }
    const to = mapOutbound(this.opts.rules, msg.topic);
    if (!to || isExpired(msg, Date.now())) return finish();
    if (!this.opts.mayRead(msg.topic)) {
      this.stats.denied++;
      return finish();
    }
    if (to.qos === 0) {
      // At most once: done as soon as it is handed to the connection.
      this.opts.send(msg, to, () => undefined);
      this.stats.sent++;
      return finish();
    }
    this.opts.send(msg, to, (r) => {
      if (gen !== this.gen || r === 'lost') return; // rewound: it goes out again on the next connection
      if (r === 'ok') this.stats.sent++;
      else this.stats.refused++;
      finish();
    });
  }

  private finish(p: number, entry: Entry, gen: number): void {
    if (gen !== this.gen || entry.done) return;
    entry.done = true;
    this.inflight--;
    this.progressAt = Date.now();
    const q = this.queues[p]!;
    let next: number | undefined;
    while (q.length !== 0 && q[0]!.done) next = q.shift()!.offset + 1;
    // Never backwards: after a rewind the re-sent prefix may end below a commit still being written.
    if (next !== undefined && next > (this.want[p] ?? -1)) {
      this.want[p] = next;
      this.commit(p);
    }
    if (this.hasRoom()) this.wake?.();
  }

  /** Reads in batches: poll again once a good part of the window is free (or nothing is in flight), not per ack. */
  private hasRoom(): boolean {
    const minFree = Math.max(1, Math.min(64, Math.floor(this.window / 2)));
    return this.inflight === 0 || this.window - this.inflight >= minFree;
  }

  /** One commit per partition at a time; the latest wanted offset is written when the one in hand completes. */
  private commit(p: number): void {
    if (this.committing[p]) return;
    const offset = this.want[p];
    if (offset === undefined || offset === this.group.committed(p)) return;
    this.committing[p] = true;
    const w = this.group.commit(MEMBER, p, offset).then(
      () => {
        this.committing[p] = false;
        this.pendingCommits.delete(w);
        if (this.want[p] !== offset) this.commit(p);
      },
      (err: unknown) => {
        this.committing[p] = false;
        this.pendingCommits.delete(w);
        this.opts.onError(err);
      },
    );
    this.pendingCommits.add(w);
  }
}
