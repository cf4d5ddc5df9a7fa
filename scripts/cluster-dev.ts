// Local NATS cluster for development and the e2e tests: start N nats-server processes (JetStream, clustered when N > 1) and M gateway nodes on them, stop them all. Imports node builtins and scripts/free-port.ts.
//
// Used by `npm run cluster -- up|down|status` (scripts/cluster.ts) and by the e2e tests (test/helpers/nats-cluster.ts).
// Layout under `dir`: nats-<i>/ (JetStream store of server i, its nats.conf and log), gw-<i>/ (data dir, gateway.json,
// gateway.log of gateway node i). Everything listens on 127.0.0.1 on ports chosen free at start.
// A server of a cluster has `server_name: n<i>`, `cluster { name, listen, routes }` to the others and a monitoring
// port (its /jsz tells whether the JetStream meta group has a leader: waitForJetStream).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.ts';

export { freePort };

export const NATS_SERVER = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';
const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const CLI = join(ROOT, 'src', 'server', 'cli.ts');

export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const c = netConnect(port, '127.0.0.1');
      c.once('connect', () => { c.destroy(); r(true); });
      c.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`port ${port} not open after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 2000 }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => { body += d; });
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', rej);
    req.end();
  });
}

export function processAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

async function waitExit(pid: number, child: ChildProcess | undefined, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child ? child.exitCode !== null || child.signalCode !== null : !processAlive(pid)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`pid ${pid} did not exit within ${ms} ms`);
}

/** Stops a process: SIGTERM, then SIGKILL after `ms`. */
export async function stopPid(pid: number, child?: ChildProcess, ms = 5000): Promise<void> {
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  try { await waitExit(pid, child, ms); } catch {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    await waitExit(pid, child, 5000).catch(() => undefined);
  }
}

// ---------------------------------------------------------------- nats-server

export interface NatsServerSpec {
  name: string;
  /** Client port. */
  port: number;
  /** Route port (cluster of more than one). */
  clusterPort: number;
  /** Monitoring HTTP port (/jsz, /varz). */
  httpPort: number;
  dir: string;
}

export interface NatsServer extends NatsServerSpec {
  readonly url: string;
  pid: number;
  /** Running (started and not stopped / killed). */
  readonly running: boolean;
  /** SIGTERM (then SIGKILL). */
  stop(): Promise<void>;
  /** kill -9. */
  kill9(): Promise<void>;
  /** Starts it again on the same ports and store dir. */
  start(): Promise<void>;
}

function natsConf(s: NatsServerSpec, all: NatsServerSpec[], clusterName: string, extra: string): string {
  const lines = [
    `server_name: ${s.name}`,
    `listen: "127.0.0.1:${s.port}"`,
    `http: "127.0.0.1:${s.httpPort}"`,
    `jetstream { store_dir: "${join(s.dir, 'js')}" }`,
  ];
  if (all.length > 1) {
    const routes = all.filter((o) => o !== s).map((o) => `"nats-route://127.0.0.1:${o.clusterPort}"`);
    lines.push(`cluster { name: ${clusterName}, listen: "127.0.0.1:${s.clusterPort}", routes: [${routes.join(', ')}] }`);
  }
  if (extra) lines.push(extra);
  return `${lines.join('\n')}\n`;
}

class NatsServerProcess implements NatsServer {
  pid = 0;
  private child: ChildProcess | undefined;
  readonly name: string;
  readonly port: number;
  readonly clusterPort: number;
  readonly httpPort: number;
  readonly dir: string;

  constructor(spec: NatsServerSpec, private readonly conf: string, private readonly detached: boolean) {
    this.name = spec.name;
    this.port = spec.port;
    this.clusterPort = spec.clusterPort;
    this.httpPort = spec.httpPort;
    this.dir = spec.dir;
  }

  get url(): string { return `nats://127.0.0.1:${this.port}`; }
  get running(): boolean { return this.child ? this.child.exitCode === null && this.child.signalCode === null : this.pid > 0 && processAlive(this.pid); }

  async start(): Promise<void> {
    if (this.child && this.running) throw new Error(`${this.name} already running`);
    const out = openSync(join(this.dir, 'nats-server.log'), 'a');
    const child = spawn(NATS_SERVER, ['-c', this.conf], { stdio: ['ignore', out, out], detached: this.detached });
    closeSync(out);
    const failed = new Promise<never>((_r, reject) => {
      child.once('error', (e) => reject(new Error(`nats-server (${NATS_SERVER}): ${e.message}; run test/install-system-deps.sh`)));
      child.once('exit', (code) => reject(new Error(`nats-server ${this.name} exited (code ${code}); see ${join(this.dir, 'nats-server.log')}`)));
    });
    failed.catch(() => undefined);
    this.child = child;
    this.pid = child.pid ?? 0;
    if (this.detached) child.unref();
    try {
      await Promise.race([waitForPort(this.port, 15_000), failed]);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (this.running) await stopPid(this.pid, this.child);
  }

  async kill9(): Promise<void> {
    if (!this.running) return;
    try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ }
    await waitExit(this.pid, this.child, 5000);
  }
}

