// Enforces the architecture's import rules by reading every source file's imports. Imports node:fs only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve, dirname, relative } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) out.push(...files(rel));
    else if (name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** Local imports of a file, as repo-relative paths. */
function localImports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
    const spec = m[1] ?? m[2]!;
    out.push(relative(root, resolve(join(root, dirname(file)), spec)));
  }
  return out;
}

const rules: { from: string; mayNot: string[]; why: string }[] = [
  { from: 'src/log', mayNot: ['src/core', 'src/server', 'src/cluster', 'src/bridges', 'protocols'], why: 'the log stores bytes, keys and offsets' },
  { from: 'src/core', mayNot: ['src/log', 'src/server', 'src/bridges', 'protocols'], why: 'the core sees storage through injected interfaces' },
  { from: 'protocols', mayNot: ['src/log', 'src/cluster', 'src/server', 'src/bridges'], why: "adapters know the core's adapter-facing API only" },
  { from: 'src/bridges', mayNot: ['src/log', 'src/server', 'src/cluster', 'protocols'], why: 'a bridge is a client of the core: it reads the log through core readers and publishes through the broker; the server wires it' },
];

for (const r of rules) {
  test(`${r.from} imports none of ${r.mayNot.join(', ')} (${r.why})`, () => {
    const offenders: string[] = [];
    for (const f of files(r.from)) {
      for (const imp of localImports(f)) if (r.mayNot.some((p) => imp === p || imp.startsWith(`${p}/`))) offenders.push(`${f} -> ${imp}`);
    }
    assert.deepEqual(offenders, []);
  });
}

test('every source file opens with a one-line comment saying what it is', () => {
  const missing = [...files('src'), ...files('protocols'), ...files('config')].filter((f) => !readFileSync(join(root, f), 'utf8').startsWith('//'));
  assert.deepEqual(missing, []);
});

/**
 * Adapters call broker operations (hasLog, follow, logSubscriptions, queues, settleOutbound, ...), never the storage handles
 * broker.log / broker.state, and never change a Session themselves (docs/ARCHITECTURE.md "Storage backend"). Files still to move are listed; empty the list as they do.
 */
const STORAGE_HANDLE_PENDING = new Set<string>();

test('protocols read no storage handle (broker.log / broker.state) and mutate no session', () => {
  const offenders: string[] = [];
  for (const f of files('protocols')) {
    const text = readFileSync(join(root, f), 'utf8');
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '');
      if (STORAGE_HANDLE_PENDING.has(f)) return;
      if (/\bbroker\.(log|state)\b/.test(code)) offenders.push(`${f}:${i + 1} reads a storage handle`);
      // Sessions change through broker operations (settleOutbound, setSessionExpiry, forgetQos2, ...), not from adapters.
      if (/\.session\.\w+\s*\(|\.session\.\w+\s*=[^=]/.test(code)) offenders.push(`${f}:${i + 1} mutates a session`);
    });
  }
  assert.deepEqual(offenders, []);
});
