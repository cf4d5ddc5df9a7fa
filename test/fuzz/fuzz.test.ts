// The fuzz sample in `npm test`: 5,000 mutated MQTT and 5,000 mutated STOMP cases (seed 1) against a real gateway process with the well-behaved pairs alongside. Imports ./runner.ts and node:test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFuzz } from './runner.ts';
import { makeCase } from './cases.ts';

test('fuzz cases are reproducible from (seed, protocol, index) and differ between indexes', () => {
  const a = makeCase(1, 'mqtt', 41_500);
  const b = makeCase(1, 'mqtt', 41_500);
  assert.deepEqual(a.chunks.map((c) => c.toString('hex')), b.chunks.map((c) => c.toString('hex')));
  assert.equal(a.note, b.note);
  assert.notDeepEqual(makeCase(1, 'stomp', 1).chunks, makeCase(1, 'stomp', 2).chunks);
  assert.notDeepEqual(makeCase(1, 'stomp', 1).chunks, makeCase(2, 'stomp', 1).chunks);
});

test('fuzz sample: 5,000 MQTT + 5,000 STOMP cases; gateway up, no error line, pairs intact, RSS back within 20 MB', { timeout: 600_000 }, async () => {
  const res = await runFuzz({ seed: 1, cases: 5000, protocols: ['mqtt', 'stomp'], concurrency: 32 });
  assert.deepEqual(res.problems, [], res.summary);
  assert.equal(res.cases.mqtt, 5000);
  assert.equal(res.cases.stomp, 5000);
  assert.ok(res.pairs.mqtt.sent > 0 && res.pairs.stomp.sent > 0, 'the pairs exchanged messages while the fuzz ran');
  assert.ok(res.closedByGateway > 0, 'some mutated cases were refused and closed by the gateway');
});
