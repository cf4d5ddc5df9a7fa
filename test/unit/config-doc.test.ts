// docs/CONFIG.md and config/gateway.example.yaml against the one config declaration (config/schema.ts). Imports config/*, yaml, node builtins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import { CONFIG_KEYS, CONFIG_SCHEMA, DEFAULT_CONFIG, envName, resolveConfig } from '../../config/schema.ts';
import { renderConfigReference } from '../../config/reference.ts';

const root = resolve(import.meta.dirname, '../..');

test('docs/CONFIG.md is what the schema renders (run `npm run config-doc` after changing config/schema.ts)', () => {
  const onDisk = readFileSync(join(root, 'docs/CONFIG.md'), 'utf8');
  const lines = onDisk.split('\n');
  const rendered = renderConfigReference().split('\n');
  const firstDiff = rendered.findIndex((l, i) => l !== lines[i]);
  assert.equal(firstDiff === -1 && lines.length === rendered.length, true,
    `docs/CONFIG.md differs from the schema at line ${firstDiff + 1}: ${JSON.stringify(lines[firstDiff])} vs ${JSON.stringify(rendered[firstDiff])}`);
});

test('the reference lists every key with its type, default, variable and meaning', () => {
  const doc = renderConfigReference();
  assert.ok(CONFIG_KEYS.length >= 50);
  for (const k of CONFIG_KEYS) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${k.path}\` |`));
    assert.ok(row, `no row for ${k.path}`);
    assert.ok(row.includes(`\`${k.env}\``), `${k.path}: variable`);
    assert.ok(row.includes(JSON.stringify(k.schema.default)), `${k.path}: default`);
    assert.ok(k.schema.description && row.includes(k.schema.description.replace(/\|/g, '\\|')), `${k.path}: meaning`);
  }
});

test('every key has a default and a meaning, and the defaults are valid', () => {
  for (const k of CONFIG_KEYS) {
    assert.ok('default' in k.schema, `${k.path} has no default`);
    assert.ok((k.schema.description ?? '').length > 5, `${k.path} has no meaning`);
  }
  assert.deepEqual(resolveConfig({}), DEFAULT_CONFIG);
});

test('GATEWAY_* names: dots become _, camelCase becomes SNAKE_CASE, and no two keys share one', () => {
  assert.equal(envName('mqtt.port'), 'GATEWAY_MQTT_PORT');
  assert.equal(envName('dataDir'), 'GATEWAY_DATA_DIR');
  assert.equal(envName('persistence.flush'), 'GATEWAY_PERSISTENCE_FLUSH');
  assert.equal(envName('persistence.flushIntervalMs'), 'GATEWAY_PERSISTENCE_FLUSH_INTERVAL_MS');
  assert.equal(new Set(CONFIG_KEYS.map((k) => k.env)).size, CONFIG_KEYS.length);
});

test('the example config shows every section and every value in it is the default', () => {
  const example = YAML.parse(readFileSync(join(root, 'config/gateway.example.yaml'), 'utf8')) as Record<string, unknown>;
  const sections = Object.entries(CONFIG_SCHEMA.properties).filter(([, s]) => (s as { type?: string }).type === 'object').map(([n]) => n);
  assert.ok(sections.length >= 9);
  for (const s of sections) assert.ok(s in example, `config/gateway.example.yaml has no ${s}: section`);
  assert.deepEqual(resolveConfig(example), DEFAULT_CONFIG);
});
