// E2E: STOMP durable topic subscriptions and /queue state across disconnects and graceful gateway restarts on the same data dir. Imports mqtt.js, the gateway and stomp test helpers.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { RawStomp, header } from '../helpers/stomp-clients.ts';

const bodies = (fs: { body: Buffer }[]): string[] => fs.map((f) => f.body.toString());
const dirs: string[] = [];
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gw-stomp-durable-'));
  dirs.push(d);
  return d;
}

describe('stomp: durable subscriptions and queues survive disconnect and restart', () => {
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('durable:true without a CONNECT client-id is an ERROR', async () => {
    const tg = await startGateway();
    try {
      const s = await RawStomp.connect(tg.stompPort);
      s.send('SUBSCRIBE', { id: 'd', destination: '/topic/x', durable: 'true' });
      const f = await s.next('ERROR');
      assert.match(f.body.toString(), /client-id/);
      await s.waitClosed();
    } finally {
      await tg.close();
    }
  });

  it('keeps messages for a durable subscriber while it is away; unacknowledged ones come back redelivered, then the rest, in order', async () => {
    const tg = await startGateway();
    const m = await mqtt.connectAsync(tg.mqttUrl, { reconnectPeriod: 0, connectTimeout: 3000 });
    let s: RawStomp | undefined;
    try {
      s = await RawStomp.connect(tg.stompPort, { 'client-id': 'app1' });
      await s.withReceipt('SUBSCRIBE', { id: 'd1', destination: '/topic/dur/+', durable: 'true', ack: 'client-individual' });
      await m.publishAsync('dur/a', 'm0', { qos: 1 });
      await m.publishAsync('dur/a', 'm1', { qos: 1 });
      const first = [await s.next('MESSAGE'), await s.next('MESSAGE')];
      s.send('ACK', { id: header(first[0]!, 'ack') as string });
      await s.withReceipt('DISCONNECT', {});
      await s.waitClosed();
      assert.ok(tg.gateway.broker.getInternalSession('stomp/app1/d1'), 'the durable session outlives the connection');
      for (let i = 2; i < 5; i++) await m.publishAsync('dur/a', `m${i}`, { qos: 1 });
      s = await RawStomp.connect(tg.stompPort, { 'client-id': 'app1' });
      await s.withReceipt('SUBSCRIBE', { id: 'd1', destination: '/topic/dur/+', durable: 'true', ack: 'client-individual' });
      const again = await s.drain(200);
      assert.deepEqual(bodies(again), ['m1', 'm2', 'm3', 'm4']);
      assert.equal(header(again[0]!, 'redelivered'), 'true');
      assert.equal(header(again[1]!, 'redelivered'), undefined);
      for (const f of again) s.send('ACK', { id: header(f, 'ack') as string });
      // UNSUBSCRIBE with durable:true deletes it: nothing is kept afterwards.
      await s.withReceipt('UNSUBSCRIBE', { id: 'd1', durable: 'true' });
      assert.equal(tg.gateway.broker.getInternalSession('stomp/app1/d1'), undefined);
      await m.publishAsync('dur/a', 'gone', { qos: 1 });
      await s.withReceipt('SUBSCRIBE', { id: 'd1', destination: '/topic/dur/+', durable: 'true', ack: 'client-individual' });
      assert.deepEqual(bodies(await s.drain(150)), []);
    } finally {
      s?.close();
      await m.endAsync();
      await tg.close();
    }
  });

  it('a plain UNSUBSCRIBE only detaches a durable subscription; ack:auto durable subscriptions queue while away too', async () => {
    const tg = await startGateway();
    let s: RawStomp | undefined;
    try {
      s = await RawStomp.connect(tg.stompPort, { 'client-id': 'app2' });
      await s.withReceipt('SUBSCRIBE', { id: 'a', destination: '/topic/dur2', persistent: 'true' });
      await s.withReceipt('UNSUBSCRIBE', { id: 'a' });
      await s.withReceipt('SEND', { destination: '/topic/dur2' }, 'while-detached');
      await s.withReceipt('SUBSCRIBE', { id: 'a', destination: '/topic/dur2', persistent: 'true' });
      const got = await s.drain(150);
      assert.deepEqual(bodies(got), ['while-detached']);
      assert.equal(header(got[0]!, 'ack'), undefined, 'ack:auto');
    } finally {
      s?.close();
      await tg.close();
    }
  });

  it('durable subscriptions and /queue contents survive a graceful restart on the same data dir', async () => {
    const dir = freshDir();
    let tg: TestGateway = await startGateway({}, dir);
    let s: RawStomp | undefined;
    let c: RawStomp | undefined;
    try {
      s = await RawStomp.connect(tg.stompPort, { 'client-id': 'svc' });
      await s.withReceipt('SUBSCRIBE', { id: 'keep', destination: '/topic/rs/#', durable: 'true', ack: 'client' });
      c = await RawStomp.connect(tg.stompPort);
      await c.withReceipt('SEND', { destination: '/topic/rs/1' }, 't0');
      assert.deepEqual(bodies([await s.next('MESSAGE')]), ['t0']); // not acknowledged
      s.close();
      await s.waitClosed();
      // Queue: 5 messages, a consumer takes 2 without acknowledging them.
      for (let i = 0; i < 5; i++) await c.withReceipt('SEND', { destination: '/queue/rq' }, `q${i}`);
      await c.withReceipt('SEND', { destination: '/topic/rs/2' }, 't1');
      await c.withReceipt('SUBSCRIBE', { id: 'qc', destination: '/queue/rq', ack: 'client-individual', 'prefetch-count': '2' });
      assert.deepEqual(bodies(await c.drain(150)), ['q0', 'q1']);
      c.close();
      await c.waitClosed();
      await tg.close();

      tg = await startGateway({}, dir);
      assert.ok(tg.gateway.stomp.queues, 'persistence on: queues exist');
      c = await RawStomp.connect(tg.stompPort);
      await c.withReceipt('SUBSCRIBE', { id: 'qc', destination: '/queue/rq', ack: 'client-individual' });
      const q = await c.drain(200);
      assert.deepEqual(bodies(q), ['q0', 'q1', 'q2', 'q3', 'q4']);
      for (const f of q) c.send('ACK', { id: header(f, 'ack') as string });
      s = await RawStomp.connect(tg.stompPort, { 'client-id': 'svc' });
      await s.withReceipt('SUBSCRIBE', { id: 'keep', destination: '/topic/rs/#', durable: 'true', ack: 'client' });
      const t = await s.drain(200);
      assert.deepEqual(bodies(t), ['t0', 't1']);
      assert.equal(header(t[0]!, 'redelivered'), 'true');
      s.send('ACK', { id: header(t[1]!, 'ack') as string }); // cumulative
      await s.withReceipt('DISCONNECT', {});
      await c.withReceipt('DISCONNECT', {});
      await tg.close();

      // Everything acknowledged stays acknowledged across the next restart.
      tg = await startGateway({}, dir);
      c = await RawStomp.connect(tg.stompPort);
      await c.withReceipt('SUBSCRIBE', { id: 'qc', destination: '/queue/rq', ack: 'client-individual' });
      assert.deepEqual(bodies(await c.drain(150)), []);
      s = await RawStomp.connect(tg.stompPort, { 'client-id': 'svc' });
      await s.withReceipt('SUBSCRIBE', { id: 'keep', destination: '/topic/rs/#', durable: 'true', ack: 'client' });
      assert.deepEqual(bodies(await s.drain(150)), []);
    } finally {
      s?.close();
      c?.close();
      await tg.close();
    }
  });
});
