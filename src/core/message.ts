// The one protocol-neutral message model every adapter translates into. Imports nothing.

export type QoS = 0 | 1 | 2;

/** MQTT 5 publish properties that travel with a message (STOMP maps its headers onto these). */
export interface MessageProperties {
  payloadFormatIndicator?: boolean;
  /** Seconds, as the publisher set it; `Message.expiresAt` is the absolute form. */
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  /** mqtt-packet's shape: a repeated key holds an array, order within a key kept. */
  userProperties?: Record<string, string | string[]>;
}

/** Where a message sits in the durable log; sessions hold these, never payload copies. */
export interface LogRef {
  partition: number;
  offset: number;
}

export interface Message {
  topic: string;
  payload: Buffer;
  /** QoS the publisher used; delivery QoS is min(this, subscription QoS). */
  qos: QoS;
  retain: boolean;
  properties: MessageProperties;
  /** Epoch ms when the gateway accepted it. */
  createdAt: number;
  /** Epoch ms after which it must not be delivered [MQTT-3.3.2-5]; 0 = never. */
  expiresAt: number;
  /** Session id of the publisher ('' for the gateway itself); used for no-local. */
  senderId: string;
  /** Set once the message is durable. */
  ref?: LogRef;
}

export function isExpired(msg: Message, now: number): boolean {
  return msg.expiresAt !== 0 && now >= msg.expiresAt;
}

/** Remaining expiry in whole seconds for a forwarded PUBLISH [MQTT-3.3.2-6]. */
export function remainingExpirySeconds(msg: Message, now: number): number | undefined {
  if (msg.expiresAt === 0) return undefined;
  return Math.max(0, Math.ceil((msg.expiresAt - now) / 1000));
}
