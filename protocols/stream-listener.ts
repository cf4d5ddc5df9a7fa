// What every protocol listener shares: its connections, how each arrived, its TCP / TLS servers, and pausing reads under inbound backpressure. Imports ./tcp.ts and the backpressure type of src/core.
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { PendingWork } from '../src/core/backpressure.ts';
import { closeServer, listenTcp, listenTlsServer, reloadTls, type TlsFiles, type Transport } from './tcp.ts';

export type ByteStream = Duplex & { remoteAddress?: string };

export abstract class StreamListener<C extends object> {
  readonly connections = new Set<C>();
  /** Transport and accept time (epoch ms) per connection, for metrics, $SYS and the admin API. */
  readonly accepted = new WeakMap<C, { transport: Transport; at: number }>();
  private readonly servers: net.Server[] = [];
  private readonly tlsServers: net.Server[] = [];
  /** Every open connection's byte stream (TCP, TLS or WebSocket), paused together under backpressure. */
  private readonly streams = new Set<ByteStream>();
  private readingPaused = false;
  private unfollow: (() => void) | undefined;

  /** Builds the protocol connection; it calls `closed` once when it ends. */
  protected abstract create(stream: ByteStream, closed: (c: C) => void): C;

  /** Hands any byte stream (TCP, TLS, WebSocket) to a new connection. */
  accept(stream: ByteStream, transport: Transport = 'tcp'): C {
    const c = this.create(stream, (x) => {
      this.connections.delete(x);
      this.streams.delete(stream);
    });
    this.streams.add(stream);
    // A connection opened during a pause waits too (its CONNECT is read on resume): reconnecting must not dodge the bound.
    if (this.readingPaused) stream.pause();
    this.connections.add(c);
    this.accepted.set(c, { transport, at: Date.now() });
    return c;
  }

  /**
   * Inbound backpressure (src/core/backpressure.ts): while `pending` is paused, no connection's stream is
   * read. A paused TCP socket stops reading, so the client's writes stop at its full TCP window; a paused
   * WebSocket Duplex stops its WebSocket once its read buffer is full (protocols/ws/ws-duplex.ts). Every
   * connection is paused, not only publishers: the pause is meant to be short (the log writer catching
   * up), and it bounds what a reconnecting or new publisher can add. A pause longer than 1.5x a client's
   * keepalive lets the keepalive check close that client.
   */
  followBackpressure(pending: PendingWork): void {
    this.unfollow?.();
    this.unfollow = pending.onChange((paused) => this.setReading(!paused));
    if (pending.paused) this.setReading(false);
  }

  private setReading(on: boolean): void {
    if (this.readingPaused === !on) return;
    this.readingPaused = !on;
    for (const s of this.streams) {
      if (on) s.resume();
      else s.pause();
    }
  }

  async listen(port: number, host: string): Promise<number> {
    const bound = await listenTcp((socket) => this.accept(socket), port, host);
    this.servers.push(bound.server);
    return bound.port;
  }

  /** A second listener for the same protocol over TLS. */
  async listenTls(port: number, host: string, files: TlsFiles): Promise<number> {
    const bound = await listenTlsServer((socket) => this.accept(socket, 'tls'), port, host, files);
    this.servers.push(bound.server);
    this.tlsServers.push(bound.server);
    return bound.port;
  }

  /** New certificates / CA for the TLS listeners (SIGHUP); open connections are untouched. */
  reloadTls(files: TlsFiles): void {
    for (const s of this.tlsServers) reloadTls(s, files);
  }

  /** Stops accepting; resolves once every server's connections are gone. */
  protected closeServers(): Promise<void> {
    this.unfollow?.();
    this.unfollow = undefined;
    this.setReading(true);
    const servers = this.servers.splice(0);
    this.tlsServers.length = 0;
    return Promise.all(servers.map((s) => closeServer(s))).then(() => undefined);
  }
}
