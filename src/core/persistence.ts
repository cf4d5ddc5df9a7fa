// The seam between the broker's publish path and durable storage. Imports message types only.
import type { LogRef, Message } from './message.ts';

/**
 * Makes a message durable. The broker acknowledges a publish (PUBACK / PUBREC / RECEIPT) only after
 * the returned promise resolves; a rejection is reported to the publisher and nothing is routed.
 */
export interface MessagePersistence {
  /** Whether this message must be appended (e.g. QoS > 0, or QoS 0 when configured). */
  wants(msg: Message): boolean;
  append(msg: Message): Promise<LogRef>;
  close(): Promise<void>;
}
