// The log CLI run as a child process on a data dir this test wrote: inspect (partitions, segments, group lag), dump (filters, start points, max, payload forms), errors, no writes. Imports src/log, src/core consumer files and the record codec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openKeyValueStore, openLog, type PartitionStats } from '../../src/log/index.ts';
import { encodeHeaders } from '../../src/core/record-codec.ts';
import { ConsumerGroup } from '../../src/core/consumer-group.ts';
import type { Message } from '../../src/core/message.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'src/server/log-cli.ts');
const T0 = Date.UTC(2024, 0, 2, 3, 4, 5);

interface Run { code: number; stdout: string; stderr: string }

function run(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

interface Written { topic: string; partition: number; offset: number; ts: number; payload: Buffer }

/** A data dir like the gateway's: 2 partitions, small segments, 20 records (one binary payload), group "billing" with commits. */
async function writeDataDir(): Promise<{ dir: string; written: Written[]; stats: PartitionStats[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'log-cli-test-'));
  const log = await openLog({
    dir: join(dir, 'log'), partitions: 2, segmentBytes: 400, segmentMs: 3_600_000, retentionBytes: -1, retentionMs: -1,
    indexIntervalBytes: 100, flush: { mode: 'never' }, maxRecordBytes: 64 * 1024,
  });
  const written: Written[] = [];
  for (let i = 0; i < 20; i++) {
    const topic = i % 4 === 3 ? 'alerts/fire' : `sensors/${i % 3}/temp`;
    const payload = i === 7 ? Buffer.from([0x00, 0xff, 0x10]) : Buffer.from(`v${i} "q"`);
    const m: Message = { topic, payload, qos: (i % 3) as 0 | 1 | 2, retain: false, properties: {}, createdAt: T0 + i * 1000, expiresAt: 0, senderId: 'w' };
    const ref = await log.append({ key: topic, timestamp: m.createdAt, headers: encodeHeaders(m), value: payload });
    written.push({ topic, payload, ts: m.createdAt, ...ref });
  }
  const state = await openKeyValueStore(join(dir, 'state'), { mode: 'never' });
  const g = new ConsumerGroup({ group: 'billing', log, store: state });
  g.join('m');
  await g.commit('m', 0, 2);
  const stats = log.stats();
  await log.close();
  await state.close();
  return { dir, written, stats };
}

function parseLine(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) out[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
  return out;
}

async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else {
        const s = await stat(p);
        out.push(`${p} ${s.size} ${s.mtimeMs}`);
      }
    }
  };
  await walk(dir);
  return out.sort();
}

