// The I/O shell every protocol connection shares: reads in, corked writes out, write-buffer bookkeeping, timers, publish pacing, and closing / releasing exactly once. Imports src/core/errors.ts, src/core/limits.ts and ./error-code.ts only.
//
// Contract:
// - `data` chunks are counted (bytesIn), stamp `lastRead`, and go to `handlers.data`; whatever that throws
//   is mapped by ./error-code.ts and handed to `handlers.fail` (a GatewayError keeps its code; anything
//   else is one error line and IMPLEMENTATION_SPECIFIC). Nothing read from the socket throws out.
// - write(): never after the stream stopped being writable; corked for the rest of the tick so one read's
//   replies leave in one syscall; counted (bytesOut), stamps `lastWrite`.
// - destroy(): our side ends the stream (a FIN after whatever is queued), then a hard destroy after
//   LINGER_MS, then releases. A `close` of the stream (the peer, an error) releases too. Release runs
//   exactly once: timers made through timeout() / interval() are cleared, then `handlers.release` runs the
//   protocol's own detach work (broker, subscriptions, the listener's bookkeeping).
// - Write-buffer bookkeeping: `overWriteBuffer` (past maxWriteBuffer: at-most-once deliveries are dropped),
//   canWrite() / whenWritable() (under half of maxWriteBuffer, the level log and queue readers wait for).
// - Publish pacing (./../src/core/limits.ts PublishMeter): over the rate the stream is paused, never a
//   drop; units read meanwhile are deferred and handed back in order when the debt is paid.
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { ErrorCode } from '../src/core/errors.ts';
import { PublishMeter, type Guards } from '../src/core/limits.ts';
import { errorCodeOf } from './error-code.ts';

/** How long an ended stream may take to flush before it is destroyed. */
export const LINGER_MS = 1000;

export type ShellStream = Duplex & { remoteAddress?: string };

/** Byte counters the listener aggregates for metrics. */
export interface ByteCounters {
  bytesIn: number;
  bytesOut: number;
}

export interface ShellHandlers {
  /** One chunk read from the stream (already counted). */
  data(chunk: Buffer): void;
  /** A failure that must close the connection with the protocol's answer for `code`. */
  fail(code: ErrorCode, detail: string): void;
  /** The connection is over (our destroy or the stream's close): the protocol's detach work. Runs once. */
  release(): void;
}

