// E2E crash with the DEFAULT session limits and more acknowledged messages than the read-ahead (sessions.maxQueued 10,000) holds: offline persistent QoS 2 subscribers lose nothing across kill -9 and get no QoS 2 twice. Imports node:test and the crash loop.
import { describe, test } from 'node:test';
import { runCrashIteration } from '../../loadtest/crash-loop.ts';
import { assertNothingLost } from '../helpers/crash-checks.ts';

describe('crash: kill -9 past the read-ahead with default session limits', () => {
  test('12,000+ acked QoS 1/2 messages: every one delivered to both offline subscribers, QoS 2 exactly once', { timeout: 300_000 }, async (t) => {
    const r = await runCrashIteration({ seed: 20261130, flush: 'interval', window: 200, minAcks: 12_000, maxAcks: 13_000, tail: 20, collectMs: 120_000 });
    t.diagnostic(assertNothingLost(r, 12_000));
  });
});
