// Gateway configuration: the typed shape, its defaults and a validator whose errors name the bad key. Imports nothing.

export type FlushMode = 'always' | 'interval' | 'never';

export interface GatewayConfig {
  dataDir: string;
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  /** PEM files for the TLS listeners; both empty = no TLS listeners. Reloaded on SIGHUP. */
  tls: {
    cert: string;
    key: string;
    /** PEM CA bundle client certificates are verified against ('' = client certificates not asked for). */
    ca: string;
    /** Refuse a TLS handshake without a client certificate signed by tls.ca (Mosquitto's require_certificate). */
    requireCertificate: boolean;
    /** The verified client certificate's CN becomes the username; no password asked (use_identity_as_username). */
    useIdentityAsUsername: boolean;
    minVersion: 'TLSv1.2' | 'TLSv1.3';
    /** OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are all forward-secret); default: ECDHE / DHE with AEAD only. */
    ciphers: string;
  };
  /** Who may connect and what they may touch (README "Security"). Files are reloaded on SIGHUP. */
  auth: {
    /** Mosquitto password file (mosquitto_passwd / `npm run passwd`); '' = usernames are not checked. */
    passwordFile: string;
    /** Mosquitto ACL file; '' = every client may publish and subscribe to everything but $SYS. */
    aclFile: string;
    /** 'loopback' = anonymous clients only on a loopback address; true = everywhere; false = never. */
    allowAnonymous: boolean | 'loopback';
  };
  mqtt: {
    /** '' = 127.0.0.1 while no authentication is configured, else 0.0.0.0 (as Mosquitto 2). */
    host: string;
    port: number;
    /** MQTT over TLS (when tls.cert / tls.key are set). */
    tlsPort: number;
    /** Largest packet accepted from a client, bytes (remaining length + header) [MQTT-3.2.2-15]. */
    maxPacketSize: number;
    /** Server Receive Maximum: inbound QoS 1/2 unacknowledged per client [MQTT-3.3.4-7]. */
    receiveMaximum: number;
    /** Outbound in-flight window cap per client (also bounded by the client's Receive Maximum). */
    maxInflight: number;
    topicAliasMaximum: number;
    /** Server cap on keepalive seconds (0 = accept what the client asks). */
    maxKeepalive: number;
    maxTopicLevels: number;
    maxClientIdLength: number;
    /** Largest session expiry interval granted, seconds. */
    maxSessionExpiry: number;
    /** Milliseconds a new connection may take to send CONNECT. */
    connectTimeoutMs: number;
  };
  stomp: {
    /** '' = as mqtt.host. */
    host: string;
    port: number;
    /** STOMP over TLS (when tls.cert / tls.key are set). */
    tlsPort: number;
    maxFrameBytes: number;
    maxHeaders: number;
    maxHeaderBytes: number;
    maxBodyBytes: number;
    heartbeatSendMs: number;
    heartbeatReceiveMs: number;
    heartbeatGrace: number;
    connectTimeoutMs: number;
    defaultPrefetch: number;
    maxPrefetch: number;
    /** NACKs a message survives before it goes to the dead-letter topic. */
    maxRedeliveries: number;
    /** Fixed dead-letter MQTT topic; '' = `$dlq/<original topic>`. */
    deadLetterTopic: string;
    queueWindow: number;
    /** Queues that exist from start (MQTT publishers reach them as `$queue/<name>`). */
    queues: string[];
    /** Subscription mode of a queue with no entry in queueModes: shared | key-shared | failover. */
    queueMode: 'shared' | 'key-shared' | 'failover';
    /** Per-queue modes as `<name>=<mode>` entries, e.g. ["orders=failover"]. */
    queueModes: string[];
    maxSubscriptions: number;
    maxTransactions: number;
    maxTransactionFrames: number;
  };
  http: {
    /** '' = as mqtt.host. */
    host: string;
    port: number;
    /** HTTPS / WSS (when tls.cert / tls.key are set). */
    tlsPort: number;
    /** Bearer token for the admin API (/api/*) and the dashboard's login (username `$admin`); '' disables the admin API (404). At least 16 characters. */
    adminToken: string;
    /** Bearer token for /metrics; '' = /metrics is open. At least 16 characters. */
    metricsToken: string;
    /** Origins (e.g. `https://ops.example.com`) a browser WebSocket upgrade may come from; [] = any. */
    allowedOrigins: string[];
    /** A WebSocket whose unsent bytes exceed this is closed with 1013 (slow consumer). */
    wsMaxBufferedBytes: number;
  };
  /** $SYS topics: published (retained, QoS 0) every intervalMs; 0 = off. */
  sys: { intervalMs: number };
  sessions: {
    /**
     * Read-ahead per session, in messages and payload bytes. With persistence on, a subscriber whose
     * read-ahead is full does not lose log-backed messages: it falls behind and reads them from the log
     * (lag). Only messages not in the log (QoS 0 unless persistence.persistQos0) obey dropPolicy. With
     * persistence off there is no log: these are hard caps and dropPolicy applies to everything.
     */
    maxQueued: number;
    maxQueuedBytes: number;
    dropPolicy: 'drop-oldest' | 'drop-newest';
    queueQos0: boolean;
    /**
     * How far a behind session or `$share` group may lag (per log partition) before it skips ahead,
     * counted in gateway_lag_skipped_messages_total{reason="max-lag"}. 0 = no bound (default): only
     * retention bounds the backlog.
     */
    maxLag: { messages: number; ageMs: number };
  };
  shared: { strategy: 'round-robin' | 'sticky' };
  persistence: {
    enabled: boolean;
    flush: FlushMode;
    flushIntervalMs: number;
    partitions: number;
    segmentBytes: number;
    retentionBytes: number;
    retentionMs: number;
    persistQos0: boolean;
    /**
     * Inbound backpressure: bytes (payload + topic) of publishes handed to the log and not yet durable and
     * routed. Above it the listeners stop reading from client sockets until it falls to half; 0 = never pause.
     */
    maxPendingBytes: number;
  };
}

