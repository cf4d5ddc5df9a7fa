// Unit tests for the catch-up reader (src/core/catch-up.ts) driving a real Session over a fake log whose reads resolve when the test says: behind -> catch-up -> live with no gap and no duplicate under seeded interleavings, sleeping (no reads) while the buffer is full, retention skips. Imports the reader, the session and node:test.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CatchUpReader, type CatchUpBatch, type CatchUpSource, type CatchUpTarget, type MaxLag } from '../../src/core/catch-up.ts';
import { Session, type Outbound, type SessionLimits } from '../../src/core/session.ts';
import type { Message } from '../../src/core/message.ts';
import { prng } from '../helpers/prng.ts';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A partitioned log with an explicit routed watermark; reads wait in `pending` until the test resolves them. */
class FakeLog implements CatchUpSource {
  readonly records: Message[][];
  readonly routedAt: number[];
  readonly start: number[];
  readonly pending: (() => void)[] = [];
  reads = 0;
  /** Reads that come back empty although records are there (NATS: a stream leader that has not applied them yet). */
  blindReads = 0;
  constructor(readonly partitions: number) {
    this.records = Array.from({ length: partitions }, () => []);
    this.routedAt = new Array<number>(partitions).fill(0);
    this.start = new Array<number>(partitions).fill(0);
  }
  routed(p: number): number {
    return this.routedAt[p]!;
  }
  startOffset(p: number): number {
    return this.start[p]!;
  }
  async offsetForTime(p: number, ts: number): Promise<number> {
    const hit = this.records[p]!.find((m) => m.createdAt >= ts);
    return hit ? hit.ref!.offset : this.records[p]!.length;
  }
  /** Stored bytes from `offset`: each record counts its payload length plus 10. */
  bytesSince(p: number, offset: number): number {
    return this.records[p]!.filter((m) => m.ref!.offset >= offset).reduce((n, m) => n + m.payload.length + 10, 0);
  }
  append(p: number, seq: number, createdAt = 0): Message {
    const offset = this.records[p]!.length;
    const m: Message = { topic: `t/${p}`, payload: Buffer.from(String(seq)), qos: 1, retain: false, properties: {}, createdAt, expiresAt: 0, senderId: 'pub', ref: { partition: p, offset } };
    this.records[p]!.push(m);
    return m;
  }
  readMessages(p: number, from: number, max: number): Promise<CatchUpBatch> {
    this.reads++;
    const routedAtIssue = this.routedAt[p]!;
    if (this.blindReads > 0) {
      this.blindReads--;
      return Promise.resolve({ msgs: [], routedAtIssue });
    }
    return new Promise((resolve) => {
      // Resolved later: by then more may be appended (and not routed) - the reader must cope.
      this.pending.push(() => resolve({ msgs: this.records[p]!.filter((m) => m.ref!.offset >= Math.max(from, this.start[p]!)).slice(0, max), routedAtIssue }));
    });
  }
  resolveOne(): boolean {
    const f = this.pending.shift();
    f?.();
    return f !== undefined;
  }
}

interface Harness {
  log: FakeLog;
  session: Session;
  reader: CatchUpReader;
  delivered: number[];
  unacked: number[];
  skipped: [number, number, number, string][];
  /** Append to partition p and route it (live) in the same turn, as the broker does. */
  publish(p: number, seq: number): void;
  appendOnly(p: number, seq: number, createdAt?: number): Message;
  route(m: Message): void;
  ack(): void;
}

function harness(partitions: number, limits: Partial<SessionLimits>, maxLag?: MaxLag): Harness {
  const log = new FakeLog(partitions);
  const full: SessionLimits = { maxInflight: 3, maxQueued: 5, maxQueuedBytes: 1 << 20, dropPolicy: 'drop-oldest', queueQos0: false, ...limits };
  const session = new Session('s', full);
  session.attach(full, 0);
  const delivered: number[] = [];
  const unacked: number[] = [];
  const skipped: [number, number, number, string][] = [];
  const take = (out: readonly Outbound[]): void => {
    for (const o of out) {
      if (o.type !== 'publish') continue;
      delivered.push(Number(o.msg.payload.toString()));
      unacked.push(o.packetId);
    }
  };
  const target: CatchUpTarget = {
    cursor: () => session.cursor,
    active: () => session.connected,
    canTake: () => session.hasRoom(),
    offer: (m) => take(session.feed({ msg: m, qos: 1, retain: false, subscriptionIds: [] }, 0)),
    advance: (p, o) => session.advance(p, o),
    requestRoom: () => {
      session.wantRoom = true;
    },
    caughtUp: () => session.leaveBehind(),
    skipped: (p, from, to, reason) => skipped.push([p, from, to, reason]),
  };
  const reader = new CatchUpReader(
    log,
    target,
    (err) => {
      throw err;
    },
    maxLag,
  );
  session.logPosition = () => log.routedAt;
  session.onBehind = () => reader.kick();
  session.onRoom = () => reader.kick();
  const route = (m: Message): void => {
    const p = m.ref!.partition;
    assert.equal(m.ref!.offset, log.routedAt[p], 'routed in offset order');
    log.routedAt[p] = m.ref!.offset + 1; // the watermark moves first, as in Broker.publish
    take(session.deliver({ msg: m, qos: 1, retain: false, subscriptionIds: [] }, 0));
  };
  return {
    log,
    session,
    reader,
    delivered,
    unacked,
    skipped,
    publish: (p, seq) => route(log.append(p, seq)),
    appendOnly: (p, seq, createdAt) => log.append(p, seq, createdAt),
    route,
    ack: () => {
      const id = unacked.shift();
      if (id !== undefined) take(session.onPuback(id, 0));
    },
  };
}

