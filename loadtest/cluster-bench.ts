// Cluster benchmark (issue 11): QoS 1 throughput and latency of one node on the local backend, one node on NATS JetStream, and two NATS nodes with the publisher on one and the subscriber on the other, side by side in one run. Imports node builtins, mqtt and scripts/cluster-dev.ts.
//
// Usage: node --import tsx loadtest/cluster-bench.ts [--messages 20000] [--window 128] [--bytes 100]
//          [--paced-rate 500] [--paced-seconds 5] [--nats-servers 1] [--replicas 1] [--partitions 8]
//        npm run loadtest -- --scenario cluster [same options]
// Rows (each on its own gateway processes, started with scripts/cluster-dev.ts's startGatewayNodes and stopped
// before the next row, so the rows do not share the CPU):
//   local       one node, cluster.backend local (the embedded log, persistence.flush interval, the default);
//   nats-1      one node, cluster.backend nats, publisher and subscriber on it;
//   nats-2-cross two nodes on the same NATS, publisher on gw1, subscriber on gw2.
// The NATS rows share one set of nats-server processes (--nats-servers, JetStream, --replicas), each row with its
// own cluster.prefix so it starts on empty streams.
// Per row: a QoS 1 subscriber (MQTT 3.1.1, clean) on `bench/<row>/#`; a probe crosses first (publish until one
// arrives, bounded), then an unmeasured warm-up of 1,000; then
//   throughput: N QoS 1 publishes from one mqtt.js client, at most `window` unacknowledged at a time, over 8 topics;
//     msg/s = distinct messages received / (last distinct arrival - first publish);
//   paced: `pacedRate` msg/s for `pacedSeconds` (ticks of 10 ms), the latency without the queueing of the
//     throughput phase.
// Payload contract: byte 0 phase (0 warm-up/probe, 1 throughput, 2 paced), bytes 1-4 sequence (uint32 BE),
// bytes 5-12 send time (float64 BE, performance.now() of this process, ms), padding to `bytes`. Publisher and
// subscriber are in this process, so the latency is end to end on one clock. Lost = sequences never received
// within the bound; duplicates = sequences received more than once (QoS 1 allows them; they are reported).
// CPU: user+system seconds of each gateway node and nats-server over the throughput phase (/proc/<pid>/stat), per
// 1,000 messages, to show which process saturates first.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { hostname, cpus, tmpdir } from 'node:os';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import { startGatewayNodes, startNatsServers, type GatewayNode, type NatsCluster } from '../scripts/cluster-dev.ts';

export interface ClusterBenchOptions {
  messages: number;
  /** Unacknowledged publishes at most (throughput phase). */
  window: number;
  bytes: number;
  pacedRate: number;
  pacedSeconds: number;
  natsServers: number;
  replicas: number;
  partitions: number;
  /** Bound on one phase's delivery after its last publish, ms. Default 120000. */
  phaseTimeoutMs?: number;
  /** Where the report goes. Default loadtest/results. */
  resultsDir?: string;
  /** Progress lines. Default stderr. */
  log?: (s: string) => void;
}

export interface PhaseResult {
  sent: number;
  /** PUBACKs received by the publisher. */
  acked: number;
  received: number;
  lost: number;
  duplicates: number;
  seconds: number;
  msgPerS: number;
  /** End-to-end latency, ms (null when nothing arrived). */
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface RowResult {
  name: 'local' | 'nats-1' | 'nats-2-cross';
  description: string;
  throughput: PhaseResult;
  paced: PhaseResult;
  /** CPU seconds per 1,000 messages over the throughput phase, per process (gw1, gw2, nats n1, ...). */
  cpuPer1k: Record<string, number>;
}

export interface ClusterBenchResult {
  options: Omit<ClusterBenchOptions, 'log'>;
  rows: RowResult[];
  /** Throughput ratios against the local row (null when a row is missing). */
  ratios: { nats1: number | null; cross: number | null };
}

const PHASE_WARM = 0;
const PHASE_THROUGHPUT = 1;
const PHASE_PACED = 2;
const HEADER = 13;

function connect(port: number, clientId: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId, clean: true, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 15_000, keepalive: 60 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
    c.once('close', () => reject(new Error(`closed before CONNACK: ${clientId}`)));
  });
}

