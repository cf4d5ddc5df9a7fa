// Contract suite for KeyValueStore: one body run against every implementation (local file now, JetStream KV later). Imports src/log/types.ts only.
// `open(dir)` opens the store kept in dir; calling it again with the same dir reopens the same store.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyValueStore } from '../../src/log/types.ts';

export function kvContract(name: string, open: (dir: string) => Promise<KeyValueStore>): void {
  describe(`KeyValueStore contract: ${name}`, () => {
    let dir = '';
    let kv: KeyValueStore | undefined;
    beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'kv-contract-')); kv = await open(dir); });
    afterEach(async () => { await kv?.close(); kv = undefined; await rm(dir, { recursive: true, force: true }); });

    it('keeps the last value per key and serves it at once', async () => {
      const s = kv!;
      const done = [s.put('a', Buffer.from('1')), s.put('a', Buffer.from('2')), s.put('b', Buffer.from('x'))];
      assert.equal(s.get('a')?.toString(), '2', 'visible before the write resolves');
      await Promise.all(done);
      assert.equal(s.get('a')?.toString(), '2');
      assert.equal(s.get('b')?.toString(), 'x');
      assert.equal(s.get('missing'), undefined);
    });

    it('stores a copy, empty values, and deletes with tombstones', async () => {
      const s = kv!;
      const v = Buffer.from('abc');
      await s.put('k', v);
      v[0] = 0x7a;
      assert.equal(s.get('k')?.toString(), 'abc');
      await s.put('empty', Buffer.alloc(0));
      assert.equal(s.get('empty')?.length, 0);
      await s.delete('k');
      assert.equal(s.get('k'), undefined);
      await s.delete('never-there');
    });

    it('lists entries by prefix', async () => {
      const s = kv!;
      await Promise.all(['sess/1', 'sess/2', 'ret/a', 'sess/3'].map((k) => s.put(k, Buffer.from(k))));
      await s.delete('sess/2');
      const got = [...s.entries('sess/')].map(([k, v]) => `${k}=${v.toString()}`).sort();
      assert.deepEqual(got, ['sess/1=sess/1', 'sess/3=sess/3']);
      assert.equal([...s.entries()].length, 3);
    });

    it('survives reopen, before and after compaction', async () => {
      let s = kv!;
      for (let i = 0; i < 200; i++) await s.put(`key/${i % 10}`, Buffer.from(`v${i}`));
      await s.delete('key/3');
      await s.close();
      kv = s = await open(dir);
      assert.equal(s.get('key/9')?.toString(), 'v199');
      assert.equal(s.get('key/3'), undefined);
      await s.compact();
      await s.put('after', Buffer.from('compact'));
      assert.equal(s.get('key/0')?.toString(), 'v190');
      await s.close();
      kv = s = await open(dir);
      assert.equal([...s.entries()].length, 10);
      assert.equal(s.get('key/0')?.toString(), 'v190');
      assert.equal(s.get('after')?.toString(), 'compact');
      assert.equal(s.get('key/3'), undefined);
    });

    it('applies concurrent writes in call order', async () => {
      const s = kv!;
      const ops: Promise<void>[] = [];
      for (let i = 0; i < 500; i++) ops.push(i % 7 === 6 ? s.delete(`c/${i % 13}`) : s.put(`c/${i % 13}`, Buffer.from(String(i))));
      await Promise.all(ops);
      const expected = new Map<string, string>();
      for (let i = 0; i < 500; i++) { if (i % 7 === 6) expected.delete(`c/${i % 13}`); else expected.set(`c/${i % 13}`, String(i)); }
      await s.close();
      kv = await open(dir);
      assert.deepEqual(new Map([...kv.entries('c/')].map(([k, v]) => [k, v.toString()])), expected);
    });
  });
}
