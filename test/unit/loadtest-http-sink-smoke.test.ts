// Smoke: loadtest/http-sink-bench.ts runs end to end, small (1,000 messages), in both formats and through the exported function: every message arrives once and the rates are reported. Imports node builtins and the bench.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { runHttpSinkBench } from '../../loadtest/http-sink-bench.ts';

test('http-sink-bench: --help, a bad argument exits 2, a small NDJSON run via the CLI', () => {
  const help = spawnSync(process.execPath, ['--import', 'tsx', 'loadtest/http-sink-bench.ts', '--help'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--max-messages N/);
  const bad = spawnSync(process.execPath, ['--import', 'tsx', 'loadtest/http-sink-bench.ts', '--messages', 'x'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--messages needs an integer/);
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'loadtest/http-sink-bench.ts', '--messages', '1000', '--format', 'ndjson', '--max-messages', '50', '--json'], { encoding: 'utf8', timeout: 180_000 });
  assert.equal(run.status, 0, `exit ${run.status}: ${run.stderr}`);
  const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as { messages: number; batches: number; avgBatch: number; messagesPerSecond: number; duplicates: number };
  assert.equal(r.messages, 1000);
  assert.equal(r.duplicates, 0);
  assert.ok(r.batches >= 20, `batches of at most 50: ${r.batches}`);
  assert.ok(r.avgBatch <= 50);
  assert.ok(r.messagesPerSecond > 0);
});

test('runHttpSinkBench (the function bridge-bench.ts calls): JSON batches bounded by maxMessages', async () => {
  const r = await runHttpSinkBench({ messages: 1000, bytes: 50, format: 'json', batch: { maxMessages: 200, maxBytes: 1 << 20, lingerMs: 0 } });
  assert.equal(r.duplicates, 0);
  assert.ok(r.batches >= 5 && r.avgBatch <= 200, `${r.batches} batches, avg ${r.avgBatch}`);
  assert.ok(r.messagesPerSecond > 0 && r.batchesPerSecond > 0);
});
