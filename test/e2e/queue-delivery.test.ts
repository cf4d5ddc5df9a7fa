// E2E: log-backed queues over real clients: nothing lost with a slow or absent consumer (stompit, 20,000 receipted SENDs), NACK / requeue and dead letters (STOMP NACK and an MQTT 5 PUBACK reason code), MQTT consumers of STOMP-fed queues and the reverse. Imports stompit (typed helper), @stomp/stompjs, mqtt.js and the test helpers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, type IMessage } from '@stomp/stompjs';
import WebSocket from 'ws';
import mqtt from 'mqtt';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { RawStomp, header, readBody, stompitConnect, waitFor, type StompitClient, type StompitMessage } from '../helpers/stomp-clients.ts';
import { connectClient, type TestClient } from '../helpers/mqtt-clients.ts';

const N = 20_000;

function stompjs(url: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client({
      webSocketFactory: () => new WebSocket(url, ['v12.stomp']),
      connectHeaders: { host: 'localhost' },
      reconnectDelay: 0,
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      debug: () => undefined,
    });
    const t = setTimeout(() => reject(new Error('stompjs: no CONNECTED in 5 s')), 5000);
    client.onConnect = () => {
      clearTimeout(t);
      resolve(client);
    };
    client.activate();
  });
}

/** `count` receipted SENDs through stompit, `window` receipts outstanding at most; resolves when every RECEIPT came. */
async function sendReceipted(c: StompitClient, destination: string, count: number, body: (i: number) => string, window = 500): Promise<number> {
  let receipts = 0;
  let sent = 0;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`receipts: ${receipts}/${count}`)), 120_000);
    const pump = (): void => {
      while (sent < count && sent - receipts < window) {
        const i = sent++;
        const w = c.send({ destination, 'content-type': 'text/plain' }, {
          onReceipt: () => {
            receipts++;
            if (receipts === count) {
              clearTimeout(t);
              resolve();
            } else pump();
          },
        });
        w.write(body(i));
        w.end();
      }
    };
    pump();
  });
  return receipts;
}