function percentile(sorted: Float64Array, q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** What the subscriber records for one phase. */
class PhaseSink {
  readonly count: Uint16Array;
  received = 0;
  duplicates = 0;
  lastArrival = 0;
  readonly latencies: number[] = [];
  private wake: (() => void) | undefined;

  constructor(readonly expected: number) {
    this.count = new Uint16Array(expected);
  }

  onMessage(seq: number, sentAt: number, now: number): void {
    if (seq >= this.expected) return;
    const c = this.count[seq]!;
    if (c < 0xffff) this.count[seq] = c + 1;
    if (c > 0) {
      this.duplicates++;
      return;
    }
    this.received++;
    this.lastArrival = now;
    this.latencies.push(now - sentAt);
    if (this.received >= this.expected) this.wake?.();
  }

  /** Resolves when every message arrived or after `ms`. */
  waitAll(ms: number): Promise<void> {
    if (this.received >= this.expected) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  result(sent: number, acked: number, startedAt: number): PhaseResult {
    const lat = Float64Array.from(this.latencies).sort();
    const seconds = this.received > 0 ? (this.lastArrival - startedAt) / 1000 : 0;
    return {
      sent, acked, received: this.received, lost: this.expected - this.received, duplicates: this.duplicates,
      seconds, msgPerS: seconds > 0 ? this.received / seconds : 0,
      p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99), maxMs: lat.length > 0 ? lat[lat.length - 1]! : null,
    };
  }
}

function payload(phase: number, seq: number, bytes: number): Buffer {
  const b = Buffer.alloc(Math.max(HEADER, bytes), 0x61);
  b.writeUInt8(phase, 0);
  b.writeUInt32BE(seq, 1);
  b.writeDoubleBE(performance.now(), 5);
  return b;
}

function publish(c: MqttClient, topic: string, body: Buffer): Promise<boolean> {
  return new Promise((resolve) => c.publish(topic, body, { qos: 1 }, (err) => resolve(err === undefined || err === null)));
}

/** User + system CPU seconds of a process so far (Linux /proc), or null. */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100 on Linux)
  } catch {
    return null;
  }
}

/** One row: subscriber on `subPort`, publisher on `pubPort`. */
async function measureRow(pubPort: number, subPort: number, tag: string, o: ClusterBenchOptions, pids: Record<string, number>): Promise<Omit<RowResult, 'name' | 'description'>> {
  const timeout = o.phaseTimeoutMs ?? 120_000;
  const sinks = new Map<number, PhaseSink>();
  let probes = 0;
  const sub = await connect(subPort, `cb-sub-${tag}-${process.pid}`);
  const pub = await connect(pubPort, `cb-pub-${tag}-${process.pid}`);
  try {
    sub.on('message', (_t, p) => {
      const now = performance.now();
      if (p.length < HEADER) return;
      const phase = p.readUInt8(0);
      if (phase === PHASE_WARM) probes++;
      sinks.get(phase)?.onMessage(p.readUInt32BE(1), p.readDoubleBE(5), now);
    });
    await sub.subscribeAsync(`bench/${tag}/#`, { qos: 1 });
    // The subscription must be known on the publishing node (another node: through the cluster) before measuring.
    const probeEnd = Date.now() + 30_000;
    while (probes === 0) {
      if (Date.now() > probeEnd) throw new Error(`${tag}: no probe crossed from port ${pubPort} to ${subPort} within 30 s`);
      await publish(pub, `bench/${tag}/probe`, payload(PHASE_WARM, 0, o.bytes));
      await new Promise((r) => setTimeout(r, 100));
    }
    // Warm-up (JIT, streams, consumers), unmeasured.
    const warm = Math.min(1000, o.messages);
    const warmBefore = probes;
    await Promise.all(Array.from({ length: warm }, (_, i) => publish(pub, `bench/${tag}/${i % 8}`, payload(PHASE_WARM, i, o.bytes))));
    const warmEnd = Date.now() + timeout;
    while (probes - warmBefore < warm && Date.now() < warmEnd) await new Promise((r) => setTimeout(r, 20));

    // Throughput: a window of unacknowledged publishes.
    const t = new PhaseSink(o.messages);
    sinks.set(PHASE_THROUGHPUT, t);
    const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
    const t0 = performance.now();
    let next = 0;
    let acked = 0;
    await new Promise<void>((resolve) => {
      let inflight = 0;
      const pump = (): void => {
        while (inflight < o.window && next < o.messages) {
          const seq = next++;
          inflight++;
          void publish(pub, `bench/${tag}/${seq % 8}`, payload(PHASE_THROUGHPUT, seq, o.bytes)).then((ok) => {
            inflight--;
            if (ok) acked++;
            if (next >= o.messages && inflight === 0) resolve();
            else pump();
          });
        }
      };
      pump();
    });
    await t.waitAll(timeout);
    const cpuPer1k: Record<string, number> = {};
    for (const [k, pid] of Object.entries(pids)) {
      const a = cpu0[k], b = cpuSeconds(pid);
      if (a !== null && a !== undefined && b !== null) cpuPer1k[k] = ((b - a) / o.messages) * 1000;
    }
    await new Promise((r) => setTimeout(r, 300)); // late duplicates
    const throughput = t.result(o.messages, acked, t0);

    // Paced: a fixed rate, ticks of 10 ms.
    const total = Math.max(1, Math.round(o.pacedRate * o.pacedSeconds));
    const p = new PhaseSink(total);
    sinks.set(PHASE_PACED, p);
    const p0 = performance.now();
    let sent = 0;
    let pacedAcked = 0;
    const acks: Promise<void>[] = [];
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - p0) / 1000) * o.pacedRate) + 1);
      for (; sent < due; sent++) acks.push(publish(pub, `bench/${tag}/${sent % 8}`, payload(PHASE_PACED, sent, o.bytes)).then((ok) => { if (ok) pacedAcked++; }));
      await new Promise((r) => setTimeout(r, 10));
    }
    let ackTimer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(acks), new Promise((r) => { ackTimer = setTimeout(r, timeout); })]);
    clearTimeout(ackTimer); // a pending timer would keep the process alive after the report
    await p.waitAll(timeout);
    await new Promise((r) => setTimeout(r, 300));
    const paced = p.result(total, pacedAcked, p0);
    return { throughput, paced, cpuPer1k };
  } finally {
    await pub.endAsync().catch(() => undefined);
    await sub.endAsync().catch(() => undefined);
  }
}

