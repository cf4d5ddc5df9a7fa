// What the STOMP state machine (./machine.ts) and its I/O shell (./connection.ts) exchange: effects out, the synchronous broker port in, subscription records and timer names. Types only; imports core types and sibling stomp types.
//
// Contract:
// - Every machine event returns StompEffect[] in the order the shell must apply them. Effects that ask the
//   outside world for something asynchronous carry a `ticket`; the shell answers with the matching event
//   (authenticate -> authenticated/authFailed, publish -> published/publishFailed, open with savedTicket ->
//   saved/saveFailed), at once when the answer is synchronous, else when the promise settles.
// - StompPort is what the machine may ask synchronously while deciding a frame: ACL checks, limits, queue
//   admission, and refusal counters. It never writes to the connection and never calls back into the machine.
import type { ClientIdentity } from '../../src/core/auth.ts';
import type { StartPoint } from '../../src/core/consumer.ts';
import type { ErrorCode } from '../../src/core/errors.ts';
import type { LimitName } from '../../src/core/limits.ts';
import type { Message } from '../../src/core/message.ts';
import type { QueueMode } from '../../src/core/queue.ts';
import type { StompFrame, StompVersion } from './frame.ts';
import type { AckMode } from './subscription.ts';

/** The machine's timers: the CONNECT deadline (one-shot) and the two heart-beat checks (repeating). */
export type TimerName = 'connect' | 'heartbeat-out' | 'heartbeat-in';

/** One SUBSCRIBE as the machine tracks it; the shell binds its message source (./subscription.ts) to this object. */
export interface SubRecord {
  /** The SUBSCRIBE `id` (1.0 without one: the destination). */
  readonly id: string;
  readonly destination: string;
  readonly ackMode: AckMode;
  /** MESSAGEs carry `x-stream-offset` / `x-stream-partition` (replay subscriptions). */
  readonly streamOffsets: boolean;
}

/** Which message source the shell starts for a SUBSCRIBE. */
export type SourceSpec =
  /** A consumer of the core queue `name` (./queues.ts); the queue already exists in the wanted mode. */
  | { kind: 'queue'; name: string; prefetch: number }
  /** A replay of the durable log from `from`, then following it (./stream-subscription.ts). */
  | { kind: 'stream'; filter: string; from: StartPoint; prefetch: number }
  /** A broker session `sessionId` subscribed to `filter` (./topic-subscription.ts); durable ones outlive the connection. */
  | { kind: 'topic'; filter: string; sessionId: string; durable: boolean; prefetch: number };

export type StompEffect =
  /** Bytes to write now (an encoded frame or a heart-beat), in order. */
  | { type: 'write'; bytes: Buffer }
  /** A MESSAGE went out (counted): `bytes` to write now, or undefined while it is held behind a RECEIPT (written later by a 'write'). */
  | { type: 'message'; bytes: Buffer | undefined }
  /** An at-most-once MESSAGE dropped for a slow reader (counted). */
  | { type: 'dropped' }
  /** The connection fails: one log line (`cause` set = unexpected, log it with its stack), count it, write the ERROR frame, close. */
  | { type: 'error'; code: ErrorCode; detail: string; bytes: Buffer; cause?: unknown }
  /** Close the connection after what is written (DISCONNECT). */
  | { type: 'close' }
  /** The negotiated version: frames read from now on are parsed with its escaping rules. */
  | { type: 'version'; version: StompVersion }
  /** Ask the auth hook; answer with authenticated(result) or authFailed(err). */
  | { type: 'authenticate'; identity: ClientIdentity; passcode: Buffer | undefined }
  /** Hand a message to the broker; answer with published(ticket) once durable and routed, or publishFailed(ticket, err). */
  | { type: 'publish'; ticket: number; msg: Message }
  /** Charge a SEND's body to the publish rate limit (reading may pause; never a drop). */
  | { type: 'charge'; bytes: number }
  /** Start a message source for `sub`; with savedTicket, answer saved/saveFailed once its session image is durable. */
  | { type: 'open'; sub: SubRecord; source: SourceSpec; identity: ClientIdentity; savedTicket?: number }
  /** Settle one delivery upstream: ACK (positive) or NACK (requeue false = dead-letter now). */
  | { type: 'settle'; sub: SubRecord; token: number; positive: boolean; requeue: boolean }
  /** Stop the source of `sub`; `forget` deletes a durable subscription. */
  | { type: 'end'; sub: SubRecord; forget: boolean }
  /** Start a timer: one-shot ('connect') or repeating every `ms`; its firing is the event timer(name). */
  | { type: 'timer'; name: TimerName; ms: number; repeat: boolean }
  | { type: 'stop-timer'; name: TimerName }
  /** Feed these frames back through the shell's frame path (read while authenticating; pacing still applies). */
  | { type: 'replay'; frames: StompFrame[] }
  /** One structured log line. */
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; fields: Record<string, unknown>; msg: string };

/** What the machine asks synchronously. Implemented over the broker in ./broker-port.ts, by a fake in the unit tests. */
export interface StompPort {
  authorizePublish(who: ClientIdentity, topic: string): boolean;
  authorizeSubscribe(who: ClientIdentity, filter: string): boolean;
  /** The retained-store limit a retained message of `bytes` on `topic` would pass, or undefined. */
  retainedOver(topic: string, bytes: number): 'retained-count' | 'retained-bytes' | undefined;
  /** Broker sessions that exist now (limits.maxSessions), and whether `id` is one of them. */
  sessionCount(): number;
  hasSession(id: string): boolean;
  /** Persistence is on (x-stream-offset and queues need the durable log). */
  readonly hasLog: boolean;
  readonly hasQueues: boolean;
  /** A SEND to `/queue/<name>`: the queue exists or is created within the queue limits; a refusal throws GatewayError. */
  admitQueue(name: string): void;
  /** A SUBSCRIBE to `/queue/<name>`: the queue exists in `mode` (undefined = its configured one); a conflict throws GatewayError. */
  prepareQueue(name: string, mode: QueueMode | undefined): void;
  /** Counts a limit refusal (gateway_limit_refusals_total). */
  refused(limit: LimitName): void;
  /** Counts a connection closed on the CONNECT deadline. */
  connectTimedOut(): void;
}
