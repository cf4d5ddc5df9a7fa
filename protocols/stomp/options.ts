// Settings one STOMP listener and its connections need from the gateway config, with defaults. Imports core session types and the parser's limit type only.
import type { SessionLimits } from '../../src/core/session.ts';
import type { QueueMode } from '../../src/core/queue.ts';
import type { StompLimits } from './parser.ts';

export interface StompOptions {
  /** Wire limits enforced while frames arrive (see ./parser.ts). */
  limits: StompLimits;
  /** CONNECTED heart-beat `sx,sy` in ms: what the server can send / wants to receive; 0 = none. */
  heartbeatSendMs: number;
  heartbeatReceiveMs: number;
  /** A peer is closed when nothing arrived for `grace` x the negotiated receive interval. */
  heartbeatGrace: number;
  /** Close a connection that sent no CONNECT / STOMP frame in this time. */
  connectTimeoutMs: number;
  /** Unacknowledged MESSAGEs per `client` / `client-individual` subscription when SUBSCRIBE has no `prefetch-count`. */
  defaultPrefetch: number;
  /** Upper bound for a `prefetch-count` header. */
  maxPrefetch: number;
  /** NACKs (or consumer losses) a message survives; the next one sends it to the dead-letter topic. */
  maxRedeliveries: number;
  /** Fixed dead-letter MQTT topic; '' = `$dlq/<original MQTT topic>`. */
  deadLetterTopic: string;
  /** Messages a queue holds read ahead for its consumers; the rest waits in the log. */
  queueWindow: number;
  /** Queues that exist from start (a queue's messages are kept in the log whether or not it exists yet). */
  queues: string[];
  /** Mode of a queue without an entry in queueModes: shared | key-shared | failover. */
  queueMode: QueueMode;
  /** Per-queue default modes (config `stomp.queueModes: ["<name>=<mode>", ...]`). */
  queueModes: Record<string, QueueMode>;
  maxSubscriptions: number;
  maxTransactions: number;
  /** SEND / ACK / NACK frames buffered per transaction. */
  maxTransactionFrames: number;
  maxTopicLevels: number;
  /** Per-subscription session queue bounds (maxInflight is the prefetch). */
  session: Omit<SessionLimits, 'maxInflight'>;
  /** Bytes buffered towards a slow client past which `ack:auto` deliveries are dropped (counted). */
  maxWriteBuffer: number;
  /** Value of the CONNECTED `server` header. */
  serverName: string;
}

export const STOMP_DEFAULTS: StompOptions = {
  limits: { maxFrameBytes: 1024 * 1024 + 64 * 1024, maxHeaders: 64, maxHeaderBytes: 8192, maxBodyBytes: 1024 * 1024 },
  heartbeatSendMs: 10_000,
  heartbeatReceiveMs: 10_000,
  heartbeatGrace: 2,
  connectTimeoutMs: 10_000,
  defaultPrefetch: 100,
  maxPrefetch: 65535,
  maxRedeliveries: 5,
  deadLetterTopic: '',
  queueWindow: 1000,
  queues: [],
  queueMode: 'shared',
  queueModes: {},
  maxSubscriptions: 1000,
  maxTransactions: 16,
  maxTransactionFrames: 10_000,
  maxTopicLevels: 128,
  session: { maxQueued: 10_000, maxQueuedBytes: 64 * 1024 * 1024, dropPolicy: 'drop-oldest', queueQos0: false },
  maxWriteBuffer: 8 * 1024 * 1024,
  serverName: 'iot-gateway',
};

type Over<T> = { [K in keyof T]?: T[K] extends unknown[] ? T[K] : T[K] extends Record<string, QueueMode> ? T[K] : T[K] extends object ? Partial<T[K]> : T[K] };

/** Defaults overlaid with `over` (one level deep for `limits` and `session`). */
export function stompOptions(over: Over<StompOptions> = {}): StompOptions {
  return {
    ...STOMP_DEFAULTS,
    ...over,
    limits: { ...STOMP_DEFAULTS.limits, ...over.limits },
    session: { ...STOMP_DEFAULTS.session, ...over.session },
  } as StompOptions;
}
