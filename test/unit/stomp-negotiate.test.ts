// Unit tests of STOMP CONNECT negotiation and client-frame header validation, without sockets. Imports protocols/stomp/negotiate.ts, frame-headers.ts and src/core/errors.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectedHeaders, heartbeats, negotiateVersion, parseHeartBeat, validateClientName } from '../../protocols/stomp/negotiate.ts';
import { ackModeOf, isDurable, prefetchOf, required, settlementOf, subscribeTarget, unsubscribeId } from '../../protocols/stomp/frame-headers.ts';
import type { StompFrame } from '../../protocols/stomp/frame.ts';
import { GatewayError } from '../../src/core/errors.ts';

const frame = (command: string, headers: [string, string][]): StompFrame => ({ command, headers, body: Buffer.alloc(0) });
const code = (c: string) => (e: unknown) => e instanceof GatewayError && e.code === c;

test('version: absent accept-version is 1.0; the highest shared wins; none shared is undefined', () => {
  const table: [string | undefined, string | undefined][] = [
    [undefined, '1.0'],
    ['1.0', '1.0'],
    ['1.0,1.1', '1.1'],
    ['1.1, 1.2 ,1.0', '1.2'],
    ['1.2', '1.2'],
    ['2.0', undefined],
    ['', undefined],
  ];
  for (const [accept, want] of table) assert.equal(negotiateVersion(accept), want, String(accept));
});

test('heart-beat: parsed cx,cy; malformed is STOMP_HEADER_INVALID', () => {
  assert.deepEqual(parseHeartBeat(undefined), { cx: 0, cy: 0 });
  assert.deepEqual(parseHeartBeat(' 100 , 2000 '), { cx: 100, cy: 2000 });
  for (const bad of ['1', 'a,b', '1,2,3', '-1,0', '1234567890,0']) assert.throws(() => parseHeartBeat(bad), code('STOMP_HEADER_INVALID'), bad);
});

test('heart-beat intervals: max of both sides, off when either side is 0 (1.2 "Heart-beating")', () => {
  assert.deepEqual(heartbeats({ cx: 0, cy: 0 }, 10000, 10000), { out: 0, in: 0 });
  assert.deepEqual(heartbeats({ cx: 500, cy: 20000 }, 10000, 1000), { out: 20000, in: 1000 });
  assert.deepEqual(heartbeats({ cx: 5000, cy: 100 }, 0, 1000), { out: 0, in: 5000 });
  assert.deepEqual(heartbeats({ cx: 5000, cy: 100 }, 1000, 0), { out: 1000, in: 0 });
});

test('client-id: absent or 1..256 characters', () => {
  assert.equal(validateClientName(undefined), undefined);
  assert.equal(validateClientName('app-1'), 'app-1');
  assert.equal(validateClientName('x'.repeat(256))?.length, 256);
  assert.throws(() => validateClientName(''), code('STOMP_HEADER_INVALID'));
  assert.throws(() => validateClientName('x'.repeat(257)), code('STOMP_HEADER_INVALID'));
});

test('CONNECTED headers: 1.0 has no version or heart-beat', () => {
  assert.deepEqual(connectedHeaders('1.0', 1, 2, 's', 'gw'), [['session', 's'], ['server', 'gw']]);
  assert.deepEqual(connectedHeaders('1.2', 1, 2, 's', 'gw'), [['version', '1.2'], ['heart-beat', '1,2'], ['session', 's'], ['server', 'gw']]);
});

test('SUBSCRIBE / UNSUBSCRIBE ids: 1.0 falls back to the destination, 1.1+ require id', () => {
  const sub = frame('SUBSCRIBE', [['destination', '/topic/a']]);
  assert.deepEqual(subscribeTarget(sub, '1.0'), { dest: '/topic/a', id: '/topic/a' });
  assert.throws(() => subscribeTarget(sub, '1.2'), code('STOMP_HEADER_MISSING'));
  assert.deepEqual(subscribeTarget(frame('SUBSCRIBE', [['destination', '/topic/a'], ['id', '7']]), '1.1'), { dest: '/topic/a', id: '7' });
  assert.throws(() => subscribeTarget(frame('SUBSCRIBE', [['id', '7']]), '1.2'), code('STOMP_HEADER_MISSING'));
  assert.equal(unsubscribeId(frame('UNSUBSCRIBE', [['destination', '/q']]), '1.0'), '/q');
  assert.throws(() => unsubscribeId(frame('UNSUBSCRIBE', [['destination', '/q']]), '1.2'), code('STOMP_HEADER_MISSING'));
  assert.throws(() => required(frame('SEND', [['destination', '']]), 'destination'), code('STOMP_HEADER_MISSING'));
});

test('ack mode, prefetch-count and durable', () => {
  assert.equal(ackModeOf(frame('SUBSCRIBE', [])), 'auto');
  assert.equal(ackModeOf(frame('SUBSCRIBE', [['ack', 'client-individual']])), 'client-individual');
  assert.throws(() => ackModeOf(frame('SUBSCRIBE', [['ack', 'manual']])), code('STOMP_HEADER_INVALID'));
  assert.equal(prefetchOf(frame('SUBSCRIBE', []), 10, 100), 10);
  assert.equal(prefetchOf(frame('SUBSCRIBE', [['prefetch-count', '50']]), 10, 100), 50);
  assert.equal(prefetchOf(frame('SUBSCRIBE', [['prefetch-count', '5000']]), 10, 100), 100);
  for (const bad of ['0', '-1', 'x', '1234567']) assert.throws(() => prefetchOf(frame('SUBSCRIBE', [['prefetch-count', bad]]), 10, 100), code('STOMP_HEADER_INVALID'), bad);
  assert.equal(isDurable(frame('SUBSCRIBE', [['durable', 'true']])), true);
  assert.equal(isDurable(frame('SUBSCRIBE', [['persistent', 'true']])), true);
  assert.equal(isDurable(frame('SUBSCRIBE', [['durable', 'false']])), false);
});

test('ACK / NACK: id or message-id; NACK requeues unless requeue:false', () => {
  assert.deepEqual(settlementOf(frame('ACK', [['id', '3']])), { ackId: '3', positive: true, requeue: true });
  assert.deepEqual(settlementOf(frame('NACK', [['message-id', '4']])), { ackId: '4', positive: false, requeue: true });
  assert.deepEqual(settlementOf(frame('NACK', [['id', '5'], ['requeue', 'false']])), { ackId: '5', positive: false, requeue: false });
  assert.throws(() => settlementOf(frame('ACK', [])), code('STOMP_HEADER_MISSING'));
});