async function stopAll(nodes: GatewayNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
}

/** Runs the three rows one after the other (each on fresh gateway processes) and returns the figures. */
export async function runClusterBench(o: ClusterBenchOptions): Promise<ClusterBenchResult> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const dir = mkdtempSync(join(tmpdir(), 'cluster-bench-'));
  const rows: RowResult[] = [];
  const base = { replicas: o.replicas, partitions: o.partitions, startTimeoutMs: 120_000 };
  const done = (r: RowResult): void => {
    rows.push(r);
    const t = r.throughput, p = r.paced;
    log(`[cluster ${r.name}] throughput ${Math.round(t.msgPerS)} msg/s (${t.received}/${t.sent}, lost ${t.lost}, dup ${t.duplicates}, p50 ${t.p50Ms?.toFixed(1)} ms, p99 ${t.p99Ms?.toFixed(1)} ms); `
      + `paced ${o.pacedRate}/s: lost ${p.lost}, p50 ${p.p50Ms?.toFixed(1)} ms, p99 ${p.p99Ms?.toFixed(1)} ms`);
  };
  let nats: NatsCluster | undefined;
  let nodes: GatewayNode[] = [];
  try {
    log('[cluster local] starting one gateway node, cluster.backend local');
    nodes = await startGatewayNodes({ ...base, count: 1, dir: join(dir, 'local'), natsUrls: [], extra: { cluster: { backend: 'local' } } });
    const local = nodes[0]!;
    done({ name: 'local', description: 'one node, cluster.backend local', ...await measureRow(local.ports.mqtt, local.ports.mqtt, 'local', o, { gw1: local.pid }) });
    await stopAll(nodes);
    nodes = [];

    log(`[cluster] starting ${o.natsServers} nats-server (JetStream, replicas ${o.replicas})`);
    nats = await startNatsServers({ count: o.natsServers, dir: join(dir, 'nats'), clusterName: 'bench' });
    const natsPids = Object.fromEntries(nats.servers.map((s) => [`nats ${s.name}`, s.pid]));

    log('[cluster nats-1] starting one gateway node, cluster.backend nats');
    nodes = await startGatewayNodes({ ...base, count: 1, dir: join(dir, 'one'), natsUrls: nats.urls, prefix: 'bench1' });
    const one = nodes[0]!;
    done({ name: 'nats-1', description: 'one node, cluster.backend nats', ...await measureRow(one.ports.mqtt, one.ports.mqtt, 'nats1', o, { gw1: one.pid, ...natsPids }) });
    await stopAll(nodes);
    nodes = [];

    log('[cluster nats-2-cross] starting two gateway nodes, cluster.backend nats');
    nodes = await startGatewayNodes({ ...base, count: 2, dir: join(dir, 'two'), natsUrls: nats.urls, prefix: 'bench2' });
    const [a, b] = [nodes[0]!, nodes[1]!];
    done({ name: 'nats-2-cross', description: 'two nodes on NATS, publisher on gw1, subscriber on gw2', ...await measureRow(a.ports.mqtt, b.ports.mqtt, 'nats2', o, { gw1: a.pid, gw2: b.pid, ...natsPids }) });
  } finally {
    await stopAll(nodes);
    await nats?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  const by = (n: RowResult['name']): RowResult | undefined => rows.find((r) => r.name === n);
  const ratio = (x: RowResult | undefined, y: RowResult | undefined): number | null => x && y && y.throughput.msgPerS > 0 ? x.throughput.msgPerS / y.throughput.msgPerS : null;
  const { log: _log, ...options } = o;
  return { options, rows, ratios: { nats1: ratio(by('nats-1'), by('local')), cross: ratio(by('nats-2-cross'), by('local')) } };
}

