// E2E: a WebSocket subscriber that stops reading never stalls a fast subscriber on the same topic, is closed past http.wsMaxBufferedBytes (counted in /metrics), and the gateway's RSS stays bounded. Imports ws, mqtt-packet, the test helpers and node:test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import mqttPacket from 'mqtt-packet';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { connectClient, waitUntil, withTimeout, type TestClient } from '../helpers/mqtt-clients.ts';

const LIMIT = 1024 * 1024;
const PAYLOAD = Buffer.alloc(16 * 1024, 0x61);
const TOTAL = 2000; // 32 MiB through the gateway: 32x the slow client's limit
const BATCH = 50;

setFlagsFromString('--expose-gc');
/** A full GC between samples, so RSS reflects live memory rather than garbage not yet collected. */
const gc = runInNewContext('gc') as () => void;

/** A raw MQTT-over-WebSocket subscriber that connects, subscribes, then stops reading its socket. */
async function slowSubscriber(port: number, topic: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, 'mqtt');
  await withTimeout(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), 3000, 'ws open');
  const got: string[] = [];
  // Packets need not align with WebSocket messages [MQTT-6.0.0-2]: parse the stream.
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('packet', (p: mqttPacket.Packet) => got.push(p.cmd));
  ws.on('message', (d: Buffer) => parser.parse(d));
  ws.send(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'slow-ws', clean: true, keepalive: 0 }));
  ws.send(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] }));
  await waitUntil(() => got.includes('suback'), 3000, 'SUBACK on the slow client');
  ws.pause(); // stop reading: the kernel buffers fill, then the gateway's
  return ws;
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await withTimeout(fetch(`http://127.0.0.1:${port}/metrics`), 3000, 'metrics')).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('WebSocket backpressure', () => {
  let gw: TestGateway;
  const clients: TestClient[] = [];
  let slow: WebSocket | undefined;
  before(async () => {
    gw = await startGateway({ http: { wsMaxBufferedBytes: LIMIT }, sys: { intervalMs: 0 } });
  });
  after(async () => {
    slow?.terminate();
    for (const c of clients) await c.end();
    await gw.close();
  });

  test('a paused ws subscriber is closed past the limit; a fast subscriber gets every message; RSS stays bounded', async () => {
    const topic = 'bp/stream';
    slow = await slowSubscriber(gw.httpPort, topic);
    const fast = await connectClient(gw.mqttUrl, { protocolVersion: 4 });
    clients.push(fast);
    await withTimeout(fast.client.subscribeAsync(topic, { qos: 0 }), 3000, 'subscribe');
    const pub = await connectClient(gw.mqttUrl, { protocolVersion: 4 });
    clients.push(pub);
    assert.equal(gw.gateway.mqtt.connections.size, 3);
    // Count, and let go of what the fast client received, so RSS measures the gateway, not the test's copies.
    let got = 0;
    fast.client.on('message', () => got++);
    const slowConn = [...gw.gateway.mqtt.connections].find((c) => c.clientId === 'slow-ws');
    assert.ok(slowConn, 'the slow connection is registered');
    // Test-only peek at the adapter's stream: what the gateway holds for this client.
    const slowStream = (slowConn as unknown as { stream: Duplex }).stream;
    let slowMax = 0;
    gc();
    const live = (): number => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const rss0 = process.memoryUsage().rss;
    const live0 = live();
    let rssMax = rss0;
    let liveMax = live0;
    const t0 = Date.now();
    for (let sent = 0; sent < TOTAL; sent += BATCH) {
      for (let i = 0; i < BATCH; i++) pub.client.publish(topic, PAYLOAD, { qos: 0 });
      // The fast client keeps up batch by batch: the slow one must not hold it back.
      await waitUntil(() => got >= sent + BATCH, 5000, `fast subscriber at ${sent + BATCH} (has ${got})`);
      fast.received.length = 0;
      if (!slowStream.destroyed) slowMax = Math.max(slowMax, slowStream.writableLength);
      if ((sent / BATCH) % 5 === 4) {
        gc();
        rssMax = Math.max(rssMax, process.memoryUsage().rss);
        liveMax = Math.max(liveMax, live());
      }
    }
    const elapsed = Date.now() - t0;
    assert.equal(got, TOTAL, 'the fast subscriber got every message');
    assert.ok(elapsed < 12_000, `32 MiB to the fast subscriber in ${elapsed} ms`);
    await waitUntil(() => gw.gateway.mqtt.connections.size === 2, 3000, 'the slow ws connection is gone');
    assert.equal(await metric(gw.httpPort, 'gateway_ws_slow_consumer_closes_total'), 1, 'the close is counted');
    assert.equal(await metric(gw.httpPort, 'gateway_connections{protocol="mqtt",transport="ws"}'), 0, 'no ws connection left');
    assert.ok(slowMax <= LIMIT + PAYLOAD.length + 64, `the slow client's backlog peaked at ${slowMax} bytes (limit ${LIMIT})`);
    // Without the limit the slow client's share alone (32 MiB) would sit in memory; allow heap noise, not that.
    // Live memory (heap + buffers after a full GC) is the tight bound; RSS keeps allocator high-water pages, so it gets a loose one.
    const liveGrowth = liveMax - live0;
    assert.ok(liveGrowth < 32 * 1024 * 1024, `live memory grew ${Math.round(liveGrowth / 1048576)} MiB while 32 MiB went through`);
    const growth = rssMax - rss0;
    assert.ok(growth < 64 * 1024 * 1024, `RSS grew ${Math.round(growth / 1048576)} MiB while 32 MiB went through`);
  });
});
