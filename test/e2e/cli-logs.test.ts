// The CLI's logs: pretty one-line events with log.format pretty (or a terminal), JSON lines otherwise, and one startup summary. Spawns src/server/cli.ts; imports src/server/logger.ts and node builtins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isPretty } from '../../src/server/logger.ts';

const root = resolve(import.meta.dirname, '../..');

/** Starts the CLI, waits for the summary line, stops it with SIGTERM; returns stdout lines and the exit code. */
function startAndStop(format: string): Promise<{ lines: string[]; code: number | null }> {
  const dir = mkdtempSync(join(tmpdir(), 'gw-logs-'));
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/server/cli.ts'), '--log-format', format, '--data-dir', join(dir, 'data'),
      '--mqtt-port', '0', '--stomp-port', '0', '--http-port', '0', '--set', 'mqtt.host=127.0.0.1', '--set', 'stomp.host=127.0.0.1', '--set', 'http.host=127.0.0.1'],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); fail(new Error(`no summary in 60 s: ${out}`)); }, 60_000);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('gateway ready')) child.kill('SIGTERM');
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      done({ lines: out.trim().split('\n'), code });
    });
  });
}

test('pretty when asked or on a terminal, JSON otherwise', () => {
  assert.equal(isPretty('auto', true), true);
  assert.equal(isPretty('auto', false), false);
  assert.equal(isPretty('pretty', false), true);
  assert.equal(isPretty('json', true), false);
});

test('log.format pretty: one line per event, a readable summary with every listener, the data dir, the backend and auth', async () => {
  const { lines, code } = await startAndStop('pretty');
  assert.equal(code, 0);
  for (const l of lines) assert.match(l, /^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN): /, l);
  const ready = lines.filter((l) => l.includes('gateway ready'));
  assert.equal(ready.length, 1);
  assert.match(ready[0]!, /gateway ready: mqtt:\/\/127\.0\.0\.1:\d+, stomp:\/\/127\.0\.0\.1:\d+, http:\/\/127\.0\.0\.1:\d+\/, ws:\/\/127\.0\.0\.1:\d+\/mqtt, ws:\/\/127\.0\.0\.1:\d+\/stomp; data \/.*data \(durable log, 8 partitions, flush interval 10 ms, retention 7 days\); auth off, anonymous on loopback only$/);
  assert.doesNotMatch(ready[0]!, /"listeners"/, 'the structured copy of the summary is left to JSON mode');
});

test('log.format json: every line is JSON; the summary carries its fields', async () => {
  const { lines, code } = await startAndStop('json');
  assert.equal(code, 0);
  const events = lines.map((l) => JSON.parse(l) as { msg: string; ready?: { listeners: string[]; dataDir: string; backend: string; auth: string } });
  const ready = events.filter((e) => e.msg.startsWith('gateway ready'));
  assert.equal(ready.length, 1);
  assert.equal(ready[0]!.ready!.listeners.length, 5);
  assert.equal(ready[0]!.ready!.auth, 'off, anonymous on loopback only');
  assert.match(ready[0]!.ready!.backend, /^durable log/);
  assert.ok(events.some((e) => e.msg === 'listening'), 'the per-listener lines stay for tools');
});