describe('queues: nothing acknowledged is lost, settle outcomes, MQTT and STOMP on one queue', () => {
  let tg: TestGateway;
  const stompits: StompitClient[] = [];
  const raws: RawStomp[] = [];
  const mqtts: TestClient[] = [];
  const stompjsClients: Client[] = [];
  before(async () => {
    tg = await startGateway({ stomp: { maxRedeliveries: 2 } });
  });
  after(async () => {
    for (const c of stompits) c.destroy();
    for (const r of raws) r.close();
    for (const m of mqtts) await m.end();
    for (const c of stompjsClients) await c.deactivate();
    await tg.close();
  });

  it(`a slow consumer (prefetch 10, never acking) and then none: ${N} receipted SENDs all reach a later consumer once`, async () => {
    const slow = await RawStomp.connect(tg.stompPort);
    raws.push(slow);
    await slow.withReceipt('SUBSCRIBE', { id: 's', destination: '/queue/bulk', ack: 'client-individual', 'prefetch-count': '10' });
    const pub = await stompitConnect(tg.stompPort);
    stompits.push(pub);
    assert.equal(await sendReceipted(pub, '/queue/bulk', N, (i) => `b${i}`), N, 'every SEND receipted');
    await slow.until(() => slow.frames.filter((f) => f.command === 'MESSAGE').length >= 10, 3000, 'slow consumer window');
    assert.equal(slow.frames.filter((f) => f.command === 'MESSAGE').length, 10, 'the slow consumer holds only its prefetch');
    slow.close(); // its 10 unacknowledged go back to the queue
    await slow.waitClosed();

    // The rest of the queue is consumed by @stomp/stompjs over WebSocket.
    const c = await stompjs(`ws://127.0.0.1:${tg.httpPort}/stomp`);
    stompjsClients.push(c);
    const seen = new Map<string, number>();
    let redelivered = 0;
    c.subscribe('/queue/bulk', (m: IMessage) => {
      seen.set(m.body, (seen.get(m.body) ?? 0) + 1);
      if (m.headers.redelivered === 'true') redelivered++;
      m.ack();
    }, { ack: 'client-individual', 'prefetch-count': '1000' });
    await waitFor(() => seen.size >= N, 60_000, `all ${N} (have ${seen.size})`);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(seen.size, N);
    for (let i = 0; i < N; i++) assert.equal(seen.get(`b${i}`), 1, `b${i} exactly once`);
    assert.equal(redelivered, 10, 'exactly the slow consumer\'s 10 come back marked redelivered');
  });

  it('NACK requeues with a count; past stomp.maxRedeliveries (2) the message goes to $dlq/$queue/<name>; an MQTT 5 PUBACK 0x80 is a NACK too', async () => {
    const dlq = await connectClient(tg.mqttUrl, { protocolVersion: 5 });
    mqtts.push(dlq);
    await dlq.client.subscribeAsync('$dlq/#', { qos: 1 });
    const c = await RawStomp.connect(tg.stompPort);
    raws.push(c);
    await c.withReceipt('SEND', { destination: '/queue/nq' }, 'poison');
    await c.withReceipt('SEND', { destination: '/queue/nq' }, 'fine');
    await c.withReceipt('SUBSCRIBE', { id: 'n', destination: '/queue/nq', ack: 'client-individual', 'prefetch-count': '1' });
    const counts: (string | undefined)[] = [];
    for (let k = 0; k < 3; k++) {
      const f = await c.next('MESSAGE');
      assert.equal(f.body.toString(), 'poison', 'the NACKed message comes back before anything newer');
      counts.push(header(f, 'x-redelivery-count'));
      c.send('NACK', { id: header(f, 'ack') as string });
    }
    assert.deepEqual(counts, [undefined, '1', '2']);
    const next = await c.next('MESSAGE');
    assert.equal(next.body.toString(), 'fine');
    c.send('ACK', { id: header(next, 'ack') as string });
    await dlq.waitFor(1);
    assert.equal(dlq.received[0]!.topic, '$dlq/$queue/nq');
    assert.equal(dlq.received[0]!.payload, 'poison');
    assert.equal(dlq.received[0]!.packet.properties?.userProperties?.['x-redelivery-count'], '2');

    // MQTT 5 consumer refusing with PUBACK reason 0x80: redelivered to it, counted, then dead-lettered.
    const refusals: number[] = [];
    const m = mqtt.connect(tg.mqttUrl, {
      protocolVersion: 5, reconnectPeriod: 0, clientId: 'q-refuser',
      customHandleAcks: (_topic, _payload, packet, done) => {
        refusals.push(Number(packet.properties?.userProperties?.['x-redelivery-count'] ?? 0));
        done(0x80);
      },
    });
    await new Promise<void>((resolve, reject) => { m.once('connect', () => resolve()); m.once('error', reject); });
    try {
      await c.withReceipt('SEND', { destination: '/queue/mq-nack' }, 'refused');
      await m.subscribeAsync('$queue/mq-nack', { qos: 1 });
      await waitFor(() => dlq.received.length >= 2, 5000, 'second dead letter');
      assert.deepEqual(refusals, [0, 1, 2]);
      assert.equal(dlq.received[1]!.topic, '$dlq/$queue/mq-nack');
    } finally {
      await m.endAsync();
    }
  });

  it('reject: STOMP NACK with requeue:false and an MQTT 5 PUBACK 0x99 dead-letter at once, without redelivery', async () => {
    const dlq = await connectClient(tg.mqttUrl, { protocolVersion: 5 });
    mqtts.push(dlq);
    await dlq.client.subscribeAsync('$dlq/$queue/rj', { qos: 1 });
    const c = await RawStomp.connect(tg.stompPort);
    raws.push(c);
    await c.withReceipt('SEND', { destination: '/queue/rj' }, 'bad');
    await c.withReceipt('SEND', { destination: '/queue/rj' }, 'good');
    await c.withReceipt('SUBSCRIBE', { id: 'r', destination: '/queue/rj', ack: 'client-individual', 'prefetch-count': '1' });
    const f = await c.next('MESSAGE');
    assert.equal(f.body.toString(), 'bad');
    c.send('NACK', { id: header(f, 'ack') as string, requeue: 'false' });
    const g = await c.next('MESSAGE');
    assert.equal(g.body.toString(), 'good', 'the rejected message is not redelivered');
    c.send('ACK', { id: header(g, 'ack') as string });
    await dlq.waitFor(1);
    assert.equal(dlq.received[0]!.payload, 'bad');
    assert.equal(dlq.received[0]!.packet.properties?.userProperties?.['x-redelivery-count'], '0');
    await c.withReceipt('UNSUBSCRIBE', { id: 'r' });

    const seen: string[] = []; // every delivery, whatever the PUBACK said (mqtt.js emits 'message' only for reason 0)
    const m = mqtt.connect(tg.mqttUrl, {
      protocolVersion: 5, reconnectPeriod: 0, clientId: 'q-rejecter',
      customHandleAcks: (_topic, payload, _packet, done) => {
        seen.push(payload.toString());
        done(payload.toString() === 'malformed' ? 0x99 : 0);
      },
    });
    await new Promise<void>((resolve, reject) => { m.once('connect', () => resolve()); m.once('error', reject); });
    try {
      await c.withReceipt('SEND', { destination: '/queue/rj' }, 'malformed');
      await c.withReceipt('SEND', { destination: '/queue/rj' }, 'fine');
      await m.subscribeAsync('$queue/rj', { qos: 1 });
      await waitFor(() => dlq.received.length >= 2 && seen.length >= 2, 5000, 'dead letter and both deliveries');
      await new Promise((r) => setTimeout(r, 150));
      assert.deepEqual(seen, ['malformed', 'fine'], 'delivered once each: the rejected one is not redelivered');
      assert.equal(dlq.received[1]!.payload, 'malformed');
    } finally {
      await m.endAsync();
    }
  });

  it('MQTT consumers of a STOMP-fed queue: 500 receipted SENDs reach a QoS 1 mqtt.js consumer once each, in order', async () => {
    const pub = await stompitConnect(tg.stompPort);
    stompits.push(pub);
    await sendReceipted(pub, '/queue/s2m', 500, (i) => `s${i}`, 100);
    const m = await connectClient(tg.mqttUrl, { protocolVersion: 4 });
    mqtts.push(m);
    await m.client.subscribeAsync('$queue/s2m', { qos: 1 });
    await m.waitFor(500, 10_000);
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(m.received.map((r) => r.payload), Array.from({ length: 500 }, (_, i) => `s${i}`));
    assert.ok(m.received.every((r) => r.topic === '$queue/s2m'));
  });

  it('STOMP consumers of an MQTT-fed queue: QoS 1 and QoS 0 publishes to $queue/<name> are enqueued; stompit consumer gets each once', async () => {
    const m = await connectClient(tg.mqttUrl, { protocolVersion: 5 });
    mqtts.push(m);
    for (let i = 0; i < 200; i++) await m.client.publishAsync('$queue/m2s', `q1-${i}`, { qos: 1 });
    for (let i = 0; i < 50; i++) await m.client.publishAsync('$queue/m2s', `q0-${i}`, { qos: 0 });
    const c = await stompitConnect(tg.stompPort);
    stompits.push(c);
    const got: string[] = [];
    c.subscribe({ destination: '/queue/m2s', ack: 'client-individual' }, (err: Error | null, msg: StompitMessage) => {
      if (err) return;
      void readBody(msg).then((b) => {
        got.push(b);
        c.ack(msg);
      });
    });
    await waitFor(() => got.length >= 250, 10_000, `250 (have ${got.length})`);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(got.length, 250);
    assert.deepEqual(got.slice(0, 200), Array.from({ length: 200 }, (_, i) => `q1-${i}`));
    assert.deepEqual(got.slice(200).sort(), Array.from({ length: 50 }, (_, i) => `q0-${i}`).sort());
  });
});
