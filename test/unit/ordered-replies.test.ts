// Unit tests of the in-order reply queue shared by MQTT acks and STOMP receipts. Imports protocols/ordered-replies.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OrderedReplies } from '../../protocols/ordered-replies.ts';

test('a ready reply with nothing ahead is sent at once', () => {
  const q = new OrderedReplies<string>();
  assert.equal(q.now('a'), 'a');
  assert.equal(q.size, 0);
});

test('replies ready out of order leave in request order', () => {
  const q = new OrderedReplies<string>();
  const s1 = q.later();
  assert.equal(q.now('2'), undefined, 'queued behind the waiting slot');
  const s3 = q.later();
  s3.value = '3';
  assert.deepEqual(q.take(), { send: [], close: false }, 'head not ready: nothing leaves');
  s1.value = '1';
  assert.deepEqual(q.take(), { send: ['1', '2', '3'], close: false });
  assert.equal(q.size, 0);
});

test('a failed slot at the head: what is ahead is sent, then close; nothing after it is', () => {
  const q = new OrderedReplies<string>();
  const a = q.later();
  const b = q.later();
  q.now('c');
  b.failed = true;
  assert.deepEqual(q.take(), { send: [], close: false });
  a.value = 'a';
  assert.deepEqual(q.take(), { send: ['a'], close: true });
  assert.equal(q.size, 0);
});

test('a closing reply is sent last, and what was queued after it is dropped', () => {
  const q = new OrderedReplies<string>();
  const d = q.later();
  q.now('after');
  d.value = 'bye';
  d.thenClose = true;
  assert.deepEqual(q.take(), { send: ['bye'], close: true });
  assert.equal(q.size, 0);
});
