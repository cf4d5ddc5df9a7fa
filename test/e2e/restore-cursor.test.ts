// E2E restore after kill -9 (small loadtest/restore-bench.ts run): offline persistent sessions come back as cursors and every queued message reaches every session on reconnect; RSS stays bounded. Imports node:test and the restore benchmark.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runRestoreBench } from '../../loadtest/restore-bench.ts';

describe('restore after kill -9: sessions are cursors, read lazily', () => {
  for (const topics of ['shared', 'own'] as const) {
    test(`30 offline sessions x 200 queued 100-byte messages (${topics} topic): all delivered after the restart`, { timeout: 180_000 }, async (t) => {
      const r = await runRestoreBench({ sessions: 30, messages: 200, bytes: 100, topics, collectMs: 30_000 });
      t.diagnostic(JSON.stringify(r));
      assert.equal(r.recovered.sessions, 30, 'the 30 persistent subscribers were restored');
      assert.equal(r.incomplete, 0, `sessions missing messages: ${JSON.stringify(r)}`);
      assert.equal(r.delivered, 30 * 200);
      assert.ok(r.rssAfterRestoreMb > 0 && r.rssAfterRestoreMb < 400, `RSS after restore ${r.rssAfterRestoreMb} MB`);
    });
  }
});
