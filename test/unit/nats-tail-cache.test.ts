// Unit: the NATS log's tail cache (src/server/nats/tail-cache.ts): a run of consecutive sequences per partition, bounded by count and bytes, restarted by a gap. Imports the cache and node:test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TailCache } from '../../src/server/nats/tail-cache.ts';

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

test('holds the last maxRecords of a run, per partition, as copies', () => {
  const c = new TailCache(2, 3, 1 << 20);
  const src = bytes(4, 7);
  c.put(0, 10, src);
  src.fill(0); // the caller's buffer is reused: the cache kept a copy
  assert.deepEqual([...c.get(0, 10)!], [7, 7, 7, 7]);
  for (let seq = 11; seq <= 15; seq++) c.put(0, seq, bytes(1, seq));
  assert.equal(c.get(0, 12), undefined, 'dropped: only the last 3 are held');
  assert.deepEqual([13, 14, 15].map((s) => c.get(0, s)![0]), [13, 14, 15]);
  assert.equal(c.get(0, 16), undefined);
  assert.equal(c.get(1, 13), undefined, 'partitions are separate');
  assert.equal(c.bytes, 3);
});

test('a gap starts a new run; a sequence seen already is ignored', () => {
  const c = new TailCache(1, 100, 1 << 20);
  for (let seq = 1; seq <= 5; seq++) c.put(0, seq, bytes(1, seq));
  c.put(0, 3, bytes(1, 99));
  assert.equal(c.get(0, 3)![0], 3, 'not overwritten');
  c.put(0, 9, bytes(1, 9));
  assert.equal(c.get(0, 5), undefined, 'the old run is gone');
  assert.equal(c.get(0, 9)![0], 9);
  c.put(0, 10, bytes(1, 10));
  assert.equal(c.get(0, 10)![0], 10);
});

test('bounded by bytes (at least the newest record is kept), across many records without growing', () => {
  const c = new TailCache(1, 1_000_000, 1000);
  for (let seq = 1; seq <= 5000; seq++) c.put(0, seq, bytes(100, seq & 0xff));
  assert.ok(c.bytes <= 1000, `held ${c.bytes}`);
  assert.equal(c.get(0, 5000)![0], 5000 & 0xff);
  assert.equal(c.get(0, 4990), undefined);
  assert.ok(c.get(0, 4991), 'the last ten fit');
  c.put(0, 5001, bytes(5000, 1));
  assert.equal(c.bytes, 5000, 'a record larger than the bound is still kept alone');
  assert.ok(c.get(0, 5001));
});
