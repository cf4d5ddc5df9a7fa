// E2E: STOMP SUBSCRIBE with x-stream-offset replays the durable log (first/last/next/offset/timestamp), then follows live without gap or duplicate, within the ack window. Imports mqtt.js, the gateway and stomp test helpers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type MqttClient } from 'mqtt';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { RawStomp, header } from '../helpers/stomp-clients.ts';

const bodies = (fs: { body: Buffer }[]): string[] => fs.map((f) => f.body.toString());

describe('stomp: replay from the log with x-stream-offset', () => {
  let tg: TestGateway;
  let pub: RawStomp;
  before(async () => {
    tg = await startGateway();
    pub = await RawStomp.connect(tg.stompPort);
  });
  after(async () => {
    pub.close();
    await tg.close();
  });

  async function send(topic: string, from: number, to: number): Promise<void> {
    for (let i = from; i < to; i++) await pub.withReceipt('SEND', { destination: `/topic/${topic}` }, String(i));
  }

  it('first: history, then live, in order, no gap or duplicate at the switch; offsets on every MESSAGE; window bounds the read-ahead', async () => {
    await send('rp/a', 0, 20);
    const s = await RawStomp.connect(tg.stompPort);
    try {
      await s.withReceipt('SUBSCRIBE', { id: 'r', destination: '/topic/rp/+', 'x-stream-offset': 'first', ack: 'client-individual', 'prefetch-count': '4' });
      const firstWindow = await s.drain(150);
      assert.deepEqual(bodies(firstWindow), ['0', '1', '2', '3'], 'no more than the window before an ACK');
      const seen: number[] = [];
      const offsets: number[] = [];
      const take = (f: (typeof firstWindow)[number]): void => {
        seen.push(Number(f.body.toString()));
        offsets.push(Number(header(f, 'x-stream-offset')));
        assert.match(header(f, 'x-stream-partition') ?? '', /^\d+$/);
        s.send('ACK', { id: header(f, 'ack') as string });
      };
      for (const f of firstWindow) take(f);
      // Live publishes race the replay: the switch-over must neither skip nor repeat.
      const live = send('rp/a', 20, 60);
      for (let i = 4; i < 60; i++) take(await s.next('MESSAGE', 3000));
      await live;
      assert.deepEqual(seen, [...Array(60).keys()]);
      for (let i = 1; i < offsets.length; i++) assert.equal(offsets[i], offsets[0]! + i, 'one topic = one partition, consecutive offsets');
      assert.deepEqual(bodies(await s.drain(150)), []);
    } finally {
      s.close();
    }
  });

  it('a SEND RECEIPT comes after the durable append: the record is in the log when the RECEIPT arrives', async () => {
    const log = tg.gateway.broker.log;
    assert.ok(log, 'persistence is on by default');
    const total = (): number => Array.from({ length: log.partitions }, (_, p) => log.endOffset(p)).reduce((a, b) => a + b, 0);
    const before = total();
    await pub.withReceipt('SEND', { destination: '/topic/rp/durable' }, 'stored');
    assert.equal(total(), before + 1);
    let found = false;
    for (let p = 0; p < log.partitions && !found; p++) {
      const end = log.endOffset(p);
      if (end === 0) continue;
      const [rec] = await log.read(p, end - 1, 1);
      found = rec?.key === 'rp/durable';
    }
    assert.ok(found, 'the newest record of some partition is the SEND');
  });

  it('next / last / offset=N / timestamp=T start where they say', async () => {
    await send('rp/b', 0, 5);
    const probe = await RawStomp.connect(tg.stompPort);
    let lastOffset: number;
    try {
      await probe.withReceipt('SUBSCRIBE', { id: 'p', destination: '/topic/rp/b', 'x-stream-offset': 'last' });
      const f = await probe.next('MESSAGE');
      assert.equal(f.body.toString(), '4', 'last = the newest record');
      lastOffset = Number(header(f, 'x-stream-offset'));
    } finally {
      probe.close();
    }
    const nxt = await RawStomp.connect(tg.stompPort);
    const off = await RawStomp.connect(tg.stompPort);
    const ts = await RawStomp.connect(tg.stompPort);
    try {
      await nxt.withReceipt('SUBSCRIBE', { id: 'n', destination: '/topic/rp/b', 'x-stream-offset': 'next' });
      await off.withReceipt('SUBSCRIBE', { id: 'o', destination: '/topic/rp/b', 'x-stream-offset': `offset=${lastOffset - 2}` });
      await new Promise((r) => setTimeout(r, 30));
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 5));
      await send('rp/b', 5, 7);
      await ts.withReceipt('SUBSCRIBE', { id: 't', destination: '/topic/rp/b', 'x-stream-offset': `timestamp=${t0}` });
      assert.deepEqual(bodies(await nxt.drain(200)), ['5', '6']);
      assert.deepEqual(bodies(await off.drain(200)), ['2', '3', '4', '5', '6']);
      assert.deepEqual(bodies(await ts.drain(200)), ['5', '6']);
    } finally {
      nxt.close();
      off.close();
      ts.close();
    }
  });

  it('sees MQTT QoS 1/2 publishes (they are in the log) but not QoS 0 ones (persistQos0 off)', async () => {
    const m: MqttClient = await mqtt.connectAsync(tg.mqttUrl, { reconnectPeriod: 0, connectTimeout: 3000 });
    const s = await RawStomp.connect(tg.stompPort);
    try {
      await s.withReceipt('SUBSCRIBE', { id: 'q', destination: '/topic/rp/q', 'x-stream-offset': 'next', ack: 'client' });
      await m.publishAsync('rp/q', 'q0', { qos: 0 });
      await m.publishAsync('rp/q', 'q1', { qos: 1 });
      await m.publishAsync('rp/q', 'q2', { qos: 2 });
      const got = await s.drain(200);
      assert.deepEqual(bodies(got), ['q1', 'q2']);
    } finally {
      s.close();
      await m.endAsync();
    }
  });

  it('NACK redelivers a replayed message before newer ones, marked redelivered', async () => {
    await send('rp/n', 0, 3);
    const s = await RawStomp.connect(tg.stompPort);
    try {
      await s.withReceipt('SUBSCRIBE', { id: 'k', destination: '/topic/rp/n', 'x-stream-offset': 'first', ack: 'client-individual', 'prefetch-count': '1' });
      const a = await s.next('MESSAGE');
      assert.equal(a.body.toString(), '0');
      s.send('NACK', { id: header(a, 'ack') as string });
      const again = await s.next('MESSAGE');
      assert.equal(again.body.toString(), '0');
      assert.equal(header(again, 'redelivered'), 'true');
      s.send('ACK', { id: header(again, 'ack') as string });
      const b = await s.next('MESSAGE');
      assert.equal(b.body.toString(), '1');
    } finally {
      s.close();
    }
  });

  for (const [name, hdrs] of [
    ['a bad value', { destination: '/topic/rp/x', 'x-stream-offset': 'yesterday' }],
    ['a /queue destination', { destination: '/queue/rpq', 'x-stream-offset': 'first' }],
  ] as const) {
    it(`refuses x-stream-offset with ${name}`, async () => {
      const s = await RawStomp.connect(tg.stompPort);
      s.send('SUBSCRIBE', { id: 'bad', ...hdrs });
      const f = await s.next('ERROR');
      assert.match(f.body.toString(), /x-stream-offset/);
      await s.waitClosed();
    });
  }
});
