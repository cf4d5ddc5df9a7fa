// E2E: a queue's committed position survives restarts of a real gateway process (SIGTERM and kill -9): consumers resume right after the last acknowledged message, fed by STOMP and MQTT, consumed by STOMP and mqtt.js; the state key has its format version. Imports the process, stomp and mqtt test helpers.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { GatewayProcess, stompPort } from '../helpers/gateway-process.ts';
import { RawStomp, header } from '../helpers/stomp-clients.ts';
import { RawClient, sleep, waitUntil } from '../helpers/mqtt-clients.ts';
import { openKeyValueStore } from '../../src/log/index.ts';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startGateway } from '../helpers/gateway.ts';

describe('queues: the committed position survives a restart of the gateway process', () => {
  const procs: GatewayProcess[] = [];
  const raws: (RawStomp | RawClient)[] = [];
  after(async () => {
    for (const r of raws) r instanceof RawStomp ? r.close() : r.destroy();
    for (const p of procs) await p.dispose();
  });

  it('kill -9: an MQTT consumer acknowledged 4 of 10; after restart a STOMP consumer gets exactly the other 6, in order', async () => {
    const gp = new GatewayProcess({ flush: 'interval' });
    procs.push(gp);
    let run = await gp.start();
    const pub = await mqtt.connectAsync(run.url, { protocolVersion: 4, reconnectPeriod: 0, clientId: 'rq-pub' });
    for (let i = 0; i < 10; i++) await pub.publishAsync('$queue/rq', `m${i}`, { qos: 1 });
    await pub.endAsync();
    const consumer = await RawClient.connect(run.port, { protocolVersion: 4, clientId: 'rq-consumer' });
    raws.push(consumer);
    consumer.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$queue/rq', qos: 1 }] });
    await consumer.next('suback');
    await waitUntil(() => consumer.publishes().length >= 10, 5000, '10 deliveries');
    const got = consumer.publishes();
    assert.deepEqual(got.map((p) => p.payload.toString()), Array.from({ length: 10 }, (_, i) => `m${i}`));
    for (const p of got.slice(0, 4)) consumer.send({ cmd: 'puback', messageId: p.messageId });
    await sleep(300); // the commit write is flushed (persistence.flush interval, 10 ms)
    await gp.kill9();

    run = await gp.start();
    const c = await RawStomp.connect(await stompPort(run));
    raws.push(c);
    await c.withReceipt('SUBSCRIBE', { id: 'q', destination: '/queue/rq', ack: 'client-individual' });
    const after = await c.drain(300);
    assert.deepEqual(after.map((f) => f.body.toString()), ['m4', 'm5', 'm6', 'm7', 'm8', 'm9']);
    for (const f of after) c.send('ACK', { id: header(f, 'ack') as string });
    await c.withReceipt('DISCONNECT', {});

    // Graceful restart: everything acknowledged stays acknowledged; new SENDs continue the queue.
    await gp.terminate();
    run = await gp.start();
    const port = await stompPort(run);
    const s = await RawStomp.connect(port);
    raws.push(s);
    await s.withReceipt('SEND', { destination: '/queue/rq' }, 'n0');
    await s.withReceipt('SUBSCRIBE', { id: 'q2', destination: '/queue/rq', ack: 'client-individual' });
    const fresh = await s.drain(300);
    assert.deepEqual(fresh.map((f) => f.body.toString()), ['n0']);
    s.send('ACK', { id: header(fresh[0]!, 'ack') as string });
    await s.withReceipt('DISCONNECT', {});
    await gp.terminate();

    // The stored position: one key per queue partition, JSON with format version 1, offset = next to read.
    const kv = await openKeyValueStore(join(gp.dataDir, 'state'), { mode: 'never' });
    try {
      const entries = [...kv.entries('queue/rq/')];
      assert.equal(entries.length, 1);
      const v = JSON.parse(entries[0]![1].toString()) as { v: number; offset: number; at: number };
      assert.equal(v.v, 1);
      assert.equal(v.offset, 11, 'next offset after the 11 queue records (rq is alone in its partition here)');
    } finally {
      await kv.close();
    }
  });

  it('a `$queue/<name>` session left by an older version (a queue as a persistent session) is ended at start; its queue reads the log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-legacy-'));
    try {
      let tg = await startGateway({}, dir);
      const b = tg.gateway.broker;
      const link = { identity: { clientId: '$queue/legacy', protocol: 'stomp' as const }, send: () => undefined, close: () => undefined };
      const { entry } = b.connect({ clientId: '$queue/legacy', cleanStart: false, expiryInterval: 0xffffffff, limits: { maxInflight: 10, maxQueued: 100, maxQueuedBytes: 1 << 20, dropPolicy: 'drop-oldest', queueQos0: false }, link });
      b.subscribe(entry, '$queue/legacy', { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 2 });
      b.disconnect(entry, link, false);
      const s = await RawStomp.connect(tg.stompPort);
      raws.push(s);
      for (let i = 0; i < 3; i++) await s.withReceipt('SEND', { destination: '/queue/legacy' }, `l${i}`);
      s.close();
      assert.equal(b.getSession('$queue/legacy')?.session.queuedCount, 3, 'the old-style session queued copies');
      await tg.close();

      tg = await startGateway({}, dir);
      try {
        assert.equal(tg.gateway.broker.getSession('$queue/legacy'), undefined, 'ended at start');
        const c = await RawStomp.connect(tg.stompPort);
        raws.push(c);
        await c.withReceipt('SUBSCRIBE', { id: 'l', destination: '/queue/legacy', ack: 'client-individual' });
        assert.deepEqual((await c.drain(200)).map((f) => f.body.toString()), ['l0', 'l1', 'l2']);
        c.close();
      } finally {
        await tg.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
