// Maps the gateway config onto what each protocol adapter needs (protocols/*/options.ts). Imports config/schema.ts and the adapters' option types.
import { DEFAULT_CONFIG, type GatewayConfig } from '../../config/schema.ts';
import type { MqttOptions } from '../../protocols/mqtt/options.ts';
import type { StompOptions } from '../../protocols/stomp/options.ts';
import type { QueueMode } from '../core/queue.ts';
import type { SessionLimits } from '../core/session.ts';

/** Bytes buffered towards one slow client before QoS 0 / ack:auto deliveries to it are dropped (counted). */
const MAX_WRITE_BUFFER = 8 * 1024 * 1024;

function sessionLimits(config: GatewayConfig): Omit<SessionLimits, 'maxInflight'> {
  const { maxQueued, maxQueuedBytes, dropPolicy, queueQos0 } = config.sessions;
  return { maxQueued, maxQueuedBytes, dropPolicy, queueQos0 };
}

export function mqttOptions(config: GatewayConfig): MqttOptions {
  const { host: _host, port: _port, tlsPort: _tlsPort, ...mqtt } = config.mqtt;
  return { ...mqtt, session: sessionLimits(config), maxWriteBuffer: MAX_WRITE_BUFFER };
}

export function stompListenerOptions(config: GatewayConfig): StompOptions {
  const { host: _host, port: _port, tlsPort: _tlsPort, maxFrameBytes, maxHeaders, maxHeaderBytes, maxBodyBytes, queueModes, ...rest } = config.stomp;
  const modes: Record<string, QueueMode> = {};
  for (const entry of queueModes) {
    const eq = entry.lastIndexOf('=');
    modes[entry.slice(0, eq)] = entry.slice(eq + 1) as QueueMode; // checked by config/schema.ts
  }
  return {
    ...rest,
    queueModes: modes,
    limits: { maxFrameBytes, maxHeaders, maxHeaderBytes, maxBodyBytes },
    maxTopicLevels: config.mqtt.maxTopicLevels,
    session: sessionLimits(config),
    maxWriteBuffer: MAX_WRITE_BUFFER,
    serverName: 'iot-gateway',
  };
}

type Over<T> = { [K in keyof T]?: T[K] extends unknown[] ? T[K] : T[K] extends Record<string, QueueMode> ? T[K] : T[K] extends object ? Partial<T[K]> : T[K] };

/** The STOMP options of the default config overlaid with `over` (one level deep for `limits` and `session`); for tests. */
export function stompOptions(over: Over<StompOptions> = {}): StompOptions {
  const base = stompListenerOptions(DEFAULT_CONFIG);
  return { ...base, ...over, limits: { ...base.limits, ...over.limits }, session: { ...base.session, ...over.session } } as StompOptions;
}
