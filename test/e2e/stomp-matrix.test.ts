// E2E: cross-protocol loss/duplicate/order counts for every pair: MQTT QoS 0/1/2 -> STOMP ack auto/client/client-individual, and STOMP SEND -> MQTT subscribers at QoS 0/1/2. Imports mqtt.js, the gateway and stomp test helpers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { RawStomp, header, waitFor } from '../helpers/stomp-clients.ts';

const N = 150;
const range = (n: number): number[] => [...Array(n).keys()];

describe('stomp <-> mqtt: loss/duplicate matrix', () => {
  let tg: TestGateway;
  let m: MqttClient;
  before(async () => {
    tg = await startGateway();
    m = await mqtt.connectAsync(tg.mqttUrl, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 3000 });
  });
  after(async () => {
    await m.endAsync();
    await tg.close();
  });

  for (const qos of [0, 1, 2] as const) {
    for (const ack of ['auto', 'client', 'client-individual'] as const) {
      it(`MQTT QoS ${qos} -> STOMP ack:${ack}: ${N} sent, ${N} received once each, in order`, async () => {
        const s = await RawStomp.connect(tg.stompPort);
        const topic = `mx/${qos}/${ack}`;
        try {
          await s.withReceipt('SUBSCRIBE', { id: 'm', destination: `/topic/${topic}`, ack, 'prefetch-count': '16' });
          await Promise.all(range(N).map((i) => m.publishAsync(topic, String(i), { qos })));
          const seen: number[] = [];
          for (let i = 0; i < N; i++) {
            const f = await s.next('MESSAGE', 3000);
            seen.push(Number(f.body.toString()));
            if (ack === 'auto') assert.equal(header(f, 'ack'), undefined);
            else if (ack === 'client-individual' || i % 8 === 7 || i === N - 1) s.send('ACK', { id: header(f, 'ack') as string });
          }
          const extra = await s.drain(150);
          assert.equal(extra.length, 0, `no duplicates after the last one: ${extra.map((f) => f.body.toString()).join(',')}`);
          assert.deepEqual(seen, range(N), 'each once, in order');
        } finally {
          s.close();
        }
      });
    }
  }

  it(`STOMP SEND (receipted) -> MQTT subscribers at QoS 0, 1 and 2: ${N} each, once, in order, at min(1, subscription QoS)`, async () => {
    const subs = await Promise.all(
      ([0, 1, 2] as const).map(async (q) => {
        const c = await mqtt.connectAsync(tg.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000 });
        const got: { n: number; qos: number }[] = [];
        c.on('message', (_t, payload, packet: IPublishPacket) => got.push({ n: Number(payload.toString()), qos: packet.qos }));
        await c.subscribeAsync('mx/s2m', { qos: q });
        return { q, c, got };
      }),
    );
    const s = await RawStomp.connect(tg.stompPort);
    try {
      for (let i = 0; i < N; i++) s.send('SEND', { destination: '/topic/mx/s2m', receipt: `r${i}` }, String(i));
      for (let i = 0; i < N; i++) assert.equal(header(await s.next('RECEIPT', 3000), 'receipt-id'), `r${i}`, 'receipts in order');
      await waitFor(() => subs.every((x) => x.got.length >= N), 5000, 'MQTT deliveries');
      await new Promise((r) => setTimeout(r, 100));
      for (const { q, got } of subs) {
        assert.deepEqual(got.map((g) => g.n), range(N), `QoS ${q} subscriber: each once, in order`);
        assert.ok(got.every((g) => g.qos === Math.min(1, q)), `QoS ${q} subscriber: delivered at QoS ${Math.min(1, q)}`);
      }
    } finally {
      s.close();
      await Promise.all(subs.map((x) => x.c.endAsync()));
    }
  });

  it(`STOMP SEND to /queue -> MQTT QoS 1 publisher to $queue/<name> share one queue: ${N} + ${N}, each once`, async () => {
    const s = await RawStomp.connect(tg.stompPort);
    const c = await RawStomp.connect(tg.stompPort);
    try {
      await c.withReceipt('SUBSCRIBE', { id: 'q', destination: '/queue/mxq', ack: 'client-individual', 'prefetch-count': '32' });
      for (let i = 0; i < N; i++) s.send('SEND', { destination: '/queue/mxq' }, `s${i}`);
      await Promise.all(range(N).map((i) => m.publishAsync('$queue/mxq', `m${i}`, { qos: 1 })));
      const got: string[] = [];
      for (let i = 0; i < 2 * N; i++) {
        const f = await c.next('MESSAGE', 3000);
        got.push(f.body.toString());
        c.send('ACK', { id: header(f, 'ack') as string });
      }
      assert.equal((await c.drain(150)).length, 0);
      assert.deepEqual(got.filter((b) => b.startsWith('s')), range(N).map((i) => `s${i}`), 'STOMP order kept');
      assert.deepEqual(got.filter((b) => b.startsWith('m')), range(N).map((i) => `m${i}`), 'MQTT order kept');
    } finally {
      s.close();
      c.close();
    }
  });
});