const ms = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(1));

export function clusterMarkdown(r: ClusterBenchResult, meta: Record<string, string | number>): string {
  const o = r.options;
  const lines = [
    '# Cluster throughput and latency (QoS 1, one publisher, one subscriber, end to end)',
    '',
    ...Object.entries(meta).map(([k, v]) => `- ${k}: ${v}`),
    '',
    `Throughput: ${o.messages} messages, ${o.window} unacknowledged at most; paced: ${o.pacedRate} msg/s for ${o.pacedSeconds} s. Latency in ms, send to receive.`,
    '',
    '| row | throughput msg/s | received / sent | lost | dup | p50 / p99 (throughput) | p50 / p99 (paced) | paced lost | CPU s per 1k msgs |',
    '|---|---|---|---|---|---|---|---|---|',
    ...r.rows.map((x) => {
      const t = x.throughput, p = x.paced;
      const cpu = Object.entries(x.cpuPer1k).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ');
      return `| ${x.name} (${x.description}) | ${Math.round(t.msgPerS)} | ${t.received}/${t.sent} | ${t.lost} | ${t.duplicates + p.duplicates} | ${ms(t.p50Ms)} / ${ms(t.p99Ms)} | ${ms(p.p50Ms)} / ${ms(p.p99Ms)} | ${p.lost} | ${cpu} |`;
    }),
    '',
    `- nats-1 / local (msg/s): ${r.ratios.nats1 === null ? 'n/a' : r.ratios.nats1.toFixed(2)}`,
    `- nats-2-cross / local (msg/s): ${r.ratios.cross === null ? 'n/a' : r.ratios.cross.toFixed(2)}`,
    '',
  ];
  return lines.join('\n');
}

/** No row lost a message, in either phase, and every row ran. */
export function clusterComplete(r: ClusterBenchResult): boolean {
  return r.rows.length === 3 && r.rows.every((x) => x.throughput.lost === 0 && x.paced.lost === 0);
}

/** Runs, prints the table, writes <resultsDir>/<date>-cluster.{md,json}; false when a row lost messages. */
export async function runClusterBenchReport(o: ClusterBenchOptions): Promise<{ ok: boolean; result: ClusterBenchResult; file: string }> {
  const r = await runClusterBench(o);
  const meta = {
    date: new Date().toISOString(), host: hostname(), cpus: cpus().length, node: process.version,
    'nats servers': o.natsServers, replicas: o.replicas, partitions: o.partitions, bytes: o.bytes,
  };
  const md = clusterMarkdown(r, meta);
  process.stdout.write(md);
  const dir = o.resultsDir ?? join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${meta.date.replace(/[:.]/g, '-')}-cluster`);
  writeFileSync(`${base}.md`, md);
  writeFileSync(`${base}.json`, JSON.stringify({ meta, result: r }, null, 2));
  process.stderr.write(`report: ${base}.md and .json\n`);
  return { ok: clusterComplete(r), result: r, file: `${base}.md` };
}

export const CLUSTER_DEFAULTS = { messages: 20_000, window: 128, bytes: 100, pacedRate: 500, pacedSeconds: 5, natsServers: 1, replicas: 1, partitions: 8 } as const;

export const CLUSTER_USAGE = `usage: node --import tsx loadtest/cluster-bench.ts [--messages 20000] [--window 128] [--bytes 100]
         [--paced-rate 500] [--paced-seconds 5] [--nats-servers 1] [--replicas 1] [--partitions 8]
  QoS 1 throughput and latency, side by side: one node on the local backend, one node on NATS JetStream, two
  NATS nodes with the publisher on one and the subscriber on the other (cross-node p50/p99); ratios to local.
  Exit 1 when a row lost a message.
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string' }, window: { type: 'string' }, bytes: { type: 'string' },
      'paced-rate': { type: 'string' }, 'paced-seconds': { type: 'string' },
      'nats-servers': { type: 'string' }, replicas: { type: 'string' }, partitions: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(CLUSTER_USAGE);
    return;
  }
  const n = (k: keyof typeof values, d: number): number => {
    const raw = values[k];
    if (raw === undefined || typeof raw === 'boolean') return d;
    const v = Number(raw);
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`--${k} must be a positive integer`);
    return v;
  };
  const D = CLUSTER_DEFAULTS;
  const { ok } = await runClusterBenchReport({
    messages: n('messages', D.messages), window: n('window', D.window), bytes: n('bytes', D.bytes),
    pacedRate: n('paced-rate', D.pacedRate), pacedSeconds: n('paced-seconds', D.pacedSeconds),
    natsServers: n('nats-servers', D.natsServers), replicas: n('replicas', D.replicas), partitions: n('partitions', D.partitions),
  });
  process.exitCode = ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
