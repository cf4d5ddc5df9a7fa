// `iot-gateway --help / --version / help / version / log --help` and `--help` of every loadtest script: usage on stdout, exit 0, nothing started. Imports src/server flags and node builtins; spawns the CLI and the scripts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { CONFIG_KEYS } from '../../config/schema.ts';
import { KEY_FLAGS, OTHER_FLAGS } from '../../src/server/flags.ts';

const root = resolve(import.meta.dirname, '../..');
const cli = join(root, 'src/server/cli.ts');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

interface Run { code: number | null; stdout: string; stderr: string }

/** Runs a script with tsx; kills it after `ms` (a script that starts something would still be running). */
function run(file: string, args: string[], ms = 60_000): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

test('iot-gateway --help lists every flag with its key, variable and default, and points to docs/CONFIG.md', async () => {
  const r = await run(cli, ['--help']);
  assert.equal(r.code, 0, r.stderr);
  for (const [flag, path] of KEY_FLAGS) {
    const key = CONFIG_KEYS.find((k) => k.path === path)!;
    assert.match(r.stdout, new RegExp(`--${flag}\\b`), flag);
    assert.ok(r.stdout.includes(`key ${path}, env ${key.env}, default ${JSON.stringify(key.schema.default)}`), flag);
  }
  for (const [flag] of OTHER_FLAGS) assert.match(r.stdout, new RegExp(`--${flag}\\b`), flag);
  assert.match(r.stdout, /iot-gateway log inspect\|dump/);
  assert.match(r.stdout, /docs\/CONFIG\.md/);
  assert.match(r.stdout, /file < environment < flags/);
  const h = await run(cli, ['help']);
  assert.equal(h.code, 0);
  assert.equal(h.stdout, r.stdout);
});

test('iot-gateway --version and version print the package version', async () => {
  for (const arg of ['--version', '-V', 'version']) {
    const r = await run(cli, [arg]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${version}\n`);
  }
});

test('an unknown command or option exits 2 with one line pointing to --help', async () => {
  const r = await run(cli, ['frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command "frobnicate"; commands: log/);
  const o = await run(cli, ['--mqtt-prot', '1']);
  assert.equal(o.code, 2);
  assert.match(o.stderr, /unknown option --mqtt-prot.*iot-gateway --help/);
  assert.equal(o.stdout, '');
});

test('iot-gateway log --help prints the log tool usage; log without a command exits 2', async () => {
  const r = await run(cli, ['log', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /log inspect --data-dir DIR/);
  assert.match(r.stdout, /log dump --data-dir DIR --topic FILTER/);
  const bare = await run(cli, ['log']);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /missing command/);
});

/** Scripts under loadtest/ that read their command line (the ones a user runs). */
function loadtestScripts(dir = join(root, 'loadtest')): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'results') out.push(...loadtestScripts(p));
    } else if (name.endsWith('.ts') && name !== 'help.ts' && /process\.argv|parseArgs\(/.test(readFileSync(p, 'utf8'))) {
      out.push(p);
    }
  }
  return out;
}

test('every loadtest script answers --help with usage and exit 0, and starts nothing', async () => {
  const scripts = loadtestScripts();
  for (const must of ['run.ts', 'crash-loop.ts', 'log-bench.ts', 'stomp-bench.ts']) assert.ok(scripts.some((s) => s.endsWith(`loadtest/${must}`)), must);
  const results = await Promise.all(scripts.map(async (s) => [relative(root, s), await run(s, ['--help'], 60_000)] as const));
  for (const [name, r] of results) {
    assert.equal(r.code, 0, `${name}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stdout, /usage/i, name);
    // A started listener prints its bound port; run.ts prints `starting <target>...`; a crash prints an Error.
    assert.doesNotMatch(r.stdout + r.stderr, /"port":\d|starting \w+\.\.\.|Error/, name);
  }
});
