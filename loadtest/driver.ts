// Runs one workload against one broker: starts worker threads, times warm-up/measure/drain, collects counts and CPU. Imports node builtins and ./workload.ts, ./proc.ts.
//
// Timeline: connect subscribers, then publishers -> warm-up (warmupS) -> measure (durationS; the
// delivered counter and CPU are sampled at both ends) -> stop publishers (QoS 1 waits for acks)
// -> drain until every expected delivery arrived or nothing arrived for 500 ms (max 5 s) -> collect.
// Lost = sent x subscribers - unique deliveries (every scenario's topics match every subscriber).
import { Worker } from 'node:worker_threads';
import { CpuMeter } from './proc.ts';
import {
  C_ACKED, C_DELIVERED, C_PHASE, C_SENT, COUNTER_SLOTS, PHASE_DRAIN, PHASE_MEASURE, PHASE_WARMUP,
  type Workload, type WorkerInit, type WorkerReport,
} from './workload.ts';

export interface RunOptions {
  warmupS: number;
  durationS: number;
  brokerPid: number | null;
  /** Prefix of the per-second progress line on stderr; null = no progress output. */
  label: string | null;
}

export interface LatencySummary {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

export interface RunResult {
  /** Deliveries per second at the subscribers during the measure window (incl. duplicates). */
  msgPerS: number;
  /** PUBLISHes written per second by the publishers during the measure window. */
  sentPerS: number;
  brokerCpuPct: number | null;
  generatorCpuPct: number | null;
  sent: number;
  expected: number;
  unique: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  acked: number;
  latencyUs: LatencySummary | null;
}

// Node 20 does not apply `--import tsx` to a worker's .ts entry point, so the worker boots from a
// tiny eval'd script that registers tsx's ESM hooks in that thread and then imports worker.ts.
const WORKER_BOOT = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})`
  + `.then((m) => { m.register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); })`;
const live = new Set<Worker>();

/** Terminates every worker still running (for signal handlers). */
export async function terminateAllWorkers(): Promise<void> {
  await Promise.all([...live].map((w) => w.terminate()));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function slices(n: number, parts: number): number[][] {
  const out: number[][] = Array.from({ length: Math.max(1, Math.min(parts, n)) }, () => []);
  for (let i = 0; i < n; i++) out[i % out.length]!.push(i);
  return out;
}

/** A worker plus a way to await its next report of a given type; any 'error' report fails the run. */
class Handle {
  readonly worker: Worker;
  private waiters = new Map<string, (r: WorkerReport) => void>();
  private failure: Error | null = null;
  private onFail: ((e: Error) => void)[] = [];

  constructor(init: WorkerInit) {
    this.worker = new Worker(WORKER_BOOT, { eval: true, workerData: init });
    live.add(this.worker);
    this.worker.on('message', (r: WorkerReport) => {
      if (r.type === 'error') return this.fail(new Error(r.message));
      const w = this.waiters.get(r.type);
      this.waiters.delete(r.type);
      w?.(r);
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => {
      live.delete(this.worker);
      if (this.waiters.size > 0) this.fail(new Error(`worker exited (code ${code}) before reporting`));
    });
  }

  private fail(e: Error): void {
    if (this.failure !== null) return;
    this.failure = e;
    for (const f of this.onFail) f(e);
  }

  /** Rejects as soon as this worker reports an error. */
  failed(): Promise<never> {
    return new Promise((_r, reject) => {
      if (this.failure !== null) reject(this.failure);
      else this.onFail.push(reject);
    });
  }

  next<T extends WorkerReport['type']>(type: T, timeoutMs: number): Promise<Extract<WorkerReport, { type: T }>> {
    return Promise.race([
      this.failed(),
      new Promise<Extract<WorkerReport, { type: T }>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
        this.waiters.set(type, (r) => { clearTimeout(timer); resolve(r as Extract<WorkerReport, { type: T }>); });
      }),
    ]);
  }
}

export async function runWorkload(w: Workload, opts: RunOptions): Promise<RunResult> {
  const sab = new SharedArrayBuffer(COUNTER_SLOTS * 4);
  const c = new Int32Array(sab);
  const subs = slices(w.subscribers.length, w.subWorkers).map((indexes) => new Handle({ workload: w, role: 'sub', indexes, counters: sab }));
  const pubs: Handle[] = [];
  const all = (): Handle[] => [...subs, ...pubs];
  const anyFailure = (): Promise<never> => Promise.race(all().map((h) => h.failed()));
  const gen = new CpuMeter(process.pid);
  const broker = new CpuMeter(opts.brokerPid);
  let progress: NodeJS.Timeout | null = null;
  try {
    await Promise.all(subs.map((h) => h.next('ready', 20_000)));
    for (const indexes of slices(w.publishers.length, w.pubWorkers)) pubs.push(new Handle({ workload: w, role: 'pub', indexes, counters: sab }));
    await Promise.all(pubs.map((h) => h.next('ready', 20_000)));
    const failure = anyFailure();
    failure.catch(() => undefined);

    Atomics.store(c, C_PHASE, PHASE_WARMUP);
    for (const h of pubs) h.worker.postMessage({ type: 'start' });
    const t0 = performance.now();
    let lastD = 0, lastS = 0, lastT = t0;
    progress = setInterval(() => {
      if (opts.label === null) return;
      const now = performance.now();
      const d = Atomics.load(c, C_DELIVERED), s = Atomics.load(c, C_SENT);
      const dt = (now - lastT) / 1000;
      const phase = Atomics.load(c, C_PHASE) === PHASE_MEASURE ? 'measure' : 'warm-up';
      process.stderr.write(`[${opts.label}] ${((now - t0) / 1000).toFixed(0).padStart(3)}s ${phase.padEnd(7)} delivered ${fmt((d - lastD) / dt)}/s  sent ${fmt((s - lastS) / dt)}/s\n`);
      lastD = d; lastS = s; lastT = now;
    }, 1000);

    await Promise.race([sleep(opts.warmupS * 1000), failure]);
    Atomics.store(c, C_PHASE, PHASE_MEASURE);
    gen.start();
    broker.start();
    const m0 = performance.now();
    const d0 = Atomics.load(c, C_DELIVERED), s0 = Atomics.load(c, C_SENT);
    await Promise.race([sleep(opts.durationS * 1000), failure]);
    const d1 = Atomics.load(c, C_DELIVERED), s1 = Atomics.load(c, C_SENT);
    const measured = (performance.now() - m0) / 1000;
    const generatorCpuPct = gen.pct();
    const brokerCpuPct = broker.pct();
    Atomics.store(c, C_PHASE, PHASE_DRAIN);
    clearInterval(progress);
    progress = null;

    for (const h of pubs) h.worker.postMessage({ type: 'stop' });
    const done = await Promise.all(pubs.map((h) => h.next('pubDone', 10_000)));
    const sent = done.reduce((a, r) => a + r.sent.reduce((x, y) => x + y, 0), 0);
    const expected = sent * w.subscribers.length;
    let prev = -1;
    let still = 0;
    for (let i = 0; i < 100 && still < 5; i++) { // <= 5 s, stops after 500 ms without progress
      const d = Atomics.load(c, C_DELIVERED);
      if (d >= expected) break;
      still = d === prev ? still + 1 : 0;
      prev = d;
      await Promise.race([sleep(100), failure]);
    }
    for (const h of subs) h.worker.postMessage({ type: 'stop' });
    const subDone = await Promise.all(subs.map((h) => h.next('subDone', 10_000)));
    const unique = subDone.reduce((a, r) => a + r.unique, 0);
    const lat = subDone.flatMap((r) => r.latencyUs).sort((a, b) => a - b);
    return {
      msgPerS: (d1 - d0) / measured,
      sentPerS: (s1 - s0) / measured,
      brokerCpuPct,
      generatorCpuPct,
      sent,
      expected,
      unique,
      lost: Math.max(0, expected - unique),
      duplicates: subDone.reduce((a, r) => a + r.duplicates, 0),
      outOfOrder: subDone.reduce((a, r) => a + r.outOfOrder, 0),
      acked: Atomics.load(c, C_ACKED),
      latencyUs: w.latency
        ? { samples: lat.length, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), max: lat.length ? lat[lat.length - 1]! : 0 }
        : null,
    };
  } finally {
    if (progress !== null) clearInterval(progress);
    await Promise.all(all().map((h) => h.worker.terminate()));
  }
}

export function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}
