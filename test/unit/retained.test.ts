// Unit tests for src/core/retained.ts: set/replace/delete, exact and wildcard matching, the $ rule, expiry, and a seeded cross-check against topicMatches. Imports node:test, node:assert and ../../src/core/{retained,topic,message}.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RetainedStore } from '../../src/core/retained.ts';
import { topicMatches } from '../../src/core/topic.ts';
import type { Message } from '../../src/core/message.ts';

function msg(topic: string, payload = 'x', expiresAt = 0): Message {
  return {
    topic, payload: Buffer.from(payload), qos: 1, retain: true, properties: {},
    createdAt: 1000, expiresAt, senderId: 'pub',
  };
}
const topics = (ms: Message[]): string[] => ms.map((m) => m.topic).sort();

test('set, replace, get, delete and empty-payload delete', () => {
  const s = new RetainedStore();
  assert.equal(s.set(msg('a/b', 'one')), 'set');
  assert.equal(s.set(msg('a/b', 'two')), 'set'); // [MQTT-3.3.1-5] replaces
  assert.equal(s.size, 1);
  assert.equal(s.get('a/b')?.payload.toString(), 'two');
  assert.equal(s.set(msg('a/b', '')), 'deleted'); // [MQTT-3.3.1-10]
  assert.equal(s.get('a/b'), undefined);
  assert.equal(s.size, 0);
  assert.equal(s.set(msg('a/b', '')), 'none'); // [MQTT-3.3.1-11] empty payload is never stored
  assert.equal(s.size, 0);
  s.set(msg('a/b'));
  s.set(msg('a'));
  assert.equal(s.delete('a'), true);
  assert.equal(s.delete('a'), false);
  assert.equal(s.get('a/b')?.topic, 'a/b');
  assert.deepEqual(topics([...s.values()]), ['a/b']);
});

test('match: exact, + and #, empty levels, the $ rule', () => {
  const s = new RetainedStore();
  for (const t of ['sport', 'sport/', 'sport/tennis', 'sport/tennis/player1', 'sport/golf', '/finance', 'a//b',
    '$SYS/broker/load', '$SYS', 'x/$y']) s.set(msg(t));
  const now = 5000;
  assert.deepEqual(topics(s.match('sport/tennis', now)), ['sport/tennis']);
  assert.deepEqual(topics(s.match('sport/nothing', now)), []);
  assert.deepEqual(topics(s.match('sport/+', now)), ['sport/', 'sport/golf', 'sport/tennis']);
  assert.deepEqual(topics(s.match('sport/#', now)), ['sport', 'sport/', 'sport/golf', 'sport/tennis', 'sport/tennis/player1']);
  assert.deepEqual(topics(s.match('+/+', now)), ['/finance', 'sport/', 'sport/golf', 'sport/tennis', 'x/$y']);
  assert.deepEqual(topics(s.match('+', now)), ['sport']);
  assert.deepEqual(topics(s.match('#', now)),
    ['/finance', 'a//b', 'sport', 'sport/', 'sport/golf', 'sport/tennis', 'sport/tennis/player1', 'x/$y']);
  assert.deepEqual(topics(s.match('a/+/b', now)), ['a//b']);
  assert.deepEqual(topics(s.match('$SYS/#', now)), ['$SYS', '$SYS/broker/load']); // [MQTT-4.7.2-1]
  assert.deepEqual(topics(s.match('+/broker/+', now)), []);
  assert.deepEqual(topics(s.match('$SYS', now)), ['$SYS']);
  assert.deepEqual(topics(s.match('$share/g/sport/#', now)), []); // retained go to non-shared subscriptions only
});

test('match drops expired messages from the store and does not return them', () => {
  const s = new RetainedStore();
  s.set(msg('e/1', 'x', 2000));
  s.set(msg('e/2', 'x', 0));
  s.set(msg('e/3', 'x', 9000));
  assert.deepEqual(topics(s.match('e/#', 1999)), ['e/1', 'e/2', 'e/3']);
  assert.deepEqual(topics(s.match('e/#', 2000)), ['e/2', 'e/3']);
  assert.equal(s.get('e/1'), undefined);
  assert.equal(s.size, 2);
  assert.deepEqual(topics(s.match('e/3', 9000)), []); // exact lookup expires too
  assert.equal(s.size, 1);
});

test('deleting prunes the trie so emptied branches do not linger', () => {
  const s = new RetainedStore();
  s.set(msg('p/q/r'));
  s.set(msg('p'));
  s.delete('p/q/r');
  s.delete('p');
  const root = (s as unknown as { root: { children?: unknown } }).root;
  assert.equal(root.children, undefined);
  s.set(msg('p/q'));
  assert.deepEqual(topics(s.match('p/#', 0)), ['p/q']);
});

test('cross-check: match agrees with topicMatches on random topics and filters (fixed seed)', () => {
  let seed = 12345;
  const rand = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  const words = ['a', 'b', '', '$s'];
  const pick = (): string => words[Math.floor(rand() * words.length)];
  const s = new RetainedStore();
  const all = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const n = 1 + Math.floor(rand() * 4);
    const t = Array.from({ length: n }, pick).join('/') || 'a';
    s.set(msg(t));
    all.add(t);
  }
  assert.equal(s.size, all.size);
  for (let i = 0; i < 1000; i++) {
    const n = 1 + Math.floor(rand() * 4);
    const parts = Array.from({ length: n }, (_, k) => {
      const x = rand();
      return k === n - 1 && x < 0.2 ? '#' : x < 0.5 ? '+' : pick();
    });
    const f = parts.join('/') || 'a';
    const want = [...all].filter((t) => topicMatches(f, t)).sort();
    assert.deepEqual(topics(s.match(f, 0)), want, f);
  }
});
