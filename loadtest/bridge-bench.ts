// Bridge benchmark: outbound bridge throughput gateway -> Mosquitto next to Mosquitto's own bridge (mosquitto -> mosquitto, a `connection` block) in the same run, alternating rounds, with the ratio; extra lanes (the HTTP sink) plug in. Imports node builtins, mqtt and the test helpers (gateway process, Mosquitto).
//
// Usage: node --import tsx loadtest/bridge-bench.ts [--messages 20000] [--rounds 3] [--window 500] [--bytes 100]
//        npm run loadtest -- --scenario bridge [--messages N] [--rounds N]
// One lane = a source broker with a bridge to the sink Mosquitto. Per round and lane: a QoS 1 subscriber on the
// sink subscribes `bench/<run>/#`; a publisher sends N QoS 1 messages of `bytes` bytes to the source over 8
// topics, `window` unacknowledged at a time (after one unmeasured warm-up round of 1,000); the time runs from the first publish to the N-th distinct message
// at the sink subscriber (so the figure is publish + durable log + bridge + sink, end to end, the same path
// for both lanes). Lanes: gateway (child process, flush interval, bridge `topic bench/# out 1`) and mosquitto
// (persistence off, `connection` block with the same topic line, cleansession true). The generator is one
// Node process: its ceiling bounds both lanes alike.
// Extra lanes: pass `extraLanes` to runBridgeBench (e.g. the HTTP sink's measuring function from
// loadtest/http-sink-bench.ts wrapped as a BridgeBenchLane); their rows print in the same table (no ratio).
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { hostname, cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { GatewayProcess } from '../test/helpers/gateway-process.ts';
import { Mosquitto } from '../test/helpers/mosquitto.ts';

export interface BridgeBenchOptions {
  messages: number;
  rounds: number;
  window: number;
  bytes: number;
  /** Bound on one round's delivery, ms. */
  roundTimeoutMs?: number;
}

/** One measured round of a lane. */
export interface LaneRound {
  /** Messages that arrived (distinct) at the far side. */
  delivered: number;
  seconds: number;
}

/** A lane: something that moves `messages` messages to a far side and reports how long it took. */
export interface BridgeBenchLane {
  name: string;
  /** Called once before the first round. */
  setup?(): Promise<void>;
  measure(messages: number, round: number): Promise<LaneRound>;
  close?(): Promise<void>;
}

export interface LaneResult {
  name: string;
  rounds: LaneRound[];
  /** Median msg/s over the rounds (delivered / seconds). */
  msgPerS: number;
  /** Every round delivered every message. */
  complete: boolean;
}

export interface BridgeBenchResult {
  options: BridgeBenchOptions;
  lanes: LaneResult[];
  /** gateway msg/s / mosquitto msg/s (null when either lane is missing). */
  ratio: number | null;
}

function connect(url: string, clientId: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { clientId, clean: true, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
    c.once('close', () => reject(new Error(`closed before CONNACK: ${clientId}`)));
  });
}

/** Publishes N QoS 1 messages to `source` and waits until the sink subscriber saw them all (or the bound). */
async function pushThrough(sourceUrl: string, sinkUrl: string, tag: string, o: BridgeBenchOptions): Promise<LaneRound> {
  const seen = new Set<number>();
  const sub = await connect(sinkUrl, `bench-sub-${tag}`);
  let wake: (() => void) | undefined;
  sub.on('message', (_t, payload) => {
    seen.add(payload.readUInt32BE(0));
    if (seen.size >= o.messages) wake?.();
  });
  await sub.subscribeAsync(`bench/${tag}/#`, { qos: 1 });
  const pub = await connect(sourceUrl, `bench-pub-${tag}`);
  const body = Buffer.alloc(Math.max(4, o.bytes), 0x61);
  const t0 = process.hrtime.bigint();
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, o.roundTimeoutMs ?? 120_000);
    wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  for (let i = 0; i < o.messages; i += o.window) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(o.messages, i + o.window); j++) {
      const b = Buffer.from(body);
      b.writeUInt32BE(j, 0);
      batch.push(pub.publishAsync(`bench/${tag}/${j % 8}`, b, { qos: 1 }));
    }
    await Promise.all(batch);
  }
  if (seen.size < o.messages) await done;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await pub.endAsync();
  await sub.endAsync();
  return { delivered: seen.size, seconds };
}

