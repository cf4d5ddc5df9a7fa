// createGateway(config) -> { start, close }: wires storage, the broker and the protocol listeners. Imports core, log, protocols and config.
import { mkdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Broker } from '../core/broker.ts';
import { DurableStore } from '../core/durable.ts';
import { ConfigError, type GatewayConfig } from '../../config/schema.ts';
import type { TlsFiles } from '../../protocols/tcp.ts';
import { nodeFileIO, openKeyValueStore, openLog } from '../log/index.ts';
import type { FlushPolicy } from '../log/types.ts';
import { MqttListener } from '../../protocols/mqtt/listener.ts';
import type { MqttOptions } from '../../protocols/mqtt/options.ts';
import { GatewayHttpServer } from '../../protocols/ws/server.ts';
import { dashboardHandler } from './dashboard.ts';
import { StompListener } from '../../protocols/stomp/listener.ts';
import { stompOptions, type StompOptions } from '../../protocols/stomp/options.ts';
import { SysTopics } from './sys-topics.ts';
import { GatewayMetrics } from './metrics.ts';
import { createAdminApi } from './admin-api.ts';

export interface GatewayPorts {
  mqtt: number;
  stomp: number;
  http: number;
  /** Present when tls.cert / tls.key are configured. */
  mqttTls?: number;
  stompTls?: number;
  httpTls?: number;
}

