// Test helper: runs the gateway CLI as a real child process (spawn, wait for its port, SIGKILL or SIGTERM, restart on the same data dir). Imports node builtins only.
//
// Contract: the CLI prints pino JSON lines on stdout; `{"msg":"state recovered",...}` comes before
// `{"msg":"listening","protocol":"mqtt","port":N}`, which gives the port. Every wait here is bounded;
// `GatewayProcess.dispose()` kills whatever is still running and removes the temp dir, so call it
// from a finally/after hook.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CLI = join(ROOT, 'src', 'server', 'cli.ts');

export type FlushMode = 'always' | 'interval' | 'never';

export interface ProcessOptions {
  flush: FlushMode;
  flushIntervalMs?: number;
  /** Extra config keys merged over the generated file (e.g. { sessions: { maxQueued: 100 } }). */
  extra?: Record<string, unknown>;
  /** Milliseconds to wait for the `listening` line. */
  startTimeoutMs?: number;
}

/** What one run of the process logged about recovery. */
export interface Recovered {
  retained: number;
  sessions: number;
  replayed: number;
}

export interface RunningGateway {
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  readonly recovered: Recovered;
  /** Every stdout/stderr line so far (for failure messages). */
  readonly lines: string[];
  readonly child: ChildProcess;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** One data dir, at most one gateway process on it at a time. */
export class GatewayProcess {
  readonly root: string;
  readonly dataDir: string;
  readonly configFile: string;
  current: RunningGateway | undefined;
  /** How many times a process was started on this data dir. */
  starts = 0;

  constructor(readonly opts: ProcessOptions) {
    this.root = mkdtempSync(join(tmpdir(), 'gw-proc-'));
    this.dataDir = join(this.root, 'data');
    this.configFile = join(this.root, 'gateway.json');
    const config: Record<string, unknown> = {
      mqtt: { host: '127.0.0.1', port: 0 },
      stomp: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      persistence: { flush: opts.flush, flushIntervalMs: opts.flushIntervalMs ?? 10 },
    };
    for (const [k, v] of Object.entries(opts.extra ?? {})) {
      config[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(config[k] as object | undefined), ...v } : v;
    }
    writeFileSync(this.configFile, JSON.stringify(config));
  }

  /** Spawns the CLI on this data dir and resolves once it prints its MQTT port. */
  async start(): Promise<RunningGateway> {
    if (this.current && this.current.child.exitCode === null && this.current.child.signalCode === null) {
      throw new Error('gateway process already running');
    }
    this.starts++;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CLI, '--mqtt-port', '0', '--data-dir', this.dataDir, '--log-level', 'info', '--config', this.configFile],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines: string[] = [];
    let recovered: Recovered | undefined;
    const port = withTimeout(
      new Promise<number>((resolvePort, reject) => {
        let buf = '';
        child.stdout!.setEncoding('utf8');
        child.stdout!.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (lines.length < 10_000) lines.push(line);
            let rec: Record<string, unknown>;
            try {
              rec = JSON.parse(line) as Record<string, unknown>;
            } catch {
              continue;
            }
            if (rec.msg === 'state recovered') {
              recovered = { retained: Number(rec.retained), sessions: Number(rec.sessions), replayed: Number(rec.replayed) };
            } else if (rec.msg === 'listening' && rec.protocol === 'mqtt' && typeof rec.port === 'number') {
              resolvePort(rec.port);
            }
          }
        });
        child.stderr!.setEncoding('utf8');
        child.stderr!.on('data', (chunk: string) => {
          if (lines.length < 10_000) lines.push(`stderr: ${chunk.trimEnd()}`);
        });
        child.once('error', reject);
        child.once('exit', (code, signal) => reject(new Error(`gateway exited before listening (code ${code}, signal ${signal}):\n${lines.join('\n')}`)));
      }),
      this.opts.startTimeoutMs ?? 15_000,
      'gateway process to print its port',
    );
    const running: RunningGateway = {
      pid: child.pid!,
      port: 0,
      url: '',
      recovered: { retained: 0, sessions: 0, replayed: 0 },
      lines,
      child,
    };
    this.current = running;
    const p = await port.catch((err: unknown) => {
      child.kill('SIGKILL');
      throw err;
    });
    const done: RunningGateway = { ...running, port: p, url: `mqtt://127.0.0.1:${p}`, recovered: recovered ?? running.recovered };
    this.current = done;
    return done;
  }

  private waitExit(child: ChildProcess, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
    return withTimeout(
      new Promise((r) => child.once('exit', (code, signal) => r({ code, signal }))),
      ms,
      `gateway pid ${child.pid} to exit`,
    );
  }

  /** kill -9: no shutdown code runs, unflushed writes in the process are lost. */
  async kill9(): Promise<void> {
    const cur = this.current;
    if (!cur) return;
    cur.child.kill('SIGKILL');
    await this.waitExit(cur.child, 5000);
  }

  /** Graceful stop (SIGTERM); resolves with the exit code, falls back to SIGKILL after `ms`. */
  async terminate(ms = 5000): Promise<number | null> {
    const cur = this.current;
    if (!cur) return null;
    cur.child.kill('SIGTERM');
    try {
      return (await this.waitExit(cur.child, ms)).code;
    } catch (err) {
      cur.child.kill('SIGKILL');
      await this.waitExit(cur.child, 5000);
      throw err;
    }
  }

  /** Stops the running process (`kill9` or SIGTERM) and starts a new one on the same data dir. */
  async restart(how: 'kill9' | 'term'): Promise<RunningGateway> {
    if (how === 'kill9') await this.kill9();
    else await this.terminate();
    return this.start();
  }

  /** Kills any running process and removes the temp dir; safe to call twice. */
  async dispose(): Promise<void> {
    const cur = this.current;
    if (cur && cur.child.exitCode === null && cur.child.signalCode === null) {
      cur.child.kill('SIGKILL');
      await this.waitExit(cur.child, 5000).catch(() => undefined);
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** The STOMP port from a running process's `{"msg":"listening","protocol":"stomp","port":N}` line (bounded wait). */
export async function stompPort(run: RunningGateway, ms = 10_000): Promise<number> {
  const end = Date.now() + ms;
  for (;;) {
    for (const line of run.lines) {
      if (!line.includes('"listening"') || !line.includes('"stomp"')) continue;
      const rec = JSON.parse(line) as { msg?: string; protocol?: string; port?: number };
      if (rec.msg === 'listening' && rec.protocol === 'stomp' && typeof rec.port === 'number') return rec.port;
    }
    if (Date.now() > end) throw new Error(`no stomp listening line:\n${run.lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
