// `npm run cluster -- up|status|down` as a user runs it (scripts/cluster.ts): up starts nats-server and a gateway node in the background and prints their ports, status sees them ready, down stops every process and removes the files. Imports node builtins only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

function run(args: string[], env: NodeJS.ProcessEnv, ms: number): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    execFile(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'cluster.ts'), ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: ms }, (err, stdout, stderr) => {
      res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr });
    });
  });
}

const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

test('cluster up prints the ports and writes the state file; status is ready; down stops everything', async () => {
  const work = mkdtempSync(join(tmpdir(), 'cluster-script-'));
  const env = { IOTGW_CLUSTER_STATE: join(work, 'state.json') };
  const dir = join(work, 'cluster');
  let pids: number[] = [];
  try {
    const up = await run(['up', '--nats', '1', '--gateways', '1', '--partitions', '2', '--dir', dir], env, 120_000);
    assert.equal(up.code, 0, up.out);
    assert.match(up.out, /nats n1 {2}client nats:\/\/127\.0\.0\.1:\d+/);
    assert.match(up.out, /gateway gw1 {2}mqtt:\/\/127\.0\.0\.1:\d+/);
    const state = JSON.parse(readFileSync(env.IOTGW_CLUSTER_STATE, 'utf8')) as { nats: { pid: number }[]; gateways: { pid: number }[] };
    pids = [...state.nats, ...state.gateways].map((p) => p.pid);
    assert.equal(pids.length, 2);
    assert.ok(pids.every(alive), 'left running after up returned');
    const again = await run(['up', '--nats', '1', '--gateways', '1'], env, 30_000);
    assert.notEqual(again.code, 0, 'a second up while one runs is refused');
    assert.match(again.out, /already up/);
    const status = await run(['status'], env, 30_000);
    assert.equal(status.code, 0, status.out);
    assert.match(status.out, /gateway gw1 .* ready/);
    const down = await run(['down'], env, 60_000);
    assert.equal(down.code, 0, down.out);
    assert.ok(!pids.some(alive), 'every process stopped');
    assert.equal(existsSync(dir), false, 'files removed');
    assert.equal(existsSync(env.IOTGW_CLUSTER_STATE), false);
    assert.notEqual((await run(['status'], env, 30_000)).code, 0, 'status after down: no cluster');
  } finally {
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
});
