// Settings one STOMP listener and its connections need. Imports core session, queue and limit types and the parser's limit type only.
// The gateway fills them from the config keys named below (src/server/protocol-options.ts); defaults and ranges
// live only in config/schema.ts.
import type { QueueMode } from '../../src/core/queue.ts';
import type { Guards } from '../../src/core/limits.ts';
import type { SessionLimits } from '../../src/core/session.ts';
import type { StompLimits } from './parser.ts';

export interface StompOptions {
  /** Wire limits enforced while frames arrive (see ./parser.ts): stomp.maxFrameBytes, maxHeaders, maxHeaderBytes, maxBodyBytes. */
  limits: StompLimits;
  /**
   * CONNECTED heart-beat `sx,sy` in ms (stomp.heartbeatSendMs / heartbeatReceiveMs): the shortest intervals the server
   * can send / check at; 0 = none. STOMP 1.2 "Heart-beating": each side uses max(its own, the peer's), so a small
   * value here lets the client's request decide.
   */
  heartbeatSendMs: number;
  heartbeatReceiveMs: number;
  /** stomp.heartbeatGrace: a peer is closed when nothing arrived for `grace` x the negotiated receive interval. */
  heartbeatGrace: number;
  /** stomp.connectTimeoutMs. */
  connectTimeoutMs: number;
  /** stomp.defaultPrefetch / stomp.maxPrefetch. */
  defaultPrefetch: number;
  maxPrefetch: number;
  /** stomp.maxRedeliveries / stomp.deadLetterTopic ('' = `$dlq/<original MQTT topic>`). */
  maxRedeliveries: number;
  deadLetterTopic: string;
  /** stomp.queueWindow (a queue's read-ahead; the rest waits in the log) / stomp.queues. */
  queueWindow: number;
  queues: string[];
  /** stomp.queueMode: mode of a queue without an entry in queueModes. */
  queueMode: QueueMode;
  /** stomp.queueModes (`["<name>=<mode>", ...]` in the config). */
  queueModes: Record<string, QueueMode>;
  /** stomp.maxSubscriptions / maxTransactions / maxTransactionFrames. */
  maxSubscriptions: number;
  /** All queues; 0 = unlimited (./queue-limits.ts). */
  maxQueues: number;
  /** Queues created by a client's SEND / SUBSCRIBE to an undeclared name; 0 = unlimited. */
  maxCreatedQueues: number;
  /** false = only declared (`queues`) and restored queues exist. */
  autoCreateQueues: boolean;
  maxTransactions: number;
  maxTransactionFrames: number;
  /** mqtt.maxTopicLevels (one topic space for both protocols). */
  maxTopicLevels: number;
  /** Per-subscription session queue bounds from sessions.* (maxInflight is the prefetch). */
  session: Omit<SessionLimits, 'maxInflight'>;
  /** Bytes buffered towards a slow client past which `ack:auto` deliveries are dropped (counted). */
  maxWriteBuffer: number;
  /** Value of the CONNECTED `server` header. */
  serverName: string;
  /** Shared abuse limits (connections, unfinished bytes, per-client limits, counters); absent = unlimited. */
  guards?: Guards;
}
