// Load test: STOMP throughput (ack:auto; client-individual with receipted SENDs) and MQTT -> STOMP cross delivery over raw sockets, gateway vs RabbitMQ's STOMP/MQTT plugins. Imports node builtins, mqtt-packet and the stomp codec. Not part of the test command.
//
// Usage: node --import tsx loadtest/stomp-bench.ts [--n 200000] [--peers rabbitmq|none] [--rabbit-stomp PORT --rabbit-mqtt PORT]
//        [--scenarios stomp-auto,stomp-ci-receipt,mqtt-to-stomp,mqtt-to-mqtt] [--quiet S] [--sub-pause S] [--help]
// --peers none (or the older --no-rabbit): the gateway alone. Otherwise, without --rabbit-*, it tries to start
// `rabbitmq-server` itself (temp dir, free ports, rabbitmq_stomp + rabbitmq_mqtt), and says why in the table when
// it cannot. Results: a table on stdout and loadtest/results/<time>-stomp.{json,md}. Every body carries its
// sequence number, so the subscriber counts unique messages; lost = sent - unique received, after the publisher
// finished and nothing new arrived for --quiet seconds (default 5). Exit code 1 if the gateway lost or
// duplicated any message in any scenario (RabbitMQ's figures are reported, never failed).
//
// Scenarios (one publisher connection, one subscriber connection, destinations without '/' so both
// brokers map them the same way: STOMP /topic/<name> = MQTT topic <name> = RabbitMQ routing key <name>):
//   stomp-auto         SEND (no receipt; a receipted SEND every 500 for flow control) -> SUBSCRIBE ack:auto
//   stomp-ci-receipt   SEND with receipt (<= 100 outstanding) -> SUBSCRIBE ack:client-individual, ACK each
//   mqtt-to-stomp      MQTT QoS 1 PUBLISH (<= 100 unacknowledged) -> STOMP SUBSCRIBE ack:auto
//   mqtt-to-mqtt       MQTT QoS 1 -> MQTT QoS 1 subscriber (the gateway's own MQTT figure, for reference)
// Rate = messages received / (last receive - first send). RabbitMQ SENDs carry persistent:true; its topic
// subscription queues are transient, so RabbitMQ does not fsync them; the gateway appends every SEND to its log.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { freePort } from '../scripts/free-port.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqttPacket from 'mqtt-packet';
import { encodeFrame } from '../protocols/stomp/frame.ts';
import { StompParser } from '../protocols/stomp/parser.ts';
import { SeqTracker } from './seq-tracker.ts';
import { answerHelp } from './help.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? undefined : args[i + 1];
};
const HELP = `usage: node --import tsx loadtest/stomp-bench.ts [options]
  --n N               messages per scenario (default 200000)
  --peers P           rabbitmq (default: start rabbitmq-server, or use --rabbit-stomp/--rabbit-mqtt) or none (gateway alone)
  --no-rabbit         same as --peers none
  --rabbit-stomp PORT, --rabbit-mqtt PORT   a RabbitMQ already running (guest/guest)
  --scenarios LIST    comma list of stomp-auto, stomp-ci-receipt, mqtt-to-stomp, mqtt-to-mqtt (default all)
  --quiet S           stop waiting for deliveries after S seconds without a new one (default 5)
  --sub-pause S       the subscriber stops reading its socket for S seconds when the publisher starts
                      (default 0): a slow consumer, whose backlog the broker must keep
scenarios (1 publisher, 1 subscriber, 64-byte bodies):
  stomp-auto          SEND (a receipted SEND every 500 for flow control) -> SUBSCRIBE ack:auto
  stomp-ci-receipt    SEND with a receipt on every frame (<= 100 outstanding) -> ack:client-individual, ACK each
  mqtt-to-stomp       MQTT QoS 1 (<= 100 unacked) -> STOMP ack:auto
  mqtt-to-mqtt        MQTT QoS 1 -> MQTT QoS 1 subscriber
Prints received/sent, lost and msg/s per target and scenario; exit 1 if the gateway lost or duplicated any.
`;
answerHelp(HELP);
const N = Number(arg('n') ?? 200_000);
if (!Number.isInteger(N) || N <= 0) throw new Error(`--n must be a positive integer, got ${arg('n')}`);
const QUIET_MS = Number(arg('quiet') ?? 5) * 1000;
const SUB_PAUSE_MS = Number(arg('sub-pause') ?? 0) * 1000;
if (!(SUB_PAUSE_MS >= 0)) throw new Error('--sub-pause must be seconds >= 0');
const PEERS = args.includes('--no-rabbit') ? 'none' : (arg('peers') ?? 'rabbitmq');
if (PEERS !== 'none' && PEERS !== 'rabbitmq') throw new Error(`--peers must be rabbitmq or none, got ${PEERS}`);
const ALL_SCENARIOS = ['stomp-auto', 'stomp-ci-receipt', 'mqtt-to-stomp', 'mqtt-to-mqtt'] as const;
const SCENARIOS = (arg('scenarios') ?? ALL_SCENARIOS.join(',')).split(',');
for (const sc of SCENARIOS) if (!(ALL_SCENARIOS as readonly string[]).includes(sc)) throw new Error(`unknown scenario ${sc}; one of ${ALL_SCENARIOS.join(', ')}`);
const TIMEOUT_MS = 120_000;

