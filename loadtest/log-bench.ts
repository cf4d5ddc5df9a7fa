// Storage load test (not part of the test command): log append throughput per flush policy beside raw disk speed, QoS 1 through the gateway with the log on/off, recovery time of a large log, RSS of 1,000 offline sessions with a backlog. Imports src/log, src/core (broker, durable store), loadtest driver/scenarios/wire (read-only) and node builtins.
//
// Run: node --import tsx loadtest/log-bench.ts [--quick] [--recovery-mb 1024] [--appends 200000] [--sessions 1000] [--backlog 2000]
// Prints one table and writes loadtest/results/<date>-log-bench.md and .json. Default run: about 2-4 minutes.
// Sections:
//   disk      dd if=/dev/zero bs=1M count=256 conv=fdatasync (sequential MB/s) and dd bs=4k count=2000 oflag=dsync
//             (one fdatasync per 4 KiB write: syncs/s), both on the same filesystem as the logs (os.tmpdir()).
//   append    openLog, 100-byte values, 5,000 appends in flight, per flush policy: msg/s, MB/s of record bytes
//             written (file growth), and that MB/s as a ratio of dd's sequential MB/s
//             (the dsync figure is the ceiling for one fsync per message; `always` group-commits many per fsync).
//             A discarded warm-up run goes first.
//   qos1      the loadtest `qos1` scenario (1 -> 1, 1000 in flight) against a gateway child process with
//             persistence on (flush interval) and off: delivered msg/s.
//   recovery  writes a log of --recovery-mb through DurableStore (1 KiB payloads, gateway layout), closes it,
//             then times openLog + openKeyValueStore + Broker.restore (what the gateway does at start).
//   memory    a gateway child process; --sessions persistent v3.1.1 sessions (clean session 0) subscribe to
//             mem/# at QoS 1 and go offline; --backlog QoS 1 messages are published; RSS of the gateway
//             (/proc/<pid>/status VmRSS) sampled every second: start / end / max and bytes per queued reference.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import mqttPacket from 'mqtt-packet';
import pino from 'pino';
import { openKeyValueStore, openLog } from '../src/log/index.ts';
import { DurableStore } from '../src/core/durable.ts';
import { Broker } from '../src/core/broker.ts';
import { runWorkload, terminateAllWorkers } from './driver.ts';
import { buildWorkload } from './scenarios.ts';
import { encodePublish, PacketReader, PUBACK } from './wire.ts';

type Flush = 'always' | 'interval' | 'never';
const ROOT = new URL('..', import.meta.url).pathname;
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'recovery-mb': { type: 'string' },
    appends: { type: 'string' },
    sessions: { type: 'string' },
    backlog: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help === true) {
  process.stdout.write(`usage: node --import tsx loadtest/log-bench.ts [options]
  --quick            ~25 s: smaller counts, 64 MB recovery, 100 sessions
  --appends N        appends per flush policy (default 200000; quick 50000)
  --recovery-mb N    size of the log whose recovery is timed (default 1024; quick 64)
  --sessions N       offline persistent sessions in the memory section (default 1000; quick 100)
  --backlog N        QoS 1 messages queued for them (default 2000; quick 500)
Sections: disk (dd), append (per flush policy), qos1 (log on/off), recovery, memory. Writes
loadtest/results/<date>-log-bench.md and .json.
`);
  process.exit(0);
}
const quick = args.quick === true;
const RECOVERY_MB = Number(args['recovery-mb'] ?? (quick ? 64 : 1024));
const APPENDS = Number(args.appends ?? (quick ? 50_000 : 200_000));
const SESSIONS = Number(args.sessions ?? (quick ? 100 : 1000));
const BACKLOG = Number(args.backlog ?? (quick ? 500 : 2000));
const rows: { section: string; what: string; value: string }[] = [];
const json: Record<string, unknown> = { startedAt: new Date().toISOString(), quick, RECOVERY_MB, APPENDS, SESSIONS, BACKLOG };
const row = (section: string, what: string, value: string): void => {
  rows.push({ section, what, value });
  process.stderr.write(`  ${section} | ${what} | ${value}\n`);
};
const fmt = (n: number, d = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const children = new Set<ChildProcess>();

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

// ---- disk ----

function dd(ddArgs: string[]): number {
  const t0 = performance.now();
  const r = spawnSync('dd', ddArgs, { encoding: 'utf8', timeout: 120_000 });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`dd ${ddArgs.join(' ')} failed: ${r.stderr}`);
  return s;
}

