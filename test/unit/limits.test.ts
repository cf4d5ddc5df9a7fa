// Unit tests for the abuse-limit building blocks: the linear MQTT framer and its byte budget, token buckets, connection admission, retained limits, topic-shaped config values. Imports the units under test and node:test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MqttFramer } from '../../protocols/mqtt/framer.ts';
import { StompParser } from '../../protocols/stomp/parser.ts';
import { ByteBudget, ConnectionAdmission, LimitCounters, PublishMeter, TokenBucket } from '../../src/core/limits.ts';
import { GatewayError } from '../../src/core/errors.ts';
import { RetainedStore } from '../../src/core/retained.ts';
import { ConfigError, resolveConfig } from '../../config/schema.ts';
import { prng } from '../helpers/prng.ts';

/** A packet of type `t` with `n` body bytes (remaining length as a Variable Byte Integer). */
function packet(t: number, n: number, fill: number): Buffer {
  const len: number[] = [];
  let x = n;
  do {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    len.push(b);
  } while (x > 0);
  return Buffer.concat([Buffer.from([t, ...len]), Buffer.alloc(n, fill)]);
}


test('framer: any split of a packet stream (headers split too) yields the same packets; the budget is back to 0', () => {
  const pkts = [packet(0x30, 0, 1), packet(0x30, 5, 2), packet(0x30, 200, 3), packet(0x30, 20_000, 4), packet(0xc0, 0, 0), packet(0x30, 127, 5), packet(0x30, 128, 6)];
  const stream = Buffer.concat(pkts);
  const rand = prng(7);
  for (let round = 0; round < 200; round++) {
    const budget = new ByteBudget(1 << 20);
    const f = new MqttFramer(1 << 20, budget);
    const got: Buffer[] = [];
    let pos = 0;
    while (pos < stream.length) {
      const n = 1 + Math.floor(rand() * (round % 2 ? 7 : 3000));
      f.push(stream.subarray(pos, pos + n), (p) => (got.push(Buffer.from(p)), true));
      pos += n;
    }
    assert.equal(got.length, pkts.length, `round ${round}`);
    got.forEach((g, i) => assert.ok(g.equals(pkts[i]!), `round ${round} packet ${i}`));
    assert.equal(budget.held, 0);
    assert.equal(f.holding, 0);
  }
});

test('framer: an unfinished packet is reserved at its full size once; refusal throws QUOTA_EXCEEDED; reset() gives it back', () => {
  const budget = new ByteBudget(100_000);
  const a = new MqttFramer(1 << 20, budget);
  const p = packet(0x30, 60_000, 9);
  a.push(p.subarray(0, 10), () => true);
  assert.equal(budget.held, p.length);
  assert.equal(a.holding, p.length);
  const b = new MqttFramer(1 << 20, budget);
  assert.throws(() => b.push(p.subarray(0, 10), () => true), (e: unknown) => e instanceof GatewayError && e.code === 'QUOTA_EXCEEDED');
  a.reset();
  assert.equal(budget.held, 0);
  b.reset();
  const c = new MqttFramer(1 << 20, budget);
  let whole: Buffer | undefined;
  for (let i = 0; i < p.length; i += 20) c.push(p.subarray(i, i + 20), (x) => ((whole = x), true));
  assert.ok(whole?.equals(p));
  assert.equal(budget.held, 0);
});

test('framer: oversize and 5-byte lengths are refused from the header, also when the header arrives byte by byte', () => {
  const f = new MqttFramer(1000);
  f.push(Buffer.from([0x30]), () => true);
  assert.throws(() => f.push(Buffer.from([0xe9, 0x07]), () => true), (e: unknown) => e instanceof GatewayError && e.code === 'PACKET_TOO_LARGE');
  const g = new MqttFramer(1 << 28);
  for (const b of [0x30, 0xff, 0xff, 0xff]) g.push(Buffer.from([b]), () => true);
  assert.throws(() => g.push(Buffer.from([0xff]), () => true), (e: unknown) => e instanceof GatewayError && e.code === 'MALFORMED_PACKET');
});

test('stomp parser: a content-length body split in pieces is allocated once (reserved at its size) and released when emitted', () => {
  const budget = new ByteBudget(1 << 20);
  const p = new StompParser({ maxFrameBytes: 1 << 20, maxHeaders: 10, maxHeaderBytes: 1024, maxBodyBytes: 1 << 20 }, '1.2', budget);
  const body = Buffer.alloc(50_000, 7);
  const frame = Buffer.concat([Buffer.from(`SEND\ndestination:/topic/a\ncontent-length:${body.length}\n\n`), body, Buffer.from([0])]);
  const got: Buffer[] = [];
  let peak = 0;
  for (let i = 0; i < frame.length; i += 20) {
    p.push(frame.subarray(i, i + 20), (f) => got.push(f.body));
    peak = Math.max(peak, budget.held);
  }
  assert.equal(got.length, 1);
  assert.ok(got[0]!.equals(body));
  assert.ok(peak >= body.length && peak < body.length + 200, `peak ${peak}`);
  assert.equal(budget.held, 0);
  const small = new ByteBudget(10_000);
  const q = new StompParser({ maxFrameBytes: 1 << 20, maxHeaders: 10, maxHeaderBytes: 1024, maxBodyBytes: 1 << 20 }, '1.2', small);
  assert.throws(() => q.push(frame.subarray(0, 100), () => undefined), (e: unknown) => e instanceof GatewayError && e.code === 'STOMP_LIMIT_EXCEEDED');
  assert.equal(small.held, 0);
});