export interface NatsClusterOptions {
  /** How many servers (1 = a single JetStream server, no cluster block). */
  count: number;
  /** Parent directory; server i keeps its files in <dir>/nats-<i>. */
  dir: string;
  /** Cluster name. Default 'iotgw-dev'. */
  clusterName?: string;
  /** Leave the processes running after this process exits (the CLI's `up`). */
  detached?: boolean;
  /** Lines added to every server's nats.conf (e.g. `tls { ... }`, `authorization { ... }`). */
  extraConf?: string;
}

export interface NatsCluster {
  readonly servers: NatsServer[];
  /** Client URLs of every server. */
  readonly urls: string[];
  stop(): Promise<void>;
}

/** Starts `count` nats-server processes with JetStream (a cluster when count > 1) and waits until JetStream has a meta leader.
 * A start that fails (a port taken before nats-server bound it, no meta leader within 30 s on a loaded machine) is
 * retried from scratch on fresh ports, up to 3 times; the error then carries every attempt's reason. */
export async function startNatsServers(o: NatsClusterOptions): Promise<NatsCluster> {
  const reasons: string[] = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startNatsServersOnce(o, attempt > 1);
    } catch (err) {
      reasons.push(`attempt ${attempt}: ${(err as Error).message}`);
    }
  }
  throw new Error(`nats-server x${o.count} did not start: ${reasons.join('; ')}`);
}

