// Config validation and the CLI's start-up errors: every bad key is named. Imports config/schema.ts; spawns src/server/cli.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_CONFIG, resolveConfig } from '../../config/schema.ts';

test('an empty config is the defaults', () => {
  assert.deepEqual(resolveConfig({}), DEFAULT_CONFIG);
  assert.deepEqual(resolveConfig(undefined), DEFAULT_CONFIG);
});

test('values override defaults key by key', () => {
  const c = resolveConfig({ mqtt: { port: 0 }, persistence: { flush: 'always' } });
  assert.equal(c.mqtt.port, 0);
  assert.equal(c.mqtt.maxPacketSize, DEFAULT_CONFIG.mqtt.maxPacketSize);
  assert.equal(c.persistence.flush, 'always');
});

const bad: [string, unknown, string][] = [
  ['unknown top-level key', { mqttt: {} }, 'mqttt'],
  ['unknown nested key', { mqtt: { prot: 1 } }, 'mqtt.prot'],
  ['wrong type', { mqtt: { port: '1883' } }, 'mqtt.port'],
  ['out of range', { mqtt: { port: 70000 } }, 'mqtt.port'],
  ['not an integer', { sessions: { maxQueued: 1.5 } }, 'sessions.maxQueued'],
  ['bad enum', { persistence: { flush: 'sometimes' } }, 'persistence.flush'],
  ['object expected', { mqtt: 5 }, 'mqtt'],
  ['bad list', { stomp: { queues: ['a', 3] } }, 'stomp.queues'],
  ['root not an object', [1, 2], '(root)'],
];
for (const [name, input, key] of bad) {
  test(`rejects ${name}, naming ${key}`, () => {
    assert.throws(
      () => resolveConfig(input),
      (e: unknown) => e instanceof ConfigError && e.key === key && e.message.includes(key),
    );
  });
}

test('the CLI refuses a bad config file and a bad flag with a message naming the key, exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-cfg-'));
  try {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'mqtt:\n  maxPacketSize: 10\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/server/cli.ts', '--config', file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /mqtt\.maxPacketSize/);
    const f = spawnSync(process.execPath, ['--import', 'tsx', 'src/server/cli.ts', '--mqtt-port', 'abc'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(f.status, 2, f.stderr);
    assert.match(f.stderr, /mqtt\.port/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the example config file validates', async () => {
  const YAML = (await import('yaml')).default;
  const { readFileSync } = await import('node:fs');
  const c = resolveConfig(YAML.parse(readFileSync('config/gateway.example.yaml', 'utf8')));
  assert.equal(c.mqtt.port, 1883);
  assert.equal(c.persistence.flush, 'interval');
});