interface Endpoints {
  name: string;
  stomp: number;
  mqtt: number;
  login?: Record<string, string>;
}

interface Row {
  target: string;
  scenario: string;
  sent: number;
  /** Unique sequence numbers received. */
  received: number;
  lost: number;
  duplicates: number;
  /** Receipts (STOMP) or PUBACKs (MQTT) the publisher got. */
  acknowledged: number;
  seconds: number;
  rate: number;
  note: string;
}

// ---- raw STOMP ----

class RawStompClient {
  private readonly parser = new StompParser({ maxFrameBytes: 1 << 24, maxHeaders: 1000, maxHeaderBytes: 1 << 16, maxBodyBytes: 1 << 24 });
  onFrame: (command: string, headers: [string, string][], body: Buffer) => void = () => undefined;
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => this.parser.push(c, (f) => this.onFrame(f.command, f.headers, f.body)));
    socket.on('error', () => undefined);
  }
  static async connect(port: number, headers: Record<string, string> = {}): Promise<RawStompClient> {
    const s = await new Promise<net.Socket>((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => resolve(sock));
      sock.once('error', reject);
    });
    s.setNoDelay(true);
    const c = new RawStompClient(s);
    c.parser.setVersion('1.2');
    const connected = new Promise<void>((resolve, reject) => {
      c.onFrame = (cmd, h) => (cmd === 'CONNECTED' ? resolve() : reject(new Error(`${cmd} ${JSON.stringify(h)}`)));
    });
    c.send('CONNECT', { 'accept-version': '1.2', host: '/', 'heart-beat': '0,0', ...headers });
    await withTimeout(connected, 10_000, 'STOMP CONNECTED');
    return c;
  }
  send(command: string, headers: Record<string, string>, body = ''): boolean {
    return this.socket.write(encodeFrame({ command, headers: Object.entries(headers), body: Buffer.from(body) }, '1.2'));
  }
  close(): void {
    this.socket.destroy();
  }
}

// ---- raw MQTT (3.1.1) ----

class RawMqttClient {
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  onPacket: (p: mqttPacket.Packet) => void = () => undefined;
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => this.parser.parse(c));
    this.parser.on('packet', (p: mqttPacket.Packet) => this.onPacket(p));
    socket.on('error', () => undefined);
  }
  static async connect(port: number, clientId: string, login: Record<string, string> = {}): Promise<RawMqttClient> {
    const s = await new Promise<net.Socket>((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => resolve(sock));
      sock.once('error', reject);
    });
    s.setNoDelay(true);
    const c = new RawMqttClient(s);
    const ack = new Promise<void>((resolve, reject) => {
      c.onPacket = (p) => (p.cmd === 'connack' && (p.returnCode ?? 0) === 0 ? resolve() : reject(new Error(`connect: ${JSON.stringify(p)}`)));
    });
    c.write({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 0, username: login.login, password: login.passcode ? Buffer.from(login.passcode) : undefined });
    await withTimeout(ack, 10_000, 'MQTT CONNACK');
    return c;
  }
  write(p: mqttPacket.Packet): boolean {
    return this.socket.write(mqttPacket.generate(p));
  }
  close(): void {
    this.socket.destroy();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms)))]).finally(() => clearTimeout(t));
}

/**
 * Counts unique deliveries by the sequence number at the start of each body ("<seq>:xxxx").
 * finish() waits (after the publisher is done) until all n arrived, or nothing new came for QUIET_MS,
 * or TIMEOUT_MS passed; it resolves with the time of the last delivery and a note when short.
 */
