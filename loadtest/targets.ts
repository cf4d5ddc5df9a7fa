// Starts and stops the brokers a load test measures: our gateway, Mosquitto, Aedes, NATS (its MQTT listener), the trivial forwarder, or an external URL. Imports node builtins, ./proc.ts and scripts/free-port.ts.
//
// Every started target is a child process whose pid is known (for CPU accounting) and whose
// close() kills it (SIGTERM, SIGKILL after 2 s) and removes its temp dir. closeAll() is safe to
// call from signal handlers: it closes every target still open.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { freePort } from '../scripts/free-port.ts';

export { freePort };
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { findListenerPid } from './proc.ts';

export type TargetName = 'gateway' | 'target' | 'mosquitto' | 'aedes' | 'nats' | 'forwarder';

export interface Target {
  name: TargetName;
  host: string;
  port: number;
  /** MQTT over WebSocket, ws://host:port/path, or null when this target serves none. */
  wsUrl: string | null;
  /** Broker process pid for CPU accounting; null if unknown. */
  pid: number | null;
  /** Why the broker process ended on its own (code/signal and stderr tail), or null while it runs. */
  exited(): string | null;
  close(): Promise<void>;
}

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const MOSQUITTO = '/usr/sbin/mosquitto';
/** Debian's nats-server (2.9 on bookworm); test/install-system-deps.sh installs it. */
export const NATS_SERVER = '/usr/sbin/nats-server';
const open = new Set<Target>();
/** Kill functions of every child spawned and not yet reaped, including ones still starting up. */
const children = new Set<() => Promise<void>>();

export async function closeAll(): Promise<void> {
  await Promise.all([...open].map((t) => t.close()));
  await Promise.all([...children].map((k) => k()));
}

function killer(child: ChildProcess, cleanup: () => void): () => Promise<void> {
  const kill = (): Promise<void> => new Promise<void>((resolve) => {
    const done = (): void => { children.delete(kill); cleanup(); resolve(); };
    if (child.exitCode !== null || child.signalCode !== null) return done();
    const hard = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => { clearTimeout(hard); done(); });
    child.kill('SIGTERM');
  });
  children.add(kill);
  return kill;
}

/** Remembers an exit that happens before close() as the target's exited() text. */
function register(t: Omit<Target, 'close' | 'exited'>, close: () => Promise<void>, child: ChildProcess | null, tail: () => string): Target {
  let note: string | null = null;
  let closing = false;
  child?.once('exit', (code, sig) => {
    if (!closing) note = `${t.name} exited on its own (code ${code}, signal ${sig})${tail() ? `; stderr: ${tail().slice(-500)}` : ''}`;
  });
  const target: Target = { ...t, exited: () => note, close: async () => { closing = true; open.delete(target); await close(); } };
  open.add(target);
  return target;
}

/**
 * Spawns `args` with node and waits (up to timeoutMs) for a stdout JSON line
 * {"msg":"listening","protocol":"mqtt","port":N}, and when wsPath is given also for
 * {"msg":"listening","protocol":"http","port":M} (then wsUrl = ws://127.0.0.1:M<wsPath>). Keeps draining stdout/stderr afterwards so a
 * chatty logger never blocks on a full pipe. Rejects with the child's stderr tail on timeout/exit.
 */
