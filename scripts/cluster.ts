// `npm run cluster -- up|down|status`: a local dev cluster of three nats-server processes (JetStream, R3) and two gateway nodes on loopback ports, left running in the background. Imports scripts/cluster-dev.ts.
//
// up [--nats N] [--gateways M] [--partitions P] [--dir DIR]: starts them (files under DIR, default a new temp dir),
//   prints every port, writes the state file. down: stops every process in the state file and removes DIR.
// status: whether each process runs, the JetStream meta leader, each gateway's /readyz.
// The state file is $IOTGW_CLUSTER_STATE or <tmpdir>/iot-gateway-cluster.json.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { httpGet, jetStreamMeta, processAlive, startDevCluster, stopPid } from './cluster-dev.ts';

interface StateFile {
  dir: string;
  nats: { name: string; pid: number; port: number; clusterPort: number; httpPort: number; url: string }[];
  gateways: { nodeId: string; pid: number; mqtt: number; stomp: number; http: number; log: string; config: string }[];
}

const STATE = process.env.IOTGW_CLUSTER_STATE ?? join(tmpdir(), 'iot-gateway-cluster.json');

function readState(): StateFile | undefined {
  if (!existsSync(STATE)) return undefined;
  return JSON.parse(readFileSync(STATE, 'utf8')) as StateFile;
}

function flag(args: string[], name: string, def: number): number {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} needs a positive integer`);
  return n;
}

async function up(args: string[]): Promise<void> {
  const old = readState();
  if (old && [...old.nats, ...old.gateways].some((p) => processAlive(p.pid))) {
    throw new Error(`a cluster is already up (state ${STATE}); run: npm run cluster -- down`);
  }
  const di = args.indexOf('--dir');
  const dir = di >= 0 ? resolve(args[di + 1] ?? '.') : mkdtempSync(join(tmpdir(), 'iotgw-cluster-'));
  const natsCount = flag(args, '--nats', 3);
  const c = await startDevCluster({ dir, natsServers: natsCount, gateways: flag(args, '--gateways', 2), partitions: flag(args, '--partitions', 8), detached: true });
  const state: StateFile = {
    dir,
    nats: c.nats.servers.map((s) => ({ name: s.name, pid: s.pid, port: s.port, clusterPort: s.clusterPort, httpPort: s.httpPort, url: s.url })),
    gateways: c.gateways.map((g) => ({ nodeId: g.nodeId, pid: g.pid, ...g.ports, log: g.logFile, config: g.configFile })),
  };
  writeFileSync(STATE, JSON.stringify(state, null, 2));
  const leader = natsCount > 1 ? (await jetStreamMeta(c.nats.servers[0]!))?.leader : undefined;
  console.log(`cluster up in ${dir} (state ${STATE})`);
  for (const s of state.nats) console.log(`  nats ${s.name}  client ${s.url}  routes 127.0.0.1:${s.clusterPort}  monitor http://127.0.0.1:${s.httpPort}  pid ${s.pid}`);
  if (leader) console.log(`  JetStream meta leader: ${leader}, replicas ${Math.min(3, natsCount)}`);
  for (const g of state.gateways) console.log(`  gateway ${g.nodeId}  mqtt://127.0.0.1:${g.mqtt}  stomp 127.0.0.1:${g.stomp}  http://127.0.0.1:${g.http}/  pid ${g.pid}  log ${g.log}`);
}

async function down(): Promise<void> {
  const s = readState();
  if (!s) { console.log(`no cluster (no state file ${STATE})`); return; }
  for (const g of s.gateways) await stopPid(g.pid, undefined, 10_000);
  await Promise.all(s.nats.map((n) => stopPid(n.pid)));
  rmSync(s.dir, { recursive: true, force: true });
  rmSync(STATE, { force: true });
  console.log(`cluster down; removed ${s.dir}`);
}

async function status(): Promise<number> {
  const s = readState();
  if (!s) { console.log(`no cluster (no state file ${STATE})`); return 1; }
  let bad = 0;
  for (const n of s.nats) {
    const alive = processAlive(n.pid);
    const meta = alive ? await jetStreamMeta(n) : undefined;
    if (!alive || !meta) bad++;
    console.log(`  nats ${n.name}  ${n.url}  ${alive ? 'running' : 'DOWN'}${meta ? `  jetstream ok${meta.leader ? `, meta leader ${meta.leader}` : ''}` : alive ? '  jetstream not ready' : ''}`);
  }
  for (const g of s.gateways) {
    const alive = processAlive(g.pid);
    const ready = alive ? (await httpGet(g.http, '/readyz').catch(() => undefined))?.status === 200 : false;
    if (!ready) bad++;
    console.log(`  gateway ${g.nodeId}  mqtt://127.0.0.1:${g.mqtt}  ${alive ? (ready ? 'ready' : 'NOT READY') : 'DOWN'}`);
  }
  return bad === 0 ? 0 : 1;
}

const [cmd, ...rest] = process.argv.slice(2);
try {
  if (cmd === 'up') await up(rest);
  else if (cmd === 'down') await down();
  else if (cmd === 'status') process.exitCode = await status();
  else {
    console.error('usage: npm run cluster -- up [--nats 3] [--gateways 2] [--partitions 8] [--dir DIR] | down | status');
    process.exitCode = 2;
  }
} catch (err) {
  console.error(`cluster ${cmd}: ${(err as Error).message}`);
  process.exitCode = 1;
}
