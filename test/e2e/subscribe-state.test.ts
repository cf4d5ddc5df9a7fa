// E2E: subscription state is written incrementally - each SUBSCRIBE packet adds about the same number of bytes to the state store however many filters the session already has (a whole-image rewrite would grow with every packet); the filters come back after kill -9 (small loadtest/filters-bench.ts run). Imports the test helpers, the benchmark and node:test.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { connectClient, sleep, uniqueId, type TestClient } from '../helpers/mqtt-clients.ts';
import { runFiltersBench } from '../../loadtest/filters-bench.ts';

let gw: TestGateway | undefined;
let c: TestClient | undefined;
after(async () => {
  await c?.end();
  await gw?.close();
});

test('8 SUBSCRIBE packets of 250 filters: each writes about the same bytes (O(changed), not O(session))', { timeout: 60_000 }, async () => {
  gw = await startGateway({ persistence: { flush: 'always' } });
  c = await connectClient(gw.mqttUrl, { protocolVersion: 5, clientId: uniqueId('inc'), clean: false, properties: { sessionExpiryInterval: 3600 } });
  const kv = join(gw.dataDir, 'state', 'kv.log');
  const growth: number[] = [];
  for (let k = 0; k < 8; k++) {
    const before = statSync(kv).size;
    const map: Record<string, { qos: 1 }> = {};
    for (let i = 0; i < 250; i++) map[`inc/${k}/${i}/#`] = { qos: 1 };
    await c.client.subscribeAsync(map);
    await sleep(20);
    growth.push(statSync(kv).size - before);
  }
  const first = growth[0]!;
  assert.ok(first > 0 && first < 250 * 200, `first packet wrote ${first} bytes`);
  for (const g of growth) assert.ok(g <= first * 1.5, `per-packet writes stay flat: ${growth.join(', ')}`);
});

test('1,000 filters in 5 packets survive kill -9 (filters-bench, small)', { timeout: 120_000 }, async (t) => {
  const r = await runFiltersBench(1000, 5);
  t.diagnostic(JSON.stringify(r));
  assert.equal(r.restoredSubscriptions, true);
  assert.ok(r.rssAfterMb < 300, `RSS ${r.rssAfterMb} MB`);
});
