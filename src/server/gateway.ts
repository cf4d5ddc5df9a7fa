// createGateway(config) -> { start, close }: wires storage, the broker and the protocol listeners. Imports core, log, protocols and config.
import { mkdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { Broker } from '../core/broker.ts';
import { DurableStore } from '../core/durable.ts';
import { bindHosts, type GatewayConfig } from '../../config/schema.ts';
import { GatewayAuth } from '../core/auth.ts';
import { loadAuthSettings, loadTlsFiles } from './auth-files.ts';
import { nodeFileIO } from '../log/index.ts';
import { openLocalBackend } from './local-backend.ts';
import type { NatsBackend } from './nats-backend.ts';
import type { QueueMode } from '../core/queue.ts';
import type { ClusterBackend, StorageBackend } from '../core/persistence.ts';
import type { ClusterOptions } from '../core/cluster/node.ts';
import type { FlushPolicy } from '../log/types.ts';
import { MqttListener } from '../../protocols/mqtt/listener.ts';
import { GatewayHttpServer } from '../../protocols/ws/server.ts';
import { dashboardHandler } from './dashboard.ts';
import { StompListener } from '../../protocols/stomp/listener.ts';
import { mqttOptions, stompListenerOptions } from './protocol-options.ts';
import { SysTopics } from './sys-topics.ts';
import { PendingWork } from '../core/backpressure.ts';
import { GATEWAY_VERSION } from './package-root.ts';
import { bindOrExplain, openOrExplain, StartupError } from './startup-errors.ts';
import { GatewayMetrics } from './metrics.ts';
import { createAdminApi } from './admin-api.ts';
import { ByteBudget, ConnectionAdmission, LimitCounters, type Guards } from '../core/limits.ts';
import { Bridges, checkBridgeFiles, registerHttpSinkMetrics } from '../bridges/index.ts';

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
  /** The authentication / ACL policy (available after start()). */
  readonly auth: GatewayAuth;
  /** The running bridges (bridges.mqtt; available after start()). */
  readonly bridges: Bridges;
  start(): Promise<GatewayPorts>;
  /**
   * SIGHUP: reads the password file, the ACL file and the TLS PEM files again. New handshakes and the next
   * check of every connection use them; no connection is dropped. A file that fails to load keeps the old
   * settings (logged); resolves true when everything reloaded.
   */
  reload(): boolean;
  /** Graceful stop: stop accepting, close sessions with "server shutting down", flush storage. */
  close(): Promise<void>;
}

/** What createGateway can be handed besides its config (tests; the NATS backend's wiring). */
export interface GatewayOptions {
  /**
   * The storage backend to use instead of opening the local one under dataDir (persistence.enabled must be true).
   * One with a cluster port (persistence.ts ClusterBackend) makes this gateway a cluster node. The gateway closes it.
   */
  backend?: StorageBackend | (() => Promise<StorageBackend>);
  /** Cluster timings (heartbeatMs, deadAfterMs, handoffTimeoutMs; cluster/node.ts), for a cluster backend. */
  cluster?: Omit<ClusterOptions, 'port' | 'log'>;
}

function isClusterBackend(b: StorageBackend): b is ClusterBackend {
  return (b as Partial<ClusterBackend>).cluster !== undefined;
}

/** One gateway's abuse limits from config.limits (shared by every listener). */
export function createGuards(config: GatewayConfig): Guards {
  const l = config.limits;
  const counters = new LimitCounters();
  return {
    counters,
    unfinished: new ByteBudget(l.maxUnfinishedBytes, counters),
    admission: new ConnectionAdmission(
      { maxConnections: l.maxConnections, maxConnectionsPerAddress: l.maxConnectionsPerAddress, connectionRatePerAddress: l.connectionRatePerAddress },
      counters,
    ),
    client: {
      maxSubscriptions: l.maxSubscriptionsPerClient,
      maxLogSubscriptions: l.maxLogSubscriptionsPerClient,
      maxPublishRate: l.maxPublishRate,
      maxPublishBytesRate: l.maxPublishBytesRate,
      maxSessions: l.maxSessions,
    },
  };
}