test('log CLI', async (t) => {
  const { dir, written, stats } = await writeDataDir();
  t.after(() => rm(dir, { recursive: true, force: true }));
  assert.ok(stats.some((p) => p.segments.length > 1), 'the data set rolls at least one segment');
  const before = await snapshot(dir);

  const dumpLines = (r: Run) => r.stdout.trim().split('\n').filter(Boolean).map(parseLine);
  const refs = (xs: { partition?: number | string; offset?: number | string }[]) =>
    xs.map((x) => `${x.partition}:${x.offset}`).sort();

  // Child processes in parallel: each costs a Node start.
  const [inspect, all, alerts, last, fromOffset, fromTime, maxed] = await Promise.all([
    run(['inspect', '--data-dir', dir]),
    run(['dump', '--data-dir', dir, '--topic', '#']),
    run(['dump', '--data-dir', dir, '--topic', 'alerts/+']),
    run(['dump', '--data-dir', dir, '--topic', 'sensors/#', '--from', 'last']),
    run(['dump', '--data-dir', dir, '--topic', '#', '--from', 'offset=6']),
    run(['dump', `--data-dir=${dir}`, '--topic', '#', '--from', `timestamp=${new Date(T0 + 14_500).toISOString()}`]),
    run(['dump', '--data-dir', dir, '--topic', '#', '--max', '3']),
  ]);

  await t.test('inspect prints partitions, segments and group lag', () => {
    assert.equal(inspect.code, 0, inspect.stderr);
    const lines = inspect.stdout.trim().split('\n');
    assert.deepEqual(parseLine(lines[0]!), { dir: join(dir, 'log'), partitions: '2', records: '20', bytes: String(stats[0]!.bytes + stats[1]!.bytes) });
    const expected: string[] = [];
    for (const p of stats) {
      expected.push(`partition=${p.partition} start=${p.startOffset} end=${p.endOffset} records=${p.endOffset - p.startOffset} bytes=${p.bytes} segments=${p.segments.length}`);
      for (const s of p.segments) expected.push(`  segment base=${s.baseOffset} bytes=${s.bytes}`);
    }
    assert.deepEqual(lines.slice(1, 1 + expected.length), expected);
    assert.deepEqual(lines.slice(1 + expected.length), [
      `group="billing" partition=0 committed=2 end=${stats[0]!.endOffset} lag=${stats[0]!.endOffset - 2}`,
      `group="billing" partition=1 committed=- end=${stats[1]!.endOffset} lag=${stats[1]!.endOffset}`,
    ]);
  });

  await t.test('dump prints every field; payload as UTF-8 text or hex', () => {
    assert.equal(all.code, 0, all.stderr);
    const rows = dumpLines(all);
    assert.equal(rows.length, written.length);
    assert.deepEqual(refs(rows), refs(written));
    for (const r of rows) {
      const w = written.find((x) => x.partition === Number(r.partition) && x.offset === Number(r.offset))!;
      assert.equal(r.topic, w.topic);
      assert.equal(r.time, new Date(w.ts).toISOString());
      assert.equal(r.qos, String((written.indexOf(w)) % 3));
      if (w.payload[0] === 0) assert.equal(r.payload, 'hex:00ff10');
      else assert.equal(r.payload, w.payload.toString());
    }
    assert.match(all.stderr, /records=20/);
  });

  await t.test('dump filters by topic and starts where --from says', () => {
    assert.deepEqual(refs(dumpLines(alerts)), refs(written.filter((w) => w.topic.startsWith('alerts/'))));
    // last: the last record of each partition, then the filter.
    const lastPer = [0, 1].map((p) => written.filter((w) => w.partition === p).at(-1)!).filter((w) => w.topic.startsWith('sensors/'));
    assert.deepEqual(refs(dumpLines(last)), refs(lastPer));
    assert.deepEqual(refs(dumpLines(fromOffset)), refs(written.filter((w) => w.offset >= 6)));
    assert.deepEqual(refs(dumpLines(fromTime)), refs(written.filter((w) => w.ts >= T0 + 14_500)));
    assert.ok(dumpLines(fromTime).length > 0);
    assert.equal(dumpLines(maxed).length, 3);
  });

  await t.test('clear errors for a missing dir, a dir without a log, and bad arguments', async () => {
    const missing = join(dir, 'nope');
    const empty = join(dir, 'state'); // exists, but holds no log
    const [r1, r2, r3, r4, r5, r6] = await Promise.all([
      run(['inspect', '--data-dir', missing]),
      run(['inspect', '--data-dir', empty]),
      run(['dump', '--data-dir', dir]),
      run(['dump', '--data-dir', dir, '--topic', 'a/#/b']),
      run(['dump', '--data-dir', dir, '--topic', '#', '--from', 'yesterday']),
      run(['frobnicate']),
    ]);
    assert.equal(r1.code, 2);
    assert.match(r1.stderr, /does not exist/);
    assert.equal(existsSync(missing), false, 'a missing dir is not created');
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /meta\.json is missing/);
    assert.equal(existsSync(join(empty, 'log')), false);
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /--topic/);
    assert.equal(r4.code, 2);
    assert.match(r4.stderr, /topic filter invalid/);
    assert.equal(r5.code, 2);
    assert.match(r5.stderr, /--from must be/);
    assert.equal(r6.code, 2);
    assert.match(r6.stderr, /unknown command/);
    for (const r of [r1, r2, r3, r4, r5, r6]) assert.equal(r.stdout, '');
  });

  await t.test('reading changes no file in the data dir', async () => {
    assert.deepEqual(await snapshot(dir), before);
  });
});
