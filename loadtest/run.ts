// Load-test CLI: parses options, starts/stops targets, alternates rounds, prints and writes the report. Imports node builtins and ./*.ts.
//
// npm run loadtest -- --scenario qos0|qos1|fanout|fanin|latency|all|ws-compare|idle|slow-subscriber|offline-session|loss|bridge|cluster [--target mqtt://127.0.0.1:PORT]
//   [--duration S] [--warmup S] [--compare] [--rounds N] [--targets gateway,mosquitto,aedes,nats,forwarder]
//   [--transport tcp|ws] [--connections N] [--messages N] [--pause S]
// Without --target our gateway is started (src/server/cli.ts). --compare adds Mosquitto, Aedes, NATS
// (nats-server's MQTT listener, JetStream on) and the trivial forwarder, alternating rounds between targets. --transport ws speaks MQTT over
// WebSocket (./ws-transport.ts). ws-compare runs qos0, qos1 and latency over every (target,
// transport) lane: gateway and Mosquitto, each over TCP and WebSocket, alternating. idle measures
// RSS per idle connection (./idle.ts). slow-subscriber / offline-session (`loss` = both) count delivered/expected
// QoS 1 messages (./loss.ts). bridge: outbound bridge throughput gateway -> Mosquitto next to Mosquitto's own bridge
// (./bridge-bench.ts). cluster: QoS 1 throughput and latency of local, one NATS node, two NATS nodes cross-node
// (./cluster-bench.ts). Exit code 1 on any failed round, or when the first target (gateway or --target) lost
// an acknowledged message in a loss scenario.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname, cpus } from 'node:os';
import { runWorkload, terminateAllWorkers } from './driver.ts';
import { median, summarise, toMarkdown, type RoundRecord, type ScenarioSummary } from './report.ts';
import { idleMarkdown, runIdle, type IdleResult } from './idle.ts';
import { isLossScenario, LOSS_DESCRIPTIONS, LOSS_SCENARIOS, lossMarkdown, runLoss, type LossResult, type LossScenario } from './loss.ts';
import { TRANSPORTS, withTransport, type TransportName } from './ws-transport.ts';
import { runBridgeBenchReport } from './bridge-bench.ts';
import { httpSinkLane } from './http-sink-bench.ts';
import { CLUSTER_DEFAULTS, runClusterBenchReport } from './cluster-bench.ts';
import { buildWorkload, DESCRIPTIONS, isScenario, SCENARIOS, type ScenarioName } from './scenarios.ts';
import {
  closeAll, externalTarget, REPO_ROOT, startAedes, startForwarderProcess, startGateway, startMosquitto, startNats,
  type Target, type TargetName,
} from './targets.ts';

interface Options {
  /** run: the scenarios over one transport; ws-compare: every target over tcp and ws; idle: ./idle.ts; loss: ./loss.ts. */
  mode: 'run' | 'ws-compare' | 'idle' | 'loss' | 'bridge' | 'cluster';
  lossScenarios: LossScenario[];
  /** loss: QoS 1 messages published; slow-subscriber: seconds the subscriber does not read. */
  messages: number;
  pauseS: number;
  transport: TransportName;
  /** idle: connections per target. */
  connections: number;
  scenarios: ScenarioName[];
  target: string | null;
  durationS: number;
  warmupS: number;
  rounds: number;
  targets: TargetName[];
  /** cluster: nats-server processes and JetStream replicas of the NATS rows. */
  natsServers: number;
  replicas: number;
  /** --set k=v,...: numeric/boolean overrides of Workload fields (tuning experiments). */
  overrides: Record<string, number | boolean>;
}

