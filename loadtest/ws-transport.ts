// The byte stream the load generator speaks MQTT over: a TCP socket or a WebSocket (ws client) seen as a Duplex. Imports node builtins and ws.
//
// MQTT over WebSocket: every MQTT byte travels in binary frames, a frame may hold several packets or
// part of one [MQTT-6.0.0-1, MQTT-6.0.0-2], and the subprotocol is `mqtt` [MQTT-6.0.0-3]. The generator
// hands the stream one pre-encoded batch per write; WsStream sends each write as one binary message
// (one ws.send), without permessage-deflate, with TCP_NODELAY (ws sets it on the upgraded socket).
// Backpressure: write() returns false past HIGH_WATER bytes not yet handed to the kernel
// (ws.bufferedAmount), and 'drain' follows once ws's send callback reports them written. Reading:
// the messages ws parses out of one TCP read (emitted synchronously) are joined and push()ed as one
// chunk in a microtask, so a 'data' chunk is about one socket read, as over TCP (the subscriber's
// read delay pauses after small reads; per WebSocket message it would pause after every packet).
// A paused reader (push() false) pauses the WebSocket, which stops reading the TCP socket.
import net from 'node:net';
import { Duplex } from 'node:stream';
import { Buffer } from 'node:buffer';
import { WebSocket } from 'ws';

export type TransportName = 'tcp' | 'ws';
export const TRANSPORTS: readonly TransportName[] = ['tcp', 'ws'];

/** Carried next to a Workload (the worker reads it from workerData): how to reach the broker. */
export interface TransportOptions {
  transport: TransportName;
  /** ws://host:port/path when transport is 'ws'. */
  wsUrl: string | null;
}

const HIGH_WATER = 64 * 1024;

/** A WebSocket client as a Duplex of MQTT bytes: one ws.send per write(). */
export class WsStream extends Duplex {
  private readonly ws: WebSocket;
  private pending: Buffer[] = [];

  constructor(url: string) {
    super({ allowHalfOpen: false, decodeStrings: true });
    this.ws = new WebSocket(url, 'mqtt', { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
    this.ws.binaryType = 'nodebuffer';
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return this.destroy(new Error('text frame from broker')); // MQTT travels only in binary frames [MQTT-6.0.0-1]
      if (this.pending.push(data) === 1) queueMicrotask(this.flushPending);
    });
    this.ws.on('error', (e) => this.destroy(e));
    this.ws.on('close', () => { this.flushPending(); this.push(null); this.destroy(); });
  }

  private readonly flushPending = (): void => {
    const parts = this.pending;
    if (parts.length === 0) return;
    this.pending = [];
    if (!this.push(parts.length === 1 ? parts[0]! : Buffer.concat(parts))) this.ws.pause();
  };

  override _read(): void {
    if (this.ws.isPaused) this.ws.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.once('open', () => this._write(chunk, _enc, cb));
      return;
    }
    if (this.ws.readyState !== WebSocket.OPEN) return cb(new Error('WebSocket is not open'));
    // Below the high-water mark the write is done at once (so several sends are in flight);
    // above it, Writable waits for ws's "written to the socket" callback before the next write.
    if (this.ws.bufferedAmount + chunk.length <= HIGH_WATER) {
      this.ws.send(chunk, { binary: true });
      cb();
    } else {
      this.ws.send(chunk, { binary: true }, (e) => cb(e ?? null));
    }
  }

  override _final(cb: (e?: Error | null) => void): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    cb();
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
    cb(err);
  }
}

/** Opens the transport: a TCP socket with TCP_NODELAY, or a WsStream to t.wsUrl. */
export function openStream(host: string, port: number, t: Partial<TransportOptions>): Duplex {
  if (t.transport === 'ws') {
    if (typeof t.wsUrl !== 'string') throw new Error('transport ws needs a ws:// URL (this target serves no WebSocket)');
    return new WsStream(t.wsUrl);
  }
  const socket = net.connect({ host, port });
  socket.setNoDelay(true);
  return socket;
}

/** The workload with its transport attached (extra fields survive the trip through workerData). */
export function withTransport<W extends object>(w: W, t: TransportOptions): W & TransportOptions {
  return { ...w, ...t };
}
