// E2E: STOMP ack windows, NACK redelivery and dead-lettering, transactions, and /queue competing consumers. Imports mqtt.js and the stomp test helpers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { RawStomp, header, startStomp, type StompFixture } from '../helpers/stomp-clients.ts';

const bodies = (fs: { body: Buffer }[]): string[] => fs.map((f) => f.body.toString());

describe('stomp: acks, transactions, queues', () => {
  let fx: StompFixture;
  before(async () => {
    fx = await startStomp({ maxRedeliveries: 2, defaultPrefetch: 5, queues: ['preset'] });
  });
  after(async () => {
    await fx.close();
  });

  it('client-individual: prefetch-count bounds unacknowledged MESSAGEs; ACK frees a slot', async () => {
    const s = await RawStomp.connect(fx.port);
    try {
      await s.withReceipt('SUBSCRIBE', { id: 'w', destination: '/topic/win', ack: 'client-individual', 'prefetch-count': '2' });
      for (let i = 0; i < 5; i++) s.send('SEND', { destination: '/topic/win' }, `m${i}`);
      const first = await s.drain(150);
      assert.deepEqual(bodies(first), ['m0', 'm1']);
      s.send('ACK', { id: header(first[1]!, 'ack') as string });
      assert.deepEqual(bodies(await s.drain(150)), ['m2']);
      s.send('ACK', { id: header(first[0]!, 'ack') as string });
      assert.deepEqual(bodies(await s.drain(150)), ['m3']);
    } finally {
      s.close();
    }
  });

  it('client: one ACK is cumulative over the subscription', async () => {
    const s = await RawStomp.connect(fx.port);
    try {
      await s.withReceipt('SUBSCRIBE', { id: 'c', destination: '/topic/cum', ack: 'client', 'prefetch-count': '3' });
      for (let i = 0; i < 6; i++) s.send('SEND', { destination: '/topic/cum' }, `m${i}`);
      const first = await s.drain(150);
      assert.deepEqual(bodies(first), ['m0', 'm1', 'm2']);
      s.send('ACK', { id: header(first[2]!, 'ack') as string });
      assert.deepEqual(bodies(await s.drain(150)), ['m3', 'm4', 'm5']);
    } finally {
      s.close();
    }
  });

  it('NACK redelivers with a count; past maxRedeliveries the message goes to $dlq/<topic>', async () => {
    const s = await RawStomp.connect(fx.port);
    const dlq = await RawStomp.connect(fx.port);
    try {
      await dlq.withReceipt('SUBSCRIBE', { id: 'd', destination: '/topic/$dlq/#' });
      await s.withReceipt('SUBSCRIBE', { id: 'n', destination: '/topic/poison', ack: 'client-individual' });
      await dlq.withReceipt('SEND', { destination: '/topic/poison' }, 'bad');
      const counts: (string | undefined)[] = [];
      for (let i = 0; i < 3; i++) {
        const f = await s.next('MESSAGE');
        assert.equal(f.body.toString(), 'bad');
        counts.push(header(f, 'x-redelivery-count'));
        s.send('NACK', { id: header(f, 'ack') as string });
      }
      assert.deepEqual(counts, [undefined, '1', '2']);
      const dead = await dlq.next('MESSAGE');
      assert.equal(header(dead, 'destination'), '/topic/$dlq/poison');
      assert.equal(header(dead, 'x-original-topic'), 'poison');
      assert.equal(dead.body.toString(), 'bad');
      assert.deepEqual((await s.drain(150)).length, 0);
    } finally {
      s.close();
      dlq.close();
    }
  });

  it('transactions: SENDs publish on COMMIT only, none on ABORT or disconnect; ACK applies on COMMIT', async () => {
    const sub = await RawStomp.connect(fx.port);
    const pub = await RawStomp.connect(fx.port);
    const quitter = await RawStomp.connect(fx.port);
    try {
      await sub.withReceipt('SUBSCRIBE', { id: 't', destination: '/topic/tx', ack: 'client-individual', 'prefetch-count': '1' });
      await pub.withReceipt('BEGIN', { transaction: 'a' });
      pub.send('SEND', { destination: '/topic/tx', transaction: 'a' }, 'a1');
      pub.send('SEND', { destination: '/topic/tx', transaction: 'a' }, 'a2');
      await pub.withReceipt('BEGIN', { transaction: 'b' });
      pub.send('SEND', { destination: '/topic/tx', transaction: 'b' }, 'b1');
      await pub.withReceipt('ABORT', { transaction: 'b' });
      await quitter.withReceipt('BEGIN', { transaction: 'q' });
      quitter.send('SEND', { destination: '/topic/tx', transaction: 'q' }, 'q1');
      quitter.close();
      assert.deepEqual((await sub.drain(150)).length, 0, 'nothing before COMMIT');
      await pub.withReceipt('COMMIT', { transaction: 'a' });
      const m1 = await sub.next('MESSAGE');
      assert.equal(m1.body.toString(), 'a1');
      // ACK inside a transaction: the slot is freed (a2 arrives) only once committed.
      await sub.withReceipt('BEGIN', { transaction: 'x' });
      sub.send('ACK', { id: header(m1, 'ack') as string, transaction: 'x' });
      assert.deepEqual((await sub.drain(150)).length, 0);
      sub.send('COMMIT', { transaction: 'x' });
      assert.deepEqual(bodies(await sub.drain(150)), ['a2']);
    } finally {
      sub.close();
      pub.close();
      quitter.close();
    }
  });

  it('queue: messages sent with no consumer wait, then two consumers split the rest round-robin', async () => {
    const pub = await RawStomp.connect(fx.port);
    let a: RawStomp | undefined;
    let b: RawStomp | undefined;
    try {
      for (let i = 0; i < 4; i++) await pub.withReceipt('SEND', { destination: '/queue/jobs' }, `early${i}`);
      a = await RawStomp.connect(fx.port);
      await a.withReceipt('SUBSCRIBE', { id: 'qa', destination: '/queue/jobs' });
      assert.deepEqual(bodies(await a.drain(150)), ['early0', 'early1', 'early2', 'early3']);
      b = await RawStomp.connect(fx.port);
      await b.withReceipt('SUBSCRIBE', { id: 'qb', destination: '/queue/jobs' });
      for (let i = 0; i < 10; i++) await pub.withReceipt('SEND', { destination: '/queue/jobs' }, `j${i}`);
      const ga = bodies(await a.drain(150));
      const gb = bodies(await b.drain(150));
      assert.equal(ga.length, 5);
      assert.equal(gb.length, 5);
      assert.deepEqual([...ga, ...gb].sort(), [...Array(10).keys()].map((i) => `j${i}`).sort());
    } finally {
      pub.close();
      a?.close();
      b?.close();
    }
  });

  it('queue: a consumer lost with unacknowledged messages hands them to another, marked redelivered', async () => {
    const pub = await RawStomp.connect(fx.port);
    const a = await RawStomp.connect(fx.port);
    let b: RawStomp | undefined;
    try {
      await a.withReceipt('SUBSCRIBE', { id: 'x', destination: '/queue/work', ack: 'client-individual', 'prefetch-count': '2' });
      for (let i = 0; i < 3; i++) await pub.withReceipt('SEND', { destination: '/queue/work' }, `w${i}`);
      const got = await a.drain(150);
      assert.deepEqual(bodies(got), ['w0', 'w1']);
      a.send('ACK', { id: header(got[0]!, 'ack') as string });
      assert.deepEqual(bodies(await a.drain(150)), ['w2']);
      a.close();
      await a.waitClosed();
      b = await RawStomp.connect(fx.port);
      await b.withReceipt('SUBSCRIBE', { id: 'y', destination: '/queue/work', ack: 'client-individual' });
      const again = await b.drain(150);
      assert.deepEqual(bodies(again), ['w1', 'w2']);
      assert.deepEqual(again.map((f) => header(f, 'redelivered')), ['true', 'true']);
      assert.deepEqual(again.map((f) => header(f, 'destination')), ['/queue/work', '/queue/work']);
    } finally {
      pub.close();
      a.close();
      b?.close();
    }
  });

  it('queue: MQTT publishes to $queue/<name> reach a declared queue before any STOMP client', async () => {
    const m = await mqtt.connectAsync(fx.tg.mqttUrl, { reconnectPeriod: 0, connectTimeout: 3000 });
    const c = await RawStomp.connect(fx.port);
    try {
      await m.publishAsync('$queue/preset', 'from-mqtt', { qos: 1 });
      await c.withReceipt('SUBSCRIBE', { id: 'p', destination: '/queue/preset' });
      const f = await c.next('MESSAGE');
      assert.equal(f.body.toString(), 'from-mqtt');
      assert.equal(header(f, 'destination'), '/queue/preset');
    } finally {
      c.close();
      await m.endAsync();
    }
  });
});
