// Unit: the record header's origin node (flag bit 5, issue 11): round trip, absent on single-node records, and placed last so the fields before it decode unchanged. Imports the record codec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHeaders, encodeHeaders, originOf } from '../../src/core/record-codec.ts';
import type { Message } from '../../src/core/message.ts';

const msg: Message = {
  topic: 'a/b', payload: Buffer.from('x'), qos: 2, retain: true, createdAt: 5, expiresAt: 99, senderId: 'dev-1',
  properties: { contentType: 'text/plain', correlationData: Buffer.from([1, 2, 3]), userProperties: { k: ['v1', 'v2'] } },
};

test('origin round-trips with every other field, and originOf reads it without the full decode', () => {
  const h = encodeHeaders(msg, 513, 'node-a');
  const d = decodeHeaders(h);
  assert.equal(d.origin, 'node-a');
  assert.equal(originOf(h), 'node-a');
  assert.deepEqual({ ...d, origin: '' }, decodeHeaders(encodeHeaders(msg, 513)));
  assert.equal(d.inboundPacketId, 513);
  assert.deepEqual(d.properties.correlationData, Buffer.from([1, 2, 3]));
  const bare = encodeHeaders({ ...msg, properties: {} }, 0, 'n2');
  assert.equal(originOf(bare), 'n2');
  assert.equal(decodeHeaders(bare).origin, 'n2');
});

test('a single-node record has no origin and the same bytes as before the field existed', () => {
  const h = encodeHeaders(msg, 7);
  assert.equal(h[1]! & 32, 0);
  assert.equal(originOf(h), '');
  assert.equal(decodeHeaders(h).origin, '');
  assert.deepEqual(encodeHeaders(msg, 7, ''), h);
});

test('the origin is appended last: the bytes before it are the single-node encoding (older readers decode them unchanged)', () => {
  const plain = encodeHeaders(msg, 9);
  const withOrigin = encodeHeaders(msg, 9, 'n1');
  assert.equal(withOrigin[1], plain[1]! | 32);
  assert.deepEqual(withOrigin.subarray(2, plain.length), plain.subarray(2));
  assert.equal(withOrigin.length, plain.length + 2 + 2);
});