function spawnNodeListener(name: TargetName, args: string[], timeoutMs: number, tmp: string | null, wsPath: string | null = null): Promise<Target> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const cleanup = (): void => { if (tmp !== null) rmSync(tmp, { recursive: true, force: true }); };
  const close = killer(child, cleanup);
  let stderrTail = '';
  child.stderr!.on('data', (d: Buffer) => { stderrTail = (stderrTail + d.toString()).slice(-2000); });
  return new Promise<Target>((resolve, reject) => {
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void close().then(() => reject(new Error(`${name}: ${why}${stderrTail ? `\n--- stderr ---\n${stderrTail}` : ''}`)));
    };
    const timer = setTimeout(() => fail(`no {"msg":"listening","protocol":"mqtt"${wsPath !== null ? ' (and "http")' : ''}} line on stdout within ${timeoutMs / 1000} s (command: node --import tsx ${args.join(' ')})`), timeoutMs);
    child.once('error', (e) => fail(e.message));
    child.once('exit', (code, sig) => fail(`exited early (code ${code}, signal ${sig})`));
    const lines = createInterface({ input: child.stdout! });
    let mqttPort: number | null = null;
    let httpPort: number | null = null;
    lines.on('line', (line) => {
      if (settled) return;
      let rec: unknown;
      try { rec = JSON.parse(line); } catch { return; }
      if (typeof rec !== 'object' || rec === null) return;
      const r = rec as { msg?: unknown; protocol?: unknown; port?: unknown };
      if (r.msg !== 'listening' || typeof r.port !== 'number') return;
      if (r.protocol === 'mqtt') mqttPort = r.port;
      if (r.protocol === 'http') httpPort = r.port;
      if (mqttPort === null || (wsPath !== null && httpPort === null)) return;
      settled = true;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      const wsUrl = wsPath !== null ? `ws://127.0.0.1:${httpPort}${wsPath}` : null;
      resolve(register({ name, host: '127.0.0.1', port: mqttPort, wsUrl, pid: child.pid ?? null }, close, child, () => stderrTail));
    });
  });
}

/** Our gateway from src/server/cli.ts, all listeners on port 0, data in a fresh temp dir; MQTT over WebSocket at /mqtt on the HTTP port. */
export function startGateway(timeoutMs = 15_000): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'lt-gateway-'));
  // A load generator is one address opening thousands of connections and publishing flat out: the abuse limits
  // that would pace or refuse it (limits.* in config/schema.ts) are off here, as they are absent in the peers.
  const config = join(dir, 'loadtest-config.json');
  writeFileSync(config, JSON.stringify({ limits: { maxConnectionsPerAddress: 0, connectionRatePerAddress: 0, maxPublishRate: 0, maxPublishBytesRate: 0 } }));
  return spawnNodeListener('gateway', ['src/server/cli.ts', '--mqtt-port', '0', '--stomp-port', '0', '--http-port', '0',
    '--data-dir', dir, '--log-level', 'info', '--config', config], timeoutMs, dir, '/mqtt');
}

export function startAedes(): Promise<Target> {
  return spawnNodeListener('aedes', ['loadtest/peers/aedes-server.ts'], 15_000, null);
}

/** The TCP forwarder; with ws, the process also serves the ws forwarder (peers/ws-forwarder.ts). */
export function startForwarderProcess(ws = false): Promise<Target> {
  if (ws) return spawnNodeListener('forwarder', ['loadtest/peers/ws-forwarder.ts'], 15_000, null, '/mqtt');
  return spawnNodeListener('forwarder', ['loadtest/peers/forwarder.ts'], 15_000, null);
}

/** Resolves once something accepts TCP connections on port, polling every 50 ms up to timeoutMs. */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Mosquitto with a generated config: loopback listener, anonymous, 1000-message queue, no persistence;
 * Nagle left on as in its defaults (with set_tcp_nodelay it measured slower here on qos1, fanout and fanin);
 * with ws, a second loopback listener with `protocol websockets` (Debian's 2.0.11 is built with
 * libwebsockets; any path is accepted, /mqtt is used).
 */
