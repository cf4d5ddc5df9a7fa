// Golden files for every stored state format (test/unit/files/state/): each valid file decodes to the pinned value, each truncated / corrupt / unknown-version one is refused without throwing, and DurableStore restores sessions from them (bad records reported, not fatal). Imports the codecs, DurableStore and node:test.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import {
  decodeCursor,
  decodeFilter,
  decodeGroupCursor,
  decodeLegacySession,
  decodeReceipt,
  encodeReceipt,
  decodeSessionMeta,
  type Decoded,
} from '../../src/core/state-codec.ts';
import { decodeHeaders, decodeMessage, encodeHeaders } from '../../src/core/record-codec.ts';
import { DurableStore } from '../../src/core/durable.ts';
import type { MessageLogPort, StatePort } from '../../src/core/persistence.ts';

const DIR = join(fileURLToPath(new URL('.', import.meta.url)), 'files', 'state');
const file = (name: string): Buffer => readFileSync(join(DIR, name));

function ok<T>(d: Decoded<T>): T {
  if (!d.ok) assert.fail(`expected a value, got: ${d.why}`);
  return d.value;
}

describe('stored state formats: golden files', () => {
  it('session meta v2 (with and without a will)', () => {
    assert.deepEqual(ok(decodeSessionMeta(file('session-meta-v2.json'))), { expiryInterval: 600, detachedAt: 1764480000000 });
    const m = ok(decodeSessionMeta(file('session-meta-v2-will.json')));
    assert.equal(m.expiryInterval, 4294967295);
    assert.equal(m.will?.delay, 5);
    const will = decodeMessage(Buffer.from(m.will!.msg, 'base64'));
    assert.equal(will.topic, 'dev/1/status');
    assert.equal(will.payload.toString(), 'offline');
    assert.deepEqual(will.properties, { contentType: 'text/plain' });
  });

  it('subscription v1', () => {
    assert.deepEqual(ok(decodeFilter(file('filter-v1.json'))), { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 });
    assert.deepEqual(ok(decodeFilter(file('filter-v1-sid.json'))), { qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2, subscriptionId: 42 });
  });

  it('cursor / in-flight v1', () => {
    assert.deepEqual(ok(decodeCursor(file('cursor-v1.json'))), {
      watermarks: [120, 7, 0],
      nextPacketId: 9,
      inflight: [
        { packetId: 7, state: 'publish', ref: { p: 0, o: 117, qos: 1, retain: false, ids: [] } },
        { packetId: 8, state: 'pubrel', ref: { p: 1, o: 5, qos: 2, retain: false, ids: [42] } },
      ],
      extra: [
        { p: 2, o: 0, qos: 1, retain: true, ids: [] },
        { p: 0, o: 118, qos: 1, retain: false, ids: [], shared: true },
      ],
    });
  });

  it('receipt v1 and the unversioned receipt written before versions', () => {
    assert.deepEqual(ok(decodeReceipt(file('receipt-v1.json'))), { p: 3, o: 1000, released: false });
    assert.deepEqual(ok(decodeReceipt(file('receipt-unversioned.json'))), { p: 3, o: 1000, released: true });
    assert.deepEqual(ok(decodeReceipt(file('receipt-v1-marker.json'))), { p: 2, o: 41, released: false, t: 1700000000000, m: '2:17' });
    assert.deepEqual(encodeReceipt({ p: 2, o: 41, released: false, t: 1700000000000, m: '2:17' }), file('receipt-v1-marker.json'));
  });

  it('group cursor v1', () => {
    assert.deepEqual(ok(decodeGroupCursor(file('group-cursor-v1.json'))), { cursor: [10, 20] });
  });

  it('legacy whole-session image (pre-v2) splits into meta, subscriptions and cursor', () => {
    const l = ok(decodeLegacySession(file('session-legacy.json')));
    assert.equal(l.id, 'legacy-1');
    assert.deepEqual(l.meta, { expiryInterval: 3600, detachedAt: 1764480000000 });
    assert.deepEqual(l.subscriptions.map(([f]) => f), ['a/+', '$share/g/b']);
    assert.deepEqual(l.cursor.watermarks, [4, 0]);
    assert.deepEqual(l.cursor.inflight, [{ packetId: 4, state: 'publish', ref: { p: 0, o: 2, qos: 1, retain: false, ids: [] } }]);
    assert.deepEqual(l.cursor.extra, [{ p: 0, o: 3, qos: 1, retain: false, ids: [] }]);
  });

  it('message (retained / will) and record headers v1', () => {
    const m = decodeMessage(file('message-v1.bin'));
    assert.deepEqual({ topic: m.topic, payload: m.payload.toString(), qos: m.qos, retain: m.retain, ref: m.ref, createdAt: m.createdAt, senderId: m.senderId }, {
      topic: 'dev/1/status', payload: 'offline', qos: 1, retain: true, ref: { partition: 2, offset: 77 }, createdAt: 1764480000000, senderId: 'dev-1',
    });
    const h = decodeHeaders(file('record-headers-v1.bin'));
    assert.deepEqual(h, { qos: 1, retain: true, expiresAt: 0, senderId: 'dev-1', inboundPacketId: 513, properties: { contentType: 'text/plain' }, origin: '' });
    assert.deepEqual(encodeHeaders({ topic: 'x', payload: Buffer.alloc(0), qos: 1, retain: true, properties: { contentType: 'text/plain' }, createdAt: 0, expiresAt: 0, senderId: 'dev-1' }, 513), file('record-headers-v1.bin'), 'the encoder still writes the pinned bytes');
  });

  const refused: [string, (b: Buffer) => Decoded<unknown>][] = [
    ['session-meta-v2.truncated.json', decodeSessionMeta],
    ['session-meta-v2.corrupt.json', decodeSessionMeta],
    ['filter-v1.truncated.json', decodeFilter],
    ['filter-v1.corrupt.json', decodeFilter],
    ['filter-v9.unknown-version.json', decodeFilter],
    ['cursor-v1.truncated.json', decodeCursor],
    ['cursor-v1.corrupt.json', decodeCursor],
    ['receipt-v1.truncated.json', decodeReceipt],
    ['receipt-v1.corrupt.json', decodeReceipt],
    ['group-cursor-v1.truncated.json', decodeGroupCursor],
    ['group-cursor-v1.corrupt.json', decodeGroupCursor],
    ['session-legacy.truncated.json', decodeLegacySession],
    ['cursor-v1.json', decodeSessionMeta], // a valid record of another kind is not a session meta
  ];
  for (const [name, decode] of refused) {
    it(`refuses ${name} without throwing`, () => {
      const d = decode(file(name));
      assert.equal(d.ok, false);
      assert.ok(!d.ok && d.why.length > 0);
    });
  }

  it('a truncated binary message throws (callers catch it: DurableStore.loadRetained skips and reports)', () => {
    assert.throws(() => decodeMessage(file('message-v1.truncated.bin')));
  });
});