/** TLS 1.2 suites with ephemeral key exchange and AEAD only: no static-RSA key exchange, no CBC. */
export const FORWARD_SECRET_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
].join(':');

/** Shortest http.adminToken / http.metricsToken accepted. */
export const MIN_TOKEN_LENGTH = 16;

export const DEFAULT_CONFIG: GatewayConfig = {
  dataDir: './data',
  log: { level: 'info' },
  tls: { cert: '', key: '', ca: '', requireCertificate: false, useIdentityAsUsername: false, minVersion: 'TLSv1.2', ciphers: FORWARD_SECRET_CIPHERS },
  auth: { passwordFile: '', aclFile: '', allowAnonymous: 'loopback' },
  mqtt: {
    host: '',
    port: 1883,
    tlsPort: 8883,
    maxPacketSize: 1024 * 1024,
    receiveMaximum: 1024,
    maxInflight: 1024,
    topicAliasMaximum: 64,
    maxKeepalive: 0,
    maxTopicLevels: 32,
    maxClientIdLength: 256,
    maxSessionExpiry: 7 * 24 * 3600,
    connectTimeoutMs: 10_000,
  },
  stomp: {
    host: '',
    port: 61613,
    tlsPort: 61614,
    maxFrameBytes: 1024 * 1024 + 64 * 1024,
    maxHeaders: 64,
    maxHeaderBytes: 8192,
    maxBodyBytes: 1024 * 1024,
    heartbeatSendMs: 10_000,
    heartbeatReceiveMs: 10_000,
    heartbeatGrace: 2,
    connectTimeoutMs: 10_000,
    defaultPrefetch: 100,
    maxPrefetch: 65535,
    maxRedeliveries: 5,
    deadLetterTopic: '',
    queueWindow: 1000,
    queues: [],
    queueMode: 'shared',
    queueModes: [],
    maxSubscriptions: 1000,
    maxTransactions: 16,
    maxTransactionFrames: 10_000,
  },
  http: { host: '', port: 8080, tlsPort: 8443, adminToken: '', metricsToken: '', allowedOrigins: [], wsMaxBufferedBytes: 16 * 1024 * 1024 },
  sys: { intervalMs: 1000 },
  sessions: { maxQueued: 10_000, maxQueuedBytes: 64 * 1024 * 1024, dropPolicy: 'drop-oldest', queueQos0: false, maxLag: { messages: 0, ageMs: 0 } },
  shared: { strategy: 'round-robin' },
  persistence: {
    enabled: true,
    flush: 'interval',
    flushIntervalMs: 10,
    partitions: 8,
    segmentBytes: 64 * 1024 * 1024,
    retentionBytes: -1,
    retentionMs: 7 * 24 * 3600 * 1000,
    persistQos0: false,
    maxPendingBytes: 64 * 1024 * 1024,
  },
};

type Rule =
  | { t: 'int'; min: number; max: number }
  | { t: 'string'; nonEmpty?: boolean }
  | { t: 'bool' }
  | { t: 'bool-or'; value: string }
  | { t: 'strings' }
  | { t: 'enum'; values: readonly string[] };

const int = (min: number, max: number): Rule => ({ t: 'int', min, max });
const PORT = int(0, 65535);
const BIG = Number.MAX_SAFE_INTEGER;

