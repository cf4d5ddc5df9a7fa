// STOMP over TCP and TLS (or any Duplex, e.g. a WebSocket stream): builds one StompConnection each; configures the broker's queues (src/core/queue-registry.ts). Imports ../stream-listener.ts, core broker type and queue registry, and sibling stomp files.
import { StreamListener, type ByteStream } from '../stream-listener.ts';
import type { Logger } from 'pino';
import type { Broker } from '../../src/core/broker.ts';
import { StompConnection, type StompCounters } from './connection.ts';
import type { StompOptions } from './options.ts';
import type { QueueRegistry } from '../../src/core/queue-registry.ts';
import { QueueAdmission } from './queue-limits.ts';
import type { ErrorCode } from '../../src/core/errors.ts';

export class StompListener extends StreamListener<StompConnection> {
  readonly counters: StompCounters = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, slowConsumerDrops: 0, errors: 0 };
  /** The broker's queues (shared with MQTT); undefined when persistence is off. */
  readonly queues: QueueRegistry | undefined;
  readonly queueAdmission: QueueAdmission;
  protected readonly name = 'stomp';

  constructor(
    private readonly broker: Broker,
    private readonly opts: StompOptions,
    private readonly log: Logger,
  ) {
    super();
    this.guards = opts.guards;
    this.queues = broker.queues;
    if (this.queues) {
      this.queues.configure({
        deadLetter: { maxRedeliveries: opts.maxRedeliveries, deadLetterTopic: opts.deadLetterTopic },
        defaultMode: opts.queueMode,
        modes: opts.queueModes,
        readAhead: opts.queueWindow,
        onError: (err, queue, what) => log.warn({ err: String(err), queue, what }, 'queue operation failed'),
      });
      // Declared queues exist from start; every queue's position is its committed offset in the state store.
      this.queues.declare(opts.queues);
      const legacy = this.queues.retireLegacySessions();
      if (legacy.length !== 0) log.info({ queues: legacy }, 'queue sessions of an older data dir ended; those queues now read the log');
    } else if (opts.queues.length !== 0) {
      log.warn({ queues: opts.queues }, 'stomp.queues ignored: queues need persistence (the durable log)');
    }
    this.queueAdmission = new QueueAdmission(opts, this.queues?.list().length ?? 0, opts.guards?.counters);
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
