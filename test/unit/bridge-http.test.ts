// Unit: the HTTP sink's pure parts: JSON / NDJSON encoding, batch sizing by count and bytes, backoff and Retry-After, config checks naming the bad key, the internal group name. Imports src/bridges/http and core modules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchFull, batchSize, bodyBytes, encodeBody, encodeMessage, sinkEntry, type EncodedMessage } from '../../src/bridges/http/encode.ts';
import { backoffMs, retryAfterMs } from '../../src/bridges/http/client.ts';
import { checkHttpSinks, httpSinkOptions, sinkGroupName } from '../../src/bridges/http/options.ts';
import { ConsumerGroup } from '../../src/core/consumer-group.ts';
import { parseLogFilter } from '../../src/core/log-subscriptions.ts';
import type { Message } from '../../src/core/message.ts';

function msg(topic: string, payload: Buffer | string, extra: Partial<Message> = {}, offset = 0): Message {
  return {
    topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos: 1, retain: false, properties: {}, createdAt: 1_700_000_000_000, expiresAt: 0, senderId: 'x',
    ref: { partition: 3, offset }, ...extra,
  };
}

const enc = (n: number, size: number): EncodedMessage[] => Array.from({ length: n }, () => encodeMessage(msg('t', 'x'.repeat(size)), 'text')).map((e, i) => ({ ...e, offset: i }));

test('sinkEntry: text for UTF-8 under auto, base64 otherwise; properties kept; position and timestamp', () => {
  const t = sinkEntry(msg('a/b', 'héllo', { properties: { contentType: 'text/plain', userProperties: { k: ['1', '2'] }, correlationData: Buffer.from([9]), messageExpiryInterval: 60 } }, 42), 'auto');
  assert.deepEqual(t, {
    topic: 'a/b', payload: 'héllo', encoding: 'text', qos: 1, retain: false,
    properties: { contentType: 'text/plain', messageExpiryInterval: 60, correlationData: 'CQ==', userProperties: { k: ['1', '2'] } },
    partition: 3, offset: 42, timestamp: 1_700_000_000_000,
  });
  const bin = Buffer.from([0xc3, 0x28, 0x00]); // invalid UTF-8
  assert.deepEqual([sinkEntry(msg('b', bin), 'auto').encoding, sinkEntry(msg('b', bin), 'auto').payload], ['base64', bin.toString('base64')]);
  assert.equal(sinkEntry(msg('b', 'plain'), 'base64').payload, Buffer.from('plain').toString('base64'));
  assert.equal(sinkEntry(msg('b', 'plain'), 'text').encoding, 'text');
  assert.deepEqual(sinkEntry(msg('b', ''), 'auto').properties, {});
});

test('encodeBody: JSON is {"messages":[...]}, NDJSON one line per message; bodyBytes predicts the length', () => {
  const batch = [encodeMessage(msg('a', 'line1\nline2'), 'auto'), encodeMessage(msg('b', Buffer.from([0xff])), 'auto')];
  const json = encodeBody('json', batch);
  const parsed = JSON.parse(json.toString('utf8')) as { messages: { topic: string; payload: string }[] };
  assert.deepEqual(parsed.messages.map((m) => [m.topic, m.payload]), [['a', 'line1\nline2'], ['b', '/w==']]);
  assert.equal(json.length, bodyBytes('json', 2, batch[0]!.json.length + batch[1]!.json.length));
  const nd = encodeBody('ndjson', batch);
  const lines = nd.toString('utf8').split('\n');
  assert.equal(lines.pop(), '');
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { topic: string }).topic), ['a', 'b'], 'a newline in a payload is escaped, not a line break');
  assert.equal(nd.length, bodyBytes('ndjson', 2, batch[0]!.json.length + batch[1]!.json.length));
  assert.equal(encodeBody('json', []).toString(), '{"messages":[]}');
});

test('batchSize: bounded by maxMessages and by body bytes; an oversized message goes alone; empty is 0', () => {
  assert.equal(batchSize('json', [], 10, 4096), 0);
  assert.equal(batchSize('json', enc(50, 10), 7, 1 << 20), 7);
  const big = enc(20, 100);
  for (const format of ['json', 'ndjson'] as const) {
    const n = batchSize(format, big, 1000, 1024);
    const body = encodeBody(format, big.slice(0, n));
    assert.ok(body.length <= 1024, `${format}: ${body.length}`);
    assert.ok(encodeBody(format, big.slice(0, n + 1)).length > 1024, `${format}: one more would not fit`);
  }
  assert.equal(batchSize('json', enc(3, 5000), 10, 1024), 1, 'a message over maxBytes is sent alone');
});

test('batchFull: by count or by bytes', () => {
  const five = enc(5, 10);
  const bytes = five.reduce((s, e) => s + e.json.length, 0);
  assert.equal(batchFull('json', five, bytes, 5, 1 << 20), true);
  assert.equal(batchFull('json', five, bytes, 6, 1 << 20), false);
  assert.equal(batchFull('ndjson', five, bytes, 100, bodyBytes('ndjson', 5, bytes)), true);
  assert.equal(batchFull('ndjson', five, bytes, 100, bodyBytes('ndjson', 5, bytes) + 1), false);
});