function waitLine(lines: string[], re: RegExp, ms: number): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (lines.some((l) => re.test(l))) return resolve();
      if (Date.now() > end) return reject(new Error(`no ${re} in the gateway's log within ${ms} ms`));
      setTimeout(tick, 50);
    };
    tick();
  });
}

/** The gateway with a bridge to the sink, as a child process. */
function gatewayLane(sink: Mosquitto, o: BridgeBenchOptions): BridgeBenchLane {
  const proc = new GatewayProcess({
    flush: 'interval',
    startTimeoutMs: 60_000,
    extra: { bridges: { mqtt: [{ name: 'bench', url: sink.url, clientId: `gw-bench-${process.pid}`, topics: ['topic bench/# out 1'] }] } },
  });
  let url = '';
  return {
    name: 'gateway',
    async setup() {
      const run = await proc.start();
      url = run.url;
      await waitLine(run.lines, /"msg":"bridge connected"/, 30_000);
    },
    measure: (n, round) => pushThrough(url, sink.url, `gw${round}`, { ...o, messages: n }),
    close: () => proc.dispose(),
  };
}

/** Mosquitto with its own bridge (`connection` block) to the sink. */
function mosquittoLane(sink: Mosquitto, o: BridgeBenchOptions): BridgeBenchLane {
  let src: Mosquitto | undefined;
  return {
    name: 'mosquitto',
    async setup() {
      src = await Mosquitto.start(['connection bench', `address 127.0.0.1:${sink.port}`, `remote_clientid mosq-bench-${process.pid}`, 'cleansession true', 'topic bench/# out 1']);
      // The bridge connects on its own after start: wait until a probe crosses it.
      const probe = await connect(sink.url, `bench-probe-${process.pid}`);
      let crossed = false;
      probe.on('message', () => (crossed = true));
      await probe.subscribeAsync('bench/probe', { qos: 1 });
      const p = await connect(src.url, `bench-probe-pub-${process.pid}`);
      const end = Date.now() + 30_000;
      while (!crossed) {
        if (Date.now() > end) throw new Error('mosquitto bridge did not connect within 30 s');
        await p.publishAsync('bench/probe', Buffer.alloc(4), { qos: 1 });
        await new Promise((r) => setTimeout(r, 100));
      }
      await p.endAsync();
      await probe.endAsync();
    },
    measure: (n, round) => pushThrough(src!.url, sink.url, `mq${round}`, { ...o, messages: n }),
    close: async () => src?.dispose(),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Runs the gateway and Mosquitto lanes (and any extra lanes), `rounds` alternating rounds each. */
export async function runBridgeBench(o: BridgeBenchOptions, extraLanes: BridgeBenchLane[] = [], log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): Promise<BridgeBenchResult> {
  const sink = await Mosquitto.start();
  const lanes = [gatewayLane(sink, o), mosquittoLane(sink, o), ...extraLanes];
  const rounds = new Map<string, LaneRound[]>(lanes.map((l) => [l.name, []]));
  try {
    for (const l of lanes) await l.setup?.();
    // One unmeasured warm-up round per lane (JIT, connections, the first log segment).
    for (const l of lanes) await l.measure(Math.min(1000, o.messages), 0);
    for (let r = 1; r <= o.rounds; r++) {
      for (const l of lanes) {
        const res = await l.measure(o.messages, r);
        rounds.get(l.name)!.push(res);
        log(`[bridge ${l.name} r${r}] ${res.delivered}/${o.messages} in ${res.seconds.toFixed(2)} s = ${Math.round(res.delivered / res.seconds)} msg/s`);
      }
    }
  } finally {
    for (const l of lanes) await l.close?.().catch(() => undefined);
    await sink.dispose();
  }
  const results: LaneResult[] = lanes.map((l) => {
    const rs = rounds.get(l.name)!;
    return { name: l.name, rounds: rs, msgPerS: median(rs.map((x) => x.delivered / x.seconds)), complete: rs.length === o.rounds && rs.every((x) => x.delivered >= o.messages) };
  });
  const gw = results.find((x) => x.name === 'gateway');
  const mq = results.find((x) => x.name === 'mosquitto');
  return { options: o, lanes: results, ratio: gw && mq && mq.msgPerS > 0 ? gw.msgPerS / mq.msgPerS : null };
}

export function bridgeMarkdown(r: BridgeBenchResult, meta: Record<string, string | number>): string {
  const lines = [
    '# Bridge throughput (publish -> source -> bridge -> sink Mosquitto -> subscriber, QoS 1)',
    '',
    ...Object.entries(meta).map(([k, v]) => `- ${k}: ${v}`),
    '',
    '| lane | msg/s (median) | rounds (delivered / s) | complete |',
    '|---|---|---|---|',
    ...r.lanes.map((l) => `| ${l.name} | ${Math.round(l.msgPerS)} | ${l.rounds.map((x) => `${x.delivered}/${x.seconds.toFixed(2)}`).join(', ')} | ${l.complete ? 'yes' : 'NO'} |`),
    '',
    r.ratio === null ? '' : `gateway/mosquitto (msg/s): ${r.ratio.toFixed(2)}`,
    '',
  ];
  return lines.join('\n');
}

/** Runs, prints the table, writes loadtest/results/<date>-bridge.{md,json}; false when a lane lost messages. */
export async function runBridgeBenchReport(o: BridgeBenchOptions, extraLanes: BridgeBenchLane[] = []): Promise<boolean> {
  const r = await runBridgeBench(o, extraLanes);
  const meta = { date: new Date().toISOString(), host: hostname(), cpus: cpus().length, node: process.version, messages: o.messages, rounds: o.rounds, window: o.window, bytes: o.bytes };
  const md = bridgeMarkdown(r, meta);
  process.stdout.write(md);
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${meta.date.replace(/[:.]/g, '-')}-bridge`);
  writeFileSync(`${base}.md`, md);
  writeFileSync(`${base}.json`, JSON.stringify({ meta, result: r }, null, 2));
  process.stderr.write(`report: ${base}.md and .json\n`);
  return r.lanes.every((l) => l.complete);
}

export const BRIDGE_USAGE = `usage: node --import tsx loadtest/bridge-bench.ts [--messages 20000] [--rounds 3] [--window 500] [--bytes 100]
  Outbound bridge throughput: gateway -> Mosquitto (bridges.mqtt) next to mosquitto -> mosquitto (a connection
  block), QoS 1, end to end to a subscriber on the sink; alternating rounds, medians, gateway/mosquitto ratio.
  Exit 1 when a lane did not deliver every message.
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '20000' },
      rounds: { type: 'string', default: '3' },
      window: { type: 'string', default: '500' },
      bytes: { type: 'string', default: '100' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(BRIDGE_USAGE);
    return;
  }
  const n = (k: 'messages' | 'rounds' | 'window' | 'bytes'): number => {
    const v = Number(values[k]);
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`--${k} must be a positive integer`);
    return v;
  };
  const { httpSinkLane } = await import('./http-sink-bench.ts');
  const ok = await runBridgeBenchReport({ messages: n('messages'), rounds: n('rounds'), window: n('window'), bytes: n('bytes') }, [httpSinkLane(n('bytes'))]);
  process.exitCode = ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
