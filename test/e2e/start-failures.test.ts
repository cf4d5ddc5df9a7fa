// A start that cannot succeed says what to do in one line: a port in use, a data dir that is a file. Spawns src/server/cli.ts; imports node builtins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const cli = join(root, 'src/server/cli.ts');

function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

const others = ['--stomp-port', '0', '--http-port', '0', '--set', 'stomp.host=127.0.0.1', '--set', 'http.host=127.0.0.1', '--set', 'mqtt.host=127.0.0.1'];

test('a port in use: exit 1 and one line naming the port, the key and how to change it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-clash-'));
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  try {
    const port = (blocker.address() as net.AddressInfo).port;
    const r = await runCli(['--mqtt-port', String(port), '--data-dir', join(dir, 'data'), ...others], { GATEWAY_LOG_FORMAT: 'json' });
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`port ${port} on 127\\.0\\.0\\.1 \\(mqtt\\.port\\) is already in use: .*--mqtt-port, GATEWAY_MQTT_PORT or mqtt\\.port`));
    assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    blocker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a data dir that cannot be a directory: exit 1 and one line saying how to choose another', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-baddir-'));
  try {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const r = await runCli(['--mqtt-port', '0', '--data-dir', join(file, 'data'), ...others], { GATEWAY_LOG_FORMAT: 'pretty' });
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /data dir .*a-file\/data \(dataDir\) is not a directory.*--data-dir, GATEWAY_DATA_DIR or dataDir/);
    assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
