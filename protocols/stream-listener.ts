// What every protocol listener shares: its connections, how each arrived, and its TCP / TLS servers. Imports ./tcp.ts only.
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { closeServer, listenTcp, listenTlsServer, reloadTls, type TlsFiles, type Transport } from './tcp.ts';

export type ByteStream = Duplex & { remoteAddress?: string };

export abstract class StreamListener<C extends object> {
  readonly connections = new Set<C>();
  /** Transport and accept time (epoch ms) per connection, for metrics, $SYS and the admin API. */
  readonly accepted = new WeakMap<C, { transport: Transport; at: number }>();
  private readonly servers: net.Server[] = [];
  private readonly tlsServers: net.Server[] = [];

  /** Builds the protocol connection; it calls `closed` once when it ends. */
  protected abstract create(stream: ByteStream, closed: (c: C) => void): C;

  /** Hands any byte stream (TCP, TLS, WebSocket) to a new connection. */
  accept(stream: ByteStream, transport: Transport = 'tcp'): C {
    const c = this.create(stream, (x) => this.connections.delete(x));
    this.connections.add(c);
    this.accepted.set(c, { transport, at: Date.now() });
    return c;
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
    const servers = this.servers.splice(0);
    this.tlsServers.length = 0;
    return Promise.all(servers.map((s) => closeServer(s))).then(() => undefined);
  }
}