function disk(): { seqMBs: number; syncsPerS: number } {
  const dir = mkdtempSync(join(tmpdir(), 'log-bench-dd-'));
  try {
    const f = join(dir, 'dd.bin');
    const seqS = dd(['if=/dev/zero', `of=${f}`, 'bs=1M', 'count=256', 'conv=fdatasync']);
    const seqMBs = 256 / seqS;
    rmSync(f, { force: true });
    const syncS = dd(['if=/dev/zero', `of=${f}`, 'bs=4k', 'count=2000', 'oflag=dsync']);
    const syncsPerS = 2000 / syncS;
    row('disk', 'dd bs=1M count=256 conv=fdatasync', `${fmt(seqMBs, 1)} MB/s`);
    row('disk', 'dd bs=4k count=2000 oflag=dsync', `${fmt(syncsPerS)} syncs/s (${fmt((syncsPerS * 4) / 1024, 2)} MB/s)`);
    return { seqMBs, syncsPerS };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- append ----

async function appendBench(mode: Flush, count: number, d: { seqMBs: number; syncsPerS: number }, report = true): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'log-bench-append-'));
  const log = await openLog({
    dir, partitions: 4, segmentBytes: 64 << 20, segmentMs: 3_600_000, retentionBytes: -1, retentionMs: -1,
    indexIntervalBytes: 4096, maxRecordBytes: 1 << 20, flush: mode === 'interval' ? { mode, intervalMs: 10 } : { mode },
  });
  const value = Buffer.alloc(100, 7);
  const headers = Buffer.alloc(0);
  const inFlight = 5_000;
  const deadline = Date.now() + 60_000; // a slow disk under `always` stops early; the rate is still per message done
  const t0 = performance.now();
  let done = 0;
  while (done < count && Date.now() < deadline) {
    const n = Math.min(inFlight, count - done);
    const batch: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) batch.push(log.append({ key: `sensors/${(done + i) % 64}/temp`, timestamp: Date.now(), headers, value }));
    await Promise.all(batch);
    done += n;
  }
  const s = (performance.now() - t0) / 1000;
  await log.close();
  const bytes = dirBytes(dir);
  rmSync(dir, { recursive: true, force: true });
  const msgS = done / s;
  const mbS = bytes / (1 << 20) / s;
  if (report) row('append', `flush ${mode}: ${fmt(done)} x 100 B`, `${fmt(msgS)} msg/s, ${fmt(mbS, 1)} MB/s on disk = ${fmt((mbS / d.seqMBs) * 100, 1)}% of dd`);
  return { count: done, seconds: s, msgPerS: msgS, mbPerS: mbS, ratioToDd: mbS / d.seqMBs };
}

// ---- gateway child process ----

interface Child {
  pid: number;
  port: number;
  close(): Promise<void>;
}

async function gatewayProcess(config: Record<string, unknown>): Promise<Child> {
  const dir = mkdtempSync(join(tmpdir(), 'log-bench-gw-'));
  const cfgPath = join(dir, 'config.json');
  writeFileSync(cfgPath, JSON.stringify({ ...config, dataDir: join(dir, 'data'), log: { level: 'info' } }));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server/cli.ts', '--config', cfgPath, '--mqtt-port', '0', '--stomp-port', '0', '--http-port', '0'], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const hard = setTimeout(() => child.kill('SIGKILL'), 5000);
      await new Promise<void>((r) => { child.once('exit', () => r()); child.kill('SIGTERM'); });
      clearTimeout(hard);
    }
    children.delete(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not listen within 15 s: ${stderr}`)), 15_000);
    child.once('exit', (c) => reject(new Error(`gateway exited (${c}): ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const r = JSON.parse(line) as { msg?: string; protocol?: string; port?: number };
        if (r.msg === 'listening' && r.protocol === 'mqtt' && typeof r.port === 'number') {
          clearTimeout(timer);
          resolve(r.port);
        }
      } catch { /* not a log line */ }
    });
  }).catch(async (e: unknown) => { await close(); throw e; });
  return { pid: child.pid!, port, close };
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

// ---- qos1 ----