describe('catch-up reader: behind -> log -> live', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}: every published message is delivered exactly once, in order per partition, across interleaved appends, reads and acks`, async () => {
      const rnd = prng(seed);
      const parts = 1 + (seed % 3);
      const h = harness(parts, { maxInflight: 1 + (seed % 4), maxQueued: 2 + (seed % 5) });
      const total = 400;
      let seq = 0;
      const unrouted: Message[][] = Array.from({ length: parts }, () => []);
      let wentBehind = 0;
      for (let step = 0; step < 20_000 && (seq < total || unrouted.some((u) => u.length) || h.log.pending.length || h.unacked.length || h.session.behind); step++) {
        const r = rnd();
        if (r < 0.3 && seq < total) {
          const p = Math.floor(rnd() * parts);
          // Some appends resolve (are routed) only later: reads in between see them unrouted.
          if (rnd() < 0.3 || unrouted[p]!.length) unrouted[p]!.push(h.appendOnly(p, seq++));
          else h.publish(p, seq++);
        } else if (r < 0.45) {
          const p = Math.floor(rnd() * parts);
          const m = unrouted[p]!.shift();
          if (m) h.route(m);
        } else if (r < 0.7) {
          h.log.resolveOne();
        } else if (seq >= total || rnd() < 0.3) {
          h.ack(); // slower than the publisher until it is done
        }
        if (h.session.behind) wentBehind++;
        await tick();
      }
      assert.ok(wentBehind > 0, 'the scenario exercised behind mode');
      assert.equal(h.session.behind, false, 'back to live at the end');
      assert.equal(h.delivered.length, total, `delivered ${h.delivered.length} of ${total}`);
      assert.deepEqual([...h.delivered].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i), 'each exactly once');
      for (let p = 0; p < parts; p++) {
        const inPart = h.delivered.filter((s) => h.log.records[p]!.some((m) => m.payload.toString() === String(s)));
        assert.deepEqual(inPart, [...inPart].sort((a, b) => a - b), `partition ${p} in order`);
      }
      assert.equal(h.reader.isRunning, false, 'an idle, caught-up session has no reader running');
    });
  }

  it('sleeps without reading while the buffer is full and wakes on drain (no timers)', async () => {
    const h = harness(1, { maxInflight: 1, maxQueued: 2 });
    for (let i = 0; i < 10; i++) h.publish(0, i);
    assert.equal(h.session.behind, true);
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(h.log.reads, 0, 'buffer full: no read');
    assert.equal(h.session.wantRoom, true);
    h.ack(); // 1 out, buffer 1 of 2: half -> room
    await tick();
    assert.equal(h.log.reads, 1);
    h.log.resolveOne();
    for (let i = 0; i < 3; i++) await tick();
    const before = h.log.reads;
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(h.log.reads, before, 'full again: waits');
    for (let i = 0; i < 50 && h.delivered.length < 10; i++) {
      h.ack();
      h.log.resolveOne();
      await tick();
    }
    assert.deepEqual(h.delivered, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(h.session.behind, false);
  });

  it('switches to live in the turn it sees cursor == routed watermark: a message routed right after goes out live', async () => {
    const h = harness(1, { maxInflight: 5, maxQueued: 1 });
    h.session.goBehind([0]);
    h.publish(0, 0); // skipped live (behind)
    assert.deepEqual(h.delivered, []);
    h.reader.kick();
    h.log.resolveOne();
    await tick();
    assert.deepEqual(h.delivered, [0]);
    await tick();
    assert.equal(h.session.behind, false);
    h.publish(0, 1);
    assert.deepEqual(h.delivered, [0, 1], 'live again');
  });

  it('skips records retention deleted and reports them', async () => {
    const h = harness(1, { maxInflight: 10, maxQueued: 10 });
    for (let i = 0; i < 6; i++) h.appendOnly(0, i);
    h.log.routedAt[0] = 6;
    h.log.start[0] = 4;
    h.session.goBehind([1]);
    h.reader.kick();
    h.log.resolveOne();
    for (let i = 0; i < 3; i++) await tick();
    assert.deepEqual(h.skipped, [[0, 1, 4, 'retention']]);
    assert.deepEqual(h.delivered, [4, 5]);
    assert.equal(h.session.behind, false);
  });

  it('an empty read below the watermark (records there, not readable yet) is read again, never skipped', async () => {
    const h = harness(1, { maxInflight: 10, maxQueued: 10 });
    for (let i = 0; i < 4; i++) h.appendOnly(0, i);
    h.log.routedAt[0] = 4;
    h.session.goBehind([0]);
    h.log.blindReads = 2;
    h.reader.kick();
    for (let i = 0; i < 100 && h.log.pending.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(h.log.reads, 3, 'two empty reads, then a third');
    h.log.resolveOne();
    for (let i = 0; i < 3; i++) await tick();
    assert.deepEqual(h.delivered, [0, 1, 2, 3]);
    assert.deepEqual(h.skipped, []);
    assert.equal(h.session.behind, false);
  });

  it('stops while the session is offline and resumes from its cursor on kick', async () => {
    const h = harness(1, { maxInflight: 1, maxQueued: 1 });
    h.session.detach();
    for (let i = 0; i < 5; i++) h.publish(0, i);
    assert.equal(h.session.behind, true);
    await tick();
    assert.equal(h.log.reads, 0, 'offline: nothing read');
    h.session.attach({ maxInflight: 1, maxQueued: 1, maxQueuedBytes: 1 << 20, dropPolicy: 'drop-oldest', queueQos0: false }, 0);
    h.delivered.push(0); // the buffered message went out with attach (not captured by take)
    h.unacked.push(1);
    h.reader.kick();
    for (let i = 0; i < 40 && h.delivered.length < 5; i++) {
      h.ack();
      h.log.resolveOne();
      await tick();
    }
    assert.deepEqual(h.delivered, [0, 1, 2, 3, 4]);
  });

  it('sessions.maxLag messages: a cursor further behind than the bound skips ahead to it, counted', async () => {
    const h = harness(1, { maxInflight: 100, maxQueued: 100 }, { messages: 3, ageMs: 0 });
    for (let i = 0; i < 10; i++) h.appendOnly(0, i);
    h.log.routedAt[0] = 10;
    h.session.goBehind([0]);
    h.reader.kick();
    for (let i = 0; i < 5; i++) {
      h.log.resolveOne();
      await tick();
    }
    assert.deepEqual(h.skipped, [[0, 0, 7, 'max-lag']]);
    assert.deepEqual(h.delivered, [7, 8, 9]);
    assert.equal(h.session.behind, false);
  });

  it('sessions.maxLag age: records older than the bound are skipped to the first young enough one', async () => {
    const h = harness(1, { maxInflight: 100, maxQueued: 100 }, { messages: 0, ageMs: 60_000 });
    const now = Date.now();
    for (let i = 0; i < 6; i++) h.appendOnly(0, i, i < 4 ? now - 3_600_000 : now);
    h.log.routedAt[0] = 6;
    h.session.goBehind([0]);
    h.reader.kick();
    for (let i = 0; i < 6; i++) {
      h.log.resolveOne();
      await tick();
    }
    assert.deepEqual(h.skipped, [[0, 0, 4, 'max-lag']]);
    assert.deepEqual(h.delivered, [4, 5]);
  });

  it('sessions.maxLag bytes: a cursor with more stored bytes behind than the bound skips to where the rest fits, counted', async () => {
    const h = harness(1, { maxInflight: 100, maxQueued: 100 }, { messages: 0, ageMs: 0, bytes: 35 });
    for (let i = 0; i < 10; i++) h.appendOnly(0, i); // 11 bytes each in the fake's accounting
    h.log.routedAt[0] = 10;
    h.session.goBehind([0]);
    h.reader.kick();
    for (let i = 0; i < 5; i++) {
      h.log.resolveOne();
      await tick();
    }
    assert.deepEqual(h.skipped, [[0, 0, 7, 'max-lag']], '3 records (33 bytes) fit in 35');
    assert.deepEqual(h.delivered, [7, 8, 9]);
  });
});
