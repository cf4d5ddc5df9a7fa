// Unit tests of MQTT 5 topic aliases both ways. Imports protocols/mqtt/topic-aliases.ts and src/core/errors.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InboundAliases, OutboundAliases } from '../../protocols/mqtt/topic-aliases.ts';
import { GatewayError } from '../../src/core/errors.ts';

const code = (c: string) => (e: unknown) => e instanceof GatewayError && e.code === c;

test('inbound: no alias passes the topic; a topic binds, an empty topic uses, a new topic rebinds', () => {
  const a = new InboundAliases(3);
  assert.equal(a.resolve('x/y', undefined), 'x/y');
  assert.equal(a.resolve('a/b', 1), 'a/b');
  assert.equal(a.resolve('', 1), 'a/b');
  assert.equal(a.resolve('c', 1), 'c');
  assert.equal(a.resolve('', 1), 'c');
});

test('inbound: alias 0 or above the maximum is 0x94 [MQTT-3.3.2-8], [MQTT-3.3.2-9]; unknown alias a protocol error', () => {
  const a = new InboundAliases(3);
  assert.throws(() => a.resolve('t', 0), code('TOPIC_ALIAS_INVALID'));
  assert.throws(() => a.resolve('t', 4), code('TOPIC_ALIAS_INVALID'));
  assert.throws(() => a.resolve('', 2), code('PROTOCOL_ERROR'));
  assert.throws(() => new InboundAliases(0).resolve('t', 1), code('TOPIC_ALIAS_INVALID'));
});

test('outbound: none without a client maximum; new topics bind 1..max, known ones go as empty topic + alias', () => {
  assert.deepEqual(new OutboundAliases(0).assign('a'), { topic: 'a' });
  const o = new OutboundAliases(2);
  assert.deepEqual(o.assign('a'), { topic: 'a', alias: 1 });
  assert.deepEqual(o.assign('b'), { topic: 'b', alias: 2 });
  assert.deepEqual(o.assign('c'), { topic: 'c' }, 'full: no alias');
  assert.deepEqual(o.assign('a'), { topic: '', alias: 1 });
  assert.deepEqual(o.assign('b'), { topic: '', alias: 2 });
  assert.deepEqual(o.assign('c'), { topic: 'c' });
});