const HELP = `usage: npm run loadtest -- --scenario NAME [options]
  --scenario NAME     ${[...SCENARIOS, 'all', 'ws-compare', 'idle', ...LOSS_SCENARIOS, 'loss', 'bridge', 'cluster'].join(' | ')}
  --target URL        measure a broker already running at mqtt://host:port (else start our gateway)
  --duration S        measure window per round (default 5)
  --warmup S          warm-up before measuring (default 1)
  --compare           also run Mosquitto, Aedes, NATS (nats-server's MQTT listener, JetStream on) and
                      the trivial forwarder, alternating rounds
  --rounds N          rounds per target (default 3 with --compare, else 1); medians are reported
  --targets LIST      explicit comma list of gateway,mosquitto,aedes,nats,forwarder (e.g. peers only)
  --transport T       tcp (default) or ws: MQTT over WebSocket (gateway ws://.../mqtt, Mosquitto's
                      websockets listener, the forwarder's ws twin; Aedes and NATS 2.9 have none)
  --connections N     idle: connections per target (default 10000)
  --messages N        slow-subscriber / offline-session: QoS 1 messages published (default 50000;
                      bridge and cluster: 20000)
  --nats-servers N    cluster: nats-server processes for the NATS rows (default 1)
  --replicas N        cluster: JetStream replicas of the NATS rows (default 1; 3 with --nats-servers 3)
  --pause S           slow-subscriber: seconds the subscriber stops reading (default 8)
  --set K=V,...       override workload knobs: batch, flowWindow, inflightWindow, rate, payloadSize,
                      readDelay (true/false), pubWorkers, subWorkers
scenarios:
${SCENARIOS.map((s) => `  ${s.padEnd(8)} ${DESCRIPTIONS[s]}`).join('\n')}
  ws-compare qos0, qos1 and latency on gateway and Mosquitto (default targets), each over TCP and
           WebSocket in alternating rounds (default 3); ratios gateway-ws/gateway-tcp, gateway-ws/mosquitto-ws
  idle     --connections idle MQTT connections (keepalive 0) to each target (default all five);
           broker RSS per connection in KiB and time to connect
${LOSS_SCENARIOS.map((s) => `  ${s}\n           ${LOSS_DESCRIPTIONS[s]}`).join('\n')}
  loss     both loss scenarios. Exit code 1 if the first target (gateway or --target) lost any
           acknowledged message; peers' losses are reported, not failed (Mosquitto's queue is 1000)
  bridge   outbound bridge throughput, QoS 1 end to end: gateway -> Mosquitto (bridges.mqtt) next to
           mosquitto -> mosquitto (a connection block), --messages (default 20000) per round, --rounds
           (default 3) alternating; gateway/mosquitto ratio (./bridge-bench.ts)
  cluster  QoS 1 throughput and latency side by side: one node on the local backend, one node on NATS
           JetStream, two NATS nodes with the publisher on one and the subscriber on the other;
           --messages (default 20000) with 128 in flight, then 500 msg/s for 5 s; p50/p99 latency,
           lost / duplicated, ratios to local; exit 1 on any loss (./cluster-bench.ts)
`;

/** Targets that cannot speak MQTT over WebSocket here, and why (printed when they are skipped). */
const NO_WS: Partial<Record<TargetName, string>> = {
  aedes: 'no WebSocket listener in peers/aedes-server.ts',
  nats: "only its plain-TCP MQTT listener is configured here (nats-server 2.9 from Debian)",
};

