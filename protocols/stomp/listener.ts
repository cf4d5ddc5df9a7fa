// STOMP over TCP and TLS (or any Duplex, e.g. a WebSocket stream): builds one StompConnection each; owns the listener's queues. Imports ../stream-listener.ts, the broker type and sibling stomp files.
import { StreamListener, type ByteStream } from '../stream-listener.ts';
import type { Logger } from 'pino';
import type { Broker } from '../../src/core/broker.ts';
import { StompConnection, type StompCounters } from './connection.ts';
import type { StompOptions } from './options.ts';
import { QueueRegistry } from './queues.ts';
import { QueueAdmission } from './queue-limits.ts';
import type { ErrorCode } from '../../src/core/errors.ts';

export class StompListener extends StreamListener<StompConnection> {
  readonly counters: StompCounters = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, slowConsumerDrops: 0, errors: 0 };
  readonly queues: QueueRegistry;
  readonly queueAdmission: QueueAdmission;
  protected readonly name = 'stomp';

  constructor(
    private readonly broker: Broker,
    private readonly opts: StompOptions,
    private readonly log: Logger,
  ) {
    super();
    this.guards = opts.guards;
    this.queues = new QueueRegistry(broker, opts, log);
    for (const name of opts.queues) this.queues.get(name);
    // Queues that existed before a restart come back bound to their restored sessions.
    const restored = this.queues.attachRestored();
    this.queueAdmission = new QueueAdmission(opts, new Set(opts.queues).size + restored, opts.guards?.counters);
  }

  /** An ERROR frame with the refusal, then close (STOMP needs no version to say it). */
  protected refuse(c: StompConnection, code: ErrorCode, detail: string): void {
    c.fail(code, detail);
  }

  protected create(stream: ByteStream, closed: (c: StompConnection) => void): StompConnection {
    return new StompConnection(stream, this.broker, this.queues, this.opts, this.log, this.counters, closed, this.queueAdmission);
  }

  /** Stops accepting and closes this listener's connections with "server shutting down". */
  async close(): Promise<void> {
    for (const c of [...this.connections]) c.close('SERVER_SHUTTING_DOWN');
    await this.closeServers();
  }
}
