// Every loadtest script answers --help with its usage on stdout and exit 0, and starts nothing (no child process, no listener). Imports node builtins only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPTS: [string, RegExp][] = [
  ['loadtest/run.ts', /nats.*slow-subscriber|slow-subscriber[\s\S]*offline-session/s],
  ['loadtest/run.ts', /bridge +outbound bridge throughput/],
  ['loadtest/run.ts', /--nats-servers[\s\S]*cluster +QoS 1 throughput/],
  ['loadtest/stomp-bench.ts', /--peers/],
  ['loadtest/crash-loop.ts', /--default-config/],
  ['loadtest/cluster-kill-loop.ts', /--kill WHAT[\s\S]*gateway \| nats \| both/],
  ['loadtest/log-bench.ts', /--quick/],
  ['loadtest/restore-bench.ts', /--sessions/],
  ['loadtest/bridge-bench.ts', /--messages[\s\S]*mosquitto/],
  ['loadtest/cluster-bench.ts', /--nats-servers[\s\S]*cross-node/],
  ['loadtest/filters-bench.ts', /--filters/],
  ['loadtest/peers/aedes-server.ts', /--port/],
  ['loadtest/peers/forwarder.ts', /--port/],
  ['loadtest/peers/ws-forwarder.ts', /forwarders/],
];

for (const [script, mentions] of SCRIPTS) {
  test(`${script} --help: usage on stdout, exit 0, nothing started`, () => {
    const t0 = Date.now();
    // A script that started a broker or a listener would not exit by itself: the timeout catches that.
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.signal, null, `${script} did not exit by itself (killed by ${r.signal})`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^usage: /);
    assert.match(r.stdout, mentions);
    assert.doesNotMatch(r.stdout + r.stderr, /^starting |"port":\d/m); // run.ts says "starting <target>"; listeners print their port
    assert.ok(Date.now() - t0 < 30_000);
  });
}
