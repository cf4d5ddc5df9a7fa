// Unit tests of the pure SUBSCRIBE decision: packet checks and per-filter grants per version. Imports protocols/mqtt/subscribe.ts and src/core/errors.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ISubscribePacket } from 'mqtt-packet';
import { checkSubscribePacket, decideFilter, type FilterContext } from '../../protocols/mqtt/subscribe.ts';
import { GatewayError } from '../../src/core/errors.ts';

const ctx = (over: Partial<FilterContext> = {}): FilterContext => ({
  version: 5,
  maxTopicLevels: 8,
  maxSubscriptions: 0,
  subscriptionCount: 0,
  alreadySubscribed: false,
  authorized: () => true,
  subscriptionId: undefined,
  ...over,
});
const protocolError = (e: unknown) => e instanceof GatewayError && e.code === 'PROTOCOL_ERROR';

test('packet: no filter or Subscription Identifier 0 closes; otherwise the identifier is returned', () => {
  assert.throws(() => checkSubscribePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [] }), protocolError);
  const one = [{ topic: 'a', qos: 0 as const }];
  assert.throws(() => checkSubscribePacket({ cmd: 'subscribe', messageId: 1, subscriptions: one, properties: { subscriptionIdentifier: 0 } } as ISubscribePacket), protocolError);
  assert.equal(checkSubscribePacket({ cmd: 'subscribe', messageId: 1, subscriptions: one, properties: { subscriptionIdentifier: 9 } } as ISubscribePacket), 9);
  assert.equal(checkSubscribePacket({ cmd: 'subscribe', messageId: 1, subscriptions: one }), undefined);
});

test('refusals in order: invalid filter, then the limit, then the ACL (asked last)', () => {
  let asked = 0;
  const deny = () => (asked++, false);
  assert.deepEqual(decideFilter({ topic: 'a/#/b', qos: 1 }, ctx({ authorized: deny })), { kind: 'refuse', code: 'TOPIC_FILTER_INVALID', limit: false });
  assert.deepEqual(decideFilter({ topic: 'a/b/c', qos: 1 }, ctx({ maxTopicLevels: 2 })), { kind: 'refuse', code: 'TOPIC_FILTER_INVALID', limit: false });
  assert.deepEqual(decideFilter({ topic: 'x', qos: 1 }, ctx({ maxSubscriptions: 2, subscriptionCount: 2, authorized: deny })), { kind: 'refuse', code: 'QUOTA_EXCEEDED', limit: true });
  assert.equal(asked, 0, 'the ACL is not asked for a filter refused earlier');
  assert.equal(decideFilter({ topic: 'x', qos: 1 }, ctx({ maxSubscriptions: 2, subscriptionCount: 2, alreadySubscribed: true })).kind, 'subscribe', 're-subscribing is never over the limit');
  assert.deepEqual(decideFilter({ topic: 'x', qos: 1 }, ctx({ authorized: deny })), { kind: 'refuse', code: 'NOT_AUTHORIZED', limit: false });
  assert.equal(asked, 1);
});

test('no-local on a shared subscription closes a v5 connection [MQTT-3.8.3-4]; v3 has no no-local', () => {
  assert.throws(() => decideFilter({ topic: '$share/g/a', qos: 1, nl: true }, ctx()), protocolError);
  assert.equal(decideFilter({ topic: '$share/g/a', qos: 1, nl: true }, ctx({ version: 4 })).kind, 'subscribe');
});

test('options: v5 keeps no-local, retain-as-published, retain handling and the identifier; v3 gets none of them', () => {
  const s = { topic: 'a/+', qos: 2 as const, nl: true, rap: true, rh: 2 };
  assert.deepEqual(decideFilter(s, ctx({ subscriptionId: 4 })), {
    kind: 'subscribe',
    options: { qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2, subscriptionId: 4 },
  });
  assert.deepEqual(decideFilter(s, ctx({ version: 4 })), {
    kind: 'subscribe',
    options: { qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: undefined },
  });
});
