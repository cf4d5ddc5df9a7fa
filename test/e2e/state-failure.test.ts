// E2E: a state-store write error (disk full) while a persistent MQTT client subscribes makes /readyz fail from then on; /healthz stays up. Imports the test helpers and node:test.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { connectClient, sleep, uniqueId, type TestClient } from '../helpers/mqtt-clients.ts';

let gw: TestGateway;
let client: TestClient | undefined;

before(async () => {
  gw = await startGateway();
});
after(async () => {
  await client?.end().catch(() => undefined);
  await gw.close();
});

const status = async (path: string): Promise<number> => (await fetch(`http://127.0.0.1:${gw.httpPort}${path}`)).status;

test('a failed session-state write turns /readyz to 503 and it stays there', async () => {
  assert.equal(await status('/readyz'), 200);
  const state = gw.gateway.broker.state;
  assert.ok(state, 'persistence must be on');
  (state as { put: unknown }).put = () => Promise.reject(new Error('ENOSPC: no space left on device (injected)'));
  client = await connectClient(gw.mqttUrl, { protocolVersion: 4, clientId: uniqueId('sf'), clean: false });
  client.client.subscribe('sf/#', { qos: 1 }, () => undefined);
  const end = Date.now() + 3000;
  let code = 200;
  while (Date.now() < end && (code = await status('/readyz')) === 200) await sleep(20);
  assert.equal(code, 503, '/readyz reports not ready after the write error');
  assert.equal(await status('/healthz'), 200, 'the process is alive');
  await sleep(100);
  assert.equal(await status('/readyz'), 503, 'and stays not ready');
});
