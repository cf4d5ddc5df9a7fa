// Smoke test of the loss scenarios (loadtest/loss.ts): NATS (JetStream) keeps every acknowledged QoS 1 message for a paused or offline subscriber; Mosquitto's 1000-message queue shows the measurement catches a loss. Imports loadtest/*.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runLoss, type LossOptions } from '../../loadtest/loss.ts';
import { startMosquitto, startNats, type Target } from '../../loadtest/targets.ts';

const opts = (runId: string, messages: number): LossOptions => ({ messages, pauseS: 0.5, window: 500, quietS: 1.5, maxCollectS: 30, runId });

async function withTarget(start: () => Promise<Target>, fn: (t: Target) => Promise<void>): Promise<void> {
  const t = await start();
  try {
    await fn(t);
  } finally {
    await t.close();
  }
}

test('slow-subscriber and offline-session against NATS: delivered = expected = sent', async () => {
  await withTarget(startNats, async (t) => {
    for (const scenario of ['slow-subscriber', 'offline-session'] as const) {
      const r = await runLoss(scenario, t, opts(`nats-${scenario}`, 3000));
      assert.equal(r.sent, 3000, scenario);
      assert.equal(r.expected, 3000, `${scenario}: every PUBLISH acknowledged`);
      assert.equal(r.delivered, 3000, `${scenario}: ${JSON.stringify(r)}`);
      assert.equal(r.lost, 0);
      if (scenario === 'offline-session') assert.equal(r.sessionPresent, true);
    }
  });
});

test('offline-session against Mosquitto (max_queued_messages 1000): the loss is counted', async () => {
  await withTarget(() => startMosquitto(false), async (t) => {
    const r = await runLoss('offline-session', t, opts('mosq-offline', 3000));
    assert.equal(r.expected, 3000);
    assert.equal(r.sessionPresent, true);
    assert.ok(r.delivered >= 900 && r.delivered <= 1100, `delivered ${r.delivered}, Mosquitto keeps ~1000`);
    assert.equal(r.lost, r.expected - r.delivered);
    assert.match(r.note, /nothing new/);
  });
});
