// E2E crash with the DEFAULT session limits and more acknowledged messages than the read-ahead (sessions.maxQueued 10,000) holds: offline persistent QoS 2 subscribers lose nothing across kill -9 and get no QoS 2 twice. Imports node:test and the crash loop.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeResult, runCrashIteration } from '../../loadtest/crash-loop.ts';

describe('crash: kill -9 past the read-ahead with default session limits', () => {
  test('12,000+ acked QoS 1/2 messages: every one delivered to both offline subscribers, QoS 2 exactly once', { timeout: 300_000 }, async (t) => {
    const r = await runCrashIteration({ seed: 20261130, flush: 'interval', window: 200, minAcks: 12_000, maxAcks: 13_000, tail: 20, collectMs: 120_000 });
    const why = describeResult(r);
    t.diagnostic(why);
    assert.ok(r.ackedBeforeCrash >= 12_000, `the kill came after the acks it waited for: ${why}`);
    assert.ok(r.publisherSessionPresent, `publisher session survived the crash: ${why}`);
    assert.ok(r.publisherDrained, `every re-sent PUBLISH / PUBREL was completed after restart: ${why}`);
    assert.equal(r.subscribers.length, 2);
    for (const s of r.subscribers) {
      assert.ok(s.sessionPresent, `${s.name} session survived: ${why}`);
      assert.deepEqual(s.lostAckedBeforeCrash, [], `${s.name}: acked before the crash, never delivered: ${why}`);
      assert.deepEqual(s.lost, [], `${s.name}: acked, never delivered: ${why}`);
      assert.deepEqual(s.qos2Duplicates, [], `${s.name}: QoS 2 delivered twice: ${why}`);
      assert.deepEqual(s.orderViolations, [], `${s.name}: per-QoS order broken: ${why}`);
    }
  });
});
