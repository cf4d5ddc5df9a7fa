// The docs stand alone: every relative link in the repository's *.md files points at a file inside the repository, and no doc names a path outside it. Imports node builtins only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const SKIP = new Set(['node_modules', 'dist', 'data', '.git', 'test-artifacts', 'results']);

function markdownFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...markdownFiles(p));
    else if (name.endsWith('.md')) out.push(p);
  }
  return out;
}

const docs = markdownFiles(root);
const inside = (p: string): boolean => p === root || p.startsWith(root + sep);

test('the repository has its docs (README, docs/*.md, loadtest/README.md)', () => {
  const names = docs.map((d) => relative(root, d));
  for (const must of ['README.md', 'docs/CONFIG.md', 'docs/BENCHMARKS.md', 'docs/ARCHITECTURE.md', 'loadtest/README.md']) assert.ok(names.includes(must), must);
});

test('every relative link in *.md resolves to a file inside the repository', () => {
  const broken: string[] = [];
  let checked = 0;
  for (const doc of docs) {
    const text = readFileSync(doc, 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue; // a URL or an anchor in the same page
      const path = decodeURI(target.split('#')[0]!);
      const abs = path.startsWith('/') ? path : resolve(dirname(doc), path);
      checked++;
      if (!inside(abs)) broken.push(`${relative(root, doc)}: ${target} leaves the repository`);
      else if (!existsSync(abs)) broken.push(`${relative(root, doc)}: ${target} does not exist`);
    }
  }
  assert.deepEqual(broken, []);
  assert.ok(checked >= 10, `only ${checked} relative links found`);
});

test('no doc names a path outside the repository (../shared, /work/...)', () => {
  const outside: string[] = [];
  for (const doc of docs) {
    const lines = readFileSync(doc, 'utf8').split('\n');
    lines.forEach((line, i) => {
      for (const m of line.matchAll(/`((?:\.\.\/)+[^`\s]*|\/work\/[^`\s]*)`/g)) {
        const abs = resolve(dirname(doc), m[1]!);
        if (!inside(abs) || !existsSync(abs)) outside.push(`${relative(root, doc)}:${i + 1}: ${m[1]}`);
      }
      if (/(^|[\s(`'"])(\.\.\/)+shared\//.test(line) || /\/work\/shared\//.test(line)) outside.push(`${relative(root, doc)}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(outside, []);
});
