// PendingWork (src/core/backpressure.ts): counts pending bytes, pauses above the high-water mark, resumes at the low-water mark, counts pauses. Imports the core module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { PendingWork } from '../../src/core/backpressure.ts';
import type { Message } from '../../src/core/message.ts';

const msg = (bytes: number, topic = 't'): Message => ({
  topic, payload: Buffer.alloc(bytes), qos: 1, retain: false, properties: {}, createdAt: 0, expiresAt: 0, senderId: 'x',
}) as Message;

test('pauses once above the high-water mark, resumes at the low-water mark, one event each way', () => {
  const p = new PendingWork(1000, 400);
  const events: boolean[] = [];
  p.onChange((paused) => events.push(paused));
  const a = p.add(msg(499)); // 499 + 1 topic byte
  const b = p.add(msg(499));
  assert.equal(p.bytes, 1000);
  assert.equal(p.paused, false, 'at the mark is not above it');
  const c = p.add(msg(9));
  assert.equal(p.paused, true);
  const d = p.add(msg(99));
  assert.deepEqual(events, [true], 'no second pause event while paused');
  assert.equal(p.pauses, 1);
  p.done(a);
  assert.equal(p.paused, true, `${p.bytes} is above the low-water mark`);
  p.done(b);
  assert.equal(p.bytes, 110);
  assert.equal(p.paused, false);
  assert.deepEqual(events, [true, false]);
  p.done(c);
  p.done(d);
  assert.equal(p.bytes, 0);
  assert.equal(p.messages, 0);
  assert.equal(p.peakBytes, 1110);
});

test('high-water 0 never pauses; the low-water mark defaults to half', () => {
  const off = new PendingWork(0);
  off.add(msg(10_000_000));
  assert.equal(off.paused, false);
  assert.equal(off.pauses, 0);
  const p = new PendingWork(100);
  assert.equal(p.lowWater, 50);
  const s = p.add(msg(200));
  assert.equal(p.paused, true);
  const unsubscribe = p.onChange(() => assert.fail('removed listener called'));
  unsubscribe();
  p.done(s);
  assert.equal(p.paused, false);
  assert.ok(p.pausedMs >= 0 && p.pausedAt === 0);
});

test('config: persistence.maxPendingBytes defaults to 64 MiB, 0 is allowed (off), a negative value names the key', async () => {
  const { resolveConfig, ConfigError } = await import('../../config/schema.ts');
  assert.equal(resolveConfig({}).persistence.maxPendingBytes, 64 * 1024 * 1024);
  assert.equal(resolveConfig({ persistence: { maxPendingBytes: 0 } }).persistence.maxPendingBytes, 0);
  assert.throws(() => resolveConfig({ persistence: { maxPendingBytes: -1 } }), (e: unknown) => e instanceof ConfigError && /persistence\.maxPendingBytes/.test(e.message));
  assert.throws(() => resolveConfig({ persistence: { maxPendingBytes: '1MB' } }), /persistence\.maxPendingBytes: must be an integer/);
});
