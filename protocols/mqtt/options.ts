// Settings one MQTT connection needs. Imports core session and limit types only.
// The gateway fills them from the config keys mqtt.* and sessions.* (src/server/protocol-options.ts); defaults,
// ranges and meanings live only in config/schema.ts.
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
  /** Seconds; 0xFFFFFFFF = never expire. Caps v5 Session Expiry and is the expiry of v3 clean=false sessions. */
  maxSessionExpiry: number;
  connectTimeoutMs: number;
  /** Session queue bounds (maxInflight is filled in per connection). */
  session: Omit<SessionLimits, 'maxInflight'>;
  /** Bytes buffered towards a slow client past which QoS 0 deliveries are dropped (counted). */
  maxWriteBuffer: number;
  /** Shared abuse limits (connections, unfinished bytes, per-client limits, counters); absent = unlimited. */
  guards?: Guards;
}
