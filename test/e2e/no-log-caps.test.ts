// E2E: with persistence disabled there is no log to fall back on, so sessions.maxQueued is a hard cap again: an offline persistent session keeps the newest maxQueued messages (drop-oldest) and the drops are counted. Imports the test helpers and node:test.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { connectClient, sleep, uniqueId, type TestClient } from '../helpers/mqtt-clients.ts';

let gw: TestGateway | undefined;
const clients: TestClient[] = [];
after(async () => {
  for (const c of clients) await c.end();
  await gw?.close();
});

test('persistence off: an offline session keeps the newest 100 of 300 and counts 200 drops', async () => {
  gw = await startGateway({ persistence: { enabled: false }, sessions: { maxQueued: 100 } });
  const id = uniqueId('nolog');
  const first = await connectClient(gw.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
  await first.client.subscribeAsync('nolog/t', { qos: 1 });
  await first.end();
  const pub = await connectClient(gw.mqttUrl, { protocolVersion: 4 });
  clients.push(pub);
  for (let i = 0; i < 300; i++) await pub.client.publishAsync('nolog/t', String(i), { qos: 1 });
  const back = await connectClient(gw.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
  clients.push(back);
  await back.waitFor(100);
  await sleep(200);
  assert.deepEqual(back.received.map((r) => Number(r.payload)), Array.from({ length: 100 }, (_, i) => 200 + i));
  assert.equal(gw.gateway.broker.stats.dropped, 200);
  assert.equal(gw.gateway.broker.stats.behindEntered, 0, 'no log: nobody falls behind');
});
