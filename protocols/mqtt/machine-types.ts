// The contract of the MQTT connection state machine (./machine.ts): what it reads (the broker operations, the environment) and what it emits (effects, resumptions). Types only; imports core types and sibling mqtt types.
//
// The machine is event-driven and never does I/O: the shell (./connection.ts) feeds it decoded packets,
// broker callbacks, settled promises and timer ticks, and executes the effects it emits (EffectSink), in order,
// each as it is emitted (so a close releases the connection before the input returns, and nothing after it runs):
// - write(Buffer): write these bytes (the per-message path: no wrapper object, no queue);
// - close: end the stream and release the connection (with `code`: the one failure log line first);
// - log: one structured log line;
// - wait: settle `promise`, then hand `resume` back to MqttMachine.resume (the machine holds no continuations);
// - charge: publish-rate accounting of `bytes` (only emitted when a rate limit is configured);
// - connected: CONNECT completed: replay the packets read while authenticating, rebuild the parser for the version.
import type { Broker, SessionEntry, SessionLink } from '../../src/core/broker.ts';
import type { AuthHooks, AuthResult } from '../../src/core/auth.ts';
import type { ErrorCode } from '../../src/core/errors.ts';
import type { Message, QoS } from '../../src/core/message.ts';
import type { RetainedStore } from '../../src/core/retained.ts';
import type { SubscriptionOptions } from '../../src/core/router.ts';
import type { LogSubscriptions } from '../../src/core/log-subscriptions.ts';
import type { ReplySlot } from '../ordered-replies.ts';
import type { PeerInfo } from '../peer.ts';
import type { ConnectDecision } from './connect.ts';

/** The broker operations the machine uses (src/core/broker.ts); tests may pass a real Broker or a stand-in. */
export type MqttBroker = Pick<
  Broker,
  | 'prepareConnect'
  | 'connect'
  | 'disconnect'
  | 'getSession'
  | 'sessionCount'
  | 'sessionExpiry'
  | 'setSessionExpiry'
  | 'sessionSaved'
  | 'publish'
  | 'receiveQos2'
  | 'releaseQos2'
  | 'forgetQos2'
  | 'holdQos2'
  | 'qos2InFlight'
  | 'outbound'
  | 'settleOutbound'
  | 'isKnownOutbound'
  | 'unackedMessage'
  | 'subscriptionsOf'
  | 'subscribe'
  | 'deliverRetained'
  | 'unsubscribe'
  | 'hasLog'
> & { readonly auth: AuthHooks; readonly retained: Pick<RetainedStore, 'admits'> };

/** What the machine may ask of its surroundings: readings, not actions. */
export interface MqttEnv {
  now(): number;
  /** The peer's address, for log lines before CONNECT. */
  readonly remoteAddress: string | undefined;
  /** A server-chosen client id (v5 empty client id [MQTT-3.1.3-6]). */
  newClientId(): string;
  /** The socket's peer (addresses, verified certificate CN), read at CONNECT. */
  peer(): PeerInfo;
  /** Past mqtt.maxWriteBuffer: QoS 0 deliveries are dropped (counted). */
  overWriteBuffer(): boolean;
  /** The connection's `$log/` / `$group/` / `$queue/` subscriptions, made on first use (undefined: no log). */
  logSubscriptions(entry: SessionEntry, onError: (err: unknown, topic: string) => void): LogSubscriptions | undefined;
}

/** Counters the listener aggregates for metrics. */
export interface ConnectionCounters {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  slowConsumerDrops: number;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type Accept = Extract<ConnectDecision, { kind: 'accept' }>;

/** What a settled promise continues with (MqttMachine.resume). */
export type Resume =
  /** The auth hook answered a CONNECT. */
  | { kind: 'auth'; decision: Accept; clean: boolean }
  /** The cluster claimed the session for this node (Broker.prepareConnect), or could not. */
  | { kind: 'claim'; decision: Accept; clean: boolean }
  /** An inbound QoS 1/2 PUBLISH is durable (or not): fill its PUBACK / PUBREC slot. */
  // entry: the session the PUBLISH came in on, kept here because the connection may be released before the
  // write settles (a failed QoS 2 write must still forget its packet id there, or a resend is taken for a duplicate).
  | { kind: 'publish-ack'; slot: ReplySlot<Buffer>; ackType: 'puback' | 'pubrec'; packetId: number; qos: QoS; topic: string; entry: SessionEntry }
  /** A QoS 0 PUBLISH's write settled: a failure is logged only. */
  | { kind: 'publish-qos0'; topic: string }
  /** An inbound QoS 2 release is durable (or not): fill its PUBCOMP slot. */
  | { kind: 'pubcomp'; slot: ReplySlot<Buffer>; packet: Buffer; entry: SessionEntry; packetId: number }
  /** A persistent session's new subscriptions are durable (or not): SUBACK, then the retained messages. */
  | { kind: 'suback'; packetId: number; granted: number[]; retained: RetainedBatch[] };

export interface RetainedBatch {
  msgs: Message[];
  options: SubscriptionOptions;
}

export type Effect =
  | Buffer
  | { type: 'close'; code?: ErrorCode; detail?: string }
  | { type: 'log'; level: LogLevel; fields: Record<string, unknown>; msg: string }
  | { type: 'wait'; promise: Promise<unknown>; resume: Resume }
  | { type: 'charge'; bytes: number }
  | { type: 'connected' };

/** Where the machine's effects go, in the order it emits them. */
export interface EffectSink {
  write(buf: Buffer): void;
  effect(e: Exclude<Effect, Buffer>): void;
}

export type { AuthResult, SessionEntry, SessionLink };
