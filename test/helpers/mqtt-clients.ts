// Test helper for MQTT e2e suites: mqtt.js clients, a raw packet-level socket client, mosquitto CLI runs and bounded waits. Imports node builtins, mqtt, mqtt-packet.
import net from 'node:net';
import { spawn } from 'node:child_process';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient, type IPublishPacket } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';

/** Rejects with `what` after `ms` unless `p` settles first. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 10 ms until true; fails with `what` after `ms`. */
export async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(10);
  }
}

/** A received application message as seen by an mqtt.js client. */
export interface Received {
  topic: string;
  payload: string;
  packet: IPublishPacket;
}

/** An mqtt.js client that records every message it receives. */
export interface TestClient {
  client: MqttClient;
  /** The CONNACK this connection got. */
  connack: IConnackPacket;
  received: Received[];
  /** Waits until at least `n` messages were received in total. */
  waitFor(n: number, ms?: number): Promise<Received[]>;
  end(): Promise<void>;
}

let seq = 0;
export function uniqueId(prefix = 'c'): string {
  return `${prefix}-${process.pid}-${++seq}`;
}

/** Connects with mqtt.js (no reconnect) and records messages; rejects on CONNACK failure or after `ms`. */
export async function connectClient(url: string, opts: IClientOptions = {}, ms = 3000): Promise<TestClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: ms, clientId: uniqueId(), ...opts });
  const received: Received[] = [];
  client.on('message', (topic, payload, packet) => received.push({ topic, payload: payload.toString(), packet }));
  client.on('error', () => {}); // surfaced via the connect promise or test assertions
  const connack = await withTimeout(
    new Promise<IConnackPacket>((resolve, reject) => {
      client.once('connect', (p) => resolve(p));
      client.once('error', reject);
      client.once('close', () => reject(new Error('closed before CONNACK')));
    }),
    ms,
    `connect ${opts.clientId ?? ''}`,
  );
  return {
    client,
    connack,
    received,
    async waitFor(n, wait = 3000) {
      await waitUntil(() => received.length >= n, wait, `${n} messages (have ${received.length})`);
      return received;
    },
    async end() {
      // end(false) sends DISCONNECT 0x00 (a normal close); end(true) would only drop the socket.
      if (client.connected) {
        await withTimeout(client.endAsync(false), 2000, 'client end').catch(() => client.end(true));
      } else client.end(true);
    },
  };
}

/**
 * A packet-level MQTT client over a plain socket: writes any bytes, parses what the server sends
 * with mqtt-packet, and never acknowledges anything by itself (manual acks for window tests).
 */
export class RawClient {
  readonly packets: Packet[] = [];
  closed = false;
  private readonly parser;
  private readonly socket: net.Socket;
  private readonly waiters = new Set<() => void>();
  closedAt = 0;

  private constructor(socket: net.Socket, readonly protocolVersion: 3 | 4 | 5) {
    this.socket = socket;
    this.parser = mqttPacket.parser({ protocolVersion });
    this.parser.on('packet', (p: Packet) => {
      this.packets.push(p);
      this.wake();
    });
    this.parser.on('error', () => {});
    socket.on('data', (d: Buffer) => this.parser.parse(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.closedAt = Date.now();
      this.wake();
    });
  }