test('backoffMs: within [c/2, c] for c = min(maxMs, initialMs * 2^attempt); Retry-After in seconds or a date', () => {
  for (let a = 0; a < 12; a++) {
    const c = Math.min(1000, 10 * 2 ** a);
    assert.equal(backoffMs(a, 10, 1000, () => 0), Math.round(c / 2));
    assert.equal(backoffMs(a, 10, 1000, () => 1), c);
  }
  assert.equal(backoffMs(100, 10, 1000, () => 1), 1000, 'capped, no overflow');
  assert.equal(backoffMs(0, 1, 1, () => 0), 1, 'at least 1 ms');
  assert.equal(retryAfterMs('3'), 3000);
  assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4000), 6000);
  assert.equal(retryAfterMs(undefined), undefined);
  assert.equal(retryAfterMs('soon'), undefined);
});

test('checkHttpSinks: names the bad key; httpSinkOptions fills the defaults', () => {
  const bad = (e: unknown, levels = 32) => checkHttpSinks([e], levels)?.key;
  assert.equal(checkHttpSinks([{ name: 'a', url: 'http://127.0.0.1:1/x' }], 32), undefined);
  assert.equal(bad({ url: 'http://x' }), 'bridges.http[0].name');
  assert.equal(bad({ name: 'a/b', url: 'http://x' }), 'bridges.http[0].name');
  assert.equal(bad({ name: 'a', url: 'mqtt://x' }), 'bridges.http[0].url');
  assert.equal(bad({ name: 'a', url: 'http://u:p@x' }), 'bridges.http[0].url');
  assert.equal(bad({ name: 'a', url: 'http://x', filter: 'a/#/b' }), 'bridges.http[0].filter');
  assert.equal(bad({ name: 'a', url: 'http://x', filter: 'a/b/c' }, 2), 'bridges.http[0].filter');
  assert.equal(bad({ name: 'a', url: 'http://x', format: 'xml' }), 'bridges.http[0].format');
  assert.equal(bad({ name: 'a', url: 'http://x', batch: { maxBytes: 10 } }), 'bridges.http[0].batch.maxBytes');
  assert.equal(bad({ name: 'a', url: 'http://x', batch: { lingerMs: -1 } }), 'bridges.http[0].batch.lingerMs');
  assert.equal(bad({ name: 'a', url: 'http://x', timeoutMs: 1.5 }), 'bridges.http[0].timeoutMs');
  assert.equal(bad({ name: 'a', url: 'http://x', retry: { initialMs: 500, maxMs: 100 } }), 'bridges.http[0].retry.maxMs');
  assert.equal(bad({ name: 'a', url: 'http://x', headers: { 'Content-Type': 'x' } }), 'bridges.http[0].headers.Content-Type');
  assert.equal(bad({ name: 'a', url: 'http://x', headers: { 'X-A': 'a\r\nb' } }), 'bridges.http[0].headers.X-A');
  assert.equal(bad({ name: 'a', url: 'http://x', bearerToken: 't', tokenFile: '/f' }), 'bridges.http[0].tokenFile');
  assert.equal(bad({ name: 'a', url: 'http://x', deadLetterTopic: 'd/+' }), 'bridges.http[0].deadLetterTopic');
  assert.equal(bad({ name: 'a', url: 'http://x', tls: { ca: '/ca.pem' } }), 'bridges.http[0].tls');
  assert.equal(bad({ name: 'a', url: 'http://x', colour: 'red' }), 'bridges.http[0].colour');
  assert.equal(checkHttpSinks([{ name: 'a', url: 'http://x' }, { name: 'a', url: 'http://y' }], 32)?.key, 'bridges.http[1].name');
  const o = httpSinkOptions({ name: 'n1', url: 'https://x/y', batch: { maxMessages: 5 } });
  assert.equal(o.filter, '#');
  assert.equal(o.format, 'json');
  assert.equal(o.payloadEncoding, 'auto');
  assert.equal(o.from, 'next');
  assert.equal(o.deadLetterTopic, '$dlq/http/n1');
  assert.deepEqual(o.batch, { maxMessages: 5, maxBytes: 1024 * 1024, lingerMs: 50 });
  assert.deepEqual(o.tls, { ca: '', rejectUnauthorized: true });
});

test('the sink group `\\u0000bridge-http-<name>` is a valid core group, and no client can name it in $group/', () => {
  const name = sinkGroupName('orders');
  assert.equal(name, '\u0000bridge-http-orders');
  const log = { partitions: 1, read: async () => [], offsetForTime: async () => 0, startOffset: () => 0, endOffset: () => 0 };
  const store = { get: () => undefined, put: async () => undefined, delete: async () => undefined, entries: function* (): IterableIterator<[string, Buffer]> {} };
  assert.equal(new ConsumerGroup({ group: name, log, store }).group, name);
  const parsed = parseLogFilter(`$group/${name}/#`);
  assert.ok(parsed && 'error' in parsed, 'a client $group/ name with U+0000 is refused');
  const plain = parseLogFilter('$group/bridge-http-orders/#');
  assert.ok(plain && !('error' in plain) && plain.kind === 'group' && plain.group !== name, 'the same name without U+0000 is another group');
});
