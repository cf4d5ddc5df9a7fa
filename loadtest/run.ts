// Load-test CLI: parses options, starts/stops targets, alternates rounds, prints and writes the report. Imports node builtins and ./*.ts.
//
// npm run loadtest -- --scenario qos0|qos1|fanout|fanin|latency|all [--target mqtt://127.0.0.1:PORT]
//   [--duration S] [--warmup S] [--compare] [--rounds N] [--targets gateway,mosquitto,aedes,forwarder]
// Without --target our gateway is started (src/server/cli.ts). --compare adds Mosquitto, Aedes and
// the trivial forwarder, alternating rounds between targets. Exit code 1 on any failed round.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname, cpus } from 'node:os';
import { runWorkload, terminateAllWorkers } from './driver.ts';
import { summarise, toMarkdown, type RoundRecord } from './report.ts';
import { buildWorkload, DESCRIPTIONS, isScenario, SCENARIOS, type ScenarioName } from './scenarios.ts';
import {
  closeAll, externalTarget, REPO_ROOT, startAedes, startForwarderProcess, startGateway, startMosquitto,
  type Target, type TargetName,
} from './targets.ts';

interface Options {
  scenarios: ScenarioName[];
  target: string | null;
  durationS: number;
  warmupS: number;
  rounds: number;
  targets: TargetName[];
  /** --set k=v,...: numeric/boolean overrides of Workload fields (tuning experiments). */
  overrides: Record<string, number | boolean>;
}

const HELP = `usage: npm run loadtest -- --scenario NAME [options]
  --scenario NAME     ${[...SCENARIOS, 'all'].join(' | ')}
  --target URL        measure a broker already running at mqtt://host:port (else start our gateway)
  --duration S        measure window per round (default 5)
  --warmup S          warm-up before measuring (default 1)
  --compare           also run Mosquitto, Aedes and the trivial forwarder, alternating rounds
  --rounds N          rounds per target (default 3 with --compare, else 1); medians are reported
  --targets LIST      explicit comma list of gateway,mosquitto,aedes,forwarder (e.g. peers only)
  --set K=V,...       override workload knobs: batch, flowWindow, inflightWindow, rate, payloadSize,
                      readDelay (true/false), pubWorkers, subWorkers
scenarios:
${SCENARIOS.map((s) => `  ${s.padEnd(8)} ${DESCRIPTIONS[s]}`).join('\n')}
`;

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
  const known = new Set(['--scenario', '--target', '--duration', '--warmup', '--rounds', '--targets', '--set', '--compare', '--help']);
  for (const a of argv) if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a}`);
  const sc = get('--scenario') ?? 'qos0';
  if (sc !== 'all' && !isScenario(sc)) throw new Error(`unknown scenario ${sc}; one of ${SCENARIOS.join(', ')}, all`);
  const compare = argv.includes('--compare');
  const target = get('--target');
  const first: TargetName = target === null ? 'gateway' : 'target';
  let targets: TargetName[] = compare ? [first, 'mosquitto', 'aedes', 'forwarder'] : [first];
  const list = get('--targets');
  if (list !== null) {
    targets = list.split(',').map((t) => {
      if (!['gateway', 'mosquitto', 'aedes', 'forwarder'].includes(t)) throw new Error(`unknown target ${t}`);
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
  return {
    overrides,
    scenarios: sc === 'all' ? [...SCENARIOS] : [sc as ScenarioName],
    target,
    durationS: num('--duration', 5),
    warmupS: num('--warmup', 1),
    rounds: Math.round(num('--rounds', compare ? 3 : 1)),
    targets,
  };
}

async function start(name: TargetName, url: string | null): Promise<Target> {
  switch (name) {
    case 'target': return externalTarget(url!);
    case 'gateway': return startGateway();
    case 'mosquitto': return startMosquitto();
    case 'aedes': return startAedes();
    case 'forwarder': return startForwarderProcess();
  }
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
  if (process.argv.includes('--help')) {
    process.stdout.write(HELP);
    return;
  }
  const opts = parse(process.argv.slice(2));
  process.on('SIGINT', () => { process.stderr.write('\ninterrupted, stopping workers and brokers\n'); void shutdown(130); });
  process.on('SIGTERM', () => void shutdown(143));

  const targets: Target[] = [];
  for (const name of opts.targets) {
    process.stderr.write(`starting ${name}...\n`);
    targets.push(await start(name, opts.target));
    const t = targets[targets.length - 1]!;
    process.stderr.write(`  ${name} on ${t.host}:${t.port} pid ${t.pid ?? 'unknown'}\n`);
  }

  const records: RoundRecord[] = [];
  let runNo = 0;
  for (const scenario of opts.scenarios) {
    for (let round = 1; round <= opts.rounds; round++) {
      for (const t of targets) {
        const label = `${scenario} ${t.name} r${round}`;
        const w = { ...buildWorkload(scenario, t.host, t.port, `${process.pid}-${++runNo}`), ...opts.overrides };
        try {
          const result = await runWorkload(w, { warmupS: opts.warmupS, durationS: opts.durationS, brokerPid: t.pid, label });
          records.push({ scenario, target: t.name, round, result, error: null });
          process.stderr.write(`[${label}] done: ${result.msgPerS.toFixed(0)} msg/s, lost ${result.lost}, dup ${result.duplicates}, ooo ${result.outOfOrder}\n`);
        } catch (e) {
          const died = t.exited();
          const msg = (e instanceof Error ? e.message : String(e)) + (died !== null ? ` (${died})` : '');
          records.push({ scenario, target: t.name, round, result: null, error: msg });
          process.stderr.write(`[${label}] FAILED: ${msg}\n`);
        }
      }
    }
  }

  const summaries = opts.scenarios.map((s) => summarise(records, s, targets.map((t) => t.name)));
  const meta = {
    date: new Date().toISOString(), host: hostname(), cpus: cpus().length, node: process.version,
    rounds: opts.rounds, 'warm-up s': opts.warmupS, 'measure s': opts.durationS,
    targets: targets.map((t) => `${t.name} (${t.host}:${t.port})`).join(', '),
    overrides: JSON.stringify(opts.overrides),
  };
  const md = toMarkdown(summaries, meta);
  process.stdout.write(md);
  const dir = join(REPO_ROOT, 'loadtest', 'results');
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${meta.date.replace(/[:.]/g, '-')}-${opts.scenarios.length > 1 ? 'all' : opts.scenarios[0]}`);
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
