// Config from file, GATEWAY_* environment and flags: precedence, validation of every source, and error messages that name the file, the key and the fix. Imports src/server config loading and flags, config/schema.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CONFIG_KEYS, ConfigError, DEFAULT_CONFIG } from '../../config/schema.ts';
import { ConfigFileError, envLayer, loadConfig, readConfigFile } from '../../src/server/config-load.ts';
import { KEY_FLAGS, parseFlags, UsageError } from '../../src/server/flags.ts';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'gw-cfgsrc-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const noFlags = parseFlags([]).layer;

test('every key can be set from the environment, parsed to its type', () => {
  const c = loadConfig(undefined, {
    GATEWAY_MQTT_PORT: '1884', GATEWAY_DATA_DIR: '/var/lib/gw', GATEWAY_PERSISTENCE_FLUSH: 'always',
    GATEWAY_SESSIONS_QUEUE_QOS0: 'true', GATEWAY_STOMP_QUEUES: 'orders, jobs', GATEWAY_PERSISTENCE_RETENTION_MS: '-1',
  }, noFlags).config;
  assert.equal(c.mqtt.port, 1884);
  assert.equal(c.dataDir, '/var/lib/gw');
  assert.equal(c.persistence.flush, 'always');
  assert.equal(c.sessions.queueQos0, true);
  assert.deepEqual(c.stomp.queues, ['orders', 'jobs']);
  assert.equal(c.persistence.retentionMs, -1);
  assert.equal(c.mqtt.maxPacketSize, DEFAULT_CONFIG.mqtt.maxPacketSize);
  assert.deepEqual(loadConfig(undefined, { GATEWAY_STOMP_QUEUES: '["a","b"]' }, noFlags).config.stomp.queues, ['a', 'b']);
});

test('each leaf key round-trips through its variable at its default value', () => {
  for (const k of CONFIG_KEYS) {
    const d = k.schema.default;
    const text = Array.isArray(d) ? JSON.stringify(d) : String(d);
    const c: unknown = loadConfig(undefined, { [k.env]: text }, noFlags).config;
    const got = k.path.split('.').reduce((o: unknown, part) => (o as Record<string, unknown>)[part], c);
    assert.deepEqual(got, d, k.env);
  }
});

test('precedence is file < environment < flags', () => {
  const f = file('p.yaml', 'mqtt:\n  port: 1001\nstomp:\n  port: 2001\nhttp:\n  port: 3001\n');
  const env = { GATEWAY_STOMP_PORT: '2002', GATEWAY_HTTP_PORT: '3002' };
  const c = loadConfig(f, env, parseFlags(['--http-port', '3003']).layer).config;
  assert.deepEqual([c.mqtt.port, c.stomp.port, c.http.port], [1001, 2002, 3003]);
});

test('a value that a later source overrides is still validated', () => {
  const f = file('bad-port.yaml', 'mqtt:\n  port: 99999\n');
  assert.throws(() => loadConfig(f, {}, parseFlags(['--mqtt-port', '1']).layer),
    (e: unknown) => e instanceof ConfigError && e.key === 'mqtt.port' && e.message.includes(f));
  assert.throws(() => loadConfig(undefined, { GATEWAY_MQTT_PORT: 'abc' }, parseFlags(['--mqtt-port', '1']).layer),
    (e: unknown) => e instanceof ConfigError && e.key === 'mqtt.port' && e.message.includes('GATEWAY_MQTT_PORT'));
  assert.throws(() => loadConfig(undefined, { GATEWAY_PERSISTENCE_FLUSH: 'sometimes' }, parseFlags(['--set', 'persistence.flush=always']).layer),
    (e: unknown) => e instanceof ConfigError && e.key === 'persistence.flush' && /always, interval, never/.test(e.message));
});

test('errors name the source: a flag, a variable, --set', () => {
  assert.throws(() => parseFlags(['--mqtt-port', '70000x']), (e: unknown) => e instanceof ConfigError && e.message.includes('--mqtt-port'));
  assert.throws(() => loadConfig(undefined, {}, parseFlags(['--mqtt-port', '70000']).layer),
    (e: unknown) => e instanceof ConfigError && e.key === 'mqtt.port' && e.message.includes('--mqtt-port') && e.message.includes('0 to 65535'));
  assert.throws(() => loadConfig(undefined, { GATEWAY_SESSIONS_QUEUE_QOS0: 'maybe' }, noFlags),
    (e: unknown) => e instanceof ConfigError && e.key === 'sessions.queueQos0' && e.message.includes('GATEWAY_SESSIONS_QUEUE_QOS0'));
  assert.throws(() => parseFlags(['--set', 'mqtt.prot=1']), (e: unknown) => e instanceof ConfigError && /did you mean mqtt\.port/.test(e.message));
  assert.throws(() => parseFlags(['--mqtt-prot', '1']), (e: unknown) => e instanceof UsageError && /unknown option --mqtt-prot/.test(e.message));
});

