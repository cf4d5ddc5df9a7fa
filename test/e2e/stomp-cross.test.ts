// E2E: STOMP <-> MQTT through one broker: /topic mapping, wildcards, retained, header mapping both ways, loss/duplicate counts per ack mode. Imports mqtt.js and the stomp test helpers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type MqttClient, type IPublishPacket } from 'mqtt';
import { RawStomp, header, startStomp, waitFor, type StompFixture } from '../helpers/stomp-clients.ts';

async function mqttClient(url: string, v5 = true): Promise<MqttClient> {
  return mqtt.connectAsync(url, { protocolVersion: v5 ? 5 : 4, reconnectPeriod: 0, connectTimeout: 3000 });
}

describe('stomp <-> mqtt', () => {
  let fx: StompFixture;
  before(async () => {
    fx = await startStomp({ defaultPrefetch: 20 });
  });
  after(async () => {
    await fx.close();
  });

  it('MQTT PUBLISH reaches STOMP /topic subscriptions with + and #; STOMP SEND reaches MQTT subscribers', async () => {
    const s = await RawStomp.connect(fx.port);
    const m = await mqttClient(fx.tg.mqttUrl);
    try {
      await s.withReceipt('SUBSCRIBE', { id: 'plus', destination: '/topic/sensors/+/temp' });
      await s.withReceipt('SUBSCRIBE', { id: 'hash', destination: '/topic/sensors/#' });
      await m.publishAsync('sensors/1/temp', '21.5', { qos: 1 });
      const got = [await s.next('MESSAGE'), await s.next('MESSAGE')];
      assert.deepEqual(got.map((f) => header(f, 'subscription')).sort(), ['hash', 'plus']);
      for (const f of got) {
        assert.equal(header(f, 'destination'), '/topic/sensors/1/temp');
        assert.equal(f.body.toString(), '21.5');
      }
      const inbox: string[] = [];
      m.on('message', (topic, payload) => inbox.push(`${topic}=${payload.toString()}`));
      await m.subscribeAsync('cmd/#', { qos: 1 });
      await s.withReceipt('SEND', { destination: '/topic/cmd/lamp/1' }, 'on');
      await waitFor(() => inbox.length === 1, 3000, 'MQTT delivery');
      assert.deepEqual(inbox, ['cmd/lamp/1=on']);
    } finally {
      s.close();
      await m.endAsync();
    }
  });

  it('delivers retained MQTT messages to a new STOMP subscriber', async () => {
    const m = await mqttClient(fx.tg.mqttUrl);
    const s = await RawStomp.connect(fx.port);
    try {
      await m.publishAsync('state/door', 'open', { qos: 1, retain: true });
      await s.withReceipt('SUBSCRIBE', { id: 'r', destination: '/topic/state/+' });
      const f = await s.next('MESSAGE');
      assert.equal(header(f, 'destination'), '/topic/state/door');
      assert.equal(f.body.toString(), 'open');
    } finally {
      s.close();
      await m.endAsync();
    }
  });

  it('maps MQTT 5 properties to STOMP headers', async () => {
    const m = await mqttClient(fx.tg.mqttUrl);
    const s = await RawStomp.connect(fx.port);
    try {
      await s.withReceipt('SUBSCRIBE', { id: 'p', destination: '/topic/props/in' });
      const before = Date.now();
      await m.publishAsync('props/in', '{}', {
        qos: 1,
        properties: {
          contentType: 'application/json',
          correlationData: Buffer.from('req-7'),
          responseTopic: 'props/reply',
          messageExpiryInterval: 60,
          userProperties: { room: 'kitchen', tag: ['a', 'b'] },
        },
      });
      const f = await s.next('MESSAGE');
      assert.equal(header(f, 'content-type'), 'application/json');
      assert.equal(header(f, 'correlation-id'), 'req-7');
      assert.equal(header(f, 'reply-to'), '/topic/props/reply');
      const exp = Number(header(f, 'expires'));
      assert.ok(exp >= before + 59_000 && exp <= Date.now() + 61_000, `expires ${exp}`);
      assert.equal(header(f, 'room'), 'kitchen');
      assert.deepEqual(f.headers.filter(([n]) => n === 'tag').map(([, v]) => v), ['a', 'b']);
    } finally {
      s.close();
      await m.endAsync();
    }
  });

  it('maps STOMP headers to MQTT 5 properties', async () => {
    const m = await mqttClient(fx.tg.mqttUrl);
    const s = await RawStomp.connect(fx.port);
    try {
      const got: IPublishPacket[] = [];
      m.on('message', (_t, _p, packet) => got.push(packet));
      await m.subscribeAsync('props/out', { qos: 1 });
      const expires = Date.now() + 30_000;
      await s.withReceipt(
        'SEND',
        { destination: '/topic/props/out', 'content-type': 'text/plain', 'correlation-id': 'c-1', 'reply-to': '/queue/replies', expires: String(expires), site: 'north' },
        'hi',
      );
      await waitFor(() => got.length === 1, 3000, 'MQTT delivery');
      const p = got[0]!.properties ?? {};
      assert.equal(p.contentType, 'text/plain');
      assert.equal(Buffer.from(p.correlationData ?? []).toString(), 'c-1');
      assert.equal(p.responseTopic, '$queue/replies');
      assert.ok((p.messageExpiryInterval ?? 0) >= 29 && (p.messageExpiryInterval ?? 0) <= 30);
      assert.deepEqual({ ...p.userProperties }, { site: 'north' });
    } finally {
      s.close();
      await m.endAsync();
    }
  });

  for (const ack of ['auto', 'client', 'client-individual'] as const) {
    it(`MQTT -> STOMP ack:${ack}: 200 QoS 1 messages, no loss, no duplicates, in order`, async () => {
      const m = await mqttClient(fx.tg.mqttUrl, false);
      const s = await RawStomp.connect(fx.port);
      const N = 200;
      try {
        await s.withReceipt('SUBSCRIBE', { id: 'n', destination: `/topic/count/${ack}`, ack, 'prefetch-count': '10' });
        const pubs: Promise<unknown>[] = [];
        for (let i = 0; i < N; i++) pubs.push(m.publishAsync(`count/${ack}`, String(i), { qos: 1 }));
        await Promise.all(pubs);
        const seen: number[] = [];
        for (let i = 0; i < N; i++) {
          const f = await s.next('MESSAGE');
          seen.push(Number(f.body.toString()));
          if (ack === 'auto') assert.equal(header(f, 'ack'), undefined);
          else {
            assert.ok(header(f, 'ack'));
            // client: ack every 10th (cumulative); client-individual: each one.
            if (ack === 'client-individual' || i % 10 === 9) s.send('ACK', { id: header(f, 'ack') as string });
          }
        }
        assert.deepEqual((await s.drain(150)).length, 0, 'no duplicates after the last one');
        assert.equal(new Set(seen).size, N, 'no duplicates');
        assert.deepEqual(seen, [...Array(N).keys()], 'all, in order');
      } finally {
        s.close();
        await m.endAsync();
      }
    });
  }

  it('STOMP -> MQTT: 200 SENDs with receipts, counted at an MQTT QoS 1 subscriber', async () => {
    const m = await mqttClient(fx.tg.mqttUrl);
    const s = await RawStomp.connect(fx.port);
    const N = 200;
    try {
      const seen: number[] = [];
      m.on('message', (_t, payload) => seen.push(Number(payload.toString())));
      await m.subscribeAsync('count/s2m', { qos: 1 });
      for (let i = 0; i < N; i++) s.send('SEND', { destination: '/topic/count/s2m', receipt: String(i) }, String(i));
      for (let i = 0; i < N; i++) assert.equal(header(await s.next('RECEIPT'), 'receipt-id'), String(i));
      await waitFor(() => seen.length >= N, 5000, 'all MQTT deliveries');
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(seen, [...Array(N).keys()]);
    } finally {
      s.close();
      await m.endAsync();
    }
  });
});