export class ConnectionShell {
  /** Set by destroy() or the stream's close; nothing is written or read after. */
  closed = false;
  lastRead = Date.now();
  lastWrite = Date.now();
  private corked = false;
  private released = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly stream: ShellStream,
    /** `mqtt` or `stomp`: the prefix of this shell's log lines. */
    private readonly name: string,
    private readonly log: Logger,
    private readonly counters: ByteCounters,
    private readonly maxWriteBuffer: number,
    private readonly handlers: ShellHandlers,
    /** Identifying log fields (client id, session), read when a line is written. */
    private readonly logFields: () => Record<string, unknown>,
  ) {
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('error', (err: Error) => this.log.debug({ err: err.message, ...this.logFields() }, `${this.name} socket error`));
    stream.on('close', () => {
      this.closed = true;
      this.release();
    });
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastRead = Date.now();
    this.counters.bytesIn += chunk.length;
    this.run(() => this.handlers.data(chunk));
  }

  /** Runs `fn`; anything it throws closes this connection with the mapped code (never escapes). */
  run(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.failWith(err);
    }
  }

  /** Maps a thrown value to a code (./error-code.ts) and fails with it; an unexpected one is logged with its stack first. */
  failWith(err: unknown): void {
    const f = errorCodeOf(err);
    if (f.unexpected) this.log.error({ err, ...this.logFields() }, `${this.name} handler failed`);
    this.handlers.fail(f.code, f.detail);
  }

  /** Wraps a promise continuation so nothing it throws escapes as an unhandled rejection (closes this connection instead). */
  guarded<T>(fn: (v: T) => void): (v: T) => void {
    return (v: T) => this.run(() => fn(v));
  }

  /** The one log line of a connection closed on an error. */
  logFailure(code: ErrorCode, detail: string): void {
    this.log.warn({ ...this.logFields(), remote: this.stream.remoteAddress, code, detail }, `${this.name} connection closed on error`);
  }

  // ---- writes ----

  /** Writes are corked for the rest of the tick so one read's replies leave in one syscall. */
  write(buf: Buffer): void {
    if (!this.stream.writable) return;
    if (!this.corked) {
      this.corked = true;
      this.stream.cork();
      process.nextTick(() => {
        this.corked = false;
        this.stream.uncork();
      });
    }
    this.lastWrite = Date.now();
    this.counters.bytesOut += buf.length;
    this.stream.write(buf);
  }

  /** Past maxWriteBuffer: a slow reader; at-most-once deliveries are dropped (and counted by the caller). */
  get overWriteBuffer(): boolean {
    return this.stream.writableLength > this.maxWriteBuffer;
  }

  /** Open, and the outgoing buffer is under half of maxWriteBuffer. */
  canWrite(): boolean {
    return !this.closed && this.stream.writableLength <= this.maxWriteBuffer / 2;
  }

  /** undefined when canWrite() (or closed); else resolves once the buffer drains or the stream closes. */
  whenWritable(): Promise<void> | undefined {
    if (this.closed || this.stream.writableLength <= this.maxWriteBuffer / 2) return undefined;
    return new Promise((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('close', done);
    });
  }

  // ---- timers ----

  /** An unref'd timeout, cleared when the connection is released. */
  timeout(fn: () => void, ms: number): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
    return t;
  }

  /** An unref'd interval, cleared when the connection is released. */
  interval(fn: () => void, ms: number): NodeJS.Timeout {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.add(t);
    return t;
  }

  /** Stops a timer made here early. */
  clear(t: NodeJS.Timeout | undefined): void {
    if (!t) return;
    clearTimeout(t);
    this.timers.delete(t);
  }

  get timerCount(): number {
    return this.timers.size;
  }

  // ---- closing ----

  /** Ends the stream (queued writes still go), destroys it after LINGER_MS, releases. False if already closed. */
  destroy(): boolean {
    if (this.closed) return false;
    this.closed = true;
    this.stream.end();
    setTimeout(() => this.stream.destroy(), LINGER_MS).unref();
    this.release();
    return true;
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.handlers.release();
  }
}

/**
 * Inbound publish pacing for one connection: charge() each publish; over the configured rate the stream is
 * paused (never a drop) until the debt is paid. Units (packets, frames) read while paused are deferred and
 * handed to `resume` in order, which may pace again (the rest then waits for the next resume).
 */
export class Pacer<T> {
  private meter: PublishMeter | undefined;
  private paused = false;
  /** Units read after the rate paused us (at most one read's worth). */
  deferred: T[] | undefined;

  constructor(
    private readonly shell: ConnectionShell,
    private readonly guards: Guards | undefined,
    /** Handles one deferred unit; returns false when the connection closed and the rest are dropped. */
    private readonly handle: (unit: T) => boolean,
    /** Called when reading resumes (e.g. to restart keepalive accounting). */
    private readonly onResume: () => void,
  ) {}

  /** True while units must be deferred. */
  get holding(): boolean {
    return this.deferred !== undefined;
  }

  /** Charges one publish of `bytes` payload bytes to the rate limit. */
  charge(bytes: number): void {
    const limits = this.guards?.client;
    if (!this.meter) {
      if (!PublishMeter.wanted(limits)) return;
      this.meter = new PublishMeter(limits!, Date.now());
    }
    const wait = this.meter.charge(bytes, Date.now());
    if (wait <= 0 || this.paused) return;
    this.paused = true;
    this.deferred = [];
    this.guards!.counters.ratePauses++;
    this.guards!.counters.refused('publish-rate');
    this.shell.stream.pause();
    this.shell.timeout(() => this.unpause(), wait);
  }

  /** The rate debt is paid: handle what was read meanwhile, in order (pacing again if needed), then read on. */
  private unpause(): void {
    this.paused = false;
    this.onResume();
    const q = this.deferred ?? [];
    this.deferred = undefined;
    this.shell.run(() => {
      for (const u of q) if (!this.handle(u)) break; // once paced again, the rest lands in the new `deferred`
    });
    if (!this.paused && !this.shell.closed) this.shell.stream.resume();
  }
}
