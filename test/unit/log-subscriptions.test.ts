// Unit: src/core/log-subscriptions.ts over an in-memory log and store with a real Session: filter parsing, no read-ahead past the window, group commits on ack (lowest unacknowledged), stop. Imports the core module, Session, record codec and node:test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogSubscriptions, parseLogFilter, parseStart, type LogFilter } from '../../src/core/log-subscriptions.ts';
import type { ConsumerLogPort, ConsumerRecord } from '../../src/core/consumer.ts';
import { encodeHeaders } from '../../src/core/record-codec.ts';
import { Session, type Outbound } from '../../src/core/session.ts';
import type { Message } from '../../src/core/message.ts';
import { MemStore } from '../helpers/mem-store.ts';

class MemLog implements ConsumerLogPort {
  readonly parts: ConsumerRecord[][];
  recordsRead = 0;
  constructor(readonly partitions: number) {
    this.parts = Array.from({ length: partitions }, () => []);
  }
  append(partition: number, topic: string, payload: string, qos: 0 | 1 = 1): void {
    const msg: Message = { topic, payload: Buffer.from(payload), qos, retain: false, properties: {}, createdAt: Date.now(), expiresAt: 0, senderId: 'pub' };
    const p = this.parts[partition]!;
    p.push({ key: topic, timestamp: msg.createdAt, headers: encodeHeaders(msg), value: msg.payload, partition, offset: p.length });
  }
  async read(partition: number, offset: number, maxRecords: number): Promise<ConsumerRecord[]> {
    const out = this.parts[partition]!.slice(offset, offset + maxRecords);
    this.recordsRead += out.length;
    return out;
  }
  async offsetForTime(partition: number, ts: number): Promise<number> {
    const i = this.parts[partition]!.findIndex((r) => r.timestamp >= ts);
    return i < 0 ? this.parts[partition]!.length : i;
  }
  startOffset(): number {
    return 0;
  }
  endOffset(partition: number): number {
    return this.parts[partition]!.length;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(5);
  }
}

function setup(window: number, partitions = 2) {
  const log = new MemLog(partitions);
  const store = new MemStore();
  const session = new Session('c1', { maxInflight: window, maxQueued: 100, maxQueuedBytes: 1 << 20, dropPolicy: 'drop-oldest', queueQos0: false });
  session.attach(session.limits, Date.now());
  const sent: Extract<Outbound, { type: 'publish' }>[] = [];
  const target = { id: 'c1', session, link: { send: (out: readonly Outbound[]) => { for (const o of out) if (o.type === 'publish') sent.push(o); } } };
  const subs = new LogSubscriptions({ target, log, store, pollMs: 5 });
  const ack = (o: Extract<Outbound, { type: 'publish' }>): void => {
    const msg = session.unackedMessage(o.packetId);
    for (const n of session.onPuback(o.packetId, Date.now())) if (n.type === 'publish') sent.push(n);
    subs.acked(msg);
  };
  return { log, store, session, sent, subs, ack };
}
const opts = { qos: 1 as const, noLocal: false, retainAsPublished: false, retainHandling: 2 as const };

test('parseLogFilter / parseStart: valid and invalid forms', () => {
  assert.deepEqual(parseLogFilter('$log/first/a/#'), { kind: 'log', from: 'first', filter: 'a/#' });
  assert.deepEqual(parseLogFilter('$log/offset=12/+/t'), { kind: 'log', from: { offset: 12 }, filter: '+/t' });
  assert.deepEqual(parseLogFilter('$log/timestamp=1700000000000/a'), { kind: 'log', from: { timestamp: 1700000000000 }, filter: 'a' });
  assert.deepEqual(parseLogFilter('$group/g1/jobs/#'), { kind: 'group', group: 'g1', filter: 'jobs/#' });
  assert.equal(parseLogFilter('a/b'), undefined);
  assert.equal(parseLogFilter('$share/g/a'), undefined);
  for (const bad of ['$log/first', '$log/oldest/a', '$log/offset=-1/a', '$log/offset=1.5/a', '$log/offset=/a', '$log/first/a#', '$log/first/', '$group/g', '$group//a', '$group/g+/a', '$group/g/a/#/b']) {
    const r = parseLogFilter(bad);
    assert.ok(r && 'error' in r && r.error === 'TOPIC_FILTER_INVALID', `refused: ${bad}`);
  }
  assert.equal(parseStart('next'), 'next');
  assert.equal(parseStart('Next'), undefined);
});

test('replay never reads more than about one window ahead and moves on with each ack', async () => {
  const { log, sent, subs, ack } = setup(2, 1);
  for (let i = 0; i < 20; i++) log.append(0, 'a/b', `m${i}`);
  subs.add('$log/first/a/#', parseLogFilter('$log/first/a/#') as LogFilter, opts);
  await until(() => sent.length === 2, '2 sent');
  await sleep(50);
  assert.equal(sent.length, 2, 'window of 2');
  assert.ok(log.recordsRead <= 4, `read ahead bounded (read ${log.recordsRead})`);
  for (let k = 0; k < 9; k++) {
    const two = sent.slice(2 * k, 2 * k + 2);
    for (const o of two) ack(o);
    await until(() => sent.length === 2 * k + 4, `round ${k}`);
  }
  assert.deepEqual(sent.map((o) => o.msg.payload.toString()), Array.from({ length: 20 }, (_, i) => `m${i}`));
  assert.deepEqual(sent[3]!.msg.properties.userProperties, { 'x-partition': '0', 'x-offset': '3' });
  subs.closeAll();
  log.append(0, 'a/b', 'late');
  for (const o of sent.slice(18)) ack(o);
  await sleep(50);
  assert.equal(sent.length, 20, 'nothing after closeAll');
});

