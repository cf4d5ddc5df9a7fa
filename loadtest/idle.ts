// The idle scenario: N idle MQTT connections to one broker, its RSS per connection and the time to connect. Imports node builtins, ./idle-worker.ts types, ./ws-transport.ts types.
//
// One run: wait settleMs, read the broker's VmRSS (/proc/<pid>/status, KiB); spread `connections`
// over `workers` worker threads, each opening its slice `concurrency` at a time (CONNECT clean
// session, keepalive 0, then silence); once all answered, wait settleMs, read VmRSS again and ask how
// many are still open; then DISCONNECT + close all and read VmRSS once more after settleMs.
// KiB per connection = (VmRSS after - VmRSS before) / connections that got CONNACK.
// The generator needs one fd per connection: its soft RLIMIT_NOFILE must exceed `connections`
// (checked up front from /proc/self/limits, with a clear error naming `ulimit -n`).
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { IdleCommand, IdleReport, IdleWorkerInit } from './idle-worker.ts';
import type { TransportName } from './ws-transport.ts';

export interface IdleTarget {
  name: string;
  host: string;
  port: number;
  wsUrl: string | null;
  pid: number | null;
}

export interface IdleOptions {
  connections: number;
  workers: number;
  /** Per worker: connections being set up at once. */
  concurrency: number;
  transport: TransportName;
  settleMs: number;
  /** Unique per run: client ids are lt-idle-<runId>-<i>. */
  runId: string;
}

export interface IdleResult {
  target: string;
  transport: TransportName;
  connections: number;
  ok: number;
  failed: number;
  firstError: string | null;
  /** Slowest worker's time from its first CONNECT to its last CONNACK. */
  connectMs: number;
  connectsPerS: number;
  rssBeforeKiB: number | null;
  rssAfterKiB: number | null;
  rssAfterCloseKiB: number | null;
  kibPerConnection: number | null;
  /** Connections still open after the settle time (the broker must not drop idle clients). */
  stillOpen: number;
}

/** VmRSS of pid in KiB from /proc/<pid>/status, or null if unreadable. */
export function vmRssKiB(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/** Soft limit on open files of this process, from /proc/self/limits (null if unknown). */
export function openFilesLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m === null ? null : m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    return null;
  }
}

// Same boot as driver.ts: Node 20 does not apply `--import tsx` to a worker's .ts entry point.
const WORKER_BOOT = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})`
  + `.then((m) => { m.register(); return import(${JSON.stringify(new URL('./idle-worker.ts', import.meta.url).href)}); })`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function nextReport<T extends IdleReport['type']>(wk: Worker, type: T, timeoutMs: number): Promise<Extract<IdleReport, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`idle worker: no '${type}' within ${timeoutMs} ms`)); }, timeoutMs);
    const onMsg = (r: IdleReport): void => { if (r.type === type) { cleanup(); resolve(r as Extract<IdleReport, { type: T }>); } };
    const onErr = (e: Error): void => { cleanup(); reject(e); };
    const onExit = (code: number): void => { cleanup(); reject(new Error(`idle worker exited (code ${code}) before '${type}'`)); };
    const cleanup = (): void => { clearTimeout(timer); wk.off('message', onMsg); wk.off('error', onErr); wk.off('exit', onExit); };
    wk.on('message', onMsg);
    wk.once('error', onErr);
    wk.once('exit', onExit);
  });
}

export async function runIdle(t: IdleTarget, o: IdleOptions): Promise<IdleResult> {
  const limit = openFilesLimit();
  if (limit !== null && limit < o.connections + 256) {
    throw new Error(`the generator may open only ${limit} files; ${o.connections} connections need more: run \`ulimit -n ${o.connections + 1024}\` first (the hard limit is the ceiling)`);
  }
  if (o.transport === 'ws' && t.wsUrl === null) throw new Error(`${t.name} serves no MQTT over WebSocket`);
  await sleep(o.settleMs);
  const rssBeforeKiB = vmRssKiB(t.pid);
  const per = Math.ceil(o.connections / o.workers);
  const workers: Worker[] = [];
  try {
    for (let k = 0; k < o.workers; k++) {
      const from = k * per, to = Math.min(o.connections, from + per);
      if (from >= to) break;
      const init: IdleWorkerInit = {
        host: t.host, port: t.port, transport: o.transport, wsUrl: t.wsUrl,
        prefix: `lt-idle-${o.runId}-`, from, to, concurrency: o.concurrency,
      };
      workers.push(new Worker(WORKER_BOOT, { eval: true, workerData: init }));
    }
    const connected = await Promise.all(workers.map((wk) => nextReport(wk, 'connected', 180_000)));
    const ok = connected.reduce((a, r) => a + r.ok, 0);
    const failed = connected.reduce((a, r) => a + r.failed, 0);
    const connectMs = Math.max(...connected.map((r) => r.ms));
    await sleep(o.settleMs);
    const rssAfterKiB = vmRssKiB(t.pid);
    const alive = await Promise.all(workers.map((wk) => {
      const p = nextReport(wk, 'alive', 10_000);
      wk.postMessage({ type: 'count' } satisfies IdleCommand);
      return p;
    }));
    const closed = workers.map((wk) => nextReport(wk, 'closed', 20_000));
    for (const wk of workers) wk.postMessage({ type: 'close' } satisfies IdleCommand);
    await Promise.all(closed);
    await sleep(o.settleMs);
    const rssAfterCloseKiB = vmRssKiB(t.pid);
    return {
      target: t.name, transport: o.transport, connections: o.connections, ok, failed,
      firstError: connected.map((r) => r.firstError).find((e) => e !== null) ?? null,
      connectMs, connectsPerS: ok / (connectMs / 1000),
      rssBeforeKiB, rssAfterKiB, rssAfterCloseKiB,
      kibPerConnection: rssBeforeKiB !== null && rssAfterKiB !== null && ok > 0 ? (rssAfterKiB - rssBeforeKiB) / ok : null,
      stillOpen: alive.reduce((a, r) => a + r.open, 0),
    };
  } finally {
    await Promise.all(workers.map((wk) => wk.terminate()));
  }
}

const mib = (k: number | null): string => (k === null ? 'n/a' : (k / 1024).toFixed(1));

/** Markdown table of idle results (one row per target and transport). */
export function idleMarkdown(results: IdleResult[], meta: Record<string, string | number>): string {
  const out: string[] = ['# Load test report: idle connections', ''];
  for (const [k, v] of Object.entries(meta)) out.push(`- ${k}: ${v}`);
  out.push('', '| target | transport | connected | failed | still open | connect s | conn/s | RSS before MiB | RSS after MiB | KiB per connection | RSS after close MiB |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    out.push(`| ${r.target} | ${r.transport} | ${r.ok} | ${r.failed} | ${r.stillOpen} | ${(r.connectMs / 1000).toFixed(2)} | ${r.connectsPerS.toFixed(0)} | ${mib(r.rssBeforeKiB)} | ${mib(r.rssAfterKiB)} | ${r.kibPerConnection === null ? 'n/a' : r.kibPerConnection.toFixed(1)} | ${mib(r.rssAfterCloseKiB)} |`);
  }
  const errs = results.filter((r) => r.firstError !== null);
  if (errs.length > 0) out.push('', 'First connect error per target:', ...errs.map((r) => `- ${r.target}/${r.transport}: ${r.firstError}`));
  out.push('', 'KiB per connection = (VmRSS after connecting - VmRSS before) / connections, from /proc/<pid>/status of the broker process.');
  return out.join('\n') + '\n';
}
