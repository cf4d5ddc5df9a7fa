// Unit: the cluster sequencer routes every record of a shared partition once, in offset order, whatever the order of local append resolutions, foreign appends and tail reads; the watermark moves only with routing. Imports the sequencer and record codec.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ClusterSequencer } from '../../src/core/cluster/sequencer.ts';
import { encodeHeaders } from '../../src/core/record-codec.ts';
import type { Message } from '../../src/core/message.ts';
import type { BackendLog } from '../../src/core/persistence.ts';
import { prng } from '../helpers/prng.ts';

type Rec = { key: string; timestamp: number; headers: Buffer; value: Buffer; partition: number; offset: number };

/** One partition whose reads resolve on a later turn, and whose append listeners the test calls by hand. */
class FakeLog {
  readonly recs: Rec[] = [];
  listeners: ((p: number, end: number) => void)[] = [];
  readonly log: BackendLog;
  constructor() {
    const self = this;
    this.log = {
      partitions: 1,
      partitionFor: () => 0,
      append: () => Promise.reject(new Error('unused')),
      read: (_p, from, max) => new Promise((r) => setImmediate(() => r(self.recs.slice(from, from + max).map((x) => ({ ...x }))))),
      endOffset: () => self.recs.length,
      startOffset: () => 0,
      offsetForTime: () => Promise.resolve(0),
      onAppend(l) {
        self.listeners.push(l);
        return () => undefined;
      },
      close: () => Promise.resolve(),
    };
  }
  /** Writes a record from `origin`; returns its offset. */
  write(origin: string, payload: string): number {
    const msg = message(payload);
    const offset = this.recs.length;
    this.recs.push({ key: 't', timestamp: 0, headers: encodeHeaders(msg, 0, origin), value: Buffer.from(payload), partition: 0, offset });
    return offset;
  }
  tell(): void {
    for (const l of this.listeners) l(0, this.recs.length);
  }
}

function message(payload: string): Message {
  return { topic: 't', payload: Buffer.from(payload), qos: 1, retain: false, properties: {}, createdAt: 0, expiresAt: 0, senderId: 's' };
}

function setup(): { log: FakeLog; seq: ClusterSequencer; routed: string[]; mark: { w: number } } {
  const log = new FakeLog();
  const mark = { w: 0 };
  const routed: string[] = [];
  const seq = new ClusterSequencer({
    nodeId: 'me',
    log: log.log,
    mark: { routed: () => mark.w, markRouted: (ref) => void (mark.w = Math.max(mark.w, ref.offset + 1)) },
    route: (msg, foreign) => {
      // The watermark has passed the record when it is routed (a session falling behind now gets a cursor past it).
      assert.equal(mark.w, msg.ref!.offset + 1, 'routed in the turn the watermark passes it');
      routed.push(`${foreign ? 'f' : 'l'}:${msg.payload.toString()}`);
    },
    logger: pino({ level: 'silent' }),
  });
  seq.start();
  return { log, seq, routed, mark };
}

const turns = async (n = 5): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('ClusterSequencer', () => {
  it('a local append resolving at the watermark is routed at once, without a read', () => {
    const { log, seq, routed } = setup();
    seq.appending(0);
    const o = log.write('me', 'a');
    const m = message('a');
    m.ref = { partition: 0, offset: o };
    seq.appended(m);
    assert.deepEqual(routed, ['l:a']);
  });

  it('a local append resolving above foreign records waits for them: offset order, each once', async () => {
    const { log, seq, routed, mark } = setup();
    log.write('other', 'x0');
    log.write('other', 'x1');
    seq.appending(0);
    const o = log.write('me', 'mine');
    const m = message('mine');
    m.ref = { partition: 0, offset: o };
    seq.appended(m);
    assert.deepEqual(routed, [], 'not before the foreign records below it');
    assert.equal(mark.w, 0);
    log.tell();
    await turns();
    assert.deepEqual(routed, ['f:x0', 'f:x1', 'l:mine']);
  });

  it('a record of ours read before its append resolved waits for it (its Message object is routed, not the read copy)', async () => {
    const { log, seq, routed } = setup();
    seq.appending(0);
    const o = log.write('me', 'early');
    log.write('other', 'after');
    log.tell();
    await turns();
    assert.deepEqual(routed, [], 'waits at our own record');
    const m = message('early');
    m.ref = { partition: 0, offset: o };
    seq.appended(m);
    await turns();
    assert.deepEqual(routed, ['l:early', 'f:after']);
  });

  it('a record of ours whose append was refused (or that predates this process) is routed from the log', async () => {
    const { log, seq, routed } = setup();
    seq.appending(0);
    log.write('me', 'orphan');
    log.write('other', 'next');
    log.tell();
    await turns();
    assert.deepEqual(routed, []);
    seq.failed(0);
    await turns();
    assert.deepEqual(routed, ['f:orphan', 'f:next']);
  });

  it('reached() resolves once the watermark passed the wanted position', async () => {
    const { log, seq } = setup();
    let done = false;
    void seq.reached([3]).then(() => (done = true));
    log.write('other', 'a');
    log.write('other', 'b');
    log.tell();
    await turns();
    assert.equal(done, false);
    log.write('other', 'c');
    log.tell();
    await turns();
    assert.equal(done, true);
  });

  it('random interleavings (seeded): every record once, in offset order', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rnd = prng(seed);
      const { log, seq, routed } = setup();
      const unresolved: Message[] = [];
      const expect: string[] = [];
      for (let step = 0; step < 200; step++) {
        const r = rnd();
        if (r < 0.35) {
          const name = `o${step}`;
          log.write('other', name);
          expect.push(`f:${name}`);
        } else if (r < 0.6) {
          seq.appending(0);
          const name = `m${step}`;
          const o = log.write('me', name);
          const m = message(name);
          m.ref = { partition: 0, offset: o };
          unresolved.push(m);
          expect.push(`l:${name}`);
        } else if (r < 0.8 && unresolved.length > 0) {
          seq.appended(unresolved.shift()!); // resolutions in offset order (one node's appends)
        } else if (r < 0.9) log.tell();
        else await turns(1);
      }
      while (unresolved.length) seq.appended(unresolved.shift()!);
      log.tell();
      for (let i = 0; i < 50 && routed.length < expect.length; i++) await turns(2);
      const byOffset = expect; // written in offset order
      assert.deepEqual(routed, byOffset, `seed ${seed}`);
    }
  });
});
