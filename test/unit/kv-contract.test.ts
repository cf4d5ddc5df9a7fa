// Runs the KeyValueStore contract against the local file store under each flush policy, plus file-specific recovery/compaction tests. Imports the contract and src/log/kv.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, appendFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kvContract } from '../contract/kv.contract.ts';
import { openKeyValueStore } from '../../src/log/kv.ts';
import type { FlushPolicy } from '../../src/log/types.ts';

const policies: FlushPolicy[] = [{ mode: 'always' }, { mode: 'interval', intervalMs: 10 }, { mode: 'never' }];
for (const flush of policies) kvContract(`local file store, flush ${flush.mode}`, (dir) => openKeyValueStore(dir, flush));

describe('local key/value store files', () => {
  it('tolerates a torn tail and an interrupted compaction', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kv-file-'));
    try {
      let s = await openKeyValueStore(dir, { mode: 'always' });
      await s.put('a', Buffer.from('1'));
      await s.put('b', Buffer.from('2'));
      await s.close();
      await appendFile(join(dir, 'kv.log'), Buffer.from([0, 0, 0, 60, 1, 2, 3]));
      await writeFile(join(dir, 'kv.log.compact'), Buffer.from('half-written'));
      const warns: object[] = [];
      s = await openKeyValueStore(dir, { mode: 'always' }, { logger: { info() {}, warn(o) { warns.push(o); } } });
      assert.equal(warns.length, 1);
      assert.equal(s.get('a')?.toString(), '1');
      assert.equal(s.get('b')?.toString(), '2');
      await s.put('c', Buffer.from('3'));
      await s.close();
      s = await openKeyValueStore(dir, { mode: 'always' });
      assert.deepEqual([...s.entries()].map(([k, v]) => k + v.toString()).sort(), ['a1', 'b2', 'c3']);
      await s.close();
    } finally { await rm(dir, { recursive: true, force: true }); }
  });

  it('compacts automatically when dead bytes dominate', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kv-auto-'));
    try {
      const s = await openKeyValueStore(dir, { mode: 'never' }, { compactMinBytes: 4096 });
      for (let i = 0; i < 2000; i++) await s.put(`k${i % 5}`, Buffer.alloc(50, i & 255));
      await s.put('last', Buffer.from('x')); // lets a pending compaction run before close
      await s.close();
      const size = (await stat(join(dir, 'kv.log'))).size;
      assert.ok(size < 8192, `file stays small: ${size} bytes`);
      const r = await openKeyValueStore(dir, { mode: 'never' });
      assert.deepEqual(r.get('k4'), Buffer.alloc(50, 1999 & 255));
      await r.close();
    } finally { await rm(dir, { recursive: true, force: true }); }
  });
});
