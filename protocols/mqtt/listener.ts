// MQTT over TCP: accepts sockets, builds one MqttConnection each, sweeps timeouts once a second. Imports ../tcp.ts, the broker type and the connection.
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Broker } from '../../src/core/broker.ts';
import { MqttConnection, type ConnectionCounters } from './connection.ts';
import type { MqttOptions } from './options.ts';
import { closeServer, listenTcp, listenTlsServer, type TlsFiles, type Transport } from '../tcp.ts';

export class MqttListener {
  readonly connections = new Set<MqttConnection>();
  readonly counters: ConnectionCounters = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, slowConsumerDrops: 0 };
  private server: net.Server | undefined;
  private tlsServer: net.Server | undefined;
  private sweep: NodeJS.Timeout | undefined;

  constructor(
    private readonly broker: Broker,
    private readonly opts: MqttOptions,
    private readonly log: Logger,
  ) {}

  /** Transport and accept time (epoch ms) per connection, for metrics, $SYS and the admin API. */
  readonly accepted = new WeakMap<MqttConnection, { transport: Transport; at: number }>();

  /** Hands any byte stream (TCP, TLS, WebSocket) to a new MQTT connection. */
  accept(stream: Duplex & { remoteAddress?: string }, transport: Transport = 'tcp'): MqttConnection {
    const c = new MqttConnection(stream, this.broker, this.opts, this.log, this.counters, (x) => this.connections.delete(x));
    this.connections.add(c);
    this.accepted.set(c, { transport, at: Date.now() });
    if (!this.sweep) {
      this.sweep = setInterval(() => {
        const now = Date.now();
        for (const conn of this.connections) conn.tick(now);
      }, 1000);
      this.sweep.unref();
    }
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

  /** Stops accepting; open connections are closed by the broker's shutdown. */
  async close(): Promise<void> {
    if (this.sweep) clearInterval(this.sweep);
    await Promise.all([closeServer(this.server), closeServer(this.tlsServer)]);
  }
}