export async function startMosquitto(ws = false): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'lt-mosquitto-'));
  const port = await freePort();
  const wsPort = ws ? await freePort() : null;
  const conf = join(dir, 'mosquitto.conf');
  // With per_listener_settings false (the default) allow_anonymous is global: it covers both listeners.
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, ...(wsPort !== null ? [`listener ${wsPort} 127.0.0.1`, 'protocol websockets'] : []),
    'allow_anonymous true', 'max_queued_messages 1000',
    'persistence false', 'log_dest stderr', 'log_type error', ''].join('\n'));
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderrTail = '';
  child.stderr!.on('data', (d: Buffer) => { stderrTail = (stderrTail + d.toString()).slice(-2000); });
  const close = killer(child, () => rmSync(dir, { recursive: true, force: true }));
  const exited = new Promise<never>((_r, reject) => {
    child.once('error', (e) => reject(new Error(`mosquitto: ${e.message}`)));
    child.once('exit', (code) => reject(new Error(`mosquitto exited early (code ${code}): ${stderrTail}`)));
  });
  exited.catch(() => undefined); // a later exit (our own kill) must not be an unhandled rejection
  try {
    await Promise.race([waitForPort(port, 5000), exited]);
    if (wsPort !== null) await Promise.race([waitForPort(wsPort, 5000), exited]);
  } catch (e) {
    await close();
    throw e;
  }
  const wsUrl = wsPort !== null ? `ws://127.0.0.1:${wsPort}/mqtt` : null;
  return register({ name: 'mosquitto', host: '127.0.0.1', port, wsUrl, pid: child.pid ?? null }, close, child, () => stderrTail);
}

/**
 * NATS's MQTT listener (nats-server, Debian 2.9) with a generated config: client port and MQTT port on
 * free loopback ports, JetStream on with a temp store dir (NATS's MQTT needs JetStream and a
 * server_name), no auth, no monitoring port. What NATS's MQTT does not do, per its docs: QoS 2 (a
 * QoS 2 subscription is granted QoS 1, a QoS 2 PUBLISH closes the connection), retained-message
 * wildcards in some forms, MQTT 5, and (in 2.9) MQTT over WebSocket. Its per-subscription in-flight
 * cap is `mqtt.max_ack_pending` (default 1024); the loadtest's qos1 window (1000) fits under it.
 */
export async function startNats(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'lt-nats-'));
  const [clientPort, mqttPort] = [await freePort(), await freePort()];
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, [
    `server_name: lt_nats_${process.pid}`,
    `listen: "127.0.0.1:${clientPort}"`,
    `jetstream { store_dir: "${join(dir, 'js')}" }`,
    `mqtt { host: "127.0.0.1", port: ${mqttPort} }`,
    '',
  ].join('\n'));
  const child = spawn(NATS_SERVER, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderrTail = '';
  child.stderr!.on('data', (d: Buffer) => { stderrTail = (stderrTail + d.toString()).slice(-2000); });
  const close = killer(child, () => rmSync(dir, { recursive: true, force: true }));
  const exited = new Promise<never>((_r, reject) => {
    child.once('error', (e) => reject(new Error(`nats-server (${NATS_SERVER}): ${e.message}; run test/install-system-deps.sh`)));
    child.once('exit', (code) => reject(new Error(`nats-server exited early (code ${code}): ${stderrTail}`)));
  });
  exited.catch(() => undefined);
  try {
    // The MQTT port opens after JetStream is up, so it is the one to wait for.
    await Promise.race([waitForPort(mqttPort, 15_000), exited]);
  } catch (e) {
    await close();
    throw e;
  }
  return register({ name: 'nats', host: '127.0.0.1', port: mqttPort, wsUrl: null, pid: child.pid ?? null }, close, child, () => stderrTail);
}

/**
 * A broker someone else runs: mqtt://host:port, or ws://host:port/path (then only --transport ws
 * works against it). Its pid is looked up from /proc if it is ours to see.
 */
export function externalTarget(url: string): Target {
  const u = new URL(url);
  const ws = u.protocol === 'ws:';
  if (u.protocol !== 'mqtt:' && u.protocol !== 'tcp:' && !ws) throw new Error(`--target must be mqtt://host:port or ws://host:port/path, got ${url}`);
  const port = Number(u.port || (ws ? 80 : 1883));
  const host = u.hostname === 'localhost' ? '127.0.0.1' : u.hostname;
  const wsUrl = ws ? `ws://${host}:${port}${u.pathname}` : null;
  return { name: 'target', host, port: ws ? 0 : port, wsUrl, pid: findListenerPid(port), exited: () => null, close: async () => undefined };
}
