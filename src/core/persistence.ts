// The seam between the broker and durable storage: what the broker asks for, and the storage ports it needs. Imports message types only.
import type { LogRef, Message } from './message.ts';

/** The slice of the partitioned log the core uses (src/log's PartitionedLog satisfies it structurally). */
export interface MessageLogPort {
  readonly partitions: number;
  append(input: { key: string; timestamp: number; headers: Buffer; value: Buffer }): Promise<{ partition: number; offset: number }>;
  read(
    partition: number,
    offset: number,
    maxRecords: number,
    maxBytes?: number,
  ): Promise<{ key: string; timestamp: number; headers: Buffer; value: Buffer; partition: number; offset: number }[]>;
  endOffset(partition: number): number;
  startOffset(partition: number): number;
  offsetForTime(partition: number, ts: number): Promise<number>;
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

/**
 * Makes messages and state durable. The broker acknowledges a publish (PUBACK / PUBREC / RECEIPT)
 * only after the promise for it resolves; a rejection is reported to the publisher and nothing is routed.
 */
export interface MessagePersistence {
  /** Whether this message must be appended (QoS > 0, or QoS 0 when configured). */
  wants(msg: Message): boolean;
  /** Appends; `inboundQos2` marks the publisher's QoS 2 packet id so a crash cannot duplicate it. */
  append(msg: Message, inboundQos2?: { sessionId: string; packetId: number }): Promise<LogRef>;
  /** Retained store change (an empty payload deletes). */
  saveRetained(msg: Message): Promise<void>;
}
