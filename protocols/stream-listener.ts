// What every protocol listener shares: its connections, how each arrived, admission (connection limits), its TCP / TLS servers, and pausing reads under inbound backpressure. Imports ./tcp.ts and core limits/errors/backpressure types only.
//
// Admission contract: every stream handed to accept() (TCP, TLS, WebSocket) is checked against the gateway's
// ConnectionAdmission (total, per source address, per-address rate). An admitted connection is released exactly once,
// when it closes. A refused one is not added to `connections`: the protocol answers it with its own refusal (MQTT: a
// CONNACK 0x97 / 0x9F once the CONNECT shows the version; STOMP: an ERROR frame) and it is destroyed after
// REFUSAL_LINGER_MS at the latest; at most MAX_REFUSING such connections per listener linger, others are cut at once.
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../src/core/errors.ts';
import type { Guards, LimitName } from '../src/core/limits.ts';
import type { PendingWork } from '../src/core/backpressure.ts';
import { closeServer, listenTcp, listenTlsServer, reloadTls, type TlsFiles, type Transport } from './tcp.ts';

export type ByteStream = Duplex & { remoteAddress?: string };

const REFUSAL_LINGER_MS = 2000;
const MAX_REFUSING = 256;

/** The error a refused connection is told about. */
export function refusalCode(limit: LimitName): ErrorCode {
  return limit === 'connection-rate' ? 'CONNECTION_RATE_EXCEEDED' : 'QUOTA_EXCEEDED';
}

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
  /** Set by the subclass from its options; absent = no limits (unit tests). */
  protected guards: Guards | undefined;
  /** `mqtt` or `stomp`: the label of this listener's timeouts in /metrics. */
  protected abstract readonly name: string;
  private refusing = 0;

  /** Builds the protocol connection; it calls `closed` once when it ends. */
  protected abstract create(stream: ByteStream, closed: (c: C) => void): C;

  /** Makes a refused connection answer with the protocol's refusal and close. */
  protected abstract refuse(c: C, code: ErrorCode, detail: string): void;

  /** Hands any byte stream (TCP, TLS, WebSocket) to a new connection; undefined when it was cut at once. */
  accept(stream: ByteStream, transport: Transport = 'tcp'): C | undefined {
    const address = stream.remoteAddress;
    const refused = this.guards?.admission.admit(address, Date.now());
    if (refused) {
      if (this.refusing >= MAX_REFUSING) {
        stream.destroy();
        return undefined;
      }
      this.refusing++;
      const timer = setTimeout(() => stream.destroy(), REFUSAL_LINGER_MS);
      timer.unref();
      const c = this.create(stream, () => {
        this.refusing--;
        clearTimeout(timer);
      });
      this.refuse(c, refusalCode(refused), `${refused} limit reached for ${address ?? 'unknown address'}`);
      return c;
    }
    let released = false;
    const c = this.create(stream, (x) => {
      this.connections.delete(x);
      this.streams.delete(stream);
      if (!released) {
        released = true;
        this.guards?.admission.release(address);
      }
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
    this.limitServer(bound.server);
    this.servers.push(bound.server);
    return bound.port;
  }

  /** A second listener for the same protocol over TLS; a handshake that does not finish in time is cut and counted. */
  async listenTls(port: number, host: string, files: TlsFiles, handshakeTimeoutMs = 10_000): Promise<number> {
    const bound = await listenTlsServer((socket) => this.accept(socket, 'tls'), port, host, files, {
      handshakeTimeoutMs,
      onHandshakeTimeout: () => this.guards?.counters.timedOut(this.name, 'tls-handshake'),
    });
    this.limitServer(bound.server);
    this.servers.push(bound.server);
    this.tlsServers.push(bound.server);
    return bound.port;
  }

  /** New certificates / CA for the TLS listeners (SIGHUP); open connections are untouched. */
  reloadTls(files: TlsFiles): void {
    for (const s of this.tlsServers) reloadTls(s, files);
  }

  /** The kernel-level backstop: a server never holds more sockets than the total connection limit (plus refusals). */
  private limitServer(server: net.Server): void {
    const max = this.guards?.admission.limits.maxConnections ?? 0;
    if (max > 0) server.maxConnections = max + MAX_REFUSING;
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
