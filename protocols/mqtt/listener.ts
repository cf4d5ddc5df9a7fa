// MQTT over TCP and TLS: builds one MqttConnection per stream and sweeps timeouts once a second. Imports ../stream-listener.ts, the broker type and the connection.
import type { Logger } from 'pino';
import type { Broker } from '../../src/core/broker.ts';
import type { ErrorCode } from '../../src/core/errors.ts';
import { StreamListener, type ByteStream } from '../stream-listener.ts';
import { MqttConnection, type ConnectionCounters } from './connection.ts';
import type { MqttOptions } from './options.ts';

export class MqttListener extends StreamListener<MqttConnection> {
  readonly counters: ConnectionCounters = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, slowConsumerDrops: 0 };
  private sweep: NodeJS.Timeout | undefined;
  protected readonly name = 'mqtt';

  constructor(
    private readonly broker: Broker,
    private readonly opts: MqttOptions,
    private readonly log: Logger,
  ) {
    super();
    this.guards = opts.guards;
  }

  /** Answers the CONNECT with a CONNACK refusal (the version is known only then) and closes. */
  protected refuse(c: MqttConnection, code: ErrorCode, detail: string): void {
    c.refuseAtConnect(code, detail);
  }

  protected create(stream: ByteStream, closed: (c: MqttConnection) => void): MqttConnection {
    if (!this.sweep) {
      this.sweep = setInterval(() => {
        const now = Date.now();
        for (const conn of this.connections) conn.tick(now);
      }, 1000);
      this.sweep.unref();
    }
    return new MqttConnection(stream, this.broker, this.opts, this.log, this.counters, closed);
  }

  /** Stops accepting; open connections are closed by the broker's shutdown. */
  async close(): Promise<void> {
    if (this.sweep) clearInterval(this.sweep);
    await this.closeServers();
  }
}