function flushPolicy(config: GatewayConfig): FlushPolicy {
  const p = config.persistence;
  return p.flush === 'interval' ? { mode: 'interval', intervalMs: p.flushIntervalMs } : { mode: p.flush };
}

/** cluster.backend nats: the shared JetStream backend (docs/CLUSTER.md); retention and partitions as the local log's. */
async function openNats(config: GatewayConfig, log: Logger): Promise<NatsBackend> {
  // Loaded only for backend nats: a local gateway does not pay for the NATS client at start.
  const { openNatsBackend } = await import('./nats-backend.ts');
  const c = config.cluster;
  const p = config.persistence;
  const explain = (err: unknown): never => {
    throw new StartupError(`NATS backend (cluster.servers ${c.servers.map((u) => u.replace(/\/\/[^@/]*@/, '//***@')).join(', ')}): ${(err as Error).message}; it needs reachable nats-server(s) with JetStream (-js), and the credentials / TLS in cluster.*`, err);
  };
  return openNatsBackend({
    servers: c.servers,
    nodeId: c.nodeId,
    prefix: c.prefix,
    partitions: p.partitions,
    replicas: c.replicas,
    retentionMs: p.retentionMs,
    retentionBytes: p.retentionBytes,
    maxRecordBytes: config.mqtt.maxPacketSize + 64 * 1024,
    username: c.username,
    password: c.password,
    token: c.token,
    credsFile: c.credsFile,
    tls: c.tls,
    timeoutMs: c.timeoutMs,
    events: log.child({ component: 'nats' }),
  }).catch(explain);
}

async function openStore(config: GatewayConfig, log: Logger, metrics: GatewayMetrics, onNats: (b: NatsBackend) => void): Promise<DurableStore> {
  const p = config.persistence;
  const dir = config.dataDir;
  mkdirSync(dir, { recursive: true });
  if (config.cluster.backend === 'nats') {
    const nats = await openNats(config, log);
    onNats(nats);
    return DurableStore.over(nats, p.persistQos0);
  }
  const backend = await openLocalBackend({
    dir,
    log: {
      partitions: p.partitions,
      segmentBytes: p.segmentBytes,
      segmentMs: 24 * 3600 * 1000,
      retentionBytes: p.retentionBytes,
      retentionMs: p.retentionMs,
      indexIntervalBytes: 4096,
      flush: flushPolicy(config),
      maxRecordBytes: config.mqtt.maxPacketSize + 64 * 1024,
    },
    events: log.child({ component: 'log' }),
    io: metrics.timedFileIO(nodeFileIO),
    wrapLog: (l) => metrics.timedLog(l),
  });
  return DurableStore.over(backend, p.persistQos0);
}

/** The package version ($SYS/broker/version). */
export { GATEWAY_VERSION };

/** The one startup summary: where each listener is, where the data is, which backend, whether auth is on. */
export interface StartupSummary {
  listeners: string[];
  dataDir: string;
  backend: string;
  /** What checks who connects: e.g. 'password file + acl file', or 'off (anonymous, loopback only)'. */
  auth: string;
}