function parse(argv: string[]): Options {
  const get = (name: string): string | null => {
    const i = argv.indexOf(name);
    if (i < 0) return null;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
    return v;
  };
  const num = (name: string, dflt: number): number => {
    const v = get(name);
    if (v === null) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${v}`);
    return n;
  };
  const known = new Set(['--scenario', '--target', '--duration', '--warmup', '--rounds', '--targets', '--set', '--compare', '--help', '--transport', '--connections', '--messages', '--pause', '--nats-servers', '--replicas']);
  for (const a of argv) if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a}`);
  const sc = get('--scenario') ?? 'qos0';
  const mode = sc === 'ws-compare' ? 'ws-compare' : sc === 'idle' ? 'idle' : sc === 'loss' || isLossScenario(sc) ? 'loss' : sc === 'bridge' ? 'bridge' : sc === 'cluster' ? 'cluster' : 'run';
  if (sc !== 'all' && mode === 'run' && !isScenario(sc)) throw new Error(`unknown scenario ${sc}; one of ${SCENARIOS.join(', ')}, all, ws-compare, idle, ${LOSS_SCENARIOS.join(', ')}, loss, bridge, cluster`);
  if (mode === 'loss' && get('--transport') !== null && get('--transport') !== 'tcp') throw new Error(`${sc}: TCP only`);
  const transport = (get('--transport') ?? 'tcp') as TransportName;
  if (!TRANSPORTS.includes(transport)) throw new Error(`--transport must be one of ${TRANSPORTS.join(', ')}`);
  const compare = argv.includes('--compare') || mode === 'idle';
  const target = get('--target');
  const first: TargetName = target === null ? 'gateway' : 'target';
  let targets: TargetName[] = mode === 'ws-compare' ? [first, 'mosquitto'] : compare ? [first, 'mosquitto', 'aedes', 'nats', 'forwarder'] : [first];
  if (transport === 'ws' && mode !== 'ws-compare') {
    for (const t of targets.filter((x) => NO_WS[x] !== undefined)) process.stderr.write(`skipping ${t} over ws: ${NO_WS[t]}\n`);
    targets = targets.filter((t) => NO_WS[t] === undefined);
  }
  const list = get('--targets');
  if (list !== null) {
    targets = list.split(',').map((t) => {
      if (!['gateway', 'mosquitto', 'aedes', 'nats', 'forwarder'].includes(t)) throw new Error(`unknown target ${t}`);
      return (t === 'gateway' && target !== null ? 'target' : t) as TargetName;
    });
  }
  const overrides: Record<string, number | boolean> = {};
  const tunable = ['batch', 'flowWindow', 'inflightWindow', 'rate', 'payloadSize', 'readDelay', 'pubWorkers', 'subWorkers'];
  for (const kv of (get('--set') ?? '').split(',').filter((x) => x !== '')) {
    const [k, v] = kv.split('=');
    if (k === undefined || v === undefined || !tunable.includes(k)) throw new Error(`--set: cannot set ${kv}; knobs: ${tunable.join(', ')}`);
    const val = v === 'true' ? true : v === 'false' ? false : Number(v);
    if (typeof val === 'number' && !Number.isFinite(val)) throw new Error(`--set ${k}: not a number: ${v}`);
    overrides[k] = val;
  }
  for (const t of targets) if (mode === 'ws-compare' && NO_WS[t] !== undefined) throw new Error(`ws-compare: ${t}: ${NO_WS[t]}`);
  return {
    mode,
    transport,
    connections: Math.round(num('--connections', 10_000)),
    lossScenarios: sc === 'loss' ? [...LOSS_SCENARIOS] : isLossScenario(sc) ? [sc] : [],
    messages: Math.round(num('--messages', mode === 'bridge' || mode === 'cluster' ? 20_000 : 50_000)),
    natsServers: Math.round(num('--nats-servers', CLUSTER_DEFAULTS.natsServers)),
    replicas: Math.round(num('--replicas', CLUSTER_DEFAULTS.replicas)),
    pauseS: num('--pause', 8),
    overrides,
    scenarios: sc === 'all' ? [...SCENARIOS] : mode === 'ws-compare' ? ['qos0', 'qos1', 'latency'] : mode === 'idle' || mode === 'loss' || mode === 'bridge' || mode === 'cluster' ? [] : [sc as ScenarioName],
    target,
    durationS: num('--duration', 5),
    warmupS: num('--warmup', 1),
    rounds: Math.round(num('--rounds', mode === 'idle' || mode === 'loss' ? 1 : compare || mode === 'ws-compare' || mode === 'bridge' ? 3 : 1)),
    targets,
  };
}

async function start(name: TargetName, url: string | null, ws: boolean): Promise<Target> {
  switch (name) {
    case 'target': return externalTarget(url!);
    case 'gateway': return startGateway();
    case 'mosquitto': return startMosquitto(ws);
    case 'aedes': return startAedes();
    case 'nats': return startNats();
    case 'forwarder': return startForwarderProcess(ws);
  }
}

/** One measured path: a target over a transport, named in the report by label. */
interface Lane {
  target: Target;
  transport: TransportName;
  label: string;
}

