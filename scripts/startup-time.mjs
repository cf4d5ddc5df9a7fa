// Startup time of the gateway: spawns it N times on free ports and a fresh data dir, and reports wall and CPU milliseconds from spawn to the `gateway ready` line. Plain JS, node builtins only.
// Usage: node scripts/startup-time.mjs [--runs 5] [-- command args...]   (default command: node bin/iot-gateway.js, the compiled build)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write('usage: node scripts/startup-time.mjs [--runs N] [-- COMMAND ARGS...]\n'
    + 'Spawns the gateway N times (default 5; default command `node bin/iot-gateway.js`, run `npm run build` first)\n'
    + 'and prints wall / CPU ms from spawn to its "gateway ready" log line, and the load average.\n');
  process.exit(0);
}
const runsAt = argv.indexOf('--runs');
const runs = runsAt >= 0 ? Number(argv[runsAt + 1]) : 5;
const dash = argv.indexOf('--');
const [cmd, ...args] = dash >= 0 ? argv.slice(dash + 1) : [process.execPath, 'bin/iot-gateway.js'];
const results = [];
for (let i = 0; i < runs; i++) {
  const dir = mkdtempSync(join(tmpdir(), 'gw-startup-'));
  const t0 = performance.now();
  const child = spawn(cmd, [...args, '--mqtt-port', '0', '--stomp-port', '0', '--http-port', '0', '--data-dir', dir, '--log-format', 'json',
    '--set', 'mqtt.host=127.0.0.1', '--set', 'stomp.host=127.0.0.1', '--set', 'http.host=127.0.0.1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const ok = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 30_000);
    child.stdout.on('data', (b) => {
      out += b.toString();
      if (out.includes('"msg":"gateway ready')) { clearTimeout(timer); resolve(true); }
    });
    child.on('exit', () => { clearTimeout(timer); resolve(false); });
  });
  const wall = Math.round(performance.now() - t0);
  let cpu = NaN;
  try {
    const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    cpu = (Number(f[11]) + Number(f[12])) * 10; // utime + stime, 100 ticks per second
  } catch { /* not Linux */ }
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
  rmSync(dir, { recursive: true, force: true });
  if (!ok) { process.stderr.write(`run ${i + 1}: no "gateway ready" line\n${out}`); process.exit(1); }
  results.push({ wall, cpu });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
process.stdout.write(`${[cmd, ...args].join(' ')}: wall ms ${results.map((r) => r.wall).join(' ')} (median ${median(results.map((r) => r.wall))}), `
  + `CPU ms ${results.map((r) => r.cpu).join(' ')}; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
