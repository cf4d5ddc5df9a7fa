// Inbound backpressure: counts the bytes of publishes accepted but not yet durable and routed, and says when reading from clients must pause and may resume. Imports nothing.
//
// Contract:
// - the publish path calls add(msg) once when it hands a message to the log and done(size) exactly once
//   when that append settled (routed, or failed); `bytes` is then what sits in the gateway's memory waiting
//   for the log writer (payload + topic bytes; Message headers are not counted);
// - once `bytes` exceeds `highWater` the state turns paused (counted in `pauses`) and every onChange
//   listener hears `true`; it turns back once `bytes` is at or below `lowWater` (`false`). Listeners are the
//   protocol listeners: they stop and restart reading from their sockets, so a publisher that never stops
//   is held by TCP flow control instead of growing the heap. What was already read when the pause began
//   (at most one socket read per connection) still goes through, so `bytes` can pass highWater by that much;
// - highWater 0 turns it off (add/done still count, nothing ever pauses).
import type { Message } from './message.ts';

export type PauseListener = (paused: boolean) => void;

export class PendingWork {
  /** Bytes accepted and not yet settled in the log. */
  bytes = 0;
  /** Messages accepted and not yet settled in the log. */
  messages = 0;
  /** Largest `bytes` seen. */
  peakBytes = 0;
  paused = false;
  /** Times reading was paused. */
  pauses = 0;
  /** Epoch ms the current pause began (0 while reading). */
  pausedAt = 0;
  /** Milliseconds spent paused, summed over finished pauses. */
  pausedMs = 0;
  private readonly listeners = new Set<PauseListener>();

  constructor(
    readonly highWater: number,
    readonly lowWater: number = Math.floor(highWater / 2),
  ) {}

  /** Registers a listener; returns its removal. */
  onChange(fn: PauseListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** A message was handed to the log: returns the size to pass to done(). */
  add(msg: Message): number {
    const size = msg.payload.length + msg.topic.length;
    this.bytes += size;
    this.messages++;
    if (this.bytes > this.peakBytes) this.peakBytes = this.bytes;
    if (!this.paused && this.highWater > 0 && this.bytes > this.highWater) this.set(true);
    return size;
  }

  /** The append of a message of `size` settled (durable and routed, or failed). */
  done(size: number): void {
    this.bytes -= size;
    this.messages--;
    if (this.paused && this.bytes <= this.lowWater) this.set(false);
  }

  private set(paused: boolean): void {
    this.paused = paused;
    const now = Date.now();
    if (paused) {
      this.pauses++;
      this.pausedAt = now;
    } else {
      this.pausedMs += now - this.pausedAt;
      this.pausedAt = 0;
    }
    for (const fn of this.listeners) fn(paused);
  }
}
