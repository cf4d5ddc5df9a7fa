// One STOMP connection's I/O shell: bytes -> parser -> the state machine (./machine.ts), and its effects -> socket writes, broker calls, message sources and timers. Imports core types, ../connection-shell.ts, ../peer.ts and sibling stomp files.
//
// Contract: the protocol's decisions all live in ./machine.ts; this file only carries them out.
// - Reads, corked writes, timers and closing / releasing exactly once are ../connection-shell.ts (shared with MQTT);
//   anything an effect throws closes the connection with the mapped code (ERROR frame from the machine).
// - Effects are applied in order. An asynchronous answer (auth hook, durable append, durable subscription
//   image) comes back as a machine event when its promise settles; a synchronous one at once.
// - Each SUBSCRIBE's message source (./topic-subscription.ts, ./stream-subscription.ts, ./queues.ts) is bound
//   to its SubRecord; its deliveries go through the machine (message ids, pending ACKs, held MESSAGEs).
// - Inbound publish pacing (the Pacer) defers frames read while paused, and the frames replayed after CONNECT.
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Broker } from '../../src/core/broker.ts';
import type { ClientIdentity } from '../../src/core/auth.ts';
import type { ErrorCode } from '../../src/core/errors.ts';
import type { Message } from '../../src/core/message.ts';
import type { QueueRegistry } from '../../src/core/queue-registry.ts';
import { ConnectionShell, Pacer } from '../connection-shell.ts';
import { peerInfo } from '../peer.ts';
import { brokerPort } from './broker-port.ts';
import type { StompFrame } from './frame.ts';
import { StompMachine } from './machine.ts';
import type { StompEffect, SubRecord, TimerName } from './machine-types.ts';
import type { StompOptions } from './options.ts';
import { StompParser } from './parser.ts';
import type { QueueAdmission } from './queue-limits.ts';
import { QueueSubscription } from './queues.ts';
import { StreamSubscription } from './stream-subscription.ts';
import type { DeliverySink, StompSubscription } from './subscription.ts';
import { TopicSubscription } from './topic-subscription.ts';

/** Counters the listener aggregates for metrics. */
export interface StompCounters {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  slowConsumerDrops: number;
  errors: number;
}

export class StompConnection {
  readonly sessionId = `stomp-${randomBytes(8).toString('hex')}`;
  private readonly machine: StompMachine;
  private readonly parser: StompParser;
  /** Reads, writes, timers and closing (../connection-shell.ts). */
  private readonly io: ConnectionShell;
  /** Inbound publish pacing; frames read while paused wait in it. */
  private readonly pacer: Pacer<StompFrame>;
  private readonly sources = new Map<SubRecord, StompSubscription>();
  private readonly timers = new Map<TimerName, NodeJS.Timeout>();

  constructor(
    stream: Duplex & { remoteAddress?: string },
    private readonly broker: Broker,
    /** undefined when persistence is off: queues need the durable log. */
    private readonly queues: QueueRegistry | undefined,
    private readonly opts: StompOptions,
    private readonly log: Logger,
    private readonly counters: StompCounters,
    private readonly onClosed: (c: StompConnection) => void,
    queueAdmission?: QueueAdmission,
  ) {
    this.parser = new StompParser(opts.limits, '1.0', opts.guards?.unfinished);
    const port = brokerPort(broker, queues, queueAdmission, opts.guards);
    this.machine = new StompMachine({ sessionId: this.sessionId, peer: peerInfo(stream), opts, port });
    this.io = new ConnectionShell(
      stream,
      'stomp',
      log,
      counters,
      opts.maxWriteBuffer,
      { data: (chunk) => this.parser.push(chunk, (f) => this.onFrame(f)), fail: (code, detail) => this.fail(code, detail), release: () => this.release() },
      () => ({ session: this.sessionId }),
    );
    this.pacer = new Pacer<StompFrame>(
      this.io,
      opts.guards,
      (f) => {
        this.onFrame(f);
        return true;
      },
      () => (this.io.lastRead = Date.now()), // time paused by us does not count against the heart-beat
    );
    this.apply(this.machine.start());
  }

  get identity(): ClientIdentity {
    return this.machine.identity;
  }

  get isClosed(): boolean {
    return this.machine.isClosed;
  }

  /** Server-initiated close (shutdown, administrative action): an ERROR frame with the reason, then close. */
  close(code: ErrorCode): void {
    this.apply(this.machine.close(code));
  }

  /** Protocol / limit / auth failure: one ERROR frame, one log line, close. Other connections are untouched. */
  fail(code: ErrorCode, detail: string): void {
    this.apply(this.machine.failNow(code, detail));
  }

  private onFrame(f: StompFrame): void {
    if (this.machine.isClosed) return;
    if (this.pacer.holding) this.pacer.deferred!.push(f);
    else this.apply(this.machine.frame(f));
  }