/** Every key the config may hold; anything else is an error naming it. */
const RULES: Record<string, Rule> = {
  dataDir: { t: 'string', nonEmpty: true },
  'log.level': { t: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
  'mqtt.host': { t: 'string' },
  'mqtt.port': PORT,
  'mqtt.tlsPort': PORT,
  'tls.cert': { t: 'string' },
  'tls.key': { t: 'string' },
  'tls.ca': { t: 'string' },
  'tls.requireCertificate': { t: 'bool' },
  'tls.useIdentityAsUsername': { t: 'bool' },
  'tls.minVersion': { t: 'enum', values: ['TLSv1.2', 'TLSv1.3'] },
  'tls.ciphers': { t: 'string', nonEmpty: true },
  'auth.passwordFile': { t: 'string' },
  'auth.aclFile': { t: 'string' },
  'auth.allowAnonymous': { t: 'bool-or', value: 'loopback' },
  'mqtt.maxPacketSize': int(64, 268_435_460),
  'mqtt.receiveMaximum': int(1, 65535),
  'mqtt.maxInflight': int(1, 65535),
  'mqtt.topicAliasMaximum': int(0, 65535),
  'mqtt.maxKeepalive': int(0, 65535),
  'mqtt.maxTopicLevels': int(1, 1024),
  'mqtt.maxClientIdLength': int(23, 65535),
  'mqtt.maxSessionExpiry': int(0, 0xffffffff),
  'mqtt.connectTimeoutMs': int(100, 600_000),
  'stomp.host': { t: 'string' },
  'stomp.port': PORT,
  'stomp.tlsPort': PORT,
  'stomp.maxFrameBytes': int(256, 268_435_456),
  'stomp.maxHeaders': int(1, 10_000),
  'stomp.maxHeaderBytes': int(64, 1024 * 1024),
  'stomp.maxBodyBytes': int(0, 268_435_456),
  'stomp.heartbeatSendMs': int(0, 3_600_000),
  'stomp.heartbeatReceiveMs': int(0, 3_600_000),
  'stomp.heartbeatGrace': int(1, 100),
  'stomp.connectTimeoutMs': int(100, 600_000),
  'stomp.defaultPrefetch': int(1, 65535),
  'stomp.maxPrefetch': int(1, 65535),
  'stomp.maxRedeliveries': int(0, 1_000_000),
  'stomp.deadLetterTopic': { t: 'string' },
  'stomp.queueWindow': int(1, 65535),
  'stomp.queues': { t: 'strings' },
  'stomp.queueMode': { t: 'enum', values: ['shared', 'key-shared', 'failover'] },
  'stomp.queueModes': { t: 'strings' },
  'stomp.maxSubscriptions': int(1, 1_000_000),
  'stomp.maxTransactions': int(0, 1_000_000),
  'stomp.maxTransactionFrames': int(1, 10_000_000),
  'http.host': { t: 'string' },
  'http.port': PORT,
  'http.tlsPort': PORT,
  'http.adminToken': { t: 'string' },
  'http.metricsToken': { t: 'string' },
  'http.allowedOrigins': { t: 'strings' },
  'http.wsMaxBufferedBytes': int(64 * 1024, 2 ** 31 - 1),
  'sys.intervalMs': int(0, 3_600_000),
  'sessions.maxQueued': int(0, BIG),
  'sessions.maxQueuedBytes': int(0, BIG),
  'sessions.dropPolicy': { t: 'enum', values: ['drop-oldest', 'drop-newest'] },
  'sessions.queueQos0': { t: 'bool' },
  'sessions.maxLag.messages': int(0, BIG),
  'sessions.maxLag.ageMs': int(0, BIG),
  'shared.strategy': { t: 'enum', values: ['round-robin', 'sticky'] },
  'persistence.enabled': { t: 'bool' },
  'persistence.flush': { t: 'enum', values: ['always', 'interval', 'never'] },
  'persistence.flushIntervalMs': int(1, 60_000),
  'persistence.partitions': int(1, 1024),
  'persistence.segmentBytes': int(4096, 2 ** 31 - 1),
  'persistence.retentionBytes': int(-1, BIG),
  'persistence.retentionMs': int(-1, BIG),
  'persistence.persistQos0': { t: 'bool' },
  'persistence.maxPendingBytes': int(0, BIG),
};

export class ConfigError extends Error {
  constructor(readonly key: string, detail: string) {
    super(`config: ${key}: ${detail}`);
    this.name = 'ConfigError';
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkValue(key: string, rule: Rule, v: unknown): void {
  switch (rule.t) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(key, `must be an integer, got ${JSON.stringify(v)}`);
      if (v < rule.min || v > rule.max) throw new ConfigError(key, `must be between ${rule.min} and ${rule.max}, got ${v}`);
      return;
    case 'string':
      if (typeof v !== 'string') throw new ConfigError(key, `must be a string, got ${JSON.stringify(v)}`);
      if (rule.nonEmpty && v.length === 0) throw new ConfigError(key, 'must not be empty');
      return;
    case 'bool':
      if (typeof v !== 'boolean') throw new ConfigError(key, `must be true or false, got ${JSON.stringify(v)}`);
      return;
    case 'bool-or':
      if (typeof v !== 'boolean' && v !== rule.value) throw new ConfigError(key, `must be true, false or ${JSON.stringify(rule.value)}, got ${JSON.stringify(v)}`);
      return;
    case 'strings':
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x.length === 0)) {
        throw new ConfigError(key, `must be a list of non-empty strings, got ${JSON.stringify(v)}`);
      }
      return;
    case 'enum':
      if (typeof v !== 'string' || !rule.values.includes(v)) {
        throw new ConfigError(key, `must be one of ${rule.values.join(', ')}, got ${JSON.stringify(v)}`);
      }
  }
}

