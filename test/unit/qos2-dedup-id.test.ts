// Unit: the dedup id DurableStore.append gives an inbound QoS 2 record on a log that deduplicates (NATS) - the same for a resend of the same PUBLISH, also after a receipt write that failed, different for the next message under that packet id - and the resend after an append whose outcome was never learned, which uses its first copy when the log has it. Imports DurableStore, the state codec and node:test.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DurableStore } from '../../src/core/durable.ts';
import { decodeReceipt } from '../../src/core/state-codec.ts';
import type { InboundQos2, MessageLogPort } from '../../src/core/persistence.ts';
import { MemStore } from '../helpers/mem-store.ts';
import type { Message } from '../../src/core/message.ts';

function setup(): { store: DurableStore; ids: (string | undefined)[]; map: Map<string, Buffer>; failPuts: { on: boolean } } {
  const ids: (string | undefined)[] = [];
  const failPuts = { on: false };
  // Like NatsState: the cache takes the value at once; the store write may then fail.
  const state = new (class extends MemStore {
    override async put(k: string, v: Buffer): Promise<void> {
      this.map.set(k, v);
      if (failPuts.on) throw new Error('NATS connection lost');
    }
  })();
  const map = state.map;
  let end = 0;
  const log: MessageLogPort = {
    partitions: 1,
    deduplicates: true,
    append: async (input) => {
      ids.push(input.dedupId);
      return { partition: 0, offset: end++ };
    },
    read: async () => [],
    endOffset: () => end,
    startOffset: () => 0,
    offsetForTime: async () => 0,
    close: async () => undefined,
  };
  return { store: new DurableStore(log, state, false), ids, map, failPuts };
}

const msg = (payload: string): Message => ({ topic: 't/1', payload: Buffer.from(payload), qos: 2, retain: false, properties: {}, createdAt: 1, expiresAt: 0, senderId: 'pub' });

/** One PUBLISH attempt as the broker makes it: append, then the receipt (which may fail). */
async function attempt(store: DurableStore, payload: string, packetId: number): Promise<void> {
  const q: InboundQos2 = { sessionId: 'pub', packetId };
  const ref = await store.append(msg(payload), q);
  await store.recordQos2(q, ref, 1).catch(() => undefined);
}

describe('inbound QoS 2 dedup id', () => {
  it('a resend after a failed receipt write has the first copy\'s id; the next message under that id another', async () => {
    const { store, ids, map, failPuts } = setup();
    await attempt(store, 'a', 7); // flow 1, completes
    await store.releaseQos2('pub', 7);
    failPuts.on = true;
    await attempt(store, 'b', 7); // flow 2: stored, its receipt write fails (the cache has it, unreleased)
    assert.equal(ok(map.get('q/pub/7')).released, false);
    failPuts.on = false;
    await attempt(store, 'b', 7); // the publisher's resend of flow 2
    assert.equal(ids[2], ids[1], 'the resend is recognised as the same message');
    await store.releaseQos2('pub', 7);
    await attempt(store, 'b', 7); // flow 3: a new message with the same content and id
    assert.notEqual(ids[3], ids[1], 'the next message under the id is a new one');
    assert.notEqual(ids[1], ids[0]);
  });

  it('a resend whose receipt write never reached the cache has the first copy\'s id too', async () => {
    const { store, ids, map } = setup();
    await attempt(store, 'a', 3);
    await store.releaseQos2('pub', 3);
    const before = map.get('q/pub/3')!;
    await attempt(store, 'b', 3);
    map.set('q/pub/3', before); // the failed write read back from the store: the released predecessor
    await attempt(store, 'b', 3);
    assert.equal(ids[2], ids[1]);
  });

  it('other content under the same id and predecessor is another message', async () => {
    const { store, ids } = setup();
    await attempt(store, 'a', 5);
    await attempt(store, 'c', 5); // v5: the first flow ended in a PUBREC error, a new message reuses the id
    assert.notEqual(ids[1], ids[0]);
  });
});

