// Idle log readers: opens N `$log/next/...` subscriptions on a real gateway process and reports its CPU % while they are idle. Imports mqtt.js, ./proc.ts and test/helpers/gateway-process.ts.
//
// Usage: node --import tsx loadtest/idle-readers.ts [--readers 10000] [--per-connection 100] [--window-ms 10000]
//        [--settle-ms 2000] [--flush interval|always|never] [--target-pct 5] [--json]
// One run: start the gateway CLI as a child process on a temp data dir (persistence on, so the log exists);
// open ceil(readers / per-connection) MQTT 3.1.1 connections, each subscribing `$log/next/idle/<conn>/<i>` (QoS 1)
// per reader; wait settle-ms; measure the gateway's CPU (utime + stime from /proc/<pid>/stat) over window-ms
// while nothing is published; then publish one message per connection's first reader and check it arrives (the
// readers are alive, not stuck). CPU % is of one core. Exit 0 when CPU % < target-pct, 1 otherwise.
import mqtt from 'mqtt';
import { CpuMeter } from './proc.ts';
import { GatewayProcess } from '../test/helpers/gateway-process.ts';

interface Args {
  readers: number;
  perConnection: number;
  windowMs: number;
  settleMs: number;
  flush: 'interval' | 'always' | 'never';
  targetPct: number;
  json: boolean;
}

const HELP = `idle-readers: CPU of a gateway holding N idle $log/next readers (target: 10,000 under 5% of a core)

  --readers N          log readers in total (default 10000)
  --per-connection N   readers per MQTT connection (default 100)
  --window-ms N        CPU measurement window while idle (default 10000)
  --settle-ms N        wait after the last SUBACK before measuring (default 2000)
  --flush MODE         persistence.flush of the gateway: interval | always | never (default interval)
  --target-pct N       pass when CPU % of one core is below this (default 5)
  --json               print the result as one JSON line
  --help               this text
`;

function parseArgs(argv: string[]): Args {
  const a: Args = { readers: 10_000, perConnection: 100, windowMs: 10_000, settleMs: 2000, flush: 'interval', targetPct: 5, json: false };
  const num = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} needs an integer >= ${min}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = argv[i + 1];
    switch (k) {
      case '--help': case '-h': process.stdout.write(HELP); process.exit(0); break;
      case '--readers': a.readers = num(k, v, 1); i++; break;
      case '--per-connection': a.perConnection = num(k, v, 1); i++; break;
      case '--window-ms': a.windowMs = num(k, v, 100); i++; break;
      case '--settle-ms': a.settleMs = num(k, v, 0); i++; break;
      case '--target-pct': a.targetPct = num(k, v, 0); i++; break;
      case '--flush':
        if (v !== 'interval' && v !== 'always' && v !== 'never') throw new Error(`--flush interval|always|never, got ${v}`);
        a.flush = v; i++; break;
      case '--json': a.json = true; break;
      default: throw new Error(`unknown argument ${k} (see --help)`);
    }
  }
  return a;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const gw = new GatewayProcess({ flush: args.flush, startTimeoutMs: 30_000 });
  const clients: mqtt.MqttClient[] = [];
  try {
    const run = await gw.start();
    const connections = Math.ceil(args.readers / args.perConnection);
    const t0 = performance.now();
    let opened = 0;
    const received = new Set<number>();
    for (let c = 0; c < connections; c++) {
      const n = Math.min(args.perConnection, args.readers - opened);
      const client = await mqtt.connectAsync(run.url, { protocolVersion: 4, clientId: `idle-reader-${c}`, clean: true, keepalive: 0, reconnectPeriod: 0 });
      clients.push(client);
      client.on('message', () => received.add(c));
      const topics = Array.from({ length: n }, (_, i) => `$log/next/idle/${c}/${i}`);
      for (let k = 0; k < topics.length; k += 50) {
        const granted = await client.subscribeAsync(topics.slice(k, k + 50), { qos: 1 });
        const bad = granted.filter((g) => g.qos > 1);
        if (bad.length) throw new Error(`SUBACK refused ${bad.length} readers (persistence off?)`);
      }
      opened += n;
    }
    const setupMs = Math.round(performance.now() - t0);
    await sleep(args.settleMs);
    const meter = new CpuMeter(run.pid);
    meter.start();
    await sleep(args.windowMs);
    const pct = meter.pct();
    // Alive check: one publish per connection to its first reader's topic.
    const pub = await mqtt.connectAsync(run.url, { protocolVersion: 4, clientId: 'idle-reader-pub', reconnectPeriod: 0 });
    clients.push(pub);
    const w0 = performance.now();
    for (let c = 0; c < connections; c++) await pub.publishAsync(`idle/${c}/0`, 'wake', { qos: 1 });
    const deadline = Date.now() + 30_000;
    while (received.size < connections && Date.now() < deadline) await sleep(5);
    const wakeMs = Math.round(performance.now() - w0);
    const result = {
      readers: opened,
      connections,
      setupMs,
      windowMs: args.windowMs,
      cpuPctOfOneCore: pct === null ? null : Math.round(pct * 100) / 100,
      targetPct: args.targetPct,
      wokenConnections: received.size,
      wakeMs,
      pass: pct !== null && pct < args.targetPct && received.size === connections,
    };
    if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      process.stdout.write(
        `${result.readers} idle $log/next readers on ${connections} connections (setup ${setupMs} ms)\n` +
          `gateway CPU over ${args.windowMs} ms idle: ${result.cpuPctOfOneCore ?? 'n/a'} % of one core (target < ${args.targetPct} %)\n` +
          `after one publish per connection: ${received.size}/${connections} connections woken in ${wakeMs} ms (${connections} publishes, each waking every reader of its partition)\n` +
          `${result.pass ? 'PASS' : 'FAIL'}\n`,
      );
    }
    return result.pass ? 0 : 1;
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await gw.dispose();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`idle-readers: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
