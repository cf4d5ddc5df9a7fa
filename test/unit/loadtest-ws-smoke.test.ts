// Smoke test of the load generator over WebSocket: qos0/qos1/latency against the in-process WebSocket forwarder. Imports loadtest/*.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWsForwarder } from '../../loadtest/peers/ws-forwarder.ts';
import { runWorkload } from '../../loadtest/driver.ts';
import { buildWorkload } from '../../loadtest/scenarios.ts';
import { withTransport } from '../../loadtest/ws-transport.ts';

for (const scenario of ['qos0', 'qos1', 'latency'] as const) {
  test(`${scenario} over WebSocket through the trivial ws forwarder: delivered, nothing lost or duplicated`, async () => {
    const fwd = await startWsForwarder(0);
    try {
      // The TCP port is deliberately wrong: every byte must go over the WebSocket.
      const w = withTransport(buildWorkload(scenario, '127.0.0.1', 1, `wsmoke-${scenario}`), { transport: 'ws', wsUrl: `ws://127.0.0.1:${fwd.port}/mqtt` });
      const r = await runWorkload(w, { warmupS: 0.3, durationS: 0.7, brokerPid: null, label: null });
      assert.ok(r.sent > 500, `sent only ${r.sent}`);
      assert.ok(r.msgPerS > 500, `delivered ${r.msgPerS} msg/s`);
      assert.equal(r.unique, r.sent);
      assert.equal(r.lost, 0);
      assert.equal(r.duplicates, 0);
      assert.equal(r.outOfOrder, 0);
      if (scenario === 'qos1') assert.equal(r.acked, r.sent);
      if (scenario === 'latency') assert.ok(r.latencyUs !== null && r.latencyUs.samples > 500 && r.latencyUs.p50 > 0);
    } finally {
      await fwd.close();
    }
  });
}