function ok(v: Buffer | undefined): { released: boolean } {
  assert.ok(v);
  const r = decodeReceipt(v);
  assert.ok(r.ok);
  return r.value;
}

describe('inbound QoS 2 resend after an append whose outcome was never learned', () => {
  /** A one-partition log. `fail.next`: 'lose' = the next append stores its record but its answer fails; 'refuse' = it fails without storing; 'receipt' = the next state write fails. */
  function storingLog(): { store: DurableStore; appends: () => number; fail: { next?: 'lose' | 'refuse' | 'receipt' } } {
    const recs: { key: string; timestamp: number; headers: Buffer; value: Buffer; partition: number; offset: number }[] = [];
    const fail: { next?: 'lose' | 'refuse' | 'receipt' } = {};
    const state = new (class extends MemStore {
      override async put(k: string, v: Buffer): Promise<void> {
        if (fail.next === 'receipt') {
          fail.next = undefined;
          throw new Error('NATS connection lost');
        }
        this.map.set(k, v);
      }
    })();
    const log: MessageLogPort = {
      partitions: 1,
      deduplicates: true,
      partitionFor: () => 0,
      append: async (input) => {
        const how = fail.next;
        fail.next = undefined;
        if (how === 'refuse') throw new Error('not connected');
        const r = { key: input.key, timestamp: input.timestamp, headers: input.headers, value: input.value, partition: 0, offset: recs.length };
        recs.push(r);
        if (how === 'lose') throw new Error('NATS connection lost');
        return { partition: 0, offset: r.offset };
      },
      read: async (_p, offset, max) => recs.filter((r) => r.offset >= offset).slice(0, max),
      endOffset: () => recs.length,
      startOffset: () => 0,
      offsetForTime: async () => 0,
      close: async () => undefined,
    };
    return { store: new DurableStore(log, state, false), appends: () => recs.length, fail };
  }

  it('the first copy is found in the log and used: nothing appended again', async () => {
    const { store, appends, fail } = storingLog();
    await store.append(msg('other'), { sessionId: 'pub', packetId: 1 });
    fail.next = 'lose';
    await assert.rejects(store.append(msg('b'), { sessionId: 'pub', packetId: 9 }));
    assert.equal(appends(), 2, 'the failed append stored its record');
    assert.deepEqual(await store.append(msg('b'), { sessionId: 'pub', packetId: 9 }), { partition: 0, offset: 1 });
    assert.equal(appends(), 2, 'the resend was not appended');
  });

  it('no first copy (the failed append stored nothing): the resend is appended', async () => {
    const { store, appends, fail } = storingLog();
    fail.next = 'refuse';
    await assert.rejects(store.append(msg('c'), { sessionId: 'pub', packetId: 4 }));
    assert.deepEqual(await store.append(msg('c'), { sessionId: 'pub', packetId: 4 }), { partition: 0, offset: 0 });
    assert.equal(appends(), 1);
  });

  it('stored, then its receipt write failed: the resend resolves at that record, nothing appended again', async () => {
    const { store, appends, fail } = storingLog();
    const q: InboundQos2 = { sessionId: 'pub', packetId: 3 };
    const ref = await store.append(msg('e'), q);
    fail.next = 'receipt';
    await assert.rejects(store.recordQos2(q, ref, 1));
    const again: InboundQos2 = { sessionId: 'pub', packetId: 3 };
    assert.deepEqual(await store.append(msg('e'), again), ref);
    assert.equal(appends(), 1);
    assert.equal(again.dedupId, q.dedupId);
  });

  it('another publisher\'s record with the same packet id and payload is not taken for the first copy', async () => {
    const { store, appends, fail } = storingLog();
    fail.next = 'refuse';
    await assert.rejects(store.append(msg('d'), { sessionId: 'pub', packetId: 6 }));
    await store.append({ ...msg('d'), senderId: 'other' }, { sessionId: 'other', packetId: 6 });
    assert.deepEqual(await store.append(msg('d'), { sessionId: 'pub', packetId: 6 }), { partition: 0, offset: 1 });
    assert.equal(appends(), 2);
  });
});
