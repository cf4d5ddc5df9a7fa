// Settings one MQTT connection needs from the gateway config. Imports core session and limit types only.
import type { Guards } from '../../src/core/limits.ts';
import type { SessionLimits } from '../../src/core/session.ts';

export interface MqttOptions {
  maxPacketSize: number;
  receiveMaximum: number;
  maxInflight: number;
  topicAliasMaximum: number;
  maxKeepalive: number;
  maxTopicLevels: number;
  maxClientIdLength: number;
  maxSessionExpiry: number;
  connectTimeoutMs: number;
  /** Session queue bounds (maxInflight is filled in per connection). */
  session: Omit<SessionLimits, 'maxInflight'>;
  /** Bytes buffered towards a slow client past which QoS 0 deliveries are dropped (counted). */
  maxWriteBuffer: number;
  /** Shared abuse limits (connections, unfinished bytes, per-client limits, counters); absent = unlimited. */
  guards?: Guards;
}
