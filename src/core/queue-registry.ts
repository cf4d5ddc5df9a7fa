// The queues and mode-based consumer groups of one broker: created on first use (or declared at start), one LogQueue per name, shared by every protocol. Imports core broker (type), queue, consumer-group and dead-letter modules.
//
// State-store key layout (docs/REPLAY.md, docs/STOMP.md):
//   queue/<name>/<partition>   committed offset of queue <name> (`$queue/<name>`), JSON {"v":1,"offset":N,"at":ms}
//   g/<group>/<partition>      committed offset of consumer group <group> (every mode), same JSON; the partition
//                              mode (consumer-group.ts) writes it without "v", which reads as version 1
// N is the next offset to read in that partition. A queue's topic lives in one partition (hash of the topic),
// so a queue has one key. Queue names may contain `/` (the partition is after the last `/`).
// Queues need the durable log: without persistence there is no registry (for() returns undefined).
import type { Broker } from './broker.ts';
import { offsetKey } from './consumer-group.ts';
import { DEFAULT_DEAD_LETTER, type DeadLetterPolicy } from './dead-letter.ts';
import { GatewayError } from './errors.ts';
import { LogQueue, type QueueMode } from './queue.ts';

export const QUEUE_TOPIC_PREFIX = '$queue/';
export const QUEUE_KEY_PREFIX = 'queue/';

export interface QueueRegistryOptions {
  deadLetter: DeadLetterPolicy;
  /** Mode of a queue not listed in `modes` (config stomp.queueMode). */
  defaultMode: QueueMode;
  /** Per-queue default modes (config stomp.queueModes). */
  modes: Record<string, QueueMode>;
  /** Entries each queue holds read ahead (config stomp.queueWindow). */
  readAhead: number;
  onError?: (err: unknown, queue: string, what: string) => void;
}

const DEFAULTS: QueueRegistryOptions = { deadLetter: DEFAULT_DEAD_LETTER, defaultMode: 'shared', modes: {}, readAhead: 1000 };

export function queueOffsetKey(name: string, partition: number): string {
  return `${QUEUE_KEY_PREFIX}${name}/${partition}`;
}

