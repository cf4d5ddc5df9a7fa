// Group-commit write queue: batches items queued in the same tick into one write, applies the flush policy, keeps a sticky error. Imports ./types.ts only.
//
// Concurrency contract: exactly one batch write, sync or exclusive task runs at a time, in queue order
// (pending items are written before a task queued after them). Once a write, sync or sticky task fails,
// the error is remembered: that batch, every queued item/task and every later call reject with the same error.
import type { FlushPolicy } from './types.ts';

export interface QueueSink<T> {
  /** Writes the items (in order) to the OS. */
  writeBatch(items: T[]): Promise<void>;
  /** fsyncs everything written so far. */
  sync(): Promise<void>;
}

/** Called once per item: without an error when the item is durable under the policy, with the error otherwise. */
export type Done = (err?: Error) => void;
interface Task { fn(): Promise<void>; sticky: boolean; resolve(): void; reject(e: Error): void }

export class WriteQueue<T> {
  private pending: T[] = [];
  private waiters: Done[] = [];
  private tasks: Task[] = [];
  private running = false;
  private scheduled = false;
  private closedError: Error | undefined;
  /** Written to the OS but not fsynced yet. */
  dirty = false;
  error: Error | undefined;

  constructor(private readonly sink: QueueSink<T>, private readonly policy: FlushPolicy) {}

  /** Resolves when the item is durable under the policy. */
  enqueue(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => this.push(item, (err) => (err ? reject(err) : resolve())));
  }

  /** Queues an item; done is called exactly once (synchronously with an error if the queue is failed or closed). */
  push(item: T, done: Done): void {
    const bad = this.error ?? this.closedError;
    if (bad) { done(bad); return; }
    this.pending.push(item);
    this.waiters.push(done);
    this.kick();
  }

  /** Runs fn exclusively after everything queued before it. sticky: a failure poisons the queue (I/O on the data file). */
  run(fn: () => Promise<void>, sticky = true): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    return new Promise<void>((resolve, reject) => {
      this.tasks.push({ fn, sticky, resolve, reject });
      this.kick();
    });
  }

  /** fsync if anything was written since the last one. */
  syncIfDirty(): Promise<void> {
    return this.run(async () => { if (this.dirty) { this.dirty = false; await this.sink.sync(); } });
  }

  /** Later enqueue calls reject with err (queued work still completes). */
  refuse(err: Error): void { this.closedError = err; }

  private kick(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => { this.scheduled = false; void this.pump(); });
  }

  private fail(e: unknown): Error {
    this.error ??= e instanceof Error ? e : new Error(String(e));
    return this.error;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.error && (this.pending.length > 0 || this.tasks.length > 0)) {
        if (this.pending.length > 0) {
          const items = this.pending;
          const waiters = this.waiters;
          this.pending = [];
          this.waiters = [];
          try {
            await this.sink.writeBatch(items);
            this.dirty = true;
            if (this.policy.mode === 'always') { this.dirty = false; await this.sink.sync(); }
          } catch (e) {
            const err = this.fail(e);
            for (const w of waiters) w(err);
            break;
          }
          for (const w of waiters) w();
        } else {
          const task = this.tasks.shift()!;
          try { await task.fn(); task.resolve(); } catch (e) {
            if (task.sticky) { task.reject(this.fail(e)); break; }
            task.reject(e instanceof Error ? e : new Error(String(e)));
          }
        }
      }
      if (this.error) {
        const err = this.error;
        for (const w of this.waiters) w(err);
        for (const t of this.tasks) t.reject(err);
        this.pending = []; this.waiters = []; this.tasks = [];
      }
    } finally {
      this.running = false;
    }
  }
}
