// Smoke: `npm run loadtest -- --scenario cluster` runs end to end, small (500 messages, a 1 s paced phase), on real gateway processes and one real nats-server: three rows, nothing lost, every figure present, the report file written. Imports node builtins, test/helpers/nats-cluster.ts and the bench.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NATS_SERVER } from '../helpers/nats-cluster.ts';
import { clusterComplete, runClusterBenchReport } from '../../loadtest/cluster-bench.ts';

test('cluster bench: local, nats-1 and nats-2-cross rows, 500 QoS 1 messages each, none lost', { timeout: 600_000 }, async () => {
  assert.ok(existsSync(NATS_SERVER), `nats-server not found at ${NATS_SERVER}: run test/install-system-deps.sh`);
  const dir = mkdtempSync(join(tmpdir(), 'cluster-smoke-'));
  const lines: string[] = [];
  try {
    const { ok, result, file } = await runClusterBenchReport({
      messages: 500, window: 64, bytes: 100, pacedRate: 200, pacedSeconds: 1, natsServers: 1, replicas: 1, partitions: 4,
      phaseTimeoutMs: 60_000, resultsDir: dir, log: (s) => lines.push(s),
    });
    assert.deepEqual(result.rows.map((r) => r.name), ['local', 'nats-1', 'nats-2-cross'], lines.join('\n'));
    for (const r of result.rows) {
      assert.equal(r.throughput.sent, 500, r.name);
      assert.equal(r.throughput.received, 500, `${r.name}: ${JSON.stringify(r.throughput)}`);
      assert.equal(r.throughput.lost, 0, r.name);
      assert.equal(r.throughput.acked, 500, `${r.name}: every publish acknowledged`);
      assert.equal(r.paced.sent, 200, r.name);
      assert.equal(r.paced.lost, 0, `${r.name}: ${JSON.stringify(r.paced)}`);
      assert.ok(r.throughput.msgPerS > 0, r.name);
      assert.ok(r.throughput.p50Ms !== null && r.throughput.p99Ms !== null && r.throughput.p50Ms <= r.throughput.p99Ms, r.name);
      assert.ok(r.paced.p50Ms !== null && r.paced.p99Ms !== null && r.paced.p50Ms >= 0, r.name);
      assert.ok(typeof r.cpuPer1k.gw1 === 'number', `${r.name}: CPU of gw1 sampled`);
    }
    assert.ok(typeof result.rows[2]!.cpuPer1k.gw2 === 'number', 'the cross row samples both nodes');
    assert.ok(result.ratios.nats1 !== null && result.ratios.nats1 > 0);
    assert.ok(result.ratios.cross !== null && result.ratios.cross > 0);
    assert.equal(ok, true);
    assert.equal(clusterComplete(result), true);
    const md = readFileSync(file, 'utf8');
    assert.equal((md.match(/^\| (local|nats-1|nats-2-cross) \(/gm) ?? []).length, 3, md);
    assert.match(md, /nats-2-cross \/ local \(msg\/s\): \d/);
    // A row that lost a message fails the run.
    const lossy = structuredClone(result);
    lossy.rows[2]!.paced.lost = 1;
    assert.equal(clusterComplete(lossy), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