/** In-memory key/value store and a one-partition log, just enough for DurableStore. */
function fakes(): { state: StatePort & { map: Map<string, Buffer> }; log: MessageLogPort } {
  const map = new Map<string, Buffer>();
  const state = {
    map,
    get: (k: string) => map.get(k),
    put: async (k: string, v: Buffer) => void map.set(k, v),
    delete: async (k: string) => void map.delete(k),
    *entries(prefix = ''): IterableIterator<[string, Buffer]> {
      for (const e of map) if (e[0].startsWith(prefix)) yield e;
    },
    close: async () => undefined,
  };
  const records = Array.from({ length: 200 }, (_, o) => ({ key: 't', timestamp: o, headers: encodeHeaders({ topic: 't', payload: Buffer.alloc(0), qos: 1, retain: false, properties: {}, createdAt: 0, expiresAt: 0, senderId: 'p' }), value: Buffer.from(`m${o}`), partition: 0, offset: o }));
  const log: MessageLogPort = {
    partitions: 3,
    append: async () => ({ partition: 0, offset: records.length }),
    read: async (p, offset, max) => (p === 0 ? records.filter((r) => r.offset >= offset).slice(0, max) : []),
    endOffset: (p) => (p === 0 ? records.length : 0),
    startOffset: () => 0,
    offsetForTime: async () => 0,
    close: async () => undefined,
  };
  return { state, log };
}