/** ws-compare ratios from the same run: gateway over ws vs over tcp, and vs Mosquitto over ws. */
function transportRatios(s: ScenarioSummary): string[] {
  const by = (l: string): ScenarioSummary['targets'][number] | undefined => s.targets.find((t) => t.target === l);
  const gw = s.targets[0]?.target.replace(/-(tcp|ws)$/, '') ?? 'gateway';
  const out: string[] = [];
  for (const [a, b] of [[`${gw}-ws`, `${gw}-tcp`], [`${gw}-ws`, 'mosquitto-ws'], [`${gw}-tcp`, 'mosquitto-tcp'], ['mosquitto-ws', 'mosquitto-tcp']] as const) {
    const x = by(a), y = by(b);
    if (x === undefined || y === undefined) continue;
    if (s.scenario === 'latency') {
      if (x.latencyUs !== null && y.latencyUs !== null) out.push(`- ${a}/${b} (p50 / p99 latency, lower is better): ${(x.latencyUs.p50 / y.latencyUs.p50).toFixed(2)} / ${(x.latencyUs.p99 / y.latencyUs.p99).toFixed(2)}`);
    } else {
      const cpu = x.brokerCpuPct !== null && y.brokerCpuPct !== null ? `; broker CPU per msg ${((x.brokerCpuPct / x.msgPerS) / (y.brokerCpuPct / y.msgPerS)).toFixed(2)}` : '';
      out.push(`- ${a}/${b} (msg/s): ${(x.msgPerS / y.msgPerS).toFixed(2)}${cpu}`);
    }
  }
  return out;
}

async function runIdleMode(opts: Options, targets: Target[]): Promise<void> {
  const results: IdleResult[] = [];
  let failed = false;
  for (let round = 1; round <= opts.rounds; round++) {
    for (const t of targets) {
      process.stderr.write(`[idle ${t.name} ${opts.transport} r${round}] opening ${opts.connections} connections...\n`);
      try {
        const r = await runIdle({ ...t, name: t.name }, {
          connections: opts.connections, workers: 4, concurrency: 64, transport: opts.transport, settleMs: 1500, runId: `${process.pid}-${t.name}-${round}`,
        });
        results.push(r);
        process.stderr.write(`[idle ${t.name} r${round}] ${r.ok} connected (${r.failed} failed) in ${(r.connectMs / 1000).toFixed(2)} s, `
          + `${r.kibPerConnection === null ? 'n/a' : r.kibPerConnection.toFixed(1)} KiB/connection, ${r.stillOpen} still open\n`);
        if (r.failed > 0 || r.stillOpen !== r.ok) failed = true;
      } catch (e) {
        failed = true;
        process.stderr.write(`[idle ${t.name} r${round}] FAILED: ${e instanceof Error ? e.message : String(e)}${t.exited() !== null ? ` (${t.exited()})` : ''}\n`);
      }
    }
  }
  const meta = {
    date: new Date().toISOString(), host: hostname(), cpus: cpus().length, node: process.version,
    connections: opts.connections, transport: opts.transport, rounds: opts.rounds,
    targets: targets.map((t) => `${t.name} (pid ${t.pid ?? '?'})`).join(', '),
    'KiB per connection, median per target': targets.map((t) => `${t.name} ${median(results.filter((r) => r.target === t.name && r.kibPerConnection !== null).map((r) => r.kibPerConnection!)).toFixed(1)}`).join(', '),
  };
  const md = idleMarkdown(results, meta);
  process.stdout.write(md);
  const dir = join(REPO_ROOT, 'loadtest', 'results');
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${meta.date.replace(/[:.]/g, '-')}-idle`);
  writeFileSync(`${base}.md`, md);
  writeFileSync(`${base}.json`, JSON.stringify({ meta, results }, null, 2));
  process.stderr.write(`report: ${base}.md and .json\n`);
  await closeAll();
  process.exitCode = failed ? 1 : 0;
}

async function runLossMode(opts: Options, targets: Target[]): Promise<void> {
  const results: LossResult[] = [];
  let failed = false;
  let n = 0;
  for (const scenario of opts.lossScenarios) {
    for (let round = 1; round <= opts.rounds; round++) {
      for (const t of targets) {
        const label = `${scenario} ${t.name} r${round}`;
        process.stderr.write(`[${label}] ${opts.messages} QoS 1 messages${scenario === 'slow-subscriber' ? `, subscriber paused ${opts.pauseS} s` : ', subscriber offline'}...\n`);
        try {
          const r = await runLoss(scenario, t, {
            messages: opts.messages, pauseS: opts.pauseS, window: 1000, quietS: 5, maxCollectS: 120, runId: `${process.pid}-${++n}`,
          });
          results.push(r);
          process.stderr.write(`[${label}] delivered/expected ${r.delivered}/${r.expected}, lost ${r.lost}, dup ${r.duplicates}${r.note ? ` (${r.note})` : ''}\n`);
          if (t === targets[0] && (t.name === 'gateway' || t.name === 'target') && (r.lost > 0 || r.expected < r.sent)) failed = true;
        } catch (e) {
          failed = true;
          process.stderr.write(`[${label}] FAILED: ${e instanceof Error ? e.message : String(e)}${t.exited() !== null ? ` (${t.exited()})` : ''}\n`);
        }
      }
    }
  }
  const meta = {
    date: new Date().toISOString(), host: hostname(), cpus: cpus().length, node: process.version,
    messages: opts.messages, 'pause s': opts.pauseS, rounds: opts.rounds,
    targets: targets.map((t) => `${t.name} (${t.host}:${t.port})`).join(', '),
  };
  const md = lossMarkdown(results, meta);
  process.stdout.write(md);
  const dir = join(REPO_ROOT, 'loadtest', 'results');
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${meta.date.replace(/[:.]/g, '-')}-${opts.lossScenarios.length > 1 ? 'loss' : opts.lossScenarios[0]}`);
  writeFileSync(`${base}.md`, md);
  writeFileSync(`${base}.json`, JSON.stringify({ meta, results }, null, 2));
  process.stderr.write(`report: ${base}.md and .json\n`);
  await closeAll();
  process.exitCode = failed ? 1 : 0;
  if (failed) process.stderr.write('loss: the first target lost acknowledged messages (or a run failed): exit 1\n');
}

