// Test helper: a raw STOMP client over net.Socket for exact frame checks, a typed stompit wrapper, and a gateway + StompListener fixture. Imports node:net, the stomp codec/listener, stompit and the gateway helper.
import net from 'node:net';
import { createRequire } from 'node:module';
import pino from 'pino';
import { encodeFrame, header, type StompFrame, type StompVersion } from '../../protocols/stomp/frame.ts';
import { StompParser } from '../../protocols/stomp/parser.ts';
import { StompListener } from '../../protocols/stomp/listener.ts';
import type { StompOptions } from '../../protocols/stomp/options.ts';
import { stompOptions } from '../../src/server/protocol-options.ts';
import { startGateway, type TestGateway } from './gateway.ts';

export { header };

/** A gateway (for its broker and MQTT port) plus a StompListener on port 0 against its broker. */
export interface StompFixture {
  tg: TestGateway;
  stomp: StompListener;
  port: number;
  close(): Promise<void>;
}

export async function startStomp(over: Parameters<typeof stompOptions>[0] = {}): Promise<StompFixture> {
  const tg = await startGateway();
  const log = pino({ level: process.env.GATEWAY_TEST_LOG ?? 'silent' });
  const opts: StompOptions = stompOptions(over);
  const stomp = new StompListener(tg.gateway.broker, opts, log);
  const port = await stomp.listen(0, '127.0.0.1');
  return {
    tg,
    stomp,
    port,
    async close() {
      await stomp.close();
      await tg.close();
    },
  };
}

/** A raw client: write frames, read frames in order, with bounded waits. */
export class RawStomp {
  readonly frames: StompFrame[] = [];
  heartbeats = 0;
  closed = false;
  private readonly parser = new StompParser({ maxFrameBytes: 1 << 24, maxHeaders: 1000, maxHeaderBytes: 1 << 16, maxBodyBytes: 1 << 24 });
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.parser.push(Buffer.from(c), (f) => this.frames.push({ ...f, body: Buffer.from(f.body) }), () => this.heartbeats++);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<RawStomp> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawStomp(s)));
      s.once('error', reject);
    });
  }

  /** Connects with accept-version 1.2 (unless given) and waits for CONNECTED. */
  static async connect(port: number, headers: Record<string, string> = {}, command = 'CONNECT'): Promise<RawStomp> {
    const c = await RawStomp.open(port);
    c.send(command, { 'accept-version': '1.2', host: 'localhost', ...headers });
    const f = await c.next();
    if (f.command !== 'CONNECTED') throw new Error(`expected CONNECTED, got ${f.command}: ${f.body.toString()}`);
    const v = header(f, 'version') as StompVersion | undefined;
    c.version = v ?? '1.0';
    c.parser.setVersion(c.version);
    return c;
  }

  version: StompVersion = '1.0';

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(command: string, headers: Record<string, string> | [string, string][] = {}, body: string | Buffer = ''): void {
    const h = Array.isArray(headers) ? headers : Object.entries(headers);
    this.socket.write(encodeFrame({ command, headers: h, body: typeof body === 'string' ? Buffer.from(body) : body }, this.version));
  }

  writeRaw(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** Waits until `pred` holds, bounded by `ms`. */
  async until(pred: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
    const end = Date.now() + ms;
    while (!pred()) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The next unread frame (optionally of one command), bounded by `ms`. */
  private read = 0;
  async next(command?: string, ms = 3000): Promise<StompFrame> {
    await this.until(() => this.frames.length > this.read || this.closed, ms, `a ${command ?? 'frame'}`);
    const f = this.frames[this.read];
    if (!f) throw new Error(`connection closed before a ${command ?? 'frame'}`);
    this.read++;
    if (command && f.command !== command) throw new Error(`expected ${command}, got ${f.command} ${JSON.stringify(f.headers)} ${f.body.toString()}`);
    return f;
  }

  /** Sends `command` with a receipt and waits for that RECEIPT. */
  async withReceipt(command: string, headers: Record<string, string>, body = ''): Promise<void> {
    const id = `r-${Math.random().toString(36).slice(2)}`;
    this.send(command, { ...headers, receipt: id }, body);
    const f = await this.next('RECEIPT');
    if (header(f, 'receipt-id') !== id) throw new Error(`receipt-id ${header(f, 'receipt-id')} != ${id}`);
  }

  /** Reads frames until none arrives for `quietMs` (bounded by `max` frames). */
  async drain(quietMs = 150, max = 100_000): Promise<StompFrame[]> {
    const out: StompFrame[] = [];
    for (let i = 0; i < max; i++) {
      try {
        out.push(await this.next(undefined, quietMs));
      } catch {
        break;
      }
    }
    return out;
  }

  async waitClosed(ms = 3000): Promise<void> {
    await this.until(() => this.closed, ms, 'close');
  }

  close(): void {
    this.socket.destroy();
  }
}

// ---- stompit, typed at the boundary ----

export interface StompitMessage {
  headers: Record<string, string>;
  readString(encoding: string, cb: (err: Error | null, body?: string) => void): void;
}
export interface StompitWritable {
  write(body: string): void;
  end(): void;
}
export interface StompitClient {
  subscribe(headers: Record<string, string>, onMessage: (err: Error | null, msg: StompitMessage) => void): unknown;
  send(headers: Record<string, string>, options?: { onReceipt?: () => void }): StompitWritable;
  ack(msg: StompitMessage): void;
  nack(msg: StompitMessage): void;
  disconnect(cb?: (err?: Error) => void): void;
  destroy(err?: Error): void;
  on(event: 'error', cb: (err: Error) => void): void;
}
interface StompitModule {
  connect(opts: { host: string; port: number; connectHeaders: Record<string, string> }, cb: (err: Error | null, client: StompitClient) => void): void;
}
const stompit = createRequire(import.meta.url)('stompit') as StompitModule;

export function stompitConnect(port: number, headers: Record<string, string> = {}): Promise<StompitClient> {
  return new Promise((resolve, reject) => {
    stompit.connect(
      { host: '127.0.0.1', port, connectHeaders: { host: 'localhost', 'accept-version': '1.2', 'heart-beat': '0,0', ...headers } },
      (err, client) => {
        if (err) return reject(err);
        client.on('error', () => undefined);
        resolve(client);
      },
    );
  });
}

export function readBody(msg: StompitMessage): Promise<string> {
  return new Promise((resolve, reject) => msg.readString('utf-8', (err, body) => (err ? reject(err) : resolve(body ?? ''))));
}

/** Bounded wait for a condition polled every 10 ms. */
export async function waitFor(pred: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
