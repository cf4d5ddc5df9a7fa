// The NATS backend's byte formats (src/server/nats/codec.ts): record framing, topic -> subject tokens, state key <-> KV key. Imports the codec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prng } from '../helpers/prng.ts';
import {
  decodeRecordPayload, decodeStateKey, encodeRecordPayload, encodeStateKey, frameHashedValue, MAX_KV_KEY_BYTES, subjectTokens, unframeHashedValue,
} from '../../src/server/nats/codec.ts';

const KV_KEY = /^[-/=_A-Za-z0-9]+$/; // what nats.js and the server accept, minus '.', which the encoding never emits
const SUBJECT_TOKEN = /^[^\s.*>]+$/;

test('a record comes back byte for byte: binary headers, unicode key, any timestamp, empty parts', () => {
  const cases = [
    { key: 'a/b', timestamp: 1_700_000_000_123, headers: Buffer.from([0, 1, 2, 0xff, 0x0a, 0x0d]), value: Buffer.from('hello') },
    { key: '', timestamp: 0, headers: Buffer.alloc(0), value: Buffer.alloc(0) },
    { key: 'ü/\u0000/ /+/#', timestamp: -1.5, headers: Buffer.alloc(300, 7), value: Buffer.alloc(70_000, 0xab) },
  ];
  for (const c of cases) {
    const back = decodeRecordPayload(encodeRecordPayload(c));
    assert.ok(back);
    assert.equal(back.key, c.key);
    assert.equal(back.timestamp, c.timestamp);
    assert.deepEqual(Buffer.from(back.headers), c.headers);
    assert.deepEqual(Buffer.from(back.value), c.value);
  }
});

test('a payload that is not a record is refused, not misread', () => {
  const good = encodeRecordPayload({ key: 'k', timestamp: 1, headers: Buffer.from('h'), value: Buffer.from('v') });
  assert.equal(decodeRecordPayload(Buffer.from('plain text from someone else')), null);
  assert.equal(decodeRecordPayload(good.subarray(0, 14)), null, 'cut inside the key');
  const wrongVersion = Buffer.from(good);
  wrongVersion[0] = 2;
  assert.equal(decodeRecordPayload(wrongVersion), null);
  const badLen = Buffer.from(good);
  badLen.writeUInt32BE(1_000_000, 9);
  assert.equal(decodeRecordPayload(badLen), null);
});

test('topic levels become valid subject tokens, one per level; empty levels and long topics too', () => {
  assert.equal(subjectTokens('sensors/room-1/temp_c'), 'sensors.room-1.temp_c');
  assert.equal(subjectTokens('/a//b/'), '~.a.~.b.~');
  assert.equal(subjectTokens('a.b/c d/*/>'), 'a~2Eb.c~20d.~2A.~3E');
  assert.equal(subjectTokens('ü'), '~C3~BC');
  const long = subjectTokens('x/'.repeat(2000));
  assert.match(long, /^~h\.[0-9a-f]{64}$/);
  for (const t of [subjectTokens('/a//b/'), subjectTokens('a.b/c d/*/>'), long]) for (const tok of t.split('.')) assert.match(tok, SUBJECT_TOKEN);
});

test('state keys map reversibly into the KV key alphabet (/, U+0000, spaces, +, #, dots, unicode, empty)', () => {
  const keys = ['s/client-1', 'q/c 1/17', 'r/a/+/#', '\u0000', 'x.y', '.lead', 'trail.', '=', '=41', '', 'ü/日本/🙂', 'a\nb', '$SYS/x'];
  const rnd = prng(11);
  for (let i = 0; i < 200; i++) keys.push(Array.from({ length: 1 + Math.floor(rnd() * 20) }, () => String.fromCodePoint(Math.floor(rnd() * 0x2ff))).join(''));
  const seen = new Map<string, string>();
  for (const k of keys) {
    const { kvKey, hashed } = encodeStateKey(k);
    assert.equal(hashed, false);
    assert.match(kvKey, KV_KEY, `${JSON.stringify(k)} -> ${kvKey}`);
    assert.equal(decodeStateKey(kvKey), k);
    const before = seen.get(kvKey);
    assert.ok(before === undefined || before === k, `collision: ${JSON.stringify(before)} and ${JSON.stringify(k)}`);
    seen.set(kvKey, k);
  }
  assert.equal(decodeStateKey('=4'), null, 'not ours: a broken escape');
});

test('a key too long for a KV key is hashed and carried in its value', () => {
  const k = `s/${'é'.repeat(MAX_KV_KEY_BYTES)}`;
  const { kvKey, hashed } = encodeStateKey(k);
  assert.equal(hashed, true);
  assert.match(kvKey, /^=H[0-9a-f]{64}$/);
  assert.deepEqual(decodeStateKey(kvKey), { hashed: true });
  const framed = frameHashedValue(k, Buffer.from([1, 2, 3]));
  const back = unframeHashedValue(framed);
  assert.equal(back?.key, k);
  assert.deepEqual(back && Buffer.from(back.value), Buffer.from([1, 2, 3]));
  assert.equal(unframeHashedValue(Buffer.from([0, 0, 0, 9, 1])), null);
});
