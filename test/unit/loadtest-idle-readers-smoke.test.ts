// Smoke: loadtest/idle-readers.ts runs end to end, small (200 readers, a short window, no CPU target), and reports every reader connection woken by a publish. Imports node builtins only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

test('idle-readers benchmark: --help, and a small run reports its readers and wakes every connection', () => {
  const help = spawnSync(process.execPath, ['--import', 'tsx', 'loadtest/idle-readers.ts', '--help'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--readers N/);
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'loadtest/idle-readers.ts', '--readers', '200', '--per-connection', '50', '--window-ms', '300', '--settle-ms', '100', '--target-pct', '1000', '--json'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(run.status, 0, `exit ${run.status}: ${run.stderr}`);
  const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as { readers: number; connections: number; wokenConnections: number; cpuPctOfOneCore: number | null; pass: boolean };
  assert.equal(r.readers, 200);
  assert.equal(r.connections, 4);
  assert.equal(r.wokenConnections, 4);
  assert.equal(typeof r.cpuPctOfOneCore, 'number');
  assert.equal(r.pass, true);
  const bad = spawnSync(process.execPath, ['--import', 'tsx', 'loadtest/idle-readers.ts', '--readers', 'x'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(bad.status, 2, 'a bad argument exits 2');
  assert.match(bad.stderr, /--readers needs an integer/);
});