function counter(n: number): { hit(body: Buffer | string): void; finish(notBefore?: number): Promise<{ t1: number; note: string }>; readonly value: number; readonly duplicates: number } {
  const tracker = new SeqTracker();
  let last = performance.now();
  return {
    hit(body) {
      const text = typeof body === 'string' ? body : body.toString('latin1', 0, 12);
      tracker.see(Number.parseInt(text, 10));
      last = performance.now();
    },
    async finish(notBefore = 0) {
      const start = Math.max(performance.now(), notBefore);
      for (;;) {
        if (tracker.unique >= n) return { t1: last, note: '' };
        const now = performance.now();
        if (now - Math.max(last, start) > QUIET_MS) return { t1: last, note: `nothing new for ${QUIET_MS / 1000} s at ${tracker.unique}` };
        if (now - start > TIMEOUT_MS + QUIET_MS) return { t1: last, note: `timed out at ${tracker.unique}` };
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    get value() {
      return tracker.unique;
    },
    get duplicates() {
      return tracker.duplicates;
    },
  };
}

/** --sub-pause: the subscriber's socket is not read for SUB_PAUSE_MS from now. */
function pauseReader(socket: net.Socket): void {
  if (SUB_PAUSE_MS <= 0) return;
  socket.pause();
  setTimeout(() => socket.resume(), SUB_PAUSE_MS);
}

const bodyOf = (i: number): string => `${i}:`.padEnd(64, 'x');

let seq = 0;

async function stompScenario(ep: Endpoints, mode: 'auto' | 'ci-receipt'): Promise<Row> {
  const dest = `/topic/bench-${mode}-${++seq}`;
  const sub = await RawStompClient.connect(ep.stomp, ep.login);
  const pub = await RawStompClient.connect(ep.stomp, ep.login);
  const got = counter(N);
  const subReady = new Promise<void>((r) => {
    sub.onFrame = (cmd, h, b) => {
      if (cmd === 'RECEIPT') return r();
      if (cmd !== 'MESSAGE') return;
      got.hit(b);
      if (mode === 'ci-receipt') {
        const ack = h.find(([k]) => k === 'ack')?.[1];
        if (ack) sub.send('ACK', { id: ack });
      }
    };
  });
  sub.send('SUBSCRIBE', { id: 's', destination: dest, ack: mode === 'auto' ? 'auto' : 'client-individual', 'prefetch-count': '1000', receipt: 'sub' });
  await withTimeout(subReady, 10_000, 'SUBSCRIBE receipt');
  let receipts = 0;
  let wake: (() => void) | undefined;
  pub.onFrame = (cmd) => {
    if (cmd !== 'RECEIPT') return;
    receipts++;
    wake?.();
  };
  const waitReceipts = async (atLeast: number): Promise<void> => {
    const end = Date.now() + TIMEOUT_MS;
    while (receipts < atLeast) {
      if (Date.now() > end) throw new Error('receipts timed out');
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
  };
  const extra: Record<string, string> = ep.name === 'rabbitmq' ? { persistent: 'true' } : {};
  const t0 = performance.now();
  pauseReader(sub.socket);
  let asked = 0;
  for (let i = 0; i < N; i++) {
    if (mode === 'ci-receipt') {
      pub.send('SEND', { destination: dest, receipt: `r${i}`, ...extra }, bodyOf(i));
      asked++;
      if (asked - receipts >= 100) await waitReceipts(asked - 50);
    } else if (i % 500 === 499) {
      pub.send('SEND', { destination: dest, receipt: `r${i}`, ...extra }, bodyOf(i));
      asked++;
      await waitReceipts(asked - 1);
    } else {
      pub.send('SEND', { destination: dest, ...extra }, bodyOf(i));
    }
  }
  if (mode === 'ci-receipt') await waitReceipts(asked).catch(() => undefined);
  const { t1, note } = await got.finish(t0 + SUB_PAUSE_MS);
  sub.close();
  pub.close();
  const seconds = (t1 - t0) / 1000;
  return {
    target: ep.name, scenario: `stomp-${mode}`, sent: N, received: got.value, lost: N - got.value, duplicates: got.duplicates,
    acknowledged: receipts, seconds, rate: got.value / seconds, note,
  };
}

async function mqttScenario(ep: Endpoints, to: 'stomp' | 'mqtt'): Promise<Row> {
  const topic = `bench-m2${to}-${++seq}`;
  const got = counter(N);
  let close: () => void;
  let subSocket: net.Socket;
  if (to === 'stomp') {
    const sub = await RawStompClient.connect(ep.stomp, ep.login);
    const ready = new Promise<void>((r) => {
      sub.onFrame = (cmd, _h, b) => (cmd === 'RECEIPT' ? r() : cmd === 'MESSAGE' ? got.hit(b) : undefined);
    });
    sub.send('SUBSCRIBE', { id: 's', destination: `/topic/${topic}`, ack: 'auto', receipt: 'sub' });
    await withTimeout(ready, 10_000, 'SUBSCRIBE receipt');
    close = () => sub.close();
    subSocket = sub.socket;
  } else {
    const sub = await RawMqttClient.connect(ep.mqtt, `bench-sub-${seq}`, ep.login);
    const ready = new Promise<void>((r) => {
      sub.onPacket = (p) => {
        if (p.cmd === 'suback') r();
        else if (p.cmd === 'publish') {
          got.hit(p.payload);
          if (p.qos === 1 && p.messageId) sub.write({ cmd: 'puback', messageId: p.messageId });
        }
      };
    });
    sub.write({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
    await withTimeout(ready, 10_000, 'SUBACK');
    close = () => sub.close();
    subSocket = sub.socket;
  }
  const pub = await RawMqttClient.connect(ep.mqtt, `bench-pub-${seq}`, ep.login);
  pauseReader(subSocket);
  let acked = 0;
  let wake: (() => void) | undefined;
  pub.onPacket = (p) => {
    if (p.cmd !== 'puback') return;
    acked++;
    wake?.();
  };
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    pub.write({ cmd: 'publish', topic, payload: Buffer.from(bodyOf(i)), qos: 1, retain: false, dup: false, messageId: (i % 65000) + 1 });
    const end = Date.now() + TIMEOUT_MS;
    while (i + 1 - acked >= 100 && Date.now() < end) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
  }
  for (let end = Date.now() + 10_000; acked < N && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
  const { t1, note } = await got.finish(t0 + SUB_PAUSE_MS);
  pub.close();
  close();
  const seconds = (t1 - t0) / 1000;
  return {
    target: ep.name, scenario: `mqtt-to-${to}`, sent: N, received: got.value, lost: N - got.value, duplicates: got.duplicates,
    acknowledged: acked, seconds, rate: got.value / seconds, note,
  };
}

// ---- targets ----

async function waitPort(port: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

async function startGatewayProcess(dir: string): Promise<{ ep: Endpoints; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/server/cli.ts'), '--stomp-port', '0', '--mqtt-port', '0', '--http-port', '0', '--data-dir', dir, '--log-level', 'info'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ports: Record<string, number> = {};
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      let buf = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (c: string) => {
        buf += c;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          try {
            const rec = JSON.parse(line) as { msg?: string; protocol?: string; port?: number };
            if (rec.msg === 'listening' && rec.protocol && rec.port) ports[rec.protocol] = rec.port;
          } catch {
            /* not JSON */
          }
          if (ports.stomp && ports.mqtt) resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`gateway exited ${code}`)));
    }),
    30_000,
    'gateway ports',
  );
  return { ep: { name: 'gateway', stomp: ports.stomp!, mqtt: ports.mqtt! }, child };
}

/** Starts rabbitmq-server with the STOMP and MQTT plugins on free ports in a temp dir; returns undefined and a reason when it cannot. */
async function startRabbit(): Promise<{ ep?: Endpoints; stop: () => void; why?: string }> {
  const which = spawnSync('sh', ['-c', 'command -v rabbitmq-server'], { encoding: 'utf8' });
  if (which.status !== 0) return { stop: () => undefined, why: 'rabbitmq-server is not installed (apt-get install -y rabbitmq-server)' };
  const dir = mkdtempSync(join(tmpdir(), 'rmq-bench-'));
  const [amqp, dist, stomp, mqtt] = [await freePort(), await freePort(), await freePort(), await freePort()];
  mkdirSync(join(dir, 'log'));
  mkdirSync(join(dir, 'mnesia'));
  writeFileSync(join(dir, 'rabbit.conf'), [`listeners.tcp.default = ${amqp}`, `stomp.listeners.tcp.1 = 127.0.0.1:${stomp}`, `mqtt.listeners.tcp.default = ${mqtt}`, 'loopback_users = none', ''].join('\n'));
  writeFileSync(join(dir, 'enabled_plugins'), '[rabbitmq_stomp,rabbitmq_mqtt].\n');
  // The Debian script re-executes itself as the `rabbitmq` user when started as root: it must own the dir.
  if (process.getuid?.() === 0) spawnSync('chown', ['-R', 'rabbitmq:rabbitmq', dir]);
  const node = `bench${process.pid}@localhost`;
  const env = {
    ...process.env,
    HOME: dir,
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_PORT: String(amqp),
    RABBITMQ_DIST_PORT: String(dist),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbit.conf'),
    RABBITMQ_PID_FILE: join(dir, 'pid'),
    RABBITMQ_FEATURE_FLAGS_FILE: join(dir, 'feature_flags'),
    RABBITMQ_PLUGINS_EXPAND_DIR: join(dir, 'plugins-expand'),
  };
  const child = spawn('rabbitmq-server', [], { env, stdio: 'ignore', detached: true });
  const stop = (): void => {
    spawnSync('rabbitmqctl', ['-n', node, 'stop'], { env, timeout: 30_000 });
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const up = (await waitPort(stomp, 60_000)) && (await waitPort(mqtt, 10_000));
  if (!up) {
    stop();
    return { stop: () => undefined, why: 'rabbitmq-server did not open its STOMP/MQTT ports within 60 s' };
  }
  return { ep: { name: 'rabbitmq', stomp, mqtt, login: { login: 'guest', passcode: 'guest' } }, stop };
}

// ---- main ----

async function main(): Promise<number> {
  let failed = false;
  const targets: Endpoints[] = [];
  const cleanups: (() => void)[] = [];
  const notes: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'gw-bench-'));
  const gw = await startGatewayProcess(dir);
  cleanups.push(() => {
    gw.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  targets.push(gw.ep);
  if (PEERS === 'none') notes.push('RabbitMQ not compared: --peers none');
  else {
    const rs = arg('rabbit-stomp');
    const rm = arg('rabbit-mqtt');
    if (rs && rm) targets.push({ name: 'rabbitmq', stomp: Number(rs), mqtt: Number(rm), login: { login: 'guest', passcode: 'guest' } });
    else {
      const r = await startRabbit();
      cleanups.push(r.stop);
      if (r.ep) targets.push(r.ep);
      else notes.push(`RabbitMQ not compared: ${r.why}`);
    }
  }
  const rows: Row[] = [];
  try {
    for (const ep of targets) {
      const runs: Record<(typeof ALL_SCENARIOS)[number], () => Promise<Row>> = {
        'stomp-auto': () => stompScenario(ep, 'auto'),
        'stomp-ci-receipt': () => stompScenario(ep, 'ci-receipt'),
        'mqtt-to-stomp': () => mqttScenario(ep, 'stomp'),
        'mqtt-to-mqtt': () => mqttScenario(ep, 'mqtt'),
      };
      for (const sc of SCENARIOS) {
        try {
          const row = await runs[sc as (typeof ALL_SCENARIOS)[number]]();
          rows.push(row);
          console.error(`${row.target} ${row.scenario}: received/sent ${row.received}/${row.sent}, lost ${row.lost}, dup ${row.duplicates}, ${Math.round(row.rate)} msg/s ${row.note}`);
          if (ep.name === 'gateway' && (row.lost > 0 || row.duplicates > 0)) failed = true;
        } catch (err) {
          notes.push(`${ep.name}: ${String(err)}`);
          if (ep.name === 'gateway') failed = true;
        }
      }
    }
  } finally {
    for (const c of cleanups) c();
  }
  const md = [
    `# STOMP bench (${N} messages of 64 bytes per scenario, ${new Date().toISOString()})`,
    '',
    '| target | scenario | received/sent | lost | dup | receipts or PUBACKs | seconds | msg/s | note |',
    '|---|---|---|---:|---:|---:|---|---|---|',
    ...rows.map((r) => `| ${r.target} | ${r.scenario} | ${r.received}/${r.sent} | ${r.lost} | ${r.duplicates} | ${r.acknowledged} | ${r.seconds.toFixed(2)} | ${Math.round(r.rate)} | ${r.note} |`),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
  console.log(md);
  const out = join(ROOT, 'loadtest', 'results');
  mkdirSync(out, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(out, `${stamp}-stomp.json`), JSON.stringify({ n: N, rows, notes }, null, 2));
  writeFileSync(join(out, `${stamp}-stomp.md`), md);
  if (failed) console.error('stomp-bench: the gateway lost or duplicated messages (or a scenario failed): exit 1');
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
