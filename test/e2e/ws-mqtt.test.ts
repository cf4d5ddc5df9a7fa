// MQTT over WebSocket end to end with mqtt.js, crossing to a TCP client; health probes and a refused path. Imports the gateway test helper, mqtt and ws.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';

let tg: TestGateway;
before(async () => {
  tg = await startGateway({ persistence: { enabled: false } });
});
after(async () => {
  await tg.close();
});

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<T>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

test('a WebSocket MQTT client and a TCP client exchange messages both ways (v3.1.1 and v5)', async () => {
  for (const protocolVersion of [4, 5] as const) {
    const ws = await mqtt.connectAsync(`ws://127.0.0.1:${tg.httpPort}/mqtt`, { protocolVersion, reconnectPeriod: 0 });
    const tcp = await mqtt.connectAsync(tg.mqttUrl, { protocolVersion, reconnectPeriod: 0 });
    try {
      await ws.subscribeAsync('to/ws', { qos: 1 });
      await tcp.subscribeAsync('to/tcp', { qos: 1 });
      const gotWs = withTimeout(new Promise<string>((r) => ws.once('message', (_t, m) => r(m.toString()))), 3000, 'ws message');
      const gotTcp = withTimeout(new Promise<string>((r) => tcp.once('message', (_t, m) => r(m.toString()))), 3000, 'tcp message');
      await tcp.publishAsync('to/ws', `hello ws ${protocolVersion}`, { qos: 1 });
      await ws.publishAsync('to/tcp', `hello tcp ${protocolVersion}`, { qos: 1 });
      assert.equal(await gotWs, `hello ws ${protocolVersion}`);
      assert.equal(await gotTcp, `hello tcp ${protocolVersion}`);
    } finally {
      await ws.endAsync();
      await tcp.endAsync();
    }
  }
});

test('the WebSocket picks the mqtt subprotocol; an unknown path is refused with 404', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${tg.httpPort}/mqtt`, ['mqttv3.1', 'mqtt']);
  await withTimeout(new Promise((r, j) => ws.once('open', r).once('error', j)), 3000, 'open');
  assert.equal(ws.protocol, 'mqtt');
  ws.close();
  const bad = new WebSocket(`ws://127.0.0.1:${tg.httpPort}/nope`);
  const err = await withTimeout(new Promise<Error>((r) => bad.once('error', r)), 3000, 'refusal');
  assert.match(err.message, /404/);
});

test('an upgrade offering only unknown subprotocols is refused with 400', async () => {
  for (const path of ['/mqtt', '/stomp']) {
    const bad = new WebSocket(`ws://127.0.0.1:${tg.httpPort}${path}`, ['amqp']);
    const err = await withTimeout(new Promise<Error>((r) => bad.once('error', r)), 3000, `refusal on ${path}`);
    assert.match(err.message, /400/, path);
  }
});

test('/healthz and /readyz answer 200 once listeners are bound; other paths 404', async () => {
  const base = `http://127.0.0.1:${tg.httpPort}`;
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  assert.equal((await fetch(`${base}/nothing-here`)).status, 404);
});
