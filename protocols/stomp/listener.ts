// STOMP over TCP: accepts sockets (or any Duplex, e.g. a WebSocket stream) and builds one StompConnection each; owns the listener's queues. Imports ../tcp.ts, the broker type and sibling stomp files.
import type net from 'node:net';
import { closeServer, listenTcp, listenTlsServer, type TlsFiles, type Transport } from '../tcp.ts';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Broker } from '../../src/core/broker.ts';
import { StompConnection, type StompCounters } from './connection.ts';
import type { StompOptions } from './options.ts';
import { QueueRegistry } from './queues.ts';

export class StompListener {
  readonly connections = new Set<StompConnection>();
  readonly counters: StompCounters = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, slowConsumerDrops: 0, errors: 0 };
  readonly queues: QueueRegistry;
  private server: net.Server | undefined;
  private tlsServer: net.Server | undefined;

  constructor(
    private readonly broker: Broker,
    private readonly opts: StompOptions,
    private readonly log: Logger,
  ) {
    this.queues = new QueueRegistry(broker, opts, log);
    for (const name of opts.queues) this.queues.get(name);
    // Queues that existed before a restart come back bound to their restored sessions.
    this.queues.attachRestored();
  }

  /** Transport and accept time (epoch ms) per connection, for metrics, $SYS and the admin API. */
  readonly accepted = new WeakMap<StompConnection, { transport: Transport; at: number }>();

  /** Hands any byte stream (TCP, TLS, WebSocket) to a new STOMP connection. */
  accept(stream: Duplex & { remoteAddress?: string }, transport: Transport = 'tcp'): StompConnection {
    const c = new StompConnection(stream, this.broker, this.queues, this.opts, this.log, this.counters, (x) => this.connections.delete(x));
    this.connections.add(c);
    this.accepted.set(c, { transport, at: Date.now() });
    return c;
  }

  async listen(port: number, host: string): Promise<number> {
    const bound = await listenTcp((socket) => this.accept(socket), port, host);
    this.server = bound.server;
    return bound.port;
  }

  /** A second listener for the same protocol over TLS. */
  async listenTls(port: number, host: string, files: TlsFiles): Promise<number> {
    const bound = await listenTlsServer((socket) => this.accept(socket, 'tls'), port, host, files);
    this.tlsServer = bound.server;
    return bound.port;
  }

  /** Stops accepting and closes this listener's connections with "server shutting down". */
  async close(): Promise<void> {
    for (const c of [...this.connections]) c.close('SERVER_SHUTTING_DOWN');
    const servers = [this.server, this.tlsServer];
    this.server = this.tlsServer = undefined;
    await Promise.all(servers.map((s) => closeServer(s)));
  }
}