test('token bucket and publish meter: a burst passes, then debt in ms; rate 0 is unlimited', () => {
  const b = new TokenBucket(10, 10, 0);
  for (let i = 0; i < 10; i++) assert.ok(b.tryTake(1, 0));
  assert.equal(b.tryTake(1, 0), false);
  assert.ok(b.tryTake(1, 100));
  const m = new PublishMeter({ maxSubscriptions: 0, maxLogSubscriptions: 0, maxPublishRate: 10, maxPublishBytesRate: 0 }, 0);
  for (let i = 0; i < 10; i++) assert.equal(m.charge(100, 0), 0);
  assert.equal(m.charge(100, 0), 100);
  assert.equal(new TokenBucket(0, 0, 0).debtMs(0), 0);
});

test('connection admission: total, per address, per-address rate; release frees a slot; refusals counted', () => {
  const counters = new LimitCounters();
  const a = new ConnectionAdmission({ maxConnections: 3, maxConnectionsPerAddress: 2, connectionRatePerAddress: 0 }, counters);
  assert.equal(a.admit('x', 0), undefined);
  assert.equal(a.admit('x', 0), undefined);
  assert.equal(a.admit('x', 0), 'connections-per-address');
  assert.equal(a.admit('y', 0), undefined);
  assert.equal(a.admit('z', 0), 'connections');
  a.release('x');
  assert.equal(a.admit('z', 0), undefined);
  const r = new ConnectionAdmission({ maxConnections: 0, maxConnectionsPerAddress: 0, connectionRatePerAddress: 2 }, counters);
  assert.equal(r.admit('x', 0), undefined);
  assert.equal(r.admit('x', 0), undefined);
  assert.equal(r.admit('x', 0), 'connection-rate');
  assert.equal(r.admit('y', 0), undefined, 'another address has its own rate');
  assert.equal(r.admit('x', 600), undefined, 'the bucket refills');
  assert.deepEqual([...counters.refusals].sort(), [['connection-rate', 1], ['connections', 1], ['connections-per-address', 1]]);
});

test('retained limits: new topics past the count, growth past the bytes; replacing and deleting always allowed; $SYS not counted', () => {
  const s = new RetainedStore();
  s.setLimits(2, 100);
  const msg = (topic: string, n: number) => ({ topic, payload: Buffer.alloc(n, 1), qos: 0 as const, retain: true, properties: {}, createdAt: 0, expiresAt: 0, senderId: 't' });
  s.set(msg('$SYS/x', 10));
  assert.equal(s.admits('a', 10), undefined);
  s.set(msg('a', 10));
  s.set(msg('b', 10));
  assert.equal(s.admits('c', 10), 'retained-count');
  assert.equal(s.admits('a', 20), undefined);
  assert.equal(s.admits('a', 200), 'retained-bytes');
  assert.equal(s.admits('c', 0), undefined);
  s.set(msg('b', 0));
  assert.equal(s.admits('c', 10), undefined);
  assert.equal(s.bytes, 11);
});

const topicShaped: [string, unknown, string][] = [
  ['a wildcard queue name', { stomp: { queues: ['ok', '+'] } }, 'stomp.queues[1]'],
  ['a # queue name', { stomp: { queues: ['a/#'] } }, 'stomp.queues[0]'],
  ['a queue deeper than mqtt.maxTopicLevels', { mqtt: { maxTopicLevels: 3 }, stomp: { queues: ['a/b/c'] } }, 'stomp.queues[0]'],
  ['a wildcard dead-letter topic', { stomp: { deadLetterTopic: 'dlq/+' } }, 'stomp.deadLetterTopic'],
  ['a headers timeout longer than the request timeout', { http: { headersTimeoutMs: 5000, requestTimeoutMs: 1000 } }, 'http.headersTimeoutMs'],
  ['a NUL in a dead-letter topic', { stomp: { deadLetterTopic: 'dlq\u0000x' } }, 'stomp.deadLetterTopic'],
];
for (const [name, input, key] of topicShaped) {
  test(`config: rejects ${name}, naming ${key}`, () => {
    assert.throws(
      () => resolveConfig(input),
      (e: unknown) => e instanceof ConfigError && e.key === key && e.message.includes(key),
    );
  });
}

test('config: valid topic-shaped values and limits are accepted', () => {
  const c = resolveConfig({ stomp: { queues: ['orders', 'a/b'], deadLetterTopic: 'dlq/all' }, limits: { maxConnections: 5 } });
  assert.deepEqual(c.stomp.queues, ['orders', 'a/b']);
  assert.equal(c.limits.maxConnections, 5);
  assert.throws(() => resolveConfig({ limits: { maxConnections: -1 } }), (e: unknown) => e instanceof ConfigError && e.key === 'limits.maxConnections');
});
