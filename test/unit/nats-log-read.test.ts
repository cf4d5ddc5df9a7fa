// Unit: NatsLog over a fake stream leader. read: gets answer in parallel and may miss a record not applied yet; a missing record is never skipped because a later one was found, only a next_by_subj answer above it (retention) moves past it. append: a new record given a sequence this node was acknowledged for before is counted (the backend lost records). Imports NatsLog, its codec and node:test.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredMsg } from '@nats-io/jetstream';
import { NatsLog } from '../../src/server/nats/log.ts';
import { encodeRecordPayload } from '../../src/server/nats/codec.ts';

type Fake = { log: NatsLog; gets: number[]; warnings: string[] };

/** A log opened over sequences first..last; `late` sequences answer "no message" to their first get (not applied yet); retention removed those below `kept` since the open. */
function fakeLog(first: number, last: number, late: Set<number>, kept = first, acks: { seq: number; duplicate: boolean }[] = []): Fake {
  const stored = (seq: number): StoredMsg => {
    const data = encodeRecordPayload({ key: 't', timestamp: seq, headers: Buffer.alloc(0), value: Buffer.from(`v${seq}`) });
    return { seq, subject: 'iotgw.log.p0.t', data: new Uint8Array(data), timestamp: '', time: new Date(), header: undefined } as unknown as StoredMsg;
  };
  const gets: number[] = [];
  const warnings: string[] = [];
  const events = { info: () => undefined, warn: (_o: object, msg: string) => { warnings.push(msg); } };
  const link = { timeoutMs: 1000, guard: <T>(f: () => Promise<T>): Promise<T> => f(), js: { publish: async () => acks.shift() } };
  const state = [{ first, last, bytes: 0 }];
  const Ctor = NatsLog as unknown as new (link: unknown, o: unknown, ev: unknown, st: typeof state) => NatsLog;
  const log = new Ctor(link, { prefix: 'iotgw', partitions: 1, replicas: 1, retentionMs: -1, retentionBytes: -1, maxRecordBytes: -1 }, events, state);
  const hooks = log as unknown as { get(p: number, seq: number): Promise<StoredMsg | null>; next(p: number, seq: number): Promise<StoredMsg | null> };
  hooks.get = async (_p, seq) => {
    gets.push(seq);
    if (late.delete(seq)) return null;
    return seq >= kept && seq <= last ? stored(seq) : null;
  };
  hooks.next = async (_p, seq) => {
    const s = Math.max(seq, kept);
    return s <= last ? stored(s) : null;
  };
  return { log, gets, warnings };
}

const offsets = (recs: { offset: number }[]): number[] => recs.map((r) => r.offset);

describe('NatsLog.read', () => {
  it('the first record of the window not readable yet: read again, not skipped for the ones after it', async () => {
    const { log } = fakeLog(1, 10, new Set([1]));
    assert.deepEqual(offsets(await log.read(0, 0, 100)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('a record missing after others ends the batch there (a hole to read again)', async () => {
    const { log } = fakeLog(1, 10, new Set([4]));
    assert.deepEqual(offsets(await log.read(0, 0, 100)), [0, 1, 2]);
    assert.deepEqual(offsets(await log.read(0, 3, 100)), [3, 4, 5, 6, 7, 8, 9]);
  });

  it('records removed by retention (next_by_subj answers above them) are stepped over and move the start', async () => {
    const { log } = fakeLog(1, 10, new Set(), 5);
    assert.equal(log.startOffset(0), 0);
    assert.deepEqual(offsets(await log.read(0, 0, 100)), [4, 5, 6, 7, 8, 9]);
    assert.equal(log.startOffset(0), 4);
  });
});

describe('NatsLog.append', () => {
  const rec = { key: 't', timestamp: 1, headers: Buffer.alloc(0), value: Buffer.from('x') };

  it('a new record at a sequence this node was acknowledged for before is counted and logged; rising ones are not', async () => {
    const { log, warnings } = fakeLog(1, 0, new Set(), 1, [{ seq: 5, duplicate: false }, { seq: 6, duplicate: false }, { seq: 5, duplicate: false }, { seq: 7, duplicate: false }]);
    for (let i = 0; i < 4; i++) await log.append(rec);
    assert.equal(log.sequenceReuses, 1);
    assert.equal(warnings.filter((w) => w.includes('the stream lost records')).length, 1);
  });
});