  /** Carries out the machine's effects, in order. */
  private apply(effects: readonly StompEffect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'write':
          this.io.write(e.bytes);
          break;
        case 'message':
          this.counters.messagesOut++;
          if (e.bytes) this.io.write(e.bytes);
          break;
        case 'dropped':
          this.counters.slowConsumerDrops++;
          break;
        case 'error':
          this.counters.errors++;
          if (e.cause !== undefined) this.log.error({ err: e.cause, session: this.sessionId }, 'stomp handler failed');
          this.io.logFailure(e.code, e.detail);
          this.io.write(e.bytes);
          this.io.destroy();
          break;
        case 'close':
          this.io.destroy();
          break;
        case 'version':
          this.parser.setVersion(e.version);
          break;
        case 'authenticate':
          this.authenticate(e.identity, e.passcode);
          break;
        case 'publish':
          this.publish(e.ticket, e.msg);
          break;
        case 'charge':
          this.pacer.charge(e.bytes);
          break;
        case 'open':
          this.open(e);
          break;
        case 'settle': {
          const src = this.sources.get(e.sub);
          if (e.positive) src?.ack(e.token);
          else src?.nack(e.token, e.requeue);
          break;
        }
        case 'end':
          this.sources.get(e.sub)?.end(e.forget);
          this.sources.delete(e.sub);
          break;
        case 'timer':
          this.startTimer(e.name, e.ms, e.repeat);
          break;
        case 'stop-timer':
          this.io.clear(this.timers.get(e.name));
          this.timers.delete(e.name);
          break;
        case 'replay':
          for (const f of e.frames) this.onFrame(f);
          break;
        case 'log':
          this.log[e.level](e.fields, e.msg);
          break;
      }
    }
  }

  private authenticate(identity: ClientIdentity, passcode: Buffer | undefined): void {
    const auth = this.broker.auth.authenticate(identity, passcode);
    if (typeof auth !== 'object') return this.apply(this.machine.authenticated(auth));
    auth.then(
      this.io.guarded((ok) => this.apply(this.machine.authenticated(ok))),
      this.io.guarded((err: unknown) => this.apply(this.machine.authFailed(err))),
    );
  }

  /** Hands a message to the broker; the machine hears when it is durable and routed (or not). */
  private publish(ticket: number, msg: Message): void {
    this.counters.messagesIn++;
    let done: Promise<void> | undefined;
    try {
      done = this.broker.publish(msg);
    } catch (err) {
      done = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (!done) return this.apply(this.machine.published(ticket));
    done.then(
      this.io.guarded(() => this.apply(this.machine.published(ticket))),
      this.io.guarded((err: unknown) => this.apply(this.machine.publishFailed(ticket, err))),
    );
  }

  /** Starts the message source of one SUBSCRIBE; it is bound before it starts, so a failing start still ends it. */
  private open(e: Extract<StompEffect, { type: 'open' }>): void {
    if (this.io.closed) return;
    const { sub, source: s } = e;
    const sink = this.sinkFor(sub);
    if (s.kind === 'queue') {
      this.sources.set(sub, new QueueSubscription(sub.id, sub.ackMode, s.prefetch, sink, this.queues!.queue(s.name)));
      return;
    }
    if (s.kind === 'stream') {
      const stream = new StreamSubscription(sub.id, sub.destination, sub.ackMode, s.prefetch, sink, this.broker, this.opts, this.log, e.identity);
      this.sources.set(sub, stream);
      stream.start(s.filter, s.from);
      return;
    }
    const topic = new TopicSubscription(sub.id, sub.destination, sub.ackMode, sink, this.broker, this.opts, this.log, e.identity, s.sessionId, s.durable);
    this.sources.set(sub, topic);
    const begin = (): void => {
      if (this.io.closed || this.sources.get(sub) !== topic) return; // ended while the cluster claim ran
      topic.start(s.filter, this.opts.session, s.prefetch);
      const ticket = e.savedTicket;
      if (ticket === undefined) return;
      const saved = topic.saved();
      if (!saved) return this.apply(this.machine.saved(ticket));
      saved.then(
        this.io.guarded(() => this.apply(this.machine.saved(ticket))),
        this.io.guarded((err: unknown) => this.apply(this.machine.saveFailed(ticket, err))),
      );
    };
    // A cluster node first claims a durable subscription's session (the node serving it hands it over); a single node goes on.
    const claimed = s.durable ? this.broker.prepareConnect(s.sessionId, false, true) : undefined;
    if (!claimed) return begin();
    claimed.then(
      this.io.guarded(begin),
      this.io.guarded((err: unknown) => {
        this.log.error({ err: String(err), session: this.sessionId, subscription: sub.id }, 'durable subscription could not be claimed from the cluster');
        this.fail('SERVER_BUSY', 'durable subscription could not be claimed');
      }),
    );
  }

  /** Where one source's MESSAGEs go: through the machine, with the socket's write-buffer state. */
  private sinkFor(sub: SubRecord): DeliverySink {
    return {
      deliver: (_s, msg, token, redeliveries) => this.apply(this.machine.deliver(sub, msg, token, redeliveries, this.io.overWriteBuffer)),
      whenWritable: () => this.io.whenWritable() ?? Promise.resolve(),
      canWrite: () => this.io.canWrite(),
      closeFromBroker: (code) => this.close(code),
    };
  }

  private startTimer(name: TimerName, ms: number, repeat: boolean): void {
    const fire = (): void => this.io.run(() => this.apply(this.machine.timer(name, Date.now(), this.io.lastRead, this.io.lastWrite)));
    this.timers.set(name, repeat ? this.io.interval(fire, ms) : this.io.timeout(fire, ms));
  }

  /** The STOMP part of releasing a connection (the shell already cleared its timers); runs once. */
  private release(): void {
    this.parser.dispose(); // an unfinished frame's bytes go back to the shared budget
    this.apply(this.machine.released());
    this.timers.clear();
    this.onClosed(this);
  }
}