describe('stored state formats: DurableStore restores from the golden files', () => {
  it('restores good sessions, migrates the legacy one, reports and skips bad records', async () => {
    const { state, log } = fakes();
    const put = (k: string, name: string): void => void state.map.set(k, file(name));
    put('s/dev-1', 'session-meta-v2-will.json');
    put('f/dev-1\u0000a/+', 'filter-v1.json');
    put('f/dev-1\u0000b/#', 'filter-v1-sid.json');
    put('f/dev-1\u0000bad/#', 'filter-v1.truncated.json');
    put('c/dev-1', 'cursor-v1.json');
    put('q/dev-1/12', 'receipt-v1.json');
    put('q/dev-1/13', 'receipt-unversioned.json'); // released: not restored
    put('s/broken', 'session-meta-v2.corrupt.json');
    put('s/nocursor', 'session-meta-v2.json');
    put('c/nocursor', 'cursor-v1.truncated.json');
    put('s/legacy-1', 'session-legacy.json');
    put('r/dev/1/status', 'message-v1.bin');
    put('r/broken', 'message-v1.truncated.bin');
    const store = new DurableStore(log, state, false);
    const bad: string[] = [];
    const report = (k: string): void => void bad.push(k);
    const retained = store.loadRetained(report);
    assert.deepEqual(retained.map((m) => m.topic), ['dev/1/status']);
    const sessions = await store.loadSessions(report);
    const byId = new Map(sessions.map((s) => [s.snapshot.id, s]));
    assert.deepEqual([...byId.keys()].sort(), ['dev-1', 'legacy-1', 'nocursor']);
    assert.deepEqual(bad.sort(), ['c/nocursor', 'c/nocursor', 'f/dev-1\u0000bad/#', 'r/broken', 's/broken'].sort());

    const dev = byId.get('dev-1')!;
    assert.equal(dev.will?.msg.topic, 'dev/1/status');
    assert.deepEqual(dev.snapshot.subscriptions.map(([f]) => f).sort(), ['a/+', 'b/#']);
    assert.deepEqual(dev.watermarks, [120, 7, 0]);
    assert.deepEqual(dev.snapshot.inboundQos2, [12]);
    // In-flight refs resolve from the log (partition 1 offset 5 does not exist in the fake: dropped, as after retention).
    assert.deepEqual(dev.snapshot.inflight.map((f) => [f.packetId, f.req.msg.payload.toString()]), [[7, 'm117']]);
    assert.deepEqual(dev.snapshot.queue.map((q) => [q.msg.payload.toString(), q.shared === true]), [['m118', true]]);

    const legacy = byId.get('legacy-1')!;
    assert.deepEqual(legacy.watermarks, [4, 0]);
    assert.deepEqual(legacy.snapshot.queue.map((q) => q.msg.payload.toString()), ['m3']);
    await new Promise((r) => setImmediate(r));
    assert.ok(state.map.has('f/legacy-1\u0000a/+') && state.map.has('f/legacy-1\u0000$share/g/b'), 'legacy subscriptions rewritten as v2 keys');
    assert.deepEqual(byId.get('nocursor')!.watermarks, [200, 0, 0], 'no readable cursor: restarts at the routed watermarks');
  });

  it('a state write error is reported once and sticks', async () => {
    const { state, log } = fakes();
    let fail = false;
    const put = state.put;
    state.put = async (k, v) => {
      if (fail) throw new Error('disk full');
      return put(k, v);
    };
    const store = new DurableStore(log, state, false);
    const seen: string[] = [];
    store.onStateError = (err) => seen.push(err.message);
    await store.saveFilter('c1', 'a', { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 });
    fail = true;
    await assert.rejects(store.saveFilter('c1', 'b', { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }), /disk full/);
    await assert.rejects(store.saveSessionMeta('c1', 10, 0, undefined), /disk full/);
    assert.deepEqual(seen, ['disk full'], 'logged once');
    assert.equal(store.stateError?.message, 'disk full');
  });
});
