// E2E: @stomp/stompjs in Node over the gateway's WebSocket endpoint (ws://.../stomp, v12.stomp): subscribe, send, ack modes, receipts, and cross-protocol with mqtt.js. Imports @stomp/stompjs, ws, mqtt.js and the test helpers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, type IMessage, type IFrame } from '@stomp/stompjs';
import WebSocket from 'ws';
import mqtt from 'mqtt';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/stomp-clients.ts';

/** Activates a stompjs client over `ws` and resolves on CONNECTED (bounded). */
function connectStompJs(url: string, connectHeaders: Record<string, string> = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client({
      webSocketFactory: () => new WebSocket(url, ['v12.stomp']),
      connectHeaders: { host: 'localhost', ...connectHeaders },
      reconnectDelay: 0,
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      debug: () => undefined,
    });
    const t = setTimeout(() => reject(new Error('stompjs: no CONNECTED in 3 s')), 3000);
    client.onConnect = () => {
      clearTimeout(t);
      resolve(client);
    };
    client.onStompError = (f: IFrame) => {
      clearTimeout(t);
      reject(new Error(`stompjs ERROR ${f.headers.message}`));
    };
    client.activate();
  });
}

/** Publishes with a receipt and resolves when the RECEIPT arrives (bounded). */
function sendWithReceipt(c: Client, destination: string, body: string, headers: Record<string, string> = {}): Promise<void> {
  const receipt = `r-${Math.random().toString(36).slice(2)}`;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no RECEIPT for ${receipt}`)), 3000);
    c.watchForReceipt(receipt, () => {
      clearTimeout(t);
      resolve();
    });
    c.publish({ destination, body, headers: { ...headers, receipt } });
  });
}

describe('stomp: @stomp/stompjs over WebSocket', () => {
  let tg: TestGateway;
  let url: string;
  const clients: Client[] = [];
  before(async () => {
    tg = await startGateway();
    url = `ws://127.0.0.1:${tg.httpPort}/stomp`;
  });
  after(async () => {
    for (const c of clients) await c.deactivate();
    await tg.close();
  });
  async function open(headers: Record<string, string> = {}): Promise<Client> {
    const c = await connectStompJs(url, headers);
    clients.push(c);
    return c;
  }

  it('negotiates 1.2, subscribes, sends with a receipt, and receives body and headers', async () => {
    const c = await open();
    assert.equal(c.connectedVersion, '1.2');
    const got: IMessage[] = [];
    c.subscribe('/topic/js/hello', (m) => got.push(m));
    await sendWithReceipt(c, '/topic/js/hello', 'hi there', { 'content-type': 'text/plain', 'x-k': 'v' });
    await waitFor(() => got.length === 1, 3000, 'stompjs MESSAGE');
    assert.equal(got[0]!.body, 'hi there');
    assert.equal(got[0]!.headers['content-type'], 'text/plain');
    assert.equal(got[0]!.headers['x-k'], 'v');
    assert.equal(got[0]!.headers.destination, '/topic/js/hello');
  });

  for (const ack of ['auto', 'client', 'client-individual'] as const) {
    it(`ack:${ack}: 100 messages, none lost or duplicated; unacknowledged ones come back after NACK`, async () => {
      const c = await open();
      const got: string[] = [];
      let nacked = false;
      c.subscribe(
        `/topic/js/ack/${ack}`,
        (m) => {
          got.push(m.body);
          if (ack === 'auto') return;
          if (!nacked && m.body === '10') {
            nacked = true;
            m.nack();
            return;
          }
          m.ack();
        },
        { ack, 'prefetch-count': '10' },
      );
      const p = await open();
      for (let i = 0; i < 100; i++) await sendWithReceipt(p, `/topic/js/ack/${ack}`, String(i));
      const expected = ack === 'auto' ? 100 : 101;
      await waitFor(() => got.length >= expected, 5000, `${expected} deliveries`);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(got.length, expected, 'no extra deliveries');
      assert.deepEqual([...new Set(got)].map(Number).sort((a, b) => a - b), [...Array(100).keys()]);
      if (ack !== 'auto') assert.equal(got.filter((b) => b === '10').length, 2, 'the NACKed one came back once');
    });
  }

  it('cross-protocol: mqtt.js PUBLISH reaches stompjs, stompjs SEND reaches mqtt.js (100 each, no loss/duplicates)', async () => {
    const c = await open();
    const m = await mqtt.connectAsync(tg.mqttUrl, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 3000 });
    try {
      const toStomp: string[] = [];
      const toMqtt: string[] = [];
      c.subscribe('/topic/js/x/+', (msg) => {
        toStomp.push(msg.body);
        msg.ack();
      }, { ack: 'client-individual' });
      m.on('message', (_t, payload) => toMqtt.push(payload.toString()));
      await m.subscribeAsync('js/y/#', { qos: 1 });
      // A receipted no-op so the SUBSCRIBE is known to be in place.
      await sendWithReceipt(c, '/topic/js/none', '');
      for (let i = 0; i < 100; i++) await m.publishAsync(`js/x/${i % 3}`, `m${i}`, { qos: 1 });
      for (let i = 0; i < 100; i++) await sendWithReceipt(c, `/topic/js/y/${i % 3}`, `s${i}`);
      await waitFor(() => toStomp.length >= 100 && toMqtt.length >= 100, 5000, 'cross deliveries');
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(toStomp, [...Array(100).keys()].map((i) => `m${i}`));
      assert.deepEqual(toMqtt, [...Array(100).keys()].map((i) => `s${i}`));
    } finally {
      await m.endAsync();
    }
  });
});
