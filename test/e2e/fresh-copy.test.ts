// The done-when on a fresh copy of the repository: the install-time build, `npm start -- <flags>`, `npx iot-gateway --help / --version`, `GATEWAY_MQTT_PORT=<p> npx iot-gateway`, with no tsx or esbuild at run time. Imports node builtins and mqtt.js.
//
// The copy holds the files git tracks (plus new, not ignored ones), no dist/. Its node_modules is a folder of
// links to this checkout's packages *without* tsx and esbuild, so anything that needed them at run time fails
// here. `npm run prepare` is what `npm install` runs after installing packages (it builds dist/); a real
// `npm install` would fetch from the registry, which a unit run should not.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { freePort } from '../../scripts/free-port.ts';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import mqtt from 'mqtt';

const root = resolve(import.meta.dirname, '../..');
const RUNTIME_FORBIDDEN = new Set(['tsx', 'esbuild', '@esbuild']);
let work = '';
let repo = '';

/** The repository's files as a fresh clone has them (tracked, or new and not ignored). */
function repoFiles(): string[] {
  const r = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, `git ls-files failed: ${r.stderr}`);
  return r.stdout.split('\0').filter((f) => f !== '' && existsSync(join(root, f)));
}

function linkModules(into: string): void {
  const real = realpathSync(join(root, 'node_modules'));
  const nm = join(into, 'node_modules');
  mkdirSync(join(nm, '.bin'), { recursive: true });
  for (const name of readdirSync(real)) {
    if (RUNTIME_FORBIDDEN.has(name) || name === '.bin') continue;
    symlinkSync(join(real, name), join(nm, name));
  }
  for (const name of readdirSync(join(real, '.bin'))) {
    if (RUNTIME_FORBIDDEN.has(name)) continue;
    symlinkSync(realpathSync(join(real, '.bin', name)), join(nm, '.bin', name));
  }
}

const npmEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  // npx links the local package into <cache>/_npx/<hash>: a cache inside the temp dir leaves nothing behind.
  const env: NodeJS.ProcessEnv = {
    ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_cache: join(work, 'npm-cache'), ...extra,
  };
  for (const k of Object.keys(env)) if (k.startsWith('GATEWAY_') && !(k in extra)) delete env[k];
  delete env.NODE_OPTIONS; // the test runner's --import tsx must not leak into the product
  return env;
};

before(() => {
  work = mkdtempSync(join(tmpdir(), 'gw-fresh-'));
  repo = join(work, 'repo');
  for (const f of repoFiles()) {
    mkdirSync(dirname(join(repo, f)), { recursive: true });
    cpSync(join(root, f), join(repo, f));
  }
  assert.ok(!existsSync(join(repo, 'dist')), 'a fresh copy has no dist/');
  linkModules(repo);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: string[];
  ready: Promise<Record<string, unknown>>;
}

/** Spawns `cmd` in the copy; resolves `ready` with the `gateway ready` JSON line. */
function startInCopy(cmd: string, args: string[], env: NodeJS.ProcessEnv): Started {
  const child = spawn(cmd, args, { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  let buf = '';
  const ready = new Promise<Record<string, unknown>>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`no "gateway ready" in 120 s: ${JSON.stringify(lines)} ${stderr.join('')}`)), 120_000);
    child.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const j = JSON.parse(line) as Record<string, unknown>;
        lines.push(j);
        if (typeof j.msg === 'string' && j.msg.startsWith('gateway ready')) {
          clearTimeout(timer);
          res(j);
        }
      }
    });
    child.stderr!.on('data', (b: Buffer) => stderr.push(b.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`exited ${code} before ready: ${stderr.join('')}`));
    });
  });
  ready.catch(() => undefined);
  return { child, lines, stderr, ready };
}

/** Every process whose parent is `pid`, with its command line. */
function childrenOf(pid: number): string[] {
  const out: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' '));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** Checks the gateway process runs compiled JS with no TypeScript toolchain, then round-trips one message over MQTT. */
async function checkRunning(s: Started, wantPort?: number): Promise<void> {
  try {
    await checkGateway(s, wantPort);
  } finally {
    // Whatever failed above, leave no process behind (the gateway, then npm / npx around it).
    const pid = s.lines[0]?.pid;
    if (typeof pid === 'number') try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  }
}

