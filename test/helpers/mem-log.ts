// Test helper: an in-memory partitioned log (core ConsumerLogPort) that notifies on append, for the queue, bridge and reader units. Imports core types and the record codec.
import type { ConsumerLogPort, ConsumerRecord } from '../../src/core/consumer.ts';
import type { Message } from '../../src/core/message.ts';
import { encodeHeaders } from '../../src/core/record-codec.ts';

export interface MemAppend {
  /** MQTT 5 user properties of the message. */
  user?: Record<string, string>;
  /** Sender id (default 'pub'). */
  senderId?: string;
  /** Partition (default partitionFor(topic)). */
  partition?: number;
}

export class MemLog implements ConsumerLogPort {
  readonly parts: ConsumerRecord[][];
  private listeners: ((p: number, end: number) => void)[] = [];
  /** read() calls so far. */
  reads = 0;
  constructor(readonly partitions: number) {
    this.parts = Array.from({ length: partitions }, () => []);
  }
  partitionFor(key: string): number {
    return key.length % this.partitions;
  }
  /** Appends a QoS 1 message with `payload` on `topic` and tells the append listeners. */
  append(topic: string, payload: string, o: MemAppend = {}): void {
    const msg: Message = {
      topic, payload: Buffer.from(payload), qos: 1, retain: false, properties: o.user ? { userProperties: o.user } : {},
      createdAt: Date.now(), expiresAt: 0, senderId: o.senderId ?? 'pub',
    };
    const partition = o.partition ?? this.partitionFor(topic);
    const p = this.parts[partition]!;
    p.push({ key: topic, timestamp: msg.createdAt, headers: encodeHeaders(msg), value: msg.payload, partition, offset: p.length });
    for (const l of this.listeners) l(partition, p.length);
  }
  onAppend(l: (p: number, end: number) => void): () => void {
    this.listeners.push(l);
    return () => (this.listeners = this.listeners.filter((x) => x !== l));
  }
  async read(partition: number, offset: number, maxRecords: number): Promise<ConsumerRecord[]> {
    this.reads++;
    return this.parts[partition]!.slice(offset, offset + maxRecords);
  }
  async offsetForTime(): Promise<number> {
    return 0;
  }
  startOffset(): number {
    return 0;
  }
  endOffset(partition: number): number {
    return this.parts[partition]!.length;
  }
}