test('an unknown key in the file suggests the nearest valid key', () => {
  const cases: [string, string, string][] = [
    ['mqtt:\n  maxPacketSise: 10\n', 'mqtt.maxPacketSise', 'mqtt.maxPacketSize'],
    ['persistance:\n  flush: always\n', 'persistance', 'persistence'],
    ['port: 1883\n', 'port', 'mqtt.port'],
    ['datadir: /x\n', 'datadir', 'dataDir'],
  ];
  for (const [text, key, near] of cases) {
    const f = file('unknown.yaml', text);
    assert.throws(() => loadConfig(f, {}, noFlags),
      (e: unknown) => e instanceof ConfigError && e.key === key && e.message.includes(`did you mean ${near}?`) && e.message.includes(f), key);
  }
});

test('a missing file says so; YAML and JSON syntax errors name the file and the line', () => {
  const missing = join(dir, 'nope.yaml');
  assert.throws(() => readConfigFile(missing), (e: unknown) => e instanceof ConfigFileError && e.message.includes(missing) && /does not exist/.test(e.message));
  assert.throws(() => readConfigFile(dir), (e: unknown) => e instanceof ConfigFileError && /is a directory/.test(e.message));
  const y = file('broken.yaml', 'mqtt:\n  port: 1883\n  host: [unclosed\n');
  assert.throws(() => readConfigFile(y), (e: unknown) => e instanceof ConfigFileError && e.message.includes(y) && /YAML syntax error at line \d+/.test(e.message));
  const j = file('broken.json', '{\n  "mqtt": { "port": 1883, }\n}\n');
  assert.throws(() => readConfigFile(j), (e: unknown) => e instanceof ConfigFileError && e.message.includes(j) && /JSON syntax error at line 2/.test(e.message));
  assert.deepEqual(readConfigFile(file('empty.yaml', '')).values, {});
});

test('an unknown GATEWAY_* variable is a warning with the nearest name; GATEWAY_TEST_* is ignored', () => {
  const r = envLayer({ GATEWAY_MQTT_PROT: '1', GATEWAY_SERVICE_HOST: '10.0.0.1', GATEWAY_TEST_LOG: 'debug', PATH: '/bin' });
  assert.equal(r.warnings.length, 2);
  assert.match(r.warnings[0]!, /GATEWAY_MQTT_PROT .*did you mean GATEWAY_MQTT_PORT\?/);
  assert.match(r.warnings[1]!, /GATEWAY_SERVICE_HOST names no config key; ignored/);
  assert.deepEqual(r.layer.values, {});
});

test('every named flag sets its key; --set reaches any key', () => {
  for (const [flag, path] of KEY_FLAGS) {
    const key = CONFIG_KEYS.find((k) => k.path === path)!;
    const value = key.schema.type === 'integer' ? '0' : key.schema.enum ? key.schema.enum[0]! : 'x.pem';
    const layer = parseFlags([`--${flag}=${value}`]).layer;
    assert.equal(layer.origins?.get(path), `--${flag}`);
  }
  const c = loadConfig(undefined, {}, parseFlags(['--set', 'persistence.partitions=3', '--set', 'shared.strategy=sticky']).layer).config;
  assert.equal(c.persistence.partitions, 3);
  assert.equal(c.shared.strategy, 'sticky');
});

test('the CLI: a bad variable exits 2 naming it; a missing config file exits 2 saying so', () => {
  const cli = join(root, 'src/server/cli.ts');
  const r = spawnSync(process.execPath, ['--import', 'tsx', cli], { encoding: 'utf8', timeout: 60_000, cwd: root, env: { ...process.env, GATEWAY_MQTT_PORT: 'eighty' } });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /mqtt\.port: must be an integer from 0 to 65535, got "eighty" \(from GATEWAY_MQTT_PORT\)/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  const m = spawnSync(process.execPath, ['--import', 'tsx', cli, '--config', join(dir, 'absent.yaml')], { encoding: 'utf8', timeout: 60_000, cwd: root });
  assert.equal(m.status, 2, m.stderr);
  assert.match(m.stderr, /config file .*absent\.yaml does not exist/);
});