async function checkGateway(s: Started, wantPort?: number): Promise<void> {
  await s.ready;
  const pid = s.lines[0]!.pid as number;
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  assert.match(cmdline, /iot-gateway/); // bin/iot-gateway.js, or npx's link to it
  assert.doesNotMatch(cmdline, /tsx|esbuild|\.ts\b/);
  assert.deepEqual(childrenOf(pid), [], 'the gateway has child processes (an esbuild service?)');
  const mqttLine = s.lines.find((l) => l.msg === 'listening' && l.protocol === 'mqtt');
  const port = mqttLine?.port as number;
  if (wantPort !== undefined) assert.equal(port, wantPort);
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000 });
  try {
    const got = new Promise<string>((res) => client.on('message', (_t, p) => res(p.toString())));
    await client.subscribeAsync('fresh/copy', { qos: 1 });
    await client.publishAsync('fresh/copy', 'hello', { qos: 1 });
    assert.equal(await got, 'hello');
  } finally {
    await client.endAsync();
  }
  process.kill(pid, 'SIGTERM');
  const code = await new Promise<number | null>((res) => (s.child.exitCode !== null ? res(s.child.exitCode) : s.child.on('exit', res)));
  assert.equal(code, 0, s.stderr.join(''));
}

test('on a fresh copy: the install-time build, npm start, npx iot-gateway --help / --version, GATEWAY_MQTT_PORT', { timeout: 600_000 }, async (t) => {
  await t.test('`npm install` builds dist/ (its prepare script)', () => {
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
    assert.match(pkg.scripts.prepare ?? '', /npm run build/);
    assert.equal(pkg.bin['iot-gateway'], 'bin/iot-gateway.js');
    const r = spawnSync('npm', ['run', 'prepare'], { cwd: repo, env: npmEnv(), encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.ok(existsSync(join(repo, 'dist/src/server/cli.js')));
  });

  await t.test("the README's start command: npm start -- <flags>", async () => {
    const data = join(work, 'data-start');
    const s = startInCopy('npm', ['start', '--', '--mqtt-port', '0', '--stomp-port', '0', '--http-port', '0', '--data-dir', data,
      '--set', 'mqtt.host=127.0.0.1', '--set', 'stomp.host=127.0.0.1', '--set', 'http.host=127.0.0.1', '--log-format', 'json'], npmEnv());
    await checkRunning(s);
    const ready = (await s.ready).ready as { listeners: string[]; dataDir: string; auth: string };
    assert.equal(ready.dataDir, data);
    assert.ok(ready.listeners.some((u) => u.startsWith('mqtt://127.0.0.1:')));
  });

  await t.test('npx iot-gateway --help and --version', () => {
    const h = spawnSync('npx', ['iot-gateway', '--help'], { cwd: repo, env: npmEnv(), encoding: 'utf8', timeout: 120_000 });
    assert.equal(h.status, 0, h.stderr);
    assert.match(h.stdout, /--mqtt-port/);
    assert.match(h.stdout, /docs\/CONFIG\.md/);
    const v = spawnSync('npx', ['iot-gateway', '--version'], { cwd: repo, env: npmEnv(), encoding: 'utf8', timeout: 120_000 });
    assert.equal(v.status, 0, v.stderr);
    const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(v.stdout.trim(), version);
  });

  await t.test('GATEWAY_MQTT_PORT=<p> npx iot-gateway listens on <p>', async () => {
    const p = await freePort();
    const s = startInCopy('npx', ['iot-gateway'], npmEnv({
      GATEWAY_MQTT_PORT: String(p), GATEWAY_MQTT_HOST: '127.0.0.1', GATEWAY_STOMP_PORT: '0', GATEWAY_STOMP_HOST: '127.0.0.1',
      GATEWAY_HTTP_PORT: '0', GATEWAY_HTTP_HOST: '127.0.0.1', GATEWAY_DATA_DIR: join(work, 'data-env'), GATEWAY_LOG_FORMAT: 'json',
    }));
    await checkRunning(s, p);
  });
});
