// Starts and stops every configured bridge (bridges.mqtt and the HTTP sinks of bridges.http) over a started broker, and reports their status. Imports core, config types and src/bridges/*; src/server calls it, protocols/* and src/core never import it.
import type { Logger } from 'pino';
import type { Broker } from '../core/broker.ts';
import { parseMqttBridges } from './mqtt/config.ts';
import { readBridgeTlsFiles } from './mqtt/tls-files.ts';
import { startHttpSinks, type HttpSinks, type SinkStatus } from './http/index.ts';
import type { BridgeStatus } from './status.ts';

export type { BridgeStatus, BridgeState } from './status.ts';
export { registerHttpSinkMetrics, type SinkStatus } from './http/index.ts';

/** The slice of the gateway config bridges read. */
export interface BridgesConfig {
  bridges: { mqtt: readonly unknown[]; http: readonly unknown[] };
  mqtt: { maxPacketSize: number; maxTopicLevels: number };
  /** $SYS/broker/bridges/<name>/... of the HTTP sinks every this many ms (0 = not published). */
  sys: { intervalMs: number };
}

/** Anything the gateway starts after the broker and stops before the storage closes. */
export interface RunningBridge {
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): BridgeStatus;
}

/**
 * Checks what a bridge needs from outside before the gateway opens anything: the config parses and every TLS file
 * is readable. Throws BridgeConfigProblem naming the key (`bridges.mqtt[0].tls.ca`).
 */
export function checkBridgeFiles(config: BridgesConfig): void {
  parseMqttBridges(config.bridges.mqtt).forEach((c, i) => readBridgeTlsFiles(c, `bridges.mqtt[${i}]`));
}

export class Bridges {
  private constructor(
    readonly list: readonly RunningBridge[],
    private readonly sinks: HttpSinks,
  ) {}

  /**
   * Builds every bridge from config (throws BridgeConfigProblem / CONFIG_INVALID naming the key) and starts them; a
   * bridge whose remote is down keeps retrying. Call it before the listeners open: an HTTP sink's start point is
   * 'next', so it then misses no client publish.
   */
  static async start(config: BridgesConfig, broker: Broker, logger: Logger): Promise<Bridges> {
    const sinks = await startHttpSinks(broker, config.bridges.http, { logger, sysIntervalMs: config.sys.intervalMs });
    const mqttConfigs = parseMqttBridges(config.bridges.mqtt);
    // mqtt.js is loaded only when a bridge needs it: a gateway without bridges starts as fast as before.
    const { MqttBridge } = mqttConfigs.length !== 0 ? await import('./mqtt/bridge.ts') : { MqttBridge: undefined };
    const list: RunningBridge[] = mqttConfigs.map(
      (c, i) =>
        new MqttBridge!(c, {
          broker,
          // Storage handles: src/bridges sits beside src/server (not an adapter), like the metrics and the admin API.
          log: broker.log,
          store: broker.state,
          logger,
          maxPacketSize: config.mqtt.maxPacketSize,
          maxTopicLevels: config.mqtt.maxTopicLevels,
          key: `bridges.mqtt[${i}]`,
        }),
    );
    const started: RunningBridge[] = [];
    try {
      for (const b of list) {
        await b.start();
        started.push(b);
      }
    } catch (err) {
      await Promise.all([...started.map((b) => b.stop()), sinks.stop()]);
      throw err;
    }
    if (list.length !== 0) logger.info({ bridges: list.map((b) => b.status().name) }, 'bridges started');
    return new Bridges(list, sinks);
  }

  /** The MQTT bridges (dashboard, $SYS, /metrics). */
  status(): BridgeStatus[] {
    return this.list.map((b) => b.status());
  }

  /** The HTTP sinks (/metrics; their $SYS topics are published by the sinks). */
  sinkStatus(): SinkStatus[] {
    return this.sinks.status();
  }

  /** Stops every bridge and sink: readers end, committed positions are flushed, remote connections close. Call it before the broker and the store close. */
  async stop(): Promise<void> {
    await Promise.all([...this.list.map((b) => b.stop()), this.sinks.stop()]);
  }
}
