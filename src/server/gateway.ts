// createGateway(config) -> { start, close }: wires the broker, persistence and protocol listeners. Imports core, protocols and config.
import type { Logger } from 'pino';
import { Broker } from '../core/broker.ts';
import type { GatewayConfig } from '../../config/schema.ts';
import { MqttListener } from '../../protocols/mqtt/listener.ts';
import type { MqttOptions } from '../../protocols/mqtt/options.ts';

export interface GatewayPorts {
  mqtt: number;
}

export interface Gateway {
  readonly broker: Broker;
  readonly mqtt: MqttListener;
  start(): Promise<GatewayPorts>;
  /** Graceful stop: stop accepting, close sessions with "server shutting down", flush storage. */
  close(): Promise<void>;
}

export function mqttOptions(config: GatewayConfig): MqttOptions {
  const m = config.mqtt;
  return {
    maxPacketSize: m.maxPacketSize,
    receiveMaximum: m.receiveMaximum,
    maxInflight: m.maxInflight,
    topicAliasMaximum: m.topicAliasMaximum,
    maxKeepalive: m.maxKeepalive,
    maxTopicLevels: m.maxTopicLevels,
    maxClientIdLength: m.maxClientIdLength,
    maxSessionExpiry: m.maxSessionExpiry,
    connectTimeoutMs: m.connectTimeoutMs,
    session: {
      maxQueued: config.sessions.maxQueued,
      maxQueuedBytes: config.sessions.maxQueuedBytes,
      dropPolicy: config.sessions.dropPolicy,
      queueQos0: config.sessions.queueQos0,
    },
    maxWriteBuffer: 8 * 1024 * 1024,
  };
}

export function createGateway(config: GatewayConfig, log: Logger): Gateway {
  const broker = new Broker({ shareStrategy: config.shared.strategy, logger: log });
  const mqtt = new MqttListener(broker, mqttOptions(config), log);
  let started = false;
  return {
    broker,
    mqtt,
    async start() {
      const port = await mqtt.listen(config.mqtt.port, config.mqtt.host);
      started = true;
      log.info({ protocol: 'mqtt', transport: 'tcp', host: config.mqtt.host, port }, 'listening');
      return { mqtt: port };
    },
    async close() {
      if (!started) return;
      started = false;
      const stopped = mqtt.close();
      broker.close('SERVER_SHUTTING_DOWN');
      await stopped;
      log.info('gateway stopped');
    },
  };
}