export function startupSummary(config: GatewayConfig, ports: GatewayPorts): StartupSummary {
  const url = (scheme: string, host: string, port: number, path = ''): string => `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
  const hosts = bindHosts(config);
  const listeners = [
    url('mqtt', hosts.mqtt, ports.mqtt),
    url('stomp', hosts.stomp, ports.stomp),
    url('http', hosts.http, ports.http, '/'),
    url('ws', hosts.http, ports.http, '/mqtt'),
    url('ws', hosts.http, ports.http, '/stomp'),
  ];
  if (ports.mqttTls !== undefined) listeners.push(url('mqtts', hosts.mqtt, ports.mqttTls));
  if (ports.stompTls !== undefined) listeners.push(url('stomp+ssl', hosts.stomp, ports.stompTls));
  if (ports.httpTls !== undefined) listeners.push(url('https', hosts.http, ports.httpTls, '/'), url('wss', hosts.http, ports.httpTls, '/mqtt'));
  const p = config.persistence;
  const c = config.cluster;
  const backend = p.enabled && c.backend === 'nats'
    ? `NATS JetStream ${c.servers.map((u) => u.replace(/\/\/[^@/]*@/, '//***@')).join(',')} (node ${c.nodeId || 'host name'}, ${p.partitions} partitions, replicas ${c.replicas}, prefix ${c.prefix})`
    : p.enabled
    ? `durable log, ${p.partitions} partitions, flush ${p.flush}${p.flush === 'interval' ? ` ${p.flushIntervalMs} ms` : ''}, retention ${p.retentionMs < 0 ? 'forever' : p.retentionMs % 86_400_000 === 0 ? `${p.retentionMs / 86_400_000} days` : `${p.retentionMs / 1000} s`}`
    : 'in memory only (persistence.enabled: false)';
  const checks = [
    config.auth.passwordFile && 'password file',
    config.auth.aclFile && 'acl file',
    config.tls.requireCertificate && 'client certificates required',
  ].filter(Boolean);
  const anonymous = config.auth.allowAnonymous === 'loopback' ? 'anonymous on loopback only' : config.auth.allowAnonymous ? 'anonymous allowed' : 'no anonymous';
  const auth = `${checks.length === 0 ? 'off' : `on (${checks.join(', ')})`}, ${anonymous}${hosts.loopbackOnly ? ', listening on 127.0.0.1 only' : ''}`;
  return { listeners, dataDir: resolve(config.dataDir), backend, auth };
}

export function createGateway(config: GatewayConfig, log: Logger, gatewayOptions: GatewayOptions = {}): Gateway {
  const guards = createGuards(config);
  const options = { ...mqttOptions(config), guards };
  let broker: Broker | undefined;
  let mqtt: MqttListener | undefined;
  let stomp: StompListener | undefined;
  let store: DurableStore | undefined;
  let web: GatewayHttpServer | undefined;
  let webTls: GatewayHttpServer | undefined;
  let sys: SysTopics | undefined;
  let started = false;
  let auth: GatewayAuth | undefined;
  let bridges: Bridges | undefined;
  let nats: NatsBackend | undefined;
  const metrics = new GatewayMetrics();
  return {
    metrics,
    get auth(): GatewayAuth {
      if (!auth) throw new Error('gateway not started');
      return auth;
    },
    get bridges(): Bridges {
      if (!bridges) throw new Error('gateway not started');
      return bridges;
    },
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
      // Files first: a bad certificate, password or ACL file stops the start before anything is opened.
      const files = loadTlsFiles(config);
      const loaded = loadAuthSettings(config);
      checkBridgeFiles(config); // a bridge's unreadable TLS file stops the start here too, before anything is opened
      auth = new GatewayAuth(loaded.settings);
      if (config.auth.passwordFile || config.auth.aclFile) log.info({ ...loaded.report, passwordFile: config.auth.passwordFile, aclFile: config.auth.aclFile }, 'auth files loaded');
      metrics.bindAuth(auth.counters);
      metrics.requireToken(config.http.metricsToken);
      const hosts = bindHosts(config);
      let backend: StorageBackend | undefined;
      const given = gatewayOptions.backend;
      if (config.persistence.enabled && given) {
        backend = typeof given === 'function' ? await given() : given;
        store = DurableStore.over(backend, config.persistence.persistQos0);
      } else if (config.persistence.enabled) store = await openOrExplain(() => openStore(config, log, metrics, (b) => { nats = b; }), config.dataDir);
      backend ??= nats;
      const cluster = backend && isClusterBackend(backend) ? { ...gatewayOptions.cluster, port: backend.cluster, log: backend.log } : undefined;
      // Logged once; /readyz fails from then on (the state store's write errors are sticky).
      if (store) store.onStateError = (err) => log.error({ err: err.message }, 'state store write failed: session state is no longer saved, /readyz reports not ready');
      // On NATS a write error means NATS was unreachable, not a broken store: once it is back, /readyz recovers.
      nats?.onReadyChange((up) => { if (up && store) store.stateError = undefined; });
      const pending = new PendingWork(config.persistence.maxPendingBytes);
      // One info line for the first pause (then /metrics counts them); every transition at debug.
      pending.onChange((paused) => {
        const fields = { pendingBytes: pending.bytes, pendingMessages: pending.messages, pauses: pending.pauses, maxPendingBytes: pending.highWater };
        if (paused && pending.pauses === 1) log.info(fields, 'inbound backpressure: the log is behind, reading from clients paused (counted in gateway_backpressure_pauses_total)');
        else log.debug(fields, paused ? 'inbound backpressure: reading paused' : 'inbound backpressure: reading resumed');
      });
      broker = new Broker({
        auth,
        shareStrategy: config.shared.strategy,
        logger: log,
        persistence: store,
        onDrop: metrics.onDrop,
        pending,
        restoreLimits: { ...options.session, maxInflight: options.maxInflight },
        maxLag: config.sessions.maxLag,
        cluster,
      });
      broker.retained.setLimits(config.limits.maxRetainedMessages, config.limits.maxRetainedBytes);
      const t0 = Date.now();
      const restored = await broker.restore();
      if (store) log.info({ ...restored, ms: Date.now() - t0, dataDir: config.dataDir }, 'state recovered');
      // Bridges (MQTT and HTTP sinks) once the broker and its log are up, before clients can publish (stopped first in close()):
      // an outbound bridge reads the log, an inbound one publishes through the broker.
      bridges = await Bridges.start(config, broker, log);
      const running = bridges;
      registerHttpSinkMetrics(metrics.registry, () => running.sinkStatus());
      mqtt = new MqttListener(broker, options, log);
      if (hosts.loopbackOnly) {
        // Mosquitto 2's rule: until something checks who connects, listen where only this machine can reach.
        log.warn({ host: hosts.mqtt }, 'no authentication configured (auth.passwordFile, tls.requireCertificate or auth.allowAnonymous: true): listening on 127.0.0.1 only; set mqtt.host / stomp.host / http.host to listen elsewhere');
      }
      mqtt.followBackpressure(pending);
      const port = await bindOrExplain(() => mqtt!.listen(config.mqtt.port, hosts.mqtt), 'mqtt.port', config.mqtt.port, 'mqtt.host', hosts.mqtt);
      log.info({ protocol: 'mqtt', transport: 'tcp', host: hosts.mqtt, port, anonymous: String(config.auth.allowAnonymous) }, 'listening');
      stomp = new StompListener(broker, { ...stompListenerOptions(config), guards }, log);
      stomp.followBackpressure(pending);
      const stompPort = await bindOrExplain(() => stomp!.listen(config.stomp.port, hosts.stomp), 'stomp.port', config.stomp.port, 'stomp.host', hosts.stomp);
      log.info({ protocol: 'stomp', transport: 'tcp', host: hosts.stomp, port: stompPort }, 'listening');
      const maxMessageBytes = Math.max(config.mqtt.maxPacketSize, config.stomp.maxFrameBytes);
      // HTTP routes besides the WebSocket upgrades, tried in order (metrics, admin API, dashboard).
      const httpHandlers: ((req: IncomingMessage, res: ServerResponse) => boolean)[] = [];
      httpHandlers.push(dashboardHandler()); // claims only `/` and /dashboard/*
      const webOptions = {
        maxMessageBytes,
        ready: () => started && store?.stateError === undefined && (nats?.isReady() ?? true),
        http: (req: IncomingMessage, res: ServerResponse) => httpHandlers.some((h) => h(req, res)),
        maxBufferedBytes: config.http.wsMaxBufferedBytes,
        onSlowConsumer: () => metrics.wsSlowConsumerClosed(),
        allowedOrigins: config.http.allowedOrigins,
        headersTimeoutMs: config.http.headersTimeoutMs,
        requestTimeoutMs: config.http.requestTimeoutMs,
        tlsHandshakeTimeoutMs: config.limits.tlsHandshakeTimeoutMs,
        onTimeout: (reason: 'http-headers' | 'http-request' | 'tls-handshake') => guards.counters.timedOut('http', reason),
      };
      const paths = ['/', '/mqtt', '/stomp', '/metrics', '/healthz', '/readyz', '/api'];
      web = new GatewayHttpServer({ mqtt, stomp }, webOptions, log);
      const httpPort = await bindOrExplain(() => web!.listen(config.http.port, hosts.http), 'http.port', config.http.port, 'http.host', hosts.http);
      log.info({ protocol: 'http', transport: 'tcp', host: hosts.http, port: httpPort, paths }, 'listening');
      const sources = { broker, mqtt, stomp, startedAt: t0, version: GATEWAY_VERSION, bridges: () => running.status() };
      metrics.bind(sources);
      metrics.bindLimits(guards, () => broker!.retained.bytes);
      httpHandlers.push(metrics.handler, createAdminApi(config.http.adminToken, sources, log.child({ component: 'admin' })));
      sys = new SysTopics(sources, config.sys.intervalMs);
      sys.start();
      const ports: GatewayPorts = { mqtt: port, stomp: stompPort, http: httpPort };
      if (files) {
        // The same routes over HTTPS: WSS for browsers, the dashboard, metrics and the admin API.
        webTls = new GatewayHttpServer({ mqtt, stomp }, { ...webOptions, tls: files }, log);
        ports.httpTls = await bindOrExplain(() => webTls!.listen(config.http.tlsPort, hosts.http), 'http.tlsPort', config.http.tlsPort, 'http.host', hosts.http);
        log.info({ protocol: 'http', transport: 'tls', host: hosts.http, port: ports.httpTls, paths }, 'listening');
        const tlsInfo = { clientCertificates: files.ca ? (files.requireCertificate ? 'required' : 'optional') : 'off', minVersion: files.minVersion };
        ports.mqttTls = await bindOrExplain(() => mqtt!.listenTls(config.mqtt.tlsPort, hosts.mqtt, files, config.limits.tlsHandshakeTimeoutMs), 'mqtt.tlsPort', config.mqtt.tlsPort, 'mqtt.host', hosts.mqtt);
        log.info({ protocol: 'mqtt', transport: 'tls', host: hosts.mqtt, port: ports.mqttTls, ...tlsInfo }, 'listening');
        ports.stompTls = await bindOrExplain(() => stomp!.listenTls(config.stomp.tlsPort, hosts.stomp, files, config.limits.tlsHandshakeTimeoutMs), 'stomp.tlsPort', config.stomp.tlsPort, 'stomp.host', hosts.stomp);
        log.info({ protocol: 'stomp', transport: 'tls', host: hosts.stomp, port: ports.stompTls, ...tlsInfo }, 'listening');
      }
      started = true; // /readyz: every listener is bound and the log recovered
      const ready = startupSummary(config, ports);
      log.info({ ready }, `gateway ready: ${ready.listeners.join(', ')}; data ${ready.dataDir} (${ready.backend}); auth ${ready.auth}`);
      return ports;
    },
    reload() {
      if (!started || !auth) return false;
      let ok = true;
      try {
        const loaded = loadAuthSettings(config);
        auth.update(loaded.settings);
        log.info({ ...loaded.report }, 'auth files reloaded');
      } catch (err) {
        ok = false;
        log.error({ err: (err as Error).message }, 'auth files not reloaded; the previous ones stay in force');
      }
      try {
        const files = loadTlsFiles(config);
        if (files) {
          mqtt!.reloadTls(files);
          stomp!.reloadTls(files);
          webTls?.reloadTls(files);
          log.info('tls certificates reloaded');
        }
      } catch (err) {
        ok = false;
        log.error({ err: (err as Error).message }, 'tls certificates not reloaded; the previous ones stay in force');
      }
      return ok;
    },
    async close() {
      if (!started) return;
      started = false;
      sys?.stop();
      // Bridges first: their last commits (and a sink's dead letters) go to the store before it closes.
      await bridges?.stop();
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
