// createGateway(config) -> { start, close }: wires storage, the broker and the protocol listeners. Imports core, log, protocols and config.
import { mkdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { Broker } from '../core/broker.ts';
import { DurableStore } from '../core/durable.ts';
import { ConfigError, type GatewayConfig } from '../../config/schema.ts';
import type { TlsFiles } from '../../protocols/tcp.ts';
import { nodeFileIO, openKeyValueStore, openLog } from '../log/index.ts';
import type { FlushPolicy } from '../log/types.ts';
import { MqttListener } from '../../protocols/mqtt/listener.ts';
import { GatewayHttpServer } from '../../protocols/ws/server.ts';
import { dashboardHandler } from './dashboard.ts';
import { StompListener } from '../../protocols/stomp/listener.ts';
import { mqttOptions, stompListenerOptions } from './protocol-options.ts';
import { SysTopics } from './sys-topics.ts';
import { GATEWAY_VERSION } from './package-root.ts';
import { bindOrExplain, openOrExplain } from './startup-errors.ts';
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
export { GATEWAY_VERSION };

/** The one startup summary: where each listener is, where the data is, which backend, whether auth is on. */
export interface StartupSummary {
  listeners: string[];
  dataDir: string;
  backend: string;
  auth: 'on' | 'off';
}

export function startupSummary(config: GatewayConfig, ports: GatewayPorts): StartupSummary {
  const url = (scheme: string, host: string, port: number, path = ''): string => `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
  const listeners = [
    url('mqtt', config.mqtt.host, ports.mqtt),
    url('stomp', config.stomp.host, ports.stomp),
    url('http', config.http.host, ports.http, '/'),
    url('ws', config.http.host, ports.http, '/mqtt'),
    url('ws', config.http.host, ports.http, '/stomp'),
  ];
  if (ports.mqttTls !== undefined) listeners.push(url('mqtts', config.mqtt.host, ports.mqttTls));
  if (ports.stompTls !== undefined) listeners.push(url('stomp+ssl', config.stomp.host, ports.stompTls));
  if (ports.httpTls !== undefined) listeners.push(url('https', config.http.host, ports.httpTls, '/'), url('wss', config.http.host, ports.httpTls, '/mqtt'));
  const p = config.persistence;
  const backend = p.enabled
    ? `durable log, ${p.partitions} partitions, flush ${p.flush}${p.flush === 'interval' ? ` ${p.flushIntervalMs} ms` : ''}, retention ${p.retentionMs < 0 ? 'forever' : p.retentionMs % 86_400_000 === 0 ? `${p.retentionMs / 86_400_000} days` : `${p.retentionMs / 1000} s`}`
    : 'in memory only (persistence.enabled: false)';
  // No authentication hook is configured by any key yet: every client is accepted.
  return { listeners, dataDir: resolve(config.dataDir), backend, auth: 'off' };
}

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
      if (config.persistence.enabled) store = await openOrExplain(() => openStore(config, log, metrics), config.dataDir);
      broker = new Broker({
        shareStrategy: config.shared.strategy,
        logger: log,
        persistence: store,
        onDrop: metrics.onDrop,
        restoreLimits: { ...options.session, maxInflight: options.maxInflight },
      });
      const t0 = Date.now();
      const restored = await broker.restore();
      if (store) log.info({ ...restored, ms: Date.now() - t0, dataDir: config.dataDir }, 'state recovered');
      mqtt = new MqttListener(broker, options, log);
      const port = await bindOrExplain(() => mqtt!.listen(config.mqtt.port, config.mqtt.host), 'mqtt.port', config.mqtt.port, 'mqtt.host', config.mqtt.host);
      log.info({ protocol: 'mqtt', transport: 'tcp', host: config.mqtt.host, port }, 'listening');
      stomp = new StompListener(broker, stompListenerOptions(config), log);
      const stompPort = await bindOrExplain(() => stomp!.listen(config.stomp.port, config.stomp.host), 'stomp.port', config.stomp.port, 'stomp.host', config.stomp.host);
      log.info({ protocol: 'stomp', transport: 'tcp', host: config.stomp.host, port: stompPort }, 'listening');
      const maxMessageBytes = Math.max(config.mqtt.maxPacketSize, config.stomp.maxFrameBytes);
      // HTTP routes besides the WebSocket upgrades, tried in order (metrics, admin API, dashboard).
      const httpHandlers: ((req: IncomingMessage, res: ServerResponse) => boolean)[] = [];
      httpHandlers.push(dashboardHandler()); // claims only `/` and /dashboard/*
      const webOptions = {
        maxMessageBytes,
        ready: () => started,
        http: (req: IncomingMessage, res: ServerResponse) => httpHandlers.some((h) => h(req, res)),
        maxBufferedBytes: config.http.wsMaxBufferedBytes,
        onSlowConsumer: () => metrics.wsSlowConsumerClosed(),
      };
      const paths = ['/', '/mqtt', '/stomp', '/metrics', '/healthz', '/readyz', '/api'];
      web = new GatewayHttpServer({ mqtt, stomp }, webOptions, log);
      const httpPort = await bindOrExplain(() => web!.listen(config.http.port, config.http.host), 'http.port', config.http.port, 'http.host', config.http.host);
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
        ports.httpTls = await bindOrExplain(() => webTls!.listen(config.http.tlsPort, config.http.host), 'http.tlsPort', config.http.tlsPort, 'http.host', config.http.host);
        log.info({ protocol: 'http', transport: 'tls', host: config.http.host, port: ports.httpTls, paths }, 'listening');
        ports.mqttTls = await bindOrExplain(() => mqtt!.listenTls(config.mqtt.tlsPort, config.mqtt.host, files), 'mqtt.tlsPort', config.mqtt.tlsPort, 'mqtt.host', config.mqtt.host);
        log.info({ protocol: 'mqtt', transport: 'tls', host: config.mqtt.host, port: ports.mqttTls }, 'listening');
        ports.stompTls = await bindOrExplain(() => stomp!.listenTls(config.stomp.tlsPort, config.stomp.host, files), 'stomp.tlsPort', config.stomp.tlsPort, 'stomp.host', config.stomp.host);
        log.info({ protocol: 'stomp', transport: 'tls', host: config.stomp.host, port: ports.stompTls }, 'listening');
      }
      started = true; // /readyz: every listener is bound and the log recovered
      const ready = startupSummary(config, ports);
      log.info({ ready }, `gateway ready: ${ready.listeners.join(', ')}; data ${ready.dataDir} (${ready.backend}); auth ${ready.auth}`);
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
