// The seam between the broker and durable storage: what the broker asks for, and the storage ports it needs. Imports message types only.
import type { LogRef, Message } from './message.ts';

/** The slice of the partitioned log the core uses (src/log's PartitionedLog satisfies it structurally). */
export interface MessageLogPort {
  readonly partitions: number;
  /** Whether append() uses `dedupId` (NATS); absent or false: the caller need not compute one (local log). */
  readonly deduplicates?: boolean;
  /**
   * `dedupId` (optional): a backend that can deduplicate (NATS: the Nats-Msg-Id header, within the stream's
   * duplicate window) stores a second append with the same id once and resolves it at the first one's offset;
   * the local log ignores it. Set for inbound QoS 2 records (DurableStore.append), so a PUBLISH resent after an
   * append that failed on the client side but was stored (NATS connection lost mid-append) is not stored twice.
   */
  append(input: { key: string; timestamp: number; headers: Buffer; value: Buffer; dedupId?: string }): Promise<{ partition: number; offset: number }>;
  read(
    partition: number,
    offset: number,
    maxRecords: number,
    maxBytes?: number,
  ): Promise<{ key: string; timestamp: number; headers: Buffer; value: Buffer; partition: number; offset: number }[]>;
  endOffset(partition: number): number;
  startOffset(partition: number): number;
  offsetForTime(partition: number, ts: number): Promise<number>;
  /** Stored bytes of a partition from `offset` to its end, approximate (sessions.maxLag.bytes); a backend without it ignores that bound. */
  bytesSince?(partition: number, offset: number): number;
  /** Append notification per partition (src/log's onAppend); readers sleep on it instead of polling. */
  onAppend?(listener: (partition: number, endOffset: number) => void): () => void;
  /** The partition a key (topic) is stored in. */
  partitionFor?(key: string): number;
  close(): Promise<void>;
}

/** The slice of the compacted key/value log the core uses. */
export interface StatePort {
  get(key: string): Buffer | undefined;
  put(key: string, value: Buffer): Promise<void>;
  delete(key: string): Promise<void>;
  entries(prefix?: string): IterableIterator<[string, Buffer]>;
  close(): Promise<void>;
}

/** An inbound QoS 2 PUBLISH: its publisher's session and packet id. `marker` and `dedupId` are set by DurableStore.append for its recordQos2. */
export interface InboundQos2 {
  sessionId: string;
  packetId: number;
  marker?: string;
  dedupId?: string;
}

/**
 * Makes messages and state durable. The broker acknowledges a publish (PUBACK / PUBREC / RECEIPT)
 * only after the promise for it resolves; a rejection is reported to the publisher and nothing is routed.
 */
export interface MessagePersistence {
  /** Whether this message must be appended (QoS > 0, or QoS 0 when configured). */
  wants(msg: Message): boolean;
  /** Appends; `inboundQos2` marks the publisher's QoS 2 packet id so a crash cannot duplicate it. */
  append(msg: Message, inboundQos2?: InboundQos2): Promise<LogRef>;
  /** Retained store change (an empty payload deletes). */
  saveRetained(msg: Message): Promise<void>;
}

/** The message log of a storage backend: the port above with append notification and key placement required. */
export interface BackendLog extends MessageLogPort {
  onAppend(listener: (partition: number, endOffset: number) => void): () => void;
  partitionFor(key: string): number;
  /**
   * Shared backends (NATS): appends whose new record got a sequence at or below one this node was acknowledged for
   * before, i.e. the backend lost acknowledged records (docs/CLUSTER.md "Kill loop"). Absent on the local log.
   */
  readonly sequenceReuses?: number;
}

/**
 * One storage backend: everything the broker keeps durable, behind one object, so a second backend
 * (NATS JetStream, a later issue) plugs in by passing test/contract/backend.contract.ts.
 * The local one (src/server/local-backend.ts) is src/log's PartitionedLog + compacted key/value file.
 *
 * Contract:
 * - log: `partitions` >= 1 and fixed for the life of the data; a key (topic) always maps to the same
 *   partition (`partitionFor`), and append puts it there.
 * - Offsets are dense per partition, from `startOffset(p)` (moves up only, by retention) to `endOffset(p)`
 *   (the next offset to assign). Appends to one partition resolve in offset order; records are read back in
 *   offset order, byte for byte. `read` below the start starts at the start; at or past the end gives [];
 *   it returns at least one record when any exists, and honours maxRecords / maxBytes otherwise.
 * - `offsetForTime(p, ts)`: the first offset whose timestamp is >= ts (endOffset when none), never below the start.
 * - Durability: once append / put / delete resolves, the change is acknowledged: it is visible to every
 *   later read / get, and survives close + reopen (and, per the flush policy, a crash). A rejected write
 *   may or may not have happened; the broker then reports the failure and never acknowledges it.
 * - Notification: `onAppend` listeners run after a record is readable, with its partition and the end
 *   offset after it; at least once per resolved append (several appends may share one call). The function
 *   it returns removes the listener; a removed listener is not called again. Readers sleep on it, never poll.
 * - Key/value: `get` sees the last put / delete at once (before its promise resolves); writes apply in call
 *   order; `entries(prefix)` lists live keys with that prefix; values are copies.
 * - Cursors (session, queue and consumer-group positions) are key/value entries pointing at log offsets; the
 *   backend needs no other cursor primitive.
 * - close() flushes and releases; afterwards append / put / delete reject, and close() again resolves.
 */
export interface StorageBackend {
  readonly log: BackendLog;
  readonly state: StatePort;
  close(): Promise<void>;
}

/**
 * What a backend shared by several gateway nodes adds (issue 11: NATS JetStream). The local backend has none;
 * the broker then runs as a single node. Checked by test/contract/cluster.contract.ts.
 *
 * Contract:
 * - `nodeId` is this node's name, unique in the cluster, stable across restarts of the node.
 * - The log and key/value store of StorageBackend are shared: an append or put made on any node becomes
 *   readable on every node. Appends made elsewhere raise `log.onAppend` here too (after they are readable
 *   here, with the end offset after them), and move `log.endOffset`.
 * - `watch(prefix, fn)`: fn runs for puts / deletes of keys with that prefix made on ANY node (this one
 *   included), after `state.get` here returns that value or a later one (undefined = deleted), in the order the
 *   store applied them per key. A node that reads slowly may skip a value overwritten before it read it (NATS KV
 *   keeps one revision per key); it always sees the last one. It does not replay existing keys: read them with `state.entries` first.
 *   The returned function stops the watch.
 * - `putIfVersion(key, value, version)`: compare-and-set for ownership records (session owner, group
 *   member leases). `version` is what `versionOf(key)` returned (0 = the key must not exist); resolves
 *   true when written, false when another node changed the key first. A stale local view gives false,
 *   never a lost update.
 * - `signal(subject, data)` / `onSignal(subject, fn)`: best-effort transient messages to every node,
 *   this one included (takeover notices, heartbeats). `subject` is a dot-free word; no durability and no
 *   ordering across subjects. `fn` receives the sender's nodeId.
 */
export interface ClusterPort {
  readonly nodeId: string;
  watch(prefix: string, listener: (key: string, value: Buffer | undefined) => void): () => void;
  versionOf(key: string): number;
  putIfVersion(key: string, value: Buffer, version: number): Promise<boolean>;
  signal(subject: string, data: Buffer): void;
  onSignal(subject: string, listener: (data: Buffer, fromNode: string) => void): () => void;
}

/** A StorageBackend shared by several nodes. */
export interface ClusterBackend extends StorageBackend {
  readonly cluster: ClusterPort;
}