export interface Gateway {
  /** Available after start(). */
  readonly broker: Broker;
  readonly mqtt: MqttListener;
  readonly stomp: StompListener;
  /** This gateway's Prometheus registry and log latency histograms (served on GET /metrics). */
  readonly metrics: GatewayMetrics;
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

export function stompListenerOptions(config: GatewayConfig): StompOptions {
  const { host: _h, port: _p, maxFrameBytes, maxHeaders, maxHeaderBytes, maxBodyBytes, ...rest } = config.stomp;
  return stompOptions({
    ...rest,
    limits: { maxFrameBytes, maxHeaders, maxHeaderBytes, maxBodyBytes },
    maxTopicLevels: config.mqtt.maxTopicLevels,
    session: {
      maxQueued: config.sessions.maxQueued,
      maxQueuedBytes: config.sessions.maxQueuedBytes,
      dropPolicy: config.sessions.dropPolicy,
      queueQos0: config.sessions.queueQos0,
    },
  });
}

/** Reads the PEM files named by tls.cert / tls.key; a missing file stops the start naming the key. */
function readTlsFiles(config: GatewayConfig): TlsFiles {
  const read = (key: 'cert' | 'key'): Buffer => {
    try {
      return readFileSync(config.tls[key]);
    } catch (err) {
      throw new ConfigError(`tls.${key}`, `cannot read ${config.tls[key]}: ${(err as Error).message}`);
    }
  };
  return { cert: read('cert'), key: read('key') };
}

function flushPolicy(config: GatewayConfig): FlushPolicy {
  const p = config.persistence;
  return p.flush === 'interval' ? { mode: 'interval', intervalMs: p.flushIntervalMs } : { mode: p.flush };
}

async function openStore(config: GatewayConfig, log: Logger, metrics: GatewayMetrics): Promise<DurableStore> {
  const p = config.persistence;
  const dir = config.dataDir;
  mkdirSync(dir, { recursive: true });
  const events = log.child({ component: 'log' });
  const messages = await openLog(
    {
      dir: join(dir, 'log'),
      partitions: p.partitions,
      segmentBytes: p.segmentBytes,
      segmentMs: 24 * 3600 * 1000,
      retentionBytes: p.retentionBytes,
      retentionMs: p.retentionMs,
      indexIntervalBytes: 4096,
      flush: flushPolicy(config),
      maxRecordBytes: config.mqtt.maxPacketSize + 64 * 1024,
    },
    events,
    { io: metrics.timedFileIO(nodeFileIO) },
  );
  const state = await openKeyValueStore(join(dir, 'state'), flushPolicy(config), { logger: events });
  return new DurableStore(metrics.timedLog(messages), state, p.persistQos0);
}

/** The package version ($SYS/broker/version). */
export const GATEWAY_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function createGateway(config: GatewayConfig, log: Logger): Gateway {
  const options = mqttOptions(config);
  let broker: Broker | undefined;
  let mqtt: MqttListener | undefined;
  let stomp: StompListener | undefined;
  let store: DurableStore | undefined;
  let web: GatewayHttpServer | undefined;
  let webTls: GatewayHttpServer | undefined;
  let sys: SysTopics | undefined;
  let started = false;
  const metrics = new GatewayMetrics();
  return {
    metrics,
    get broker(): Broker {
      if (!broker) throw new Error('gateway not started');
      return broker;
    },
    get mqtt(): MqttListener {
      if (!mqtt) throw new Error('gateway not started');
      return mqtt;
    },
    get stomp(): StompListener {
      if (!stomp) throw new Error('gateway not started');
      return stomp;
    },
    async start() {
      // Files first: a bad certificate path stops the start before anything is opened.
      const files = config.tls.cert ? readTlsFiles(config) : undefined;
      if (config.persistence.enabled) store = await openStore(config, log, metrics);
      // Logged once; /readyz fails from then on (the state store's write errors are sticky).
      if (store) store.onStateError = (err) => log.error({ err: err.message }, 'state store write failed: session state is no longer saved, /readyz reports not ready');
      broker = new Broker({
        shareStrategy: config.shared.strategy,
        logger: log,
        persistence: store,
        onDrop: metrics.onDrop,
        restoreLimits: { ...options.session, maxInflight: options.maxInflight },
        maxLag: config.sessions.maxLag,
      });
      const t0 = Date.now();
      const restored = await broker.restore();
      if (store) log.info({ ...restored, ms: Date.now() - t0, dataDir: config.dataDir }, 'state recovered');
      mqtt = new MqttListener(broker, options, log);
      const port = await mqtt.listen(config.mqtt.port, config.mqtt.host);
      log.info({ protocol: 'mqtt', transport: 'tcp', host: config.mqtt.host, port }, 'listening');
      stomp = new StompListener(broker, stompListenerOptions(config), log);
      const stompPort = await stomp.listen(config.stomp.port, config.stomp.host);
      log.info({ protocol: 'stomp', transport: 'tcp', host: config.stomp.host, port: stompPort }, 'listening');
      const maxMessageBytes = Math.max(config.mqtt.maxPacketSize, config.stomp.maxFrameBytes);
      // HTTP routes besides the WebSocket upgrades, tried in order (metrics, admin API, dashboard).
      const httpHandlers: ((req: IncomingMessage, res: ServerResponse) => boolean)[] = [];
      httpHandlers.push(dashboardHandler()); // claims only `/` and /dashboard/*
      const webOptions = {
        maxMessageBytes,
        ready: () => started && store?.stateError === undefined,
        http: (req: IncomingMessage, res: ServerResponse) => httpHandlers.some((h) => h(req, res)),
        maxBufferedBytes: config.http.wsMaxBufferedBytes,
        onSlowConsumer: () => metrics.wsSlowConsumerClosed(),
      };
      const paths = ['/', '/mqtt', '/stomp', '/metrics', '/healthz', '/readyz', '/api'];
      web = new GatewayHttpServer({ mqtt, stomp }, webOptions, log);
      const httpPort = await web.listen(config.http.port, config.http.host);
      log.info({ protocol: 'http', transport: 'tcp', host: config.http.host, port: httpPort, paths }, 'listening');
      const sources = { broker, mqtt, stomp, startedAt: t0, version: GATEWAY_VERSION };
      metrics.bind(sources);
      httpHandlers.push(metrics.handler, createAdminApi(config.http.adminToken, sources, log.child({ component: 'admin' })));
      sys = new SysTopics(sources, config.sys.intervalMs);
      sys.start();
      const ports: GatewayPorts = { mqtt: port, stomp: stompPort, http: httpPort };
      if (files) {
        // The same routes over HTTPS: WSS for browsers, the dashboard, metrics and the admin API.
        webTls = new GatewayHttpServer({ mqtt, stomp }, { ...webOptions, tls: files }, log);
        ports.httpTls = await webTls.listen(config.http.tlsPort, config.http.host);
        log.info({ protocol: 'http', transport: 'tls', host: config.http.host, port: ports.httpTls, paths }, 'listening');
        ports.mqttTls = await mqtt.listenTls(config.mqtt.tlsPort, config.mqtt.host, files);
        log.info({ protocol: 'mqtt', transport: 'tls', host: config.mqtt.host, port: ports.mqttTls }, 'listening');
        ports.stompTls = await stomp.listenTls(config.stomp.tlsPort, config.stomp.host, files);
        log.info({ protocol: 'stomp', transport: 'tls', host: config.stomp.host, port: ports.stompTls }, 'listening');
      }
      started = true; // /readyz: every listener is bound and the log recovered
      return ports;
    },
    async close() {
      if (!started) return;
      started = false;
      sys?.stop();
      const stopped = [mqtt!.close(), stomp!.close(), web!.close(), webTls?.close()];
      broker!.close('SERVER_SHUTTING_DOWN');
      await Promise.all(stopped);
      // Session images written by broker.close() are queued on the store before it closes.
      await new Promise((r) => setImmediate(r));
      await store?.close();
      log.info('gateway stopped');
    },
  };
}