  static open(port: number, protocolVersion: 3 | 4 | 5 = 4, ms = 2000): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    return withTimeout(
      new Promise<RawClient>((resolve, reject) => {
        socket.once('connect', () => resolve(new RawClient(socket, protocolVersion)));
        socket.once('error', reject);
      }),
      ms,
      'raw socket connect',
    );
  }

  /** Opens a socket, sends CONNECT and waits for a successful CONNACK. */
  static async connect(port: number, connect: Partial<mqttPacket.IConnectPacket> & { protocolVersion?: 3 | 4 | 5 } = {}): Promise<RawClient> {
    const v = connect.protocolVersion ?? 4;
    const c = await RawClient.open(port, v);
    c.send({ cmd: 'connect', protocolId: v === 3 ? 'MQIsdp' : 'MQTT', clientId: uniqueId('raw'), clean: true, keepalive: 0, ...connect, protocolVersion: v });
    const ack = await c.next('connack');
    const code = (ack as mqttPacket.IConnackPacket).reasonCode ?? (ack as mqttPacket.IConnackPacket).returnCode ?? 0;
    if (code !== 0) throw new Error(`CONNACK refused: 0x${code.toString(16)}`);
    return c;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  send(p: Packet): void {
    this.socket.write(mqttPacket.generate(p, { protocolVersion: this.protocolVersion }));
  }

  write(bytes: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** Removes and returns the first packet of `cmd` (and matching `pred`), waiting up to `ms`. */
  async next<C extends Packet['cmd']>(cmd: C, ms = 2000, pred: (p: Extract<Packet, { cmd: C }>) => boolean = () => true): Promise<Extract<Packet, { cmd: C }>> {
    const find = (): Extract<Packet, { cmd: C }> | undefined => {
      const i = this.packets.findIndex((p) => p.cmd === cmd && pred(p as Extract<Packet, { cmd: C }>));
      if (i < 0) return undefined;
      return this.packets.splice(i, 1)[0] as Extract<Packet, { cmd: C }>;
    };
    const found = find();
    if (found) return found;
    return withTimeout(
      new Promise<Extract<Packet, { cmd: C }>>((resolve, reject) => {
        const w = (): void => {
          const f = find();
          if (f) {
            this.waiters.delete(w);
            resolve(f);
          } else if (this.closed) {
            this.waiters.delete(w);
            reject(new Error(`socket closed while waiting for ${cmd}; got ${this.packets.map((p) => p.cmd).join(',')}`));
          }
        };
        this.waiters.add(w);
      }),
      ms,
      `${cmd} packet`,
    ).finally(() => this.waiters.clear());
  }

  /** Waits until the server closes the socket. */
  async waitClosed(ms = 2000): Promise<void> {
    if (this.closed) return;
    await withTimeout(
      new Promise<void>((resolve) => {
        const w = (): void => {
          if (this.closed) {
            this.waiters.delete(w);
            resolve();
          }
        };
        this.waiters.add(w);
      }),
      ms,
      'server to close the connection',
    );
  }

  /** Publishes received so far (not yet taken by next()). */
  publishes(): mqttPacket.IPublishPacket[] {
    return this.packets.filter((p): p is mqttPacket.IPublishPacket => p.cmd === 'publish');
  }

  /** Takes all buffered PUBLISHes out of the packet list. */
  takePublishes(): mqttPacket.IPublishPacket[] {
    const out: mqttPacket.IPublishPacket[] = [];
    for (let i = this.packets.length - 1; i >= 0; i--) {
      if (this.packets[i]!.cmd === 'publish') out.unshift(this.packets.splice(i, 1)[0] as mqttPacket.IPublishPacket);
    }
    return out;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a mosquitto CLI tool (mosquitto_pub / mosquitto_sub) with a hard timeout (SIGKILL on expiry). */
export function runCli(bin: 'mosquitto_pub' | 'mosquitto_sub', args: string[], ms = 5000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(`/usr/bin/${bin}`, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${bin} ${args.join(' ')} timed out after ${ms} ms; stdout=${stdout} stderr=${stderr}`));
    }, ms);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The clients a suite opened, closed together in its after hook. */
export class ClientPool {
  readonly clients: TestClient[] = [];
  readonly raws: RawClient[] = [];

  async mqtt(url: string, opts: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> {
    const c = await connectClient(url, opts);
    this.clients.push(c);
    return c;
  }

  async closeAll(): Promise<void> {
    for (const c of this.clients.splice(0)) await c.end();
    for (const r of this.raws.splice(0)) r.destroy();
  }
}