async function qos1(persistence: boolean): Promise<number> {
  const gw = await gatewayProcess({ persistence: { enabled: persistence, flush: 'interval' } });
  try {
    const w = buildWorkload('qos1', '127.0.0.1', gw.port, `lb${Date.now()}`);
    const r = await runWorkload(w, { warmupS: 1, durationS: quick ? 3 : 5, brokerPid: gw.pid, label: null });
    row('qos1', `1 -> 1 QoS 1 through the gateway, log ${persistence ? 'on (flush interval)' : 'off'}`,
      `${fmt(r.msgPerS)} msg/s (lost ${r.lost}, dup ${r.duplicates}, broker CPU ${r.brokerCpuPct === null ? '?' : fmt(r.brokerCpuPct)}%)`);
    return r.msgPerS;
  } finally {
    await gw.close();
  }
}

// ---- recovery ----

async function recovery(mb: number): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'log-bench-recovery-'));
  try {
    const logCfg = {
      dir: join(dir, 'log'), partitions: 8, segmentBytes: 64 << 20, segmentMs: 24 * 3_600_000, retentionBytes: -1, retentionMs: -1,
      indexIntervalBytes: 4096, maxRecordBytes: 2 << 20, flush: { mode: 'never' as const },
    };
    mkdirSync(dir, { recursive: true });
    let log = await openLog(logCfg);
    let state = await openKeyValueStore(join(dir, 'state'), { mode: 'never' });
    let store = new DurableStore(log, state, false);
    const payload = Buffer.alloc(1024, 1);
    const target = mb * (1 << 20);
    const tw = performance.now();
    let written = 0;
    let n = 0;
    while (written < target) {
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < 2000; i++, n++) {
        batch.push(store.append({ topic: `dev/${n % 1000}/data`, payload, qos: 1, retain: false, properties: {}, createdAt: Date.now(), expiresAt: 0, senderId: 'bench' }));
        written += payload.length + 64;
      }
      await Promise.all(batch);
    }
    const writeS = (performance.now() - tw) / 1000;
    await log.close();
    await state.close();
    const onDisk = dirBytes(dir);
    const t0 = performance.now();
    log = await openLog(logCfg);
    const tLog = performance.now();
    state = await openKeyValueStore(join(dir, 'state'), { mode: 'never' });
    store = new DurableStore(log, state, false);
    const broker = new Broker({ shareStrategy: 'round-robin', persistence: store, logger: pino({ level: 'silent' }),
      restoreLimits: { maxInflight: 100, maxQueued: 1000, maxQueuedBytes: 1 << 20, dropPolicy: 'drop-oldest', queueQos0: false } });
    await broker.restore();
    const tAll = performance.now();
    broker.close();
    await log.close();
    await state.close();
    const openMs = tLog - t0;
    const totalMs = tAll - t0;
    row('recovery', `log of ${fmt(onDisk / (1 << 20))} MB (${fmt(n)} x 1 KiB, written in ${fmt(writeS, 1)} s)`, `openLog ${fmt(openMs)} ms, openLog + state + restore ${fmt(totalMs)} ms`);
    return { bytes: onDisk, records: n, writeS, openLogMs: openMs, totalMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- memory ----

function rawConnect(port: number, clientId: string, clean: boolean): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('error', reject);
    s.once('connect', () => s.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean, keepalive: 0 })));
    s.once('data', () => resolve(s)); // CONNACK
  });
}

