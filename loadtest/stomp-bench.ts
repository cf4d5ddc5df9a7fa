// Load test: STOMP throughput (ack:auto; client-individual with receipted SENDs) and MQTT -> STOMP cross delivery over raw sockets, gateway vs RabbitMQ's STOMP/MQTT plugins. Imports node builtins, mqtt-packet and the stomp codec. Not part of the test command.
//
// Usage: node --import tsx loadtest/stomp-bench.ts [--n 20000] [--rabbit-stomp PORT --rabbit-mqtt PORT | --no-rabbit]
// Without --rabbit-*, it tries to start `rabbitmq-server` itself (temp dir, free ports, rabbitmq_stomp + rabbitmq_mqtt),
// and says why in the table when it cannot. Results: a table on stdout and loadtest/results/<time>-stomp.{json,md}.
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
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqttPacket from 'mqtt-packet';
import { encodeFrame } from '../protocols/stomp/frame.ts';
import { StompParser } from '../protocols/stomp/parser.ts';
import { answerHelp } from './help.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
answerHelp(`usage: node --import tsx loadtest/stomp-bench.ts [--n 20000] [--rabbit-stomp PORT --rabbit-mqtt PORT | --no-rabbit]
STOMP throughput (ack:auto; client-individual with receipted SENDs) and MQTT -> STOMP delivery, gateway vs
RabbitMQ's STOMP/MQTT plugins. Without --rabbit-* it starts rabbitmq-server itself (temp dir, free ports) when
installed; --no-rabbit measures the gateway only. Writes loadtest/results/<time>-stomp.{json,md}.`);
const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? undefined : args[i + 1];
};
const N = Number(arg('n') ?? 20_000);
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
  received: number;
  seconds: number;
  rate: number;
  note: string;
}

// ---- raw STOMP ----

class RawStompClient {
  private readonly parser = new StompParser({ maxFrameBytes: 1 << 24, maxHeaders: 1000, maxHeaderBytes: 1 << 16, maxBodyBytes: 1 << 24 });
  onFrame: (command: string, headers: [string, string][]) => void = () => undefined;
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => this.parser.push(c, (f) => this.onFrame(f.command, f.headers)));
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

/** Resolves when `count()` reaches n (checked on every frame via `kick`), bounded by TIMEOUT_MS. */
function counter(n: number): { hit(): void; done: Promise<number>; get value(): number } {
  let v = 0;
  let resolve!: (t: number) => void;
  const done = new Promise<number>((r) => (resolve = r));
  return {
    hit() {
      if (++v === n) resolve(performance.now());
    },
    done: withTimeout(done, TIMEOUT_MS, `${n} deliveries`),
    get value() {
      return v;
    },
  };
}

let seq = 0;