test('group: the commit is the lowest unacknowledged offset; members share partitions', async () => {
  const { log, store, sent, subs, ack } = setup(3, 1);
  for (let i = 0; i < 3; i++) log.append(0, 'j/x', `j${i}`);
  subs.add('$group/g/j/#', parseLogFilter('$group/g/j/#') as LogFilter, opts);
  await until(() => sent.length === 3, '3 sent');
  const committed = (): number | undefined => {
    const v = store.get('g/g/0');
    return v ? (JSON.parse(v.toString()) as { offset: number }).offset : undefined;
  };
  ack(sent[1]!);
  await sleep(20);
  assert.equal(committed(), undefined, 'offset 0 still unacknowledged');
  ack(sent[0]!);
  await until(() => committed() === 2, 'commit 2 after acks of 0 and 1');
  ack(sent[2]!);
  await until(() => committed() === 3, 'commit 3');

  // A second member (another connection) takes half of a 2-partition log's partitions.
  const two = setup(10, 2);
  const other = new LogSubscriptions({
    target: { id: 'c2', session: two.session, link: undefined },
    log: two.log,
    store: two.store,
    pollMs: 5,
  });
  two.subs.add('$group/h/#', parseLogFilter('$group/h/#') as LogFilter, opts);
  other.add('$group/h/#', parseLogFilter('$group/h/#') as LogFilter, opts);
  assert.throws(() => other.add('$group/h/other', parseLogFilter('$group/h/other') as LogFilter, opts), /reads "#"/);
  for (let i = 0; i < 4; i++) two.log.append(i % 2, `t/${i}`, `p${i}`);
  await until(() => two.sent.length === 2, 'member c1 gets its partition only');
  await sleep(50);
  assert.deepEqual(new Set(two.sent.map((o) => o.msg.ref!.partition)).size, 1);
  other.closeAll();
  await until(() => two.sent.length === 4, 'hand-over after the other member left');
  two.subs.closeAll();
  subs.closeAll();
});

test('group on a notifying log: a backlog of filtered-out records is read through, not slept on; then it sleeps until the next append', async () => {
  class NotifyingLog extends MemLog {
    private listeners: ((p: number, end: number) => void)[] = [];
    onAppend(l: (p: number, end: number) => void): () => void {
      this.listeners.push(l);
      return () => undefined;
    }
    override append(partition: number, topic: string, payload: string, qos: 0 | 1 = 1): void {
      super.append(partition, topic, payload, qos);
      for (const l of this.listeners) l(partition, this.parts[partition]!.length);
    }
  }
  const log = new NotifyingLog(1);
  const store = new MemStore();
  const session = new Session('c1', { maxInflight: 4, maxQueued: 100, maxQueuedBytes: 1 << 20, dropPolicy: 'drop-oldest', queueQos0: false });
  session.attach(session.limits, Date.now());
  const sent: Extract<Outbound, { type: 'publish' }>[] = [];
  const target = { id: 'c1', session, link: { send: (out: readonly Outbound[]) => { for (const o of out) if (o.type === 'publish') sent.push(o); } } };
  const subs = new LogSubscriptions({ target, log, store, pollMs: 60_000 }); // a poll would never come in time
  for (let i = 0; i < 600; i++) log.append(0, 'noise/x', `n${i}`);
  log.append(0, 'jobs/1', 'wanted');
  subs.add('$group/fg/jobs/#', parseLogFilter('$group/fg/jobs/#') as LogFilter, opts);
  await until(() => sent.length === 1, 'the matching record behind 600 filtered-out ones');
  assert.equal(sent[0]!.msg.payload.toString(), 'wanted');
  log.append(0, 'jobs/2', 'later');
  await until(() => sent.length === 2, 'woken by the append');
  subs.closeAll();
});

test('idle $log and $group subscriptions on a notifying log hold no timers; each wakes on an append it reads', async () => {
  class NotifyingLog extends MemLog {
    private listeners: ((p: number, end: number) => void)[] = [];
    onAppend(l: (p: number, end: number) => void): () => void {
      this.listeners.push(l);
      return () => undefined;
    }
    override append(partition: number, topic: string, payload: string, qos: 0 | 1 = 1): void {
      super.append(partition, topic, payload, qos);
      for (const l of this.listeners) l(partition, this.parts[partition]!.length);
    }
  }
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const log = new NotifyingLog(2);
  const store = new MemStore();
  const session = new Session('c1', { maxInflight: 1000, maxQueued: 100, maxQueuedBytes: 1 << 20, dropPolicy: 'drop-oldest', queueQos0: false });
  session.attach(session.limits, Date.now());
  const sent: Extract<Outbound, { type: 'publish' }>[] = [];
  const target = { id: 'c1', session, link: { send: (out: readonly Outbound[]) => { for (const o of out) if (o.type === 'publish') sent.push(o); } } };
  const before = timers();
  const subs = new LogSubscriptions({ target, log, store, pollMs: 1 }); // a poll, if any, would show as timers
  for (let i = 0; i < 100; i++) {
    subs.add(`$log/next/r/${i}/#`, parseLogFilter(`$log/next/r/${i}/#`) as LogFilter, opts);
    subs.add(`$group/ig${i}/g/${i}/#`, parseLogFilter(`$group/ig${i}/g/${i}/#`) as LogFilter, opts);
  }
  await sleep(50);
  assert.equal(timers(), before, '200 idle subscriptions, no timer');
  log.append(0, 'r/7/x', 'to the reader');
  log.append(1, 'g/9/x', 'to the group');
  await until(() => sent.length === 2, 'both woken');
  assert.deepEqual(sent.map((o) => o.msg.payload.toString()).sort(), ['to the group', 'to the reader']);
  subs.closeAll();
});