async function startNatsServersOnce(o: NatsClusterOptions, retry: boolean): Promise<NatsCluster> {
  const specs: NatsServerSpec[] = [];
  for (let i = 1; i <= o.count; i++) {
    const dir = join(o.dir, `nats-${i}`);
    if (retry) rmSync(dir, { recursive: true, force: true }); // the failed attempt's store and log
    mkdirSync(dir, { recursive: true });
    specs.push({ name: `n${i}`, port: await freePort(), clusterPort: await freePort(), httpPort: await freePort(), dir });
  }
  const servers = specs.map((s) => {
    const conf = join(s.dir, 'nats.conf');
    writeFileSync(conf, natsConf(s, specs, o.clusterName ?? 'iotgw-dev', o.extraConf ?? ''));
    return new NatsServerProcess(s, conf, o.detached ?? false);
  });
  const stop = async (): Promise<void> => { await Promise.all(servers.map((s) => s.stop())); };
  try {
    await Promise.all(servers.map((s) => s.start()));
    await waitForJetStream(servers, 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { servers, urls: servers.map((s) => s.url), stop };
}

/** JetStream's meta group as one server's /jsz reports it. */
export async function jetStreamMeta(s: Pick<NatsServerSpec, 'httpPort'>): Promise<{ leader?: string; clusterSize?: number } | undefined> {
  try {
    const r = await httpGet(s.httpPort, '/jsz');
    if (r.status !== 200) return undefined;
    const j = JSON.parse(r.body) as { meta_cluster?: { leader?: string; cluster_size?: number }; config?: unknown };
    if (!j.config) return undefined; // JetStream not enabled (yet)
    return j.meta_cluster ? { leader: j.meta_cluster.leader, clusterSize: j.meta_cluster.cluster_size } : {};
  } catch {
    return undefined;
  }
}

/** Resolves once every running server has JetStream up and (for a cluster) agrees on a meta leader. */
export async function waitForJetStream(servers: NatsServer[], timeoutMs: number): Promise<string | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const metas = await Promise.all(servers.filter((s) => s.running).map((s) => jetStreamMeta(s)));
    const clustered = servers.length > 1;
    if (metas.length > 0 && metas.every((m) => m !== undefined)) {
      if (!clustered) return undefined;
      const leaders = new Set(metas.map((m) => m!.leader));
      const leader = metas[0]!.leader;
      if (leaders.size === 1 && leader) return leader;
    }
    if (Date.now() > end) throw new Error(`JetStream ${clustered ? 'meta leader' : ''} not ready within ${timeoutMs} ms: ${JSON.stringify(metas)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Streams whose replicas are not all caught up, from each stream leader's own /jsz view (replicas current, no lag);
 * [] when every stream of every account has a leader and every follower is current. A server started again after a
 * kill -9 catches up from the leader for a while: R3 survives one failure, so a second kill during that time is a
 * double failure (nats-server 2.9 then loses acknowledged records).
 */
export async function streamsNotCurrent(servers: NatsServer[]): Promise<string[]> {
  type Cluster = { leader?: string; replicas?: { name: string; current: boolean; lag?: number }[] };
  type Jsz = { account_details?: { stream_detail?: { name: string; cluster?: Cluster }[] }[] };
  const views = await Promise.all(servers.map(async (s) => {
    const r = await httpGet(s.httpPort, '/jsz?accounts=true&streams=true').catch(() => undefined);
    return r?.status === 200 ? { name: s.name, jsz: JSON.parse(r.body) as Jsz } : undefined;
  }));
  const names = new Set<string>();
  const good = new Set<string>();
  for (const v of views) {
    for (const a of v?.jsz.account_details ?? []) {
      for (const st of a.stream_detail ?? []) {
        names.add(st.name);
        const c = st.cluster;
        if (!c || c.leader !== v!.name) continue; // only the leader knows its followers' state
        const followers = c.replicas ?? [];
        if (followers.length === servers.length - 1 && followers.every((f) => f.current && !(f.lag !== undefined && f.lag > 0))) good.add(st.name);
      }
    }
  }
  if (views.some((v) => v === undefined)) return ['(a server does not answer /jsz)'];
  return [...names].filter((n) => !good.has(n)).sort();
}

/** Resolves once streamsNotCurrent is empty; throws after timeoutMs naming the streams still behind. */
export async function waitForReplicasCurrent(servers: NatsServer[], timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const behind = await streamsNotCurrent(servers);
    if (behind.length === 0) return;
    if (Date.now() > end) throw new Error(`stream replicas not current within ${timeoutMs} ms: ${behind.join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// ---------------------------------------------------------------- gateway nodes

export interface GatewayNodeOptions {
  /** How many gateway nodes. */
  count: number;
  /** Parent directory; node i keeps its files in <dir>/gw-<i>. */
  dir: string;
  natsUrls: string[];
  /** JetStream replicas (1 for one server, 3 for a cluster of three). */
  replicas: number;
  /** Log partitions. Default 8. */
  partitions?: number;
  /** Stream / bucket prefix. Default 'iotgw'. */
  prefix?: string;
  /** Extra config keys merged over each node's file (shallow per section). */
  extra?: Record<string, unknown>;
  detached?: boolean;
  /** ms to wait for each node's /readyz. Default 30000. */
  startTimeoutMs?: number;
}

export interface GatewayNode {
  readonly nodeId: string;
  readonly dir: string;
  readonly configFile: string;
  readonly ports: { mqtt: number; stomp: number; http: number };
  pid: number;
  readonly running: boolean;
  /** The node's log file (pino JSON lines). */
  readonly logFile: string;
  stop(): Promise<void>;
  kill9(): Promise<void>;
  start(): Promise<void>;
}

class GatewayNodeProcess implements GatewayNode {
  pid = 0;
  private child: ChildProcess | undefined;
  constructor(
    readonly nodeId: string,
    readonly dir: string,
    readonly configFile: string,
    readonly ports: { mqtt: number; stomp: number; http: number },
    private readonly detached: boolean,
    private readonly timeoutMs: number,
  ) {}

  get logFile(): string { return join(this.dir, 'gateway.log'); }
  get running(): boolean { return this.child ? this.child.exitCode === null && this.child.signalCode === null : this.pid > 0 && processAlive(this.pid); }

  async start(): Promise<void> {
    if (this.child && this.running) throw new Error(`${this.nodeId} already running`);
    const out = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, '--config', this.configFile, '--log-level', 'info'], { cwd: ROOT, stdio: ['ignore', out, out], detached: this.detached });
    closeSync(out);
    this.child = child;
    this.pid = child.pid ?? 0;
    if (this.detached) child.unref();
    const end = Date.now() + this.timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`gateway ${this.nodeId} exited (code ${child.exitCode}); its log ${this.logFile}:\n${tail(this.logFile)}`);
      const r = await httpGet(this.ports.http, '/readyz').catch(() => undefined);
      if (r?.status === 200) return;
      if (Date.now() > end) {
        child.kill('SIGKILL');
        throw new Error(`gateway ${this.nodeId} not ready within ${this.timeoutMs} ms; its log:\n${tail(this.logFile)}`);
      }
      await new Promise((r2) => setTimeout(r2, 100));
    }
  }

  async stop(): Promise<void> {
    if (this.running) await stopPid(this.pid, this.child, 10_000);
  }

  async kill9(): Promise<void> {
    if (!this.running) return;
    try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ }
    await waitExit(this.pid, this.child, 5000);
  }
}

