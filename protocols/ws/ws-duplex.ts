// A Duplex over one server-side WebSocket whose writableLength is the real backlog, with a hard limit for slow consumers. Imports node:stream and ws types only.
//
// Why not ws.createWebSocketStream: it calls back each write as soon as ws.send queued it, so the Duplex
// reports ~0 buffered bytes while the frames pile up in the socket (ws.bufferedAmount); adapters that drop
// QoS 0 or wait for 'drain' when `writableLength` is high would never see a slow browser.
// Contract:
// - each write() is sent as one binary WebSocket message, in order, and a corked batch (writev) as one message;
// - a write is called back only when ws says its bytes reached the kernel (ws.send callback), so
//   `writableLength` counts every byte not yet written to the socket and 'drain' means the backlog is gone;
// - once `writableLength` exceeds maxBufferedBytes the WebSocket is closed with 1013 ("try again later":
//   slow consumer), the socket is terminated after a 1 s grace, onOverflow runs once and the Duplex is destroyed;
// - inbound messages are pushed as Buffers; when the reader is full the WebSocket is paused.
import { Duplex } from 'node:stream';
import type { WebSocket, RawData } from 'ws';

export interface WsDuplexOptions {
  maxBufferedBytes: number;
  /** Called once when the limit closed the WebSocket (log line, metric). */
  onOverflow?: (buffered: number) => void;
}

const OPEN = 1;
const CLOSE_GRACE_MS = 1000;

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class WsDuplex extends Duplex {
  remoteAddress?: string;
  /** The HTTP socket's local address and verified client-certificate CN (read by protocols/peer.ts). */
  localAddress?: string;
  certificateCN?: string;
  private overflowed = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly opts: WsDuplexOptions,
  ) {
    super({ allowHalfOpen: false });
    ws.on('message', (data: RawData) => {
      if (!this.push(toBuffer(data))) ws.pause();
    });
    ws.on('close', () => {
      this.push(null);
      this.destroy();
    });
    ws.on('error', (err: Error) => this.destroy(err));
    // Every write lands here first: the limit is checked on the full backlog, not only when _write runs.
    const write = this.write.bind(this) as (chunk: unknown, a?: unknown, b?: unknown) => boolean;
    this.write = ((chunk: unknown, a?: unknown, b?: unknown): boolean => {
      const ok = write(chunk, a, b);
      if (this.writableLength > this.opts.maxBufferedBytes) this.overflow();
      return ok;
    }) as Duplex['write'];
  }

  override _read(): void {
    this.ws.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.ws.readyState !== OPEN) return cb(new Error('websocket is not open'));
    this.ws.send(chunk, { binary: true }, (err) => cb(err ?? null));
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    if (this.ws.readyState !== OPEN) return cb(new Error('websocket is not open'));
    // One WebSocket message for the whole corked batch: MQTT packets need not align with frames
    // [MQTT-6.0.0-2], and STOMP clients parse frames as a stream; one send is one syscall instead of many.
    const data = chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk));
    this.ws.send(data, { binary: true }, (err) => cb(err ?? null));
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.ws.readyState === OPEN) this.ws.close(1000);
    cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    const ws = this.ws;
    if (ws.readyState === OPEN) ws.close(err ? 1011 : 1000);
    if (ws.readyState !== 3) setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    cb(err);
  }

  private overflow(): void {
    if (this.overflowed) return;
    this.overflowed = true;
    const buffered = this.writableLength;
    // 1013 Try Again Later: the server is shedding this consumer, not rejecting its data.
    if (this.ws.readyState === OPEN) this.ws.close(1013, 'slow consumer');
    this.opts.onOverflow?.(buffered);
    this.destroy();
  }
}