/** Merges `input` over the defaults, validating every key; throws ConfigError naming the first bad key. */
export function resolveConfig(input: unknown): GatewayConfig {
  if (input === undefined || input === null) input = {};
  if (!isPlainObject(input)) throw new ConfigError('(root)', 'must be an object');
  const out = structuredClone(DEFAULT_CONFIG) as unknown as Record<string, unknown>;
  const walk = (src: Record<string, unknown>, dst: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(src)) {
      const key = prefix ? `${prefix}.${k}` : k;
      const rule = RULES[key];
      if (rule) {
        checkValue(key, rule, v);
        dst[k] = v;
      } else if (isPlainObject(dst[k]) && isPlainObject(v)) {
        walk(v, dst[k] as Record<string, unknown>, key);
      } else if (isPlainObject(dst[k])) {
        throw new ConfigError(key, 'must be an object');
      } else {
        throw new ConfigError(key, 'unknown key');
      }
    }
  };
  walk(input, out, '');
  const config = out as unknown as GatewayConfig;
  for (const entry of config.stomp.queueModes) {
    if (!/^[^=+#]+=(shared|key-shared|failover)$/.test(entry)) {
      throw new ConfigError('stomp.queueModes', `entries are "<queue name>=shared|key-shared|failover", got ${JSON.stringify(entry)}`);
    }
  }
  if ((config.tls.cert === '') !== (config.tls.key === '')) {
    throw new ConfigError(config.tls.cert === '' ? 'tls.cert' : 'tls.key', 'tls.cert and tls.key must be set together');
  }
  for (const k of ['adminToken', 'metricsToken'] as const) {
    const t = config.http[k];
    if (t !== '' && t.length < MIN_TOKEN_LENGTH) throw new ConfigError(`http.${k}`, `must be at least ${MIN_TOKEN_LENGTH} characters (or empty to turn it off)`);
  }
  if ((config.tls.requireCertificate || config.tls.useIdentityAsUsername) && config.tls.ca === '') {
    throw new ConfigError('tls.ca', 'tls.requireCertificate and tls.useIdentityAsUsername need tls.ca (the CA client certificates are verified against)');
  }
  if (config.tls.ca !== '' && config.tls.cert === '') throw new ConfigError('tls.ca', 'needs tls.cert and tls.key (client certificates are asked for on the TLS listeners)');
  return config;
}

/** True when something checks who connects: a password file, required client certificates, or anonymous allowed everywhere on purpose. */
export function authConfigured(config: GatewayConfig): boolean {
  return config.auth.passwordFile !== '' || config.tls.requireCertificate || config.auth.allowAnonymous === true;
}

/**
 * The address each listener binds: an explicit host as given; otherwise 0.0.0.0 when authentication is
 * configured and 127.0.0.1 when it is not (Mosquitto 2 listens on loopback only until configured).
 */
export function bindHosts(config: GatewayConfig): { mqtt: string; stomp: string; http: string; loopbackOnly: boolean } {
  const auto = authConfigured(config) ? '0.0.0.0' : '127.0.0.1';
  const mqtt = config.mqtt.host || auto;
  return { mqtt, stomp: config.stomp.host || auto, http: config.http.host || auto, loopbackOnly: !config.mqtt.host && !config.stomp.host && !config.http.host && auto === '127.0.0.1' };
}

/** Applies a dotted-key override (from a CLI flag) onto a raw config object before validation. */
export function setDotted(raw: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node = raw;
  for (const p of parts.slice(0, -1)) {
    if (!isPlainObject(node[p])) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}
