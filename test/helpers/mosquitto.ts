// Test helper: runs Debian's Mosquitto (/usr/sbin/mosquitto) on a free loopback port with a generated config, stops and restarts it on the same port and persistence dir. Imports node builtins and scripts/free-port.ts.
//
// Config written: `listener <port> 127.0.0.1`, `allow_anonymous true`, persistence in the temp dir (so a
// persistent subscriber survives a restart), generous queues, plus any extra lines (e.g. a `connection` block).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { freePort } from '../../scripts/free-port.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export { freePort };

export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ port, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export class Mosquitto {
  readonly dir: string;
  readonly configFile: string;
  private child: ChildProcess | undefined;
  private output: string[] = [];

  private constructor(
    readonly port: number,
    extra: readonly string[],
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'mosq-'));
    this.configFile = join(this.dir, 'mosquitto.conf');
    const lines = [
      'user root', // run as whoever starts it (the tests run as root in CI containers; mosquitto would switch to user mosquitto)
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${this.dir}/`,
      'autosave_interval 0',
      'max_queued_messages 200000',
      'max_inflight_messages 100',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      ...extra,
    ];
    writeFileSync(this.configFile, `${lines.join('\n')}\n`);
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Writes the config and starts Mosquitto; resolves once its port accepts connections. */
  static async start(extra: readonly string[] = [], port?: number): Promise<Mosquitto> {
    const m = new Mosquitto(port ?? (await freePort()), extra);
    await m.start();
    return m;
  }

  /** A Mosquitto whose config is written but which is not running yet (start() it later). */
  static async prepare(extra: readonly string[] = [], port?: number): Promise<Mosquitto> {
    return new Mosquitto(port ?? (await freePort()), extra);
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(ms = 10_000): Promise<void> {
    if (this.running) throw new Error('mosquitto already running');
    const child = spawn(MOSQUITTO_BIN, ['-c', this.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      if (this.output.length < 1000) this.output.push(d.trimEnd());
    });
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (!this.running) throw new Error(`mosquitto exited at start (code ${child.exitCode}):\n${this.output.join('\n')}`);
      if (await canConnect(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    throw new Error(`mosquitto did not listen on ${this.port} within ${ms} ms:\n${this.output.join('\n')}`);
  }

  /** SIGTERM (Mosquitto saves its persistence file), waits for the exit (SIGKILL after `ms`). */
  async stop(ms = 10_000): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), ms);
    await exited;
    clearTimeout(t);
  }

  /** Stops it and removes the temp dir; safe to call twice. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  get log(): string {
    return this.output.join('\n');
  }
}