async function stompScenario(ep: Endpoints, mode: 'auto' | 'ci-receipt'): Promise<Row> {
  const dest = `/topic/bench-${mode}-${++seq}`;
  const sub = await RawStompClient.connect(ep.stomp, ep.login);
  const pub = await RawStompClient.connect(ep.stomp, ep.login);
  const got = counter(N);
  const subReady = new Promise<void>((r) => {
    sub.onFrame = (cmd, h) => {
      if (cmd === 'RECEIPT') return r();
      if (cmd !== 'MESSAGE') return;
      got.hit();
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
  const body = 'x'.repeat(64);
  const extra: Record<string, string> = ep.name === 'rabbitmq' ? { persistent: 'true' } : {};
  const t0 = performance.now();
  let asked = 0;
  for (let i = 0; i < N; i++) {
    if (mode === 'ci-receipt') {
      pub.send('SEND', { destination: dest, receipt: `r${i}`, ...extra }, body);
      asked++;
      if (asked - receipts >= 100) await waitReceipts(asked - 50);
    } else if (i % 500 === 499) {
      pub.send('SEND', { destination: dest, receipt: `r${i}`, ...extra }, body);
      asked++;
      await waitReceipts(asked - 1);
    } else {
      pub.send('SEND', { destination: dest, ...extra }, body);
    }
  }
  let t1: number;
  let note = '';
  try {
    t1 = await got.done;
  } catch {
    t1 = performance.now();
    note = `timed out at ${got.value}`;
  }
  sub.close();
  pub.close();
  const seconds = (t1 - t0) / 1000;
  return { target: ep.name, scenario: `stomp-${mode}`, sent: N, received: got.value, seconds, rate: got.value / seconds, note };
}

async function mqttScenario(ep: Endpoints, to: 'stomp' | 'mqtt'): Promise<Row> {
  const topic = `bench-m2${to}-${++seq}`;
  const got = counter(N);
  let close: () => void;
  if (to === 'stomp') {
    const sub = await RawStompClient.connect(ep.stomp, ep.login);
    const ready = new Promise<void>((r) => {
      sub.onFrame = (cmd) => (cmd === 'RECEIPT' ? r() : cmd === 'MESSAGE' ? got.hit() : undefined);
    });
    sub.send('SUBSCRIBE', { id: 's', destination: `/topic/${topic}`, ack: 'auto', receipt: 'sub' });
    await withTimeout(ready, 10_000, 'SUBSCRIBE receipt');
    close = () => sub.close();
  } else {
    const sub = await RawMqttClient.connect(ep.mqtt, `bench-sub-${seq}`, ep.login);
    const ready = new Promise<void>((r) => {
      sub.onPacket = (p) => {
        if (p.cmd === 'suback') r();
        else if (p.cmd === 'publish') {
          got.hit();
          if (p.qos === 1 && p.messageId) sub.write({ cmd: 'puback', messageId: p.messageId });
        }
      };
    });
    sub.write({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
    await withTimeout(ready, 10_000, 'SUBACK');
    close = () => sub.close();
  }
  const pub = await RawMqttClient.connect(ep.mqtt, `bench-pub-${seq}`, ep.login);
  let acked = 0;
  let wake: (() => void) | undefined;
  pub.onPacket = (p) => {
    if (p.cmd !== 'puback') return;
    acked++;
    wake?.();
  };
  const payload = Buffer.from('x'.repeat(64));
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    pub.write({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false, messageId: (i % 65000) + 1 });
    const end = Date.now() + TIMEOUT_MS;
    while (i + 1 - acked >= 100 && Date.now() < end) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
  }
  let t1: number;
  let note = '';
  try {
    t1 = await got.done;
  } catch {
    t1 = performance.now();
    note = `timed out at ${got.value}`;
  }
  pub.close();
  close();
  const seconds = (t1 - t0) / 1000;
  return { target: ep.name, scenario: `mqtt-to-${to}`, sent: N, received: got.value, seconds, rate: got.value / seconds, note };
}

// ---- targets ----

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.once('error', reject);
  });
}

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

async function main(): Promise<void> {
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
  if (!args.includes('--no-rabbit')) {
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
      for (const run of [() => stompScenario(ep, 'auto'), () => stompScenario(ep, 'ci-receipt'), () => mqttScenario(ep, 'stomp'), () => mqttScenario(ep, 'mqtt')]) {
        try {
          const row = await run();
          rows.push(row);
          console.error(`${row.target} ${row.scenario}: ${Math.round(row.rate)} msg/s ${row.note}`);
        } catch (err) {
          notes.push(`${ep.name}: ${String(err)}`);
        }
      }
    }
  } finally {
    for (const c of cleanups) c();
  }
  const md = [
    `# STOMP bench (${N} messages of 64 bytes per scenario, ${new Date().toISOString()})`,
    '',
    '| target | scenario | received/sent | seconds | msg/s | note |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.target} | ${r.scenario} | ${r.received}/${r.sent} | ${r.seconds.toFixed(2)} | ${Math.round(r.rate)} | ${r.note} |`),
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
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
