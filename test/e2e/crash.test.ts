// E2E crash sample: a fixed-seed short run of loadtest/crash-loop.ts (SIGKILL mid-publish, restart, resend, collect) per flush policy. Imports node:test and the crash loop.
//
// The long version: node --import tsx loadtest/crash-loop.ts --iterations N --seed S --flush interval
// Each iteration spawns the gateway twice; under a loaded machine a start costs 1-3 s, so the
// sample is 3 iterations per policy to stay well under a minute.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeResult, runCrashIteration, type IterationResult } from '../../loadtest/crash-loop.ts';
import { assertNothingLost } from '../helpers/crash-checks.ts';

const SEED = 20261122;
const PER_POLICY = 3;

for (const flush of ['always', 'interval'] as const) {
  describe(`crash: SIGKILL mid-publish with flush ${flush}`, () => {
    const results: IterationResult[] = [];
    for (let i = 0; i < PER_POLICY; i++) {
      const seed = SEED + i;
      test(`seed ${seed}: acked QoS 1/2 delivered, QoS 2 exactly once, per-QoS order kept`, async (t) => {
        const r = await runCrashIteration({ seed, flush, minAcks: 50, maxAcks: 300, tail: 20, collectMs: 8000 });
        results.push(r);
        const why = assertNothingLost(r, 50);
        // QoS 1 duplicates are allowed; shown so a change in their rate is visible.
        if (r.subscribers.some((s) => s.qos1Duplicates > 0)) t.diagnostic(`qos1 duplicates: ${why}`);
      });
    }
    test('the sample re-sent unacknowledged QoS 2 PUBLISHes at least once (dedupe path exercised)', () => {
      assert.equal(results.length, PER_POLICY);
      const resent = results.reduce((n, r) => n + r.resentQos2Publishes, 0);
      assert.ok(resent > 0, `no iteration left anything open at the kill: ${results.map(describeResult).join('\n')}`);
    });
  });
}
