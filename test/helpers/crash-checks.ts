// Test helper: the assertions every crash test makes on one iteration of loadtest/crash-loop.ts (nothing acknowledged lost, QoS 2 once, per-QoS order). Imports node:assert and the crash loop's types.
import assert from 'node:assert/strict';
import { describeResult, type IterationResult } from '../../loadtest/crash-loop.ts';

/** Asserts the iteration kept every promise; returns its description (for diagnostics). */
export function assertNothingLost(r: IterationResult, minAcks: number): string {
  const why = describeResult(r);
  assert.ok(r.ackedBeforeCrash >= minAcks, `the kill came after the acks it waited for: ${why}`);
  assert.ok(r.publisherSessionPresent, `publisher session survived the crash: ${why}`);
  assert.ok(r.publisherDrained, `every re-sent PUBLISH / PUBREL was completed after restart: ${why}`);
  assert.equal(r.subscribers.length, 2);
  for (const s of r.subscribers) {
    assert.ok(s.sessionPresent, `${s.name} session survived: ${why}`);
    assert.deepEqual(s.lostAckedBeforeCrash, [], `${s.name}: acked before the crash, never delivered: ${why}`);
    assert.deepEqual(s.lost, [], `${s.name}: acked (before or after restart), never delivered: ${why}`);
    assert.deepEqual(s.qos2Duplicates, [], `${s.name}: QoS 2 delivered twice: ${why}`);
    assert.deepEqual(s.orderViolations, [], `${s.name}: per-QoS order broken: ${why}`);
  }
  return why;
}
