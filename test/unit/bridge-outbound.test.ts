// Unit: the MQTT bridge's outbound pump over an in-memory log and offset store: start at the log's end, commit only the acknowledged prefix, bounded window, loop skip, rewind on connection loss, resume after a restart. Imports the pump, core types and node:test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../../src/core/message.ts';
import { OutboundPump, type SendResult } from '../../src/bridges/mqtt/outbound.ts';
import { parseTopicLine } from '../../src/bridges/mqtt/config.ts';
import type { Mapped } from '../../src/bridges/mqtt/topic-map.ts';
import { offsetKey } from '../../src/core/consumer-group.ts';
import { MemStore } from '../helpers/mem-store.ts';
import { MemLog } from '../helpers/mem-log.ts';
import { sleep, until } from '../helpers/poll.ts';



const GROUP = '\u0000bridge-mqtt-unit';
const SELF = '\u0000bridge-mqtt-unit';

interface Sent {
  topic: string;
  payload: string;
  qos: number;
  done: (r: SendResult) => void;
}

function setup(log = new MemLog(1), store = new MemStore(), rules = ['topic a/# out 1 "" r/']) {
  const sent: Sent[] = [];
  let maxOutstanding = 0;
  let outstanding = 0;
  const pump = new OutboundPump({
    group: GROUP,
    log,
    store,
    rules: rules.map((l) => parseTopicLine('k', l)),
    senderId: SELF,
    mayRead: (topic) => !topic.startsWith('a/secret'),
    send: (msg: Message, to: Mapped, done) => {
      outstanding++;
      maxOutstanding = Math.max(maxOutstanding, outstanding);
      sent.push({
        topic: to.topic,
        payload: msg.payload.toString(),
        qos: to.qos,
        done: (r) => {
          outstanding--;
          done(r);
        },
      });
    },
    onError: (err) => assert.fail(String(err)),
  });
  const committed = (p = 0): number | undefined => {
    const v = store.get(offsetKey(GROUP, p));
    return v ? (JSON.parse(v.toString()) as { offset: number }).offset : undefined;
  };
  return { log, store, pump, sent, committed, maxOutstanding: () => maxOutstanding };
}

test('a new bridge starts at the log end and commits that start at once', async () => {
  const s = setup();
  s.log.append('a/1', 'old');
  await s.pump.init();
  assert.equal(s.committed(), 1, 'the start is committed before anything is sent');
  s.pump.start(10);
  s.log.append('a/1', 'new');
  await until(() => s.sent.length === 1, 'one send');
  assert.deepEqual([s.sent[0]!.topic, s.sent[0]!.payload, s.sent[0]!.qos], ['r/a/1', 'new', 1]);
  s.sent[0]!.done('ok');
  await until(() => s.committed() === 2, 'commit after the ack');
  assert.equal(s.pump.lag(), 0);
  await s.pump.stop();
});

test('the committed offset is one past the acknowledged prefix: out-of-order acks wait for the gap', async () => {
  const s = setup();
  await s.pump.init();
  s.pump.start(10);
  for (let i = 0; i < 4; i++) s.log.append('a/t', `m${i}`);
  await until(() => s.sent.length === 4, 'four sends');
  s.sent[1]!.done('ok');
  s.sent[2]!.done('ok');
  await sleep(20);
  assert.equal(s.committed(), 0, 'offset 0 is not acknowledged: nothing past it is committed');
  assert.equal(s.pump.lag(), 4);
  s.sent[0]!.done('ok');
  await until(() => s.committed() === 3, 'prefix 0..2 committed');
  s.sent[3]!.done('refused'); // a refusal with a reason code is final: counted, not retried
  await until(() => s.committed() === 4, 'refused counts as done');
  assert.equal(s.pump.stats.sent, 3);
  assert.equal(s.pump.stats.refused, 1);
  await s.pump.stop();
});

test('the window bounds unacknowledged sends', async () => {
  const s = setup();
  await s.pump.init();
  s.pump.start(4);
  for (let i = 0; i < 20; i++) s.log.append('a/t', `m${i}`);
  await until(() => s.sent.length === 4, 'a window of sends');
  await sleep(20);
  assert.equal(s.sent.length, 4, 'no more than the window before an ack');
  for (let k = 0; k < 20; k++) {
    await until(() => s.sent.length > k, `send ${k}`);
    s.sent[k]!.done('ok');
  }
  await until(() => s.committed() === 20, 'all committed');
  assert.ok(s.maxOutstanding() <= 4, `at most 4 outstanding, saw ${s.maxOutstanding()}`);
  assert.deepEqual(s.sent.map((x) => x.payload), Array.from({ length: 20 }, (_, i) => `m${i}`), 'in log order');
  await s.pump.stop();
});

