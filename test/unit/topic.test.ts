// Unit tests for src/core/topic.ts: table-driven names, filters, $share parsing and the reference matcher. Imports node:test, node:assert and ../../src/core/topic.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateTopicName, validateTopicFilter, parseShared, topicMatches, hasWildcard } from '../../src/core/topic.ts';

const MAX = 128;

test('validateTopicName: valid names', () => {
  const valid = [
    'sport/tennis/player1', 'sport', '/', '/finance', 'a//b', 'sport/', '$SYS/broker/clients',
    'ümlaut/温度', 'emoji/😀', 'with space', '$share', 'a'.repeat(65535), 'é'.repeat(32767) + 'a',
  ];
  for (const t of valid) assert.equal(validateTopicName(t, MAX), undefined, JSON.stringify(t.slice(0, 40)));
});

test('validateTopicName: invalid names', () => {
  const invalid: [string, string][] = [
    ['', 'empty [MQTT-4.7.3-1]'],
    ['sport/+', 'plus [MQTT-3.3.2-2]'],
    ['sport/#', 'hash [MQTT-3.3.2-2]'],
    ['+', 'lone plus'],
    ['a+b', 'plus inside a level'],
    ['a#', 'hash inside a level'],
    ['a\u0000b', 'U+0000 [MQTT-1.5.4-2]'],
    ['bad\uFFFDutf8', 'U+FFFD marks ill-formed UTF-8 [MQTT-1.5.4-1]'],
    ['lone\uD800', 'unpaired high surrogate'],
    ['lone\uDC00x', 'unpaired low surrogate'],
    ['a'.repeat(65536), 'over 65535 bytes'],
    ['é'.repeat(32768), 'over 65535 bytes in UTF-8 (2 bytes each)'],
  ];
  for (const [t, why] of invalid) assert.equal(validateTopicName(t, MAX), 'TOPIC_NAME_INVALID', why);
});

test('validateTopicName: level limit counts empty levels', () => {
  assert.equal(validateTopicName('a/b/c', 3), undefined);
  assert.equal(validateTopicName('a/b/c/', 3), 'TOPIC_NAME_INVALID');
  assert.equal(validateTopicName('//', 3), undefined);
  assert.equal(validateTopicName('///', 3), 'TOPIC_NAME_INVALID');
});

test('validateTopicFilter: valid filters', () => {
  const valid = [
    'sport/tennis/player1/#', 'sport/tennis/#', 'sport/#', '#', '+', '+/+', '/+', '+/tennis/#', 'sport/+/player1',
    'sport/+', '$SYS/#', '$SYS/monitor/+', 'a//b', '/', '+/', '/#',
    '$share/g/sport/#', '$share/group1/+', '$share/g/#', '$share/g//', '$share/ümlaut/a', '$share', '$sharex/a',
  ];
  for (const f of valid) assert.equal(validateTopicFilter(f, MAX), undefined, f);
});

test('validateTopicFilter: invalid filters', () => {
  const invalid: [string, string][] = [
    ['', 'empty'],
    ['sport/tennis#', '# not alone in its level [MQTT-4.7.1-1]'],
    ['sport/tennis/#/ranking', '# not last [MQTT-4.7.1-1]'],
    ['#/a', '# not last'],
    ['##', 'double hash'],
    ['sport+', '+ not alone [MQTT-4.7.1-2]'],
    ['sport/+player1', '+ not alone'],
    ['++', 'double plus'],
    ['a/+b/c', '+ followed by text'],
    ['a\u0000', 'U+0000'],
    ['a/\uFFFD', 'U+FFFD'],
    ['$share/g', 'no filter after group [MQTT-4.8.2-2]'],
    ['$share/g/', 'empty filter [MQTT-4.8.2-2]'],
    ['$share//a', 'empty group [MQTT-4.8.2-1]'],
    ['$share/', 'nothing after prefix'],
    ['$share/g+/a', '+ in group [MQTT-4.8.2-1]'],
    ['$share/g#/a', '# in group [MQTT-4.8.2-1]'],
    ['$share/+/a', '+ as group'],
    ['$share/g/a#', 'inner filter invalid'],
    ['$share/g\u0000/a', 'U+0000 in group'],
    ['a'.repeat(65536), 'too long'],
  ];
  for (const [f, why] of invalid) assert.equal(validateTopicFilter(f, MAX), 'TOPIC_FILTER_INVALID', why);
});

test('validateTopicFilter: level limit applies to the inner filter of $share', () => {
  assert.equal(validateTopicFilter('a/+/#', 3), undefined);
  assert.equal(validateTopicFilter('a/+/b/#', 3), 'TOPIC_FILTER_INVALID');
  assert.equal(validateTopicFilter('$share/g/a/b/c', 3), undefined);
  assert.equal(validateTopicFilter('$share/g/a/b/c/d', 3), 'TOPIC_FILTER_INVALID');
});

test('parseShared', () => {
  assert.deepEqual(parseShared('$share/g/a/b'), { group: 'g', filter: 'a/b' });
  assert.deepEqual(parseShared('$share/consumer1/sport/tennis/+'), { group: 'consumer1', filter: 'sport/tennis/+' });
  assert.deepEqual(parseShared('$share/g/#'), { group: 'g', filter: '#' });
  assert.deepEqual(parseShared('$share/g//'), { group: 'g', filter: '/' });
  assert.equal(parseShared('a/b'), undefined);
  assert.equal(parseShared('$share'), undefined);
  assert.equal(parseShared('$SHARE/g/a'), undefined);
  assert.equal(parseShared('$sharex/g/a'), undefined);
});

test('hasWildcard', () => {
  assert.equal(hasWildcard('a/b'), false);
  assert.equal(hasWildcard('a/+'), true);
  assert.equal(hasWildcard('#'), true);
});

test('topicMatches: spec examples and edge cases', () => {
  const rows: [string, string, boolean][] = [
    // [MQTT 4.7.1.2] multi-level wildcard
    ['sport/tennis/player1/#', 'sport/tennis/player1', true],
    ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
    ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
    ['sport/#', 'sport', true],
    ['#', 'sport/tennis', true],
    ['#', '/', true],
    // [MQTT 4.7.1.3] single-level wildcard
    ['sport/tennis/+', 'sport/tennis/player1', true],
    ['sport/tennis/+', 'sport/tennis/player2', true],
    ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
    ['sport/+', 'sport', false],
    ['sport/+', 'sport/', true],
    ['+/+', '/finance', true],
    ['/+', '/finance', true],
    ['+', '/finance', false],
    ['+', 'finance', true],
    ['+/tennis/#', 'sport/tennis/player1', true],
    ['+/tennis/#', 'sport/tennis', true],
    ['+/tennis/#', 'sport/golf', false],
    // literal and case sensitivity
    ['ACCOUNTS', 'Accounts', false],
    ['a/b', 'a/b', true],
    ['a/b', 'a/b/', false],
    ['a//b', 'a//b', true],
    ['a/+/b', 'a//b', true],
    // [MQTT-4.7.2-1] `$` topics
    ['#', '$SYS/broker', false],
    ['+/monitor/Clients', '$SYS/monitor/Clients', false],
    ['$SYS/#', '$SYS/monitor/Clients', true],
    ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
    ['$SYS/#', '$SYS', true],
    ['a/#', 'a/$b', true],
    ['a/+', 'a/$b', true],
    // $share prefix is stripped
    ['$share/g/sport/+', 'sport/tennis', true],
    ['$share/g/#', '$SYS/x', false],
  ];
  for (const [f, t, want] of rows) assert.equal(topicMatches(f, t), want, `${f} vs ${t}`);
});