/** A queue name as it appears after `$queue/` or `/queue/`: non-empty, no wildcard, no NUL. */
export function validQueueName(name: string): boolean {
  return name.length !== 0 && name.length <= 1024 && !/[+#\u0000]/.test(name);
}

const registries = new WeakMap<Broker, QueueRegistry>();

export class QueueRegistry {
  private opts: QueueRegistryOptions = DEFAULTS;
  private readonly queues = new Map<string, LogQueue>();
  private readonly groups = new Map<string, { q: LogQueue; filter: string }>();

  private constructor(private readonly broker: Broker) {}

  /** The broker's registry (created on first call); undefined when the broker has no durable log. */
  static for(broker: Broker): QueueRegistry | undefined {
    if (!broker.log || !broker.state) return undefined;
    let r = registries.get(broker);
    if (!r) registries.set(broker, (r = new QueueRegistry(broker)));
    return r;
  }

  /** Sets the policy (call at start); the dead-letter policy applies to existing queues too, modes and read-ahead to queues created later. */
  configure(opts: Partial<QueueRegistryOptions>): void {
    this.opts = { ...this.opts, ...opts };
  }

  get options(): QueueRegistryOptions {
    return this.opts;
  }

  /** The configured mode of queue `name`. */
  modeOf(name: string): QueueMode {
    return this.opts.modes[name] ?? this.opts.defaultMode;
  }

  /**
   * The queue `name` (topic `$queue/<name>`), created on first use in its configured mode. A consumer asking
   * for another mode while the queue has consumers gets GatewayError IMPLEMENTATION_SPECIFIC; with no consumers
   * the queue is re-created in the asked mode (its committed offset is in the store, so nothing is lost).
   */
  queue(name: string, mode?: QueueMode): LogQueue {
    if (!validQueueName(name)) throw new GatewayError('TOPIC_NAME_INVALID', `queue name ${JSON.stringify(name.slice(0, 100))}`);
    const want = mode ?? this.modeOf(name);
    let q = this.queues.get(name);
    if (q && mode !== undefined && q.mode !== want) {
      if (q.consumerCount !== 0) throw new GatewayError('IMPLEMENTATION_SPECIFIC', `queue ${JSON.stringify(name)} runs in mode ${q.mode}`);
      q.close();
      q = undefined;
    }
    if (!q) {
      q = this.create(name, { topic: QUEUE_TOPIC_PREFIX + name }, want, (p) => queueOffsetKey(name, p));
      this.queues.set(name, q);
    }
    return q;
  }

  /** Consumer group `group` reading `filter` in a Pulsar mode (the partition mode lives in log-subscriptions.ts). Same conflict rule as queue(). */
  group(group: string, filter: string, mode: QueueMode): LogQueue {
    const g = this.groups.get(group);
    if (g) {
      if (g.filter !== filter) throw new GatewayError('IMPLEMENTATION_SPECIFIC', `consumer group ${JSON.stringify(group)} reads ${JSON.stringify(g.filter)}`);
      if (g.q.mode === mode) return g.q;
      if (g.q.consumerCount !== 0) throw new GatewayError('IMPLEMENTATION_SPECIFIC', `consumer group ${JSON.stringify(group)} runs in mode ${g.q.mode}`);
      g.q.close();
    }
    const q = this.create(`$group/${group}`, { filter }, mode, (p) => offsetKey(group, p));
    this.groups.set(group, { q, filter });
    return q;
  }

  /** A group with no consumers left is forgotten (its offsets stay), so it may restart with another filter or mode. */
  releaseGroup(group: string): void {
    const g = this.groups.get(group);
    if (g && g.q.consumerCount === 0) {
      g.q.close();
      this.groups.delete(group);
    }
  }

  /** Whether a mode-based group `group` is live here. */
  hasGroup(group: string): boolean {
    return this.groups.has(group);
  }

  /** Creates the declared queues (config stomp.queues) so they exist, and show in list(), from start. */
  declare(names: readonly string[]): void {
    for (const n of names) this.queue(n);
  }

  /**
   * Before queues were log-backed, a queue was a persistent broker session `$queue/<name>` subscribed to its topic.
   * Such sessions restored from an older data dir would keep queueing copies nobody reads: this ends them (clean
   * start, expiry 0) and creates their queues. Their messages are the log records the queue reads, so nothing is
   * lost; a queue with no committed offset yet starts at the log start (at least once). Returns the names.
   */
  retireLegacySessions(): string[] {
    const names: string[] = [];
    for (const e of [...this.broker.sessions()]) {
      if (!e.id.startsWith(QUEUE_TOPIC_PREFIX) || e.link) continue;
      const name = e.id.slice(QUEUE_TOPIC_PREFIX.length);
      const link = { identity: { clientId: e.id, protocol: 'stomp' as const }, send: () => undefined, close: () => undefined };
      const { entry } = this.broker.connect({ clientId: e.id, cleanStart: true, expiryInterval: 0, limits: e.session.limits, link });
      this.broker.disconnect(entry, link, false);
      if (validQueueName(name)) {
        this.queue(name);
        names.push(name);
      }
    }
    return names;
  }

  list(): LogQueue[] {
    return [...this.queues.values()];
  }

  has(name: string): boolean {
    return this.queues.has(name);
  }

  private create(name: string, match: { topic: string } | { filter: string }, mode: QueueMode, key: (p: number) => string): LogQueue {
    const b = this.broker;
    // In a cluster each partition of a queue is served by one node at a time (cluster/queue-lease.ts).
    const gate = b.cluster?.queueGate(name);
    return new LogQueue({
      name,
      log: b.log!,
      store: b.state!,
      match,
      mode,
      offsetKey: key,
      deadLetter: () => this.opts.deadLetter,
      publish: (m) => b.publish(m),
      readAhead: this.opts.readAhead,
      onError: (err, what) => this.opts.onError?.(err, name, what),
      gate,
    });
  }
}