async function memory(sessions: number, backlog: number): Promise<Record<string, number>> {
  const gw = await gatewayProcess({ persistence: { enabled: true, flush: 'interval' }, sessions: { maxQueued: backlog + 100 } });
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(rssBytes(gw.pid)), 1000);
  try {
    await sleep(500);
    for (let i = 0; i < sessions; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, sessions - i) }, async (_, k) => {
        const s = await rawConnect(gw.port, `mem-${i + k}`, false);
        s.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'mem/#', qos: 1 }] }));
        await new Promise<void>((r) => s.once('data', () => r())); // SUBACK
        s.end(mqttPacket.generate({ cmd: 'disconnect' }));
      }));
    }
    await sleep(1500); // the sessions' offline images are written
    const start = rssBytes(gw.pid);
    samples.push(start);
    // One publisher, QoS 1, up to 200 in flight; every message is queued (as a reference) in every offline session.
    const pub = await rawConnect(gw.port, 'mem-pub', true);
    const tmpl = encodePublish('mem/data', 1, Buffer.alloc(256, 2));
    const reader = new PacketReader();
    let acked = 0;
    let sent = 0;
    let wake: (() => void) | undefined;
    pub.on('data', (d: Buffer) => reader.feed(d, (buf, st) => {
      if (buf[st]! >> 4 === PUBACK) {
        acked++;
        wake?.();
      }
    }));
    const deadline = Date.now() + 180_000;
    const t0 = performance.now();
    while (acked < backlog && Date.now() < deadline) {
      while (sent < backlog && sent - acked < 200) {
        const b = Buffer.from(tmpl.bytes);
        b.writeUInt16BE((sent % 65535) + 1, tmpl.packetIdOffset);
        pub.write(b);
        sent++;
      }
      await new Promise<void>((r) => { wake = r; setTimeout(r, 200); });
    }
    const pubS = (performance.now() - t0) / 1000;
    await sleep(2000);
    const end = rssBytes(gw.pid);
    pub.destroy();
    const max = Math.max(...samples, end);
    const refs = acked * sessions;
    const perRef = (end - start) / refs;
    row('memory', `${fmt(sessions)} offline sessions, ${fmt(acked)} x 256 B QoS 1 (${fmt(refs)} queued refs, ${fmt(pubS, 1)} s)`,
      `RSS start ${fmt(start / 2 ** 20)} MB, end ${fmt(end / 2 ** 20)} MB, max ${fmt(max / 2 ** 20)} MB; ${fmt(perRef, 1)} B per queued ref, ${fmt((end - start) / acked)} B per message`);
    return { sessions, messages: acked, refs, startRss: start, endRss: end, maxRss: max, bytesPerRef: perRef, publishSeconds: pubS, samples: samples.length };
  } finally {
    clearInterval(sampler);
    json.memorySamples = samples;
    await gw.close();
  }
}

// ---- main ----

async function main(): Promise<void> {
  const started = Date.now();
  process.stderr.write(`log-bench: disk, append (3 policies), qos1 on/off, recovery ${RECOVERY_MB} MB, memory ${SESSIONS} sessions x ${BACKLOG}\n`);
  const d = disk();
  json.disk = d;
  const append: Record<string, unknown> = {};
  // Warm-up (JIT, page cache of the temp fs), not reported: without it the first policy measured looks slowest.
  await appendBench('never', Math.min(APPENDS, 50_000), d, false);
  for (const mode of ['never', 'interval', 'always'] as const) append[mode] = await appendBench(mode, mode === 'always' ? Math.min(APPENDS, 100_000) : APPENDS, d);
  json.append = append;
  const on = await qos1(true);
  const off = await qos1(false);
  row('qos1', 'log on / log off', `${fmt((on / off) * 100, 1)}%`);
  json.qos1 = { logOn: on, logOff: off };
  json.recovery = await recovery(RECOVERY_MB);
  json.memory = await memory(SESSIONS, BACKLOG);
  json.seconds = (Date.now() - started) / 1000;

  const md = [
    `# log-bench ${json.startedAt as string}${quick ? ' (quick)' : ''}`,
    '',
    '| section | what | result |',
    '|---|---|---|',
    ...rows.map((r) => `| ${r.section} | ${r.what} | ${r.value} |`),
    '',
    `Total ${fmt(json.seconds as number)} s. Logs and dd files under ${tmpdir()}.`,
  ].join('\n');
  process.stdout.write(`${md}\n`);
  const out = join(ROOT, 'loadtest', 'results');
  mkdirSync(out, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(out, `${stamp}-log-bench.md`), `${md}\n`);
  writeFileSync(join(out, `${stamp}-log-bench.json`), `${JSON.stringify(json, null, 2)}\n`);
  process.stderr.write(`written: loadtest/results/${stamp}-log-bench.{md,json}\n`);
}

const stopChildren = async (): Promise<void> => {
  await terminateAllWorkers();
  for (const c of children) c.kill('SIGKILL');
};
process.on('SIGINT', () => void stopChildren().then(() => process.exit(130)));
main().then(
  async () => { await stopChildren(); process.exit(0); },
  async (err: unknown) => { process.stderr.write(`log-bench failed: ${err instanceof Error ? err.stack : String(err)}\n`); await stopChildren(); process.exit(1); },
);