function tail(file: string): string {
  try { return readFileSync(file, 'utf8').split('\n').slice(-40).join('\n'); } catch { return '(no log)'; }
}

/** The config file of gateway node `nodeId` (what `npm run cluster -- up` writes; see docs/CLUSTER.md). */
export function gatewayNodeConfig(o: GatewayNodeOptions, nodeId: string, dataDir: string, ports: { mqtt: number; stomp: number; http: number }): Record<string, unknown> {
  const config: Record<string, unknown> = {
    dataDir,
    mqtt: { host: '127.0.0.1', port: ports.mqtt },
    stomp: { host: '127.0.0.1', port: ports.stomp },
    http: { host: '127.0.0.1', port: ports.http },
    persistence: { partitions: o.partitions ?? 8 },
    cluster: { backend: 'nats', servers: o.natsUrls, nodeId, replicas: o.replicas, prefix: o.prefix ?? 'iotgw' },
  };
  for (const [k, v] of Object.entries(o.extra ?? {})) {
    config[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(config[k] as object | undefined), ...v } : v;
  }
  return config;
}

/** Starts `count` gateway CLI processes on the NATS backend (node ids gw1..gwN) and waits for each one's /readyz. */
export async function startGatewayNodes(o: GatewayNodeOptions): Promise<GatewayNode[]> {
  const nodes: GatewayNodeProcess[] = [];
  for (let i = 1; i <= o.count; i++) {
    const dir = join(o.dir, `gw-${i}`);
    mkdirSync(dir, { recursive: true });
    const ports = { mqtt: await freePort(), stomp: await freePort(), http: await freePort() };
    const configFile = join(dir, 'gateway.json');
    writeFileSync(configFile, JSON.stringify(gatewayNodeConfig(o, `gw${i}`, join(dir, 'data'), ports), null, 2));
    nodes.push(new GatewayNodeProcess(`gw${i}`, dir, configFile, ports, o.detached ?? false, o.startTimeoutMs ?? 30_000));
  }
  try {
    // One after the other: the first creates the streams and the bucket.
    for (const n of nodes) await n.start();
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  return nodes;
}

// ---------------------------------------------------------------- the whole dev cluster

export interface DevCluster {
  dir: string;
  nats: NatsCluster;
  gateways: GatewayNode[];
  stop(): Promise<void>;
}

/** N nats servers + M gateway nodes (replicas = min(3, N)). */
export async function startDevCluster(o: { dir: string; natsServers: number; gateways: number; partitions?: number; detached?: boolean; extra?: Record<string, unknown> }): Promise<DevCluster> {
  const nats = await startNatsServers({ count: o.natsServers, dir: o.dir, detached: o.detached ?? false });
  let gateways: GatewayNode[];
  try {
    gateways = await startGatewayNodes({
      count: o.gateways,
      dir: o.dir,
      natsUrls: nats.urls,
      replicas: Math.min(3, o.natsServers),
      detached: o.detached ?? false,
      ...(o.partitions !== undefined ? { partitions: o.partitions } : {}),
      ...(o.extra ? { extra: o.extra } : {}),
    });
  } catch (err) {
    await nats.stop();
    throw err;
  }
  return {
    dir: o.dir,
    nats,
    gateways,
    async stop() {
      await Promise.all(gateways.map((g) => g.stop()));
      await nats.stop();
    },
  };
}
