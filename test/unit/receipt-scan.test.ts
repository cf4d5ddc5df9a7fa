// Unit: the restart scan for QoS 2 receipts a crash cut off (DurableStore.scanReceipts) flags only the newest record per (publisher, packet id); a record whose id was reused later is superseded. Imports DurableStore, the record codec and node:test.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DurableStore } from '../../src/core/durable.ts';
import { encodeHeaders } from '../../src/core/record-codec.ts';
import { encodeReceipt } from '../../src/core/state-codec.ts';
import type { MessageLogPort } from '../../src/core/persistence.ts';
import { MemStore } from '../helpers/mem-store.ts';

type Rec = { key: string; timestamp: number; headers: Buffer; value: Buffer; partition: number; offset: number };

function setup(records: { p: number; sender: string; id: number; t: number }[]): { store: DurableStore; map: Map<string, Buffer> } {
  const parts: Rec[][] = [[], []];
  for (const r of records) {
    const headers = encodeHeaders({ topic: 't', payload: Buffer.alloc(0), qos: 2, retain: false, properties: {}, createdAt: r.t, expiresAt: 0, senderId: r.sender }, r.id);
    parts[r.p]!.push({ key: 't', timestamp: r.t, headers, value: Buffer.alloc(0), partition: r.p, offset: parts[r.p]!.length });
  }
  const state = new MemStore();
  const map = state.map;
  const log: MessageLogPort = {
    partitions: 2,
    append: async () => ({ partition: 0, offset: 0 }),
    read: async (p, offset, max) => parts[p]!.filter((r) => r.offset >= offset).slice(0, max),
    endOffset: (p) => parts[p]!.length,
    startOffset: () => 0,
    offsetForTime: async () => 0,
    close: async () => undefined,
  };
  return { store: new DurableStore(log, state, false), map };
}

async function scan(store: DurableStore): Promise<string[]> {
  const out: string[] = [];
  await store.scanReceipts([0, 0], (s, id) => out.push(`${s}/${id}`));
  return out.sort();
}

describe('receipt scan after a crash', () => {
  it('a record whose receipt is missing is flagged; one whose receipt is there is not', async () => {
    const { store, map } = setup([{ p: 0, sender: 'pub', id: 1, t: 10 }, { p: 0, sender: 'pub', id: 2, t: 11 }]);
    map.set('q/pub/1', encodeReceipt({ p: 0, o: 0, released: true, t: 10 }));
    assert.deepEqual(await scan(store), ['pub/2']);
  });

  it('an id reused later in the same partition: only the newest record counts', async () => {
    const { store, map } = setup([{ p: 0, sender: 'pub', id: 7, t: 10 }, { p: 0, sender: 'pub', id: 7, t: 20 }]);
    map.set('q/pub/7', encodeReceipt({ p: 0, o: 1, released: true, t: 20 }));
    assert.deepEqual(await scan(store), [], 'the old record is superseded by the newer, completed flow');
  });

  it('an id reused in another partition: ordered by the receipt time', async () => {
    const { store, map } = setup([{ p: 0, sender: 'pub', id: 7, t: 10 }, { p: 1, sender: 'pub', id: 7, t: 20 }]);
    map.set('q/pub/7', encodeReceipt({ p: 1, o: 0, released: true, t: 20 }));
    assert.deepEqual(await scan(store), []);
  });

  it('the newest record of a reused id with its receipt cut off is flagged (the receipt still names the older one)', async () => {
    const { store, map } = setup([{ p: 0, sender: 'pub', id: 7, t: 10 }, { p: 1, sender: 'pub', id: 7, t: 20 }]);
    map.set('q/pub/7', encodeReceipt({ p: 0, o: 0, released: true, t: 10 }));
    assert.deepEqual(await scan(store), ['pub/7']);
  });
});
