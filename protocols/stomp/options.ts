// Settings one STOMP listener and its connections need from the gateway config, with defaults. Imports core session/limit/topic types and the parser's limit type only.
import type { Guards } from '../../src/core/limits.ts';
import type { SessionLimits } from '../../src/core/session.ts';
import { DEFAULT_MAX_TOPIC_LEVELS } from '../../src/core/topic.ts';
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
  /** Messages a `/queue/<name>` holds ready for consumers (its session window); the rest waits in the session queue. */
  queueWindow: number;
  /** Queues that exist from start, so MQTT publishers to `$queue/<name>` are kept before any STOMP client touched them. */
  queues: string[];
  maxSubscriptions: number;
  /** All queues; 0 = unlimited (./queue-limits.ts). */
  maxQueues: number;
  /** Queues created by a client's SEND / SUBSCRIBE to an undeclared name; 0 = unlimited. */
  maxCreatedQueues: number;
  /** false = only declared (`queues`) and restored queues exist. */
  autoCreateQueues: boolean;
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
  /** Shared abuse limits (connections, unfinished bytes, per-client limits, counters); absent = unlimited. */
  guards?: Guards;
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
  maxSubscriptions: 1000,
  maxQueues: 10_000,
  maxCreatedQueues: 1000,
  autoCreateQueues: true,
  maxTransactions: 16,
  maxTransactionFrames: 10_000,
  maxTopicLevels: DEFAULT_MAX_TOPIC_LEVELS,
  session: { maxQueued: 10_000, maxQueuedBytes: 64 * 1024 * 1024, dropPolicy: 'drop-oldest', queueQos0: false },
  maxWriteBuffer: 8 * 1024 * 1024,
  serverName: 'iot-gateway',
};

type Over<T> = { [K in keyof T]?: T[K] extends unknown[] ? T[K] : T[K] extends object ? Partial<T[K]> : T[K] };

/** Defaults overlaid with `over` (one level deep for `limits` and `session`). */
export function stompOptions(over: Over<StompOptions> = {}): StompOptions {
  return {
    ...STOMP_DEFAULTS,
    ...over,
    limits: { ...STOMP_DEFAULTS.limits, ...over.limits },
    session: { ...STOMP_DEFAULTS.session, ...over.session },
  } as StompOptions;
}