test('records from this bridge, topics no out rule covers and topics the identity may not read are skipped, and the position moves past them', async () => {
  const s = setup(new MemLog(1), new MemStore(), ['topic a/# out 1 "" r/', 'topic b/# in 1']);
  await s.pump.init();
  s.pump.start(10);
  s.log.append('a/1', 'echo', { senderId: SELF });
  s.log.append('b/1', 'inbound-only');
  s.log.append('a/secret/x', 'hidden');
  s.log.append('a/2', 'real');
  await until(() => s.sent.length === 1, 'one send');
  assert.equal(s.sent[0]!.payload, 'real');
  s.sent[0]!.done('ok');
  await until(() => s.committed() === 4, 'committed past the skipped ones');
  assert.equal(s.pump.stats.loopSkipped, 1);
  assert.equal(s.pump.stats.denied, 1);
  await s.pump.stop();
});

test('connection loss: stop() forgets in-flight sends and the next start() sends them again from the commit', async () => {
  const s = setup();
  await s.pump.init();
  s.pump.start(10);
  for (let i = 0; i < 3; i++) s.log.append('a/t', `m${i}`);
  await until(() => s.sent.length === 3, 'three sends');
  s.sent[0]!.done('ok');
  await until(() => s.committed() === 1, 'first committed');
  await s.pump.stop();
  s.sent[1]!.done('ok'); // a late ack from the old connection: ignored
  await sleep(10);
  assert.equal(s.committed(), 1);
  s.pump.start(10);
  await until(() => s.sent.length === 5, 'm1 and m2 again');
  assert.deepEqual(s.sent.slice(3).map((x) => x.payload), ['m1', 'm2']);
  s.sent[3]!.done('ok');
  s.sent[4]!.done('ok');
  await until(() => s.committed() === 3, 'all committed');
  await s.pump.stop();
});

test('QoS 0 rules: done when handed over, at most once', async () => {
  const s = setup(new MemLog(1), new MemStore(), ['topic a/# out 0']);
  await s.pump.init();
  s.pump.start(10);
  s.log.append('a/t', 'q0');
  await until(() => s.committed() === 1, 'committed without an ack');
  assert.equal(s.sent[0]!.qos, 0);
  await s.pump.stop();
});

test('a restarted bridge (new pump, same store) resumes at the committed offset', async () => {
  const log = new MemLog(2);
  const store = new MemStore();
  const a = setup(log, store);
  await a.pump.init();
  a.pump.start(10);
  log.append('a/x', 'p0-0', { partition: 0 });
  log.append('a/y', 'p1-0', { partition: 1 });
  log.append('a/x', 'p0-1', { partition: 0 });
  await until(() => a.sent.length === 3, 'three sends');
  for (const x of a.sent) if (x.payload !== 'p0-1') x.done('ok');
  await until(() => a.committed(0) === 1 && a.committed(1) === 1, 'commits per partition');
  await a.pump.stop();
  await a.pump.flush();
  const b = setup(log, store);
  await b.pump.init(); // commits exist: the start does not move
  assert.equal(b.committed(0), 1);
  b.pump.start(10);
  await until(() => b.sent.length === 1, 'the unacknowledged one again');
  assert.equal(b.sent[0]!.payload, 'p0-1');
  b.sent[0]!.done('ok');
  await until(() => b.committed(0) === 2, 'committed');
  await b.pump.stop();
});

test('stalledMs: a backlog with no progress counts as a stall even with nothing in flight; none when caught up', async () => {
  const s = setup();
  await s.pump.init();
  const t0 = Date.now();
  assert.equal(s.pump.stalledMs(t0 + 60_000), 0, 'caught up and nothing in flight: no stall');
  s.log.append('a/1', 'x'); // a backlog the reader has not taken (not started)
  assert.ok(s.pump.stalledMs(t0 + 60_000) >= 59_000, 'lag without progress is a stall');
  s.pump.start(10);
  await until(() => s.sent.length === 1, 'sent');
  s.sent[0]!.done('ok');
  await until(() => s.committed() === 1 && s.pump.lag() === 0, 'committed');
  assert.equal(s.pump.stalledMs(Date.now() + 60_000), 0, 'progress made and caught up');
  await s.pump.stop();
});