let stopping = false;
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await terminateAllWorkers().catch(() => undefined);
    await closeAll().catch(() => undefined);
  }
  process.exit(code);
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  const opts = parse(process.argv.slice(2));
  process.on('SIGINT', () => { process.stderr.write('\ninterrupted, stopping workers and brokers\n'); void shutdown(130); });
  process.on('SIGTERM', () => void shutdown(143));

  if (opts.mode === 'bridge') {
    // Starts its own brokers (gateway child process with a bridge, two Mosquittos); an HTTP-sink lane plugs in as extraLanes.
    const ok = await runBridgeBenchReport({ messages: opts.messages, rounds: opts.rounds, window: 500, bytes: 100 }, [httpSinkLane(100)]);
    process.exitCode = ok ? 0 : 1;
    return;
  }
  if (opts.mode === 'cluster') {
    // Starts its own gateway processes and nats-servers (scripts/cluster-dev.ts); one run, three rows.
    if (opts.replicas > opts.natsServers) throw new Error(`--replicas ${opts.replicas} needs at least as many --nats-servers (${opts.natsServers})`);
    const { ok } = await runClusterBenchReport({ ...CLUSTER_DEFAULTS, messages: opts.messages, natsServers: opts.natsServers, replicas: opts.replicas });
    process.exitCode = ok ? 0 : 1;
    if (!ok) process.stderr.write('cluster: a row lost messages (or did not run): exit 1\n');
    return;
  }
  const targets: Target[] = [];
  const wantWs = opts.mode === 'ws-compare' || opts.transport === 'ws';
  for (const name of opts.targets) {
    if (opts.mode === 'loss' && name === 'forwarder') {
      process.stderr.write('skipping forwarder in loss scenarios: it keeps no sessions or queues (it is the generator ceiling, not a broker)\n');
      continue;
    }
    process.stderr.write(`starting ${name}...\n`);
    targets.push(await start(name, opts.target, wantWs));
    const t = targets[targets.length - 1]!;
    process.stderr.write(`  ${name} on ${t.host}:${t.port}${t.wsUrl !== null ? ` and ${t.wsUrl}` : ''} pid ${t.pid ?? 'unknown'}\n`);
    if (wantWs && t.wsUrl === null) throw new Error(`${name} serves no MQTT over WebSocket`);
  }
  if (opts.mode === 'idle') return runIdleMode(opts, targets);
  if (opts.mode === 'loss') return runLossMode(opts, targets);
  const lanes: Lane[] = opts.mode === 'ws-compare'
    ? targets.flatMap((t) => TRANSPORTS.map((tr) => ({ target: t, transport: tr, label: `${t.name}-${tr}` })))
    : targets.map((t) => ({ target: t, transport: opts.transport, label: t.name }));

  const records: RoundRecord[] = [];
  let runNo = 0;
  for (const scenario of opts.scenarios) {
    for (let round = 1; round <= opts.rounds; round++) {
      for (const { target: t, transport, label: lane } of lanes) {
        const label = `${scenario} ${lane} r${round}`;
        const w = { ...withTransport(buildWorkload(scenario, t.host, t.port, `${process.pid}-${++runNo}`), { transport, wsUrl: t.wsUrl }), ...opts.overrides };
        try {
          const result = await runWorkload(w, { warmupS: opts.warmupS, durationS: opts.durationS, brokerPid: t.pid, label });
          records.push({ scenario, target: lane, round, result, error: null });
          process.stderr.write(`[${label}] done: ${result.msgPerS.toFixed(0)} msg/s, lost ${result.lost}, dup ${result.duplicates}, ooo ${result.outOfOrder}\n`);
        } catch (e) {
          const died = t.exited();
          const msg = (e instanceof Error ? e.message : String(e)) + (died !== null ? ` (${died})` : '');
          records.push({ scenario, target: lane, round, result: null, error: msg });
          process.stderr.write(`[${label}] FAILED: ${msg}\n`);
        }
      }
    }
  }

  const summaries = opts.scenarios.map((s) => summarise(records, s, lanes.map((l) => l.label)));
  const meta = {
    date: new Date().toISOString(), host: hostname(), cpus: cpus().length, node: process.version,
    rounds: opts.rounds, 'warm-up s': opts.warmupS, 'measure s': opts.durationS,
    targets: targets.map((t) => `${t.name} (${t.host}:${t.port}${t.wsUrl !== null ? `, ${t.wsUrl}` : ''})`).join(', '),
    transport: opts.mode === 'ws-compare' ? 'tcp and ws (lanes <target>-<transport>)' : opts.transport,
    overrides: JSON.stringify(opts.overrides),
  };
  let md = toMarkdown(summaries, meta);
  if (opts.mode === 'ws-compare') {
    md += '\n## Transport ratios (medians of the same run)\n\n' + summaries.map((s) => `### ${s.scenario}\n\n${transportRatios(s).join('\n')}\n`).join('\n');
  }
  process.stdout.write(md);
  const dir = join(REPO_ROOT, 'loadtest', 'results');
  mkdirSync(dir, { recursive: true });
  const name = opts.mode === 'ws-compare' ? 'ws-compare' : opts.scenarios.length > 1 ? 'all' : opts.scenarios[0]!;
  const base = join(dir, `${meta.date.replace(/[:.]/g, '-')}${opts.transport === 'ws' ? '-ws' : ''}-${name}`);
  writeFileSync(`${base}.md`, md);
  writeFileSync(`${base}.json`, JSON.stringify({ meta, summaries, records }, null, 2));
  process.stderr.write(`report: ${base}.md and .json\n`);
  await closeAll();
  process.exitCode = records.some((r) => r.error !== null) ? 1 : 0;
}

main().catch(async (e: unknown) => {
  process.stderr.write(`loadtest: ${e instanceof Error ? e.message : String(e)}\n`);
  await shutdown(1);
});
