// The one declaration of the gateway config: every key once, with its type, default, range and meaning. Imports config/define.ts (typebox builders), config/validate.ts the core topic rules (topic-shaped values are validated like the wire) and the HTTP sink entry checks (src/bridges/http/options.ts).
//
// Everything else is derived from CONFIG_SCHEMA: the TypeScript type (GatewayConfig), the defaults (DEFAULT_CONFIG),
// validation with messages naming the bad key (resolveConfig, resolveLayers), the GATEWAY_<PATH> environment names,
// the --help text and docs/CONFIG.md (npm run config-doc; test/unit/config-doc.test.ts fails when it is stale).
//
// To add a key: one line in its section, e.g.
//   maxLag: int(10_000, 0, BIG, 'Records a persistent session may fall behind the log tail before ...'),
// (int(default, min, max, meaning) | str(default, meaning) | nonEmpty(default, meaning) | bool(default, meaning) |
//  oneOf([values], default, meaning) | strings(meaning) | section(meaning, { ...keys }) for a new group),
// then `npm run config-doc` (regenerates docs/CONFIG.md). A new section must also appear in
// config/gateway.example.yaml, at its defaults (test/unit/config-doc.test.ts checks both). Any typebox schema with
// `default` and `description` works as a leaf too, e.g. Type.Array(Type.Object({...}), { default: [], description: '...' })
// (its GATEWAY_* variable then takes JSON). A flag for the key: one line in src/server/flags.ts KEY_FLAGS.
// A rule across keys goes in crossChecks below.
//
// Why typebox + ajv (not zod): the declaration *is* JSON Schema, plain data, so the docs renderer, the defaults and
// the error messages read standard keywords (default, minimum, maximum, enum, description) instead of a library's
// internals; ajv is the standard validator for it and reports the failing path and the unknown property that the
// "did you mean" suggestion needs; typebox's Static<> gives the TypeScript type. Both are maintained, pure JS.
import { BIG, bool, boolOr, int, nonEmpty, oneOf, section, str, strings, type Static } from './define.ts';
import { compileConfig, ConfigError } from './validate.ts';
import { topicNameProblem } from '../src/core/topic.ts';
import { Type } from '@sinclair/typebox';
import { BridgeConfigProblem, parseMqttBridges } from '../src/bridges/mqtt/config.ts';
import { checkHttpSinks } from '../src/bridges/http/options.ts';

const SECONDS_7_DAYS = 7 * 24 * 3600;

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

export const CONFIG_SCHEMA = section('Gateway configuration', {
  dataDir: nonEmpty('./data', 'Directory for the durable log (`log/`) and the key/value state (`state/`); created if missing.'),
  log: section('Logging (pino)', {
    level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info', 'Lowest level written.'),
    format: oneOf(['auto', 'json', 'pretty'], 'auto', 'auto: pretty one-line logs when stdout is a terminal, JSON lines otherwise.'),
  }),
  tls: section('PEM files for the TLS listeners; both empty = no TLS listeners. Reloaded on SIGHUP', {
    cert: str('', 'Certificate chain (PEM file path); set together with tls.key.'),
    key: str('', 'Private key (PEM file path); set together with tls.cert.'),
    ca: str('', "PEM CA bundle client certificates are verified against; '' = client certificates are not asked for."),
    requireCertificate: bool(false, "Refuse a TLS handshake without a client certificate signed by tls.ca (Mosquitto's require_certificate)."),
    useIdentityAsUsername: bool(false, "The verified client certificate's CN becomes the username; no password asked (use_identity_as_username)."),
    minVersion: oneOf(['TLSv1.2', 'TLSv1.3'], 'TLSv1.2', 'Lowest TLS version accepted.'),
    ciphers: nonEmpty(FORWARD_SECRET_CIPHERS, 'OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are all forward-secret); default: ECDHE / DHE with AEAD only.'),
  }),
  auth: section('Who may connect and what they may touch (README "Security"). Files are reloaded on SIGHUP', {
    passwordFile: str('', "Mosquitto password file (mosquitto_passwd / iot-gateway passwd); '' = usernames are not checked."),
    aclFile: str('', "Mosquitto ACL file; '' = every client may publish and subscribe to everything but $SYS."),
    allowAnonymous: boolOr('loopback', 'loopback', 'loopback = anonymous clients only on a loopback address; true = everywhere; false = never.'),
  }),
  mqtt: section('MQTT 3.1 / 3.1.1 / 5 listeners', {
    host: str('', "Interface the MQTT listeners bind; '' = 127.0.0.1 while no authentication is configured, else 0.0.0.0 (as Mosquitto 2)."),
    port: int(1883, 0, 65535, 'MQTT over TCP; 0 picks a free port.'),
    tlsPort: int(8883, 0, 65535, 'MQTT over TLS (when tls.cert / tls.key are set).'),
    maxPacketSize: int(1024 * 1024, 64, 268_435_460, 'Largest packet accepted from a client, bytes (remaining length + header) [MQTT-3.2.2-15].'),
    receiveMaximum: int(1024, 1, 65535, 'Server Receive Maximum: inbound QoS 1/2 unacknowledged per client [MQTT-3.3.4-7].'),
    maxInflight: int(1024, 1, 65535, "Outbound in-flight window per client (also bounded by the client's Receive Maximum)."),
    topicAliasMaximum: int(64, 0, 65535, 'Topic aliases a v5 client may use towards the server.'),
    maxKeepalive: int(0, 0, 65535, 'Cap on the keepalive a client asks for, seconds; 0 = accept what the client asks.'),
    maxTopicLevels: int(32, 1, 1024, 'Levels a topic name or filter may have.'),
    maxClientIdLength: int(256, 23, 65535, 'Longest client identifier accepted.'),
    maxSessionExpiry: int(SECONDS_7_DAYS, 0, 0xffffffff,
      'Longest session expiry granted, seconds (7 days). Also the expiry of MQTT 3.1/3.1.1 clean-session=false sessions; '
      + '4294967295 = never expire (what Mosquitto does for 3.1.1).'),
    connectTimeoutMs: int(10_000, 100, 600_000, 'Milliseconds a new connection may take to send CONNECT.'),
  }),
  stomp: section('STOMP 1.0 / 1.1 / 1.2 listeners', {
    host: str('', "Interface the STOMP listeners bind; '' = 127.0.0.1 while no authentication is configured, else 0.0.0.0 (as Mosquitto 2)."),
    port: int(61613, 0, 65535, 'STOMP over TCP; 0 picks a free port.'),
    tlsPort: int(61614, 0, 65535, 'STOMP over TLS (when tls.cert / tls.key are set).'),
    maxFrameBytes: int(1024 * 1024 + 64 * 1024, 256, 268_435_456, 'Largest frame (command, headers and body), bytes.'),
    maxHeaders: int(64, 1, 10_000, 'Headers per frame.'),
    maxHeaderBytes: int(8192, 64, 1024 * 1024, 'Bytes of one header line.'),
    maxBodyBytes: int(1024 * 1024, 0, 268_435_456, 'Bytes of a frame body.'),
    heartbeatSendMs: int(1000, 0, 3_600_000,
      'Shortest interval at which the server can send heart-beats, ms (CONNECTED heart-beat sx); the interval used is the larger of this and what the client asks; 0 = never.'),
    heartbeatReceiveMs: int(1000, 0, 3_600_000,
      'Shortest interval at which the server can check heart-beats, ms (CONNECTED heart-beat sy); the interval used is the larger of this and what the client offers; 0 = none.'),
    heartbeatGrace: int(2, 1, 100, 'A peer is closed when nothing arrived for grace x the negotiated receive interval.'),
    connectTimeoutMs: int(10_000, 100, 600_000, 'Milliseconds a new connection may take to send CONNECT / STOMP.'),
    defaultPrefetch: int(100, 1, 65535, 'Unacknowledged MESSAGEs per client / client-individual subscription without a prefetch-count header.'),
    maxPrefetch: int(65535, 1, 65535, 'Upper bound for a prefetch-count header.'),
    maxRedeliveries: int(5, 0, 1_000_000, 'NACKs (or consumer losses) a message survives before it goes to the dead-letter topic.'),
    deadLetterTopic: str('', "Fixed dead-letter MQTT topic; '' = `$dlq/<original topic>`."),
    queueWindow: int(1000, 1, 65535, 'Messages a /queue/<name> holds ready for consumers; the rest waits in its session queue.'),
    queueMode: oneOf(['shared', 'key-shared', 'failover'], 'shared', 'Subscription mode of a queue with no entry in queueModes.'),
    queueModes: strings('Per-queue modes as `<name>=<mode>` entries, e.g. ["orders=failover"].'),
    queues: strings('Queues that exist from start, so MQTT publishers to `$queue/<name>` are kept before any STOMP client subscribed.'),
    maxSubscriptions: int(1000, 1, 1_000_000, 'Subscriptions per connection.'),
    maxQueues: int(10_000, 0, BIG, 'All queues (declared, restored, created by clients); 0 = unlimited.'),
    maxCreatedQueues: int(1000, 0, BIG, 'Queues clients create by SEND / SUBSCRIBE to an undeclared name; 0 = unlimited.'),
    autoCreateQueues: bool(true, 'false = only `queues` (and queues restored from the log) exist; other /queue/ destinations are refused.'),
    maxTransactions: int(16, 0, 1_000_000, 'Open transactions per connection.'),
    maxTransactionFrames: int(10_000, 1, 10_000_000, 'SEND / ACK / NACK frames buffered per transaction.'),
  }),
  http: section('HTTP: WebSocket (/mqtt, /stomp), /metrics, /healthz, /readyz, admin API, dashboard', {
    host: str('', "Interface the HTTP listeners bind; '' = 127.0.0.1 while no authentication is configured, else 0.0.0.0 (as Mosquitto 2)."),
    port: int(8080, 0, 65535, 'HTTP; 0 picks a free port.'),
    tlsPort: int(8443, 0, 65535, 'HTTPS / WSS (when tls.cert / tls.key are set).'),
    adminToken: str('', "Bearer token for the admin API (/api/*) and the dashboard's login (username `$admin`); '' = admin API off (404 with a hint). At least 16 characters."),
    metricsToken: str('', "Bearer token for /metrics; '' = /metrics is open. At least 16 characters."),
    allowedOrigins: strings('Origins (e.g. `https://ops.example.com`) a browser WebSocket upgrade may come from; [] = any.'),
    headersTimeoutMs: int(10_000, 100, 600_000, "Time to receive a request's (or WebSocket upgrade's) complete headers, ms (slowloris bound)."),
    requestTimeoutMs: int(30_000, 100, 3_600_000, 'Time to receive a whole request, ms.'),
    wsMaxBufferedBytes: int(16 * 1024 * 1024, 64 * 1024, 2 ** 31 - 1, 'A WebSocket whose unsent bytes exceed this is closed with 1013 (slow consumer).'),
  }),
  limits: section('Bounds on what clients can make the gateway hold (0 = unlimited); each refusal is counted in /metrics (gateway_limit_refusals_total)', {
    maxConnections: int(100_000, 0, BIG, 'Open connections, all protocols and transports.'),
    maxConnectionsPerAddress: int(1000, 0, BIG, 'Open connections from one source address.'),
    connectionRatePerAddress: int(500, 0, BIG, 'New connections per second from one source address (burst: the same number).'),
    maxUnfinishedBytes: int(64 * 1024 * 1024, 0, BIG, 'Bytes held for unfinished MQTT packets and STOMP frames across all connections.'),
    maxSubscriptionsPerClient: int(10_000, 0, BIG, 'Topic subscriptions per client (MQTT filters; STOMP subscriptions, also capped by stomp.maxSubscriptions).'),
    maxLogSubscriptionsPerClient: int(64, 0, BIG, '`$log/` / `$group/` (MQTT) and `x-stream-offset` (STOMP) subscriptions per connection.'),
    maxPublishRate: int(20_000, 0, BIG, 'Inbound publishes per second per connection; over it the socket is paused, nothing is dropped.'),
    maxPublishBytesRate: int(100 * 1024 * 1024, 0, BIG, 'Inbound payload bytes per second per connection; same enforcement.'),
    maxRetainedMessages: int(50_000, 0, BIG, 'Retained topics; a new one past it: v5 0x97, v3 dropped (counted), STOMP ERROR.'),
    maxRetainedBytes: int(128 * 1024 * 1024, 0, BIG, 'Retained payload + topic bytes.'),
    tlsHandshakeTimeoutMs: int(10_000, 100, 600_000, 'A TLS handshake (MQTT, STOMP, HTTPS) not finished in this time is cut, ms.'),
    maxSessions: int(200_000, 0, BIG, 'Sessions (connected and offline, STOMP durable subscriptions included); past it a new session that would outlive its connection is refused (CONNACK 0x97, v3 0x03; STOMP ERROR).'),
  }),
  sys: section('$SYS topics', {
    intervalMs: int(1000, 0, 3_600_000, '$SYS topics are published (retained, QoS 0) every this many ms; 0 = off.'),
  }),
  sessions: section('Sessions (MQTT persistent sessions, STOMP subscriptions): read-ahead and lag', {
    maxQueued: int(10_000, 0, BIG,
      'Read-ahead per session, messages. With persistence on, a subscriber whose read-ahead is full loses no log-backed message: it falls behind and reads them from the log (lag). Only messages not in the log (QoS 0 unless persistence.persistQos0) obey dropPolicy. With persistence off these are hard caps and dropPolicy applies to everything.'),
    maxQueuedBytes: int(64 * 1024 * 1024, 0, BIG, 'Read-ahead per session, payload bytes (same rules as maxQueued).'),
    dropPolicy: oneOf(['drop-oldest', 'drop-newest'], 'drop-oldest', 'Which message a full read-ahead drops when it cannot fall behind (messages not in the log; everything with persistence off); counted.'),
    queueQos0: bool(false, 'Queue QoS 0 messages for offline persistent sessions too.'),
    maxLag: section('How far a behind session or `$share` group may lag before it skips ahead, counted in gateway_lag_skipped_messages_total{reason="max-lag"}; 0 = no bound (default): only retention bounds the backlog', {
      messages: int(0, 0, BIG, 'Log records a behind subscriber may lag per partition; 0 = no bound.'),
      ageMs: int(0, 0, BIG, 'Records older than this are skipped by a behind subscriber, ms; 0 = no bound.'),
      bytes: int(0, 0, BIG, 'Stored log bytes a behind subscriber may lag per partition (exact to one log index interval); 0 = no bound.'),
    }),
  }),
  shared: section('Shared subscriptions ($share/<group>/<filter>)', {
    strategy: oneOf(['round-robin', 'sticky'], 'round-robin', 'round-robin: next member per message; sticky: a topic stays on one member.'),
  }),
  persistence: section('The durable log', {
    enabled: bool(true, 'false = nothing is written to disk (messages, retained, sessions live in memory).'),
    flush: oneOf(['always', 'interval', 'never'], 'interval', 'When an append is durable: always = fsync (group commit) before the ack; interval = every flushIntervalMs; never = the OS decides.'),
    flushIntervalMs: int(10, 1, 60_000, 'fsync period for flush: interval, ms.'),
    partitions: int(8, 1, 1024, 'Log partitions (topics hash onto them; order holds per topic).'),
    segmentBytes: int(64 * 1024 * 1024, 4096, 2 ** 31 - 1, 'A segment file rolls at this size.'),
    retentionBytes: int(-1, -1, BIG, 'Bytes kept per partition before the oldest segments are deleted; -1 = no size limit.'),
    retentionMs: int(SECONDS_7_DAYS * 1000, -1, BIG, 'Age after which whole segments are deleted, ms (7 days); -1 = keep forever.'),
    persistQos0: bool(false, 'Append QoS 0 messages to the log too (they are routed either way).'),
    maxPendingBytes: int(64 * 1024 * 1024, 0, BIG,
      'Inbound backpressure: bytes (payload + topic) of publishes handed to the log and not yet durable and routed; above it the listeners stop reading from client sockets until it falls to half; 0 = never pause.'),
  }),
  bridges: section('Bridges to other systems, fed from the log (docs/BRIDGES.md)', {
    http: Type.Array(Type.Object({}, { additionalProperties: true }), { default: [], description: 'HTTP sinks: each `{ name, url, filter, format, payloadEncoding, headers, bearerToken | tokenFile, batch: { maxMessages, maxBytes, lingerMs }, timeoutMs, retry: { initialMs, maxMs }, deadLetterTopic, from, tls: { ca, rejectUnauthorized } }` POSTs batches of the messages matching `filter` to `url` (JSON or NDJSON), retrying until a 2xx; a 4xx batch goes to `deadLetterTopic` (default `$dlq/http/<name>`). Needs persistence. Keys, defaults and bounds: docs/BRIDGES.md.' }),
    mqtt: Type.Array(Type.Union([Type.String({ minLength: 1 }), Type.Object({}, { additionalProperties: true })]), { default: [], description: 'MQTT bridges: each { name, url, clientId, username, password, protocolVersion, keepalive, tls: { ca, cert, key, rejectUnauthorized }, topics: [{ pattern, direction, qos, localPrefix, remotePrefix } or a Mosquitto "topic" line] }, or a pasted Mosquitto "connection" block as one string (docs/BRIDGES.md).' }),
  }),
  cluster: section('Storage backend and clustering: several gateway nodes on one NATS JetStream (docs/CLUSTER.md)', {
    backend: oneOf(['local', 'nats'], 'local', 'local = the embedded log and state files in dataDir (one node); nats = NATS JetStream, shared by every node on it (cluster.servers).'),
    servers: strings('NATS URLs for backend nats, e.g. ["nats://10.0.0.1:4222", "tls://10.0.0.2:4222"]; the client fails over between them.'),
    nodeId: str('', "This node's name, unique in the cluster and stable across restarts ([A-Za-z0-9_.-]); '' = the host name."),
    replicas: int(3, 1, 5, 'JetStream replicas of the log streams and the state bucket: 3 for a three-server NATS cluster, 1 for a single server.'),
    prefix: nonEmpty('iotgw', 'Prefix of the stream, bucket and subject names in NATS ([A-Za-z0-9_-]); two gateway clusters on one NATS need different prefixes.'),
    username: str('', "NATS user name ('' = none); with cluster.password."),
    password: str('', 'NATS password for cluster.username.'),
    token: str('', "NATS authentication token ('' = none)."),
    credsFile: str('', "NATS .creds file (user JWT + nkey seed) for decentralised auth ('' = none)."),
    timeoutMs: int(5000, 100, 600_000, 'NATS request and publish-acknowledgement timeout, ms; a write not acknowledged in this time is refused.'),
    tls: section('TLS for the NATS connection (PEM files)', {
      ca: str('', "CA that signs the NATS servers' certificates ('' = the system CAs)."),
      cert: str('', "Client certificate, when the NATS servers verify clients ('' = none); with cluster.tls.key."),
      key: str('', 'Private key of cluster.tls.cert.'),
    }),
  }),
});

/** The gateway config: every key present (defaults filled in). */
export type GatewayConfig = Static<typeof CONFIG_SCHEMA>;
export type FlushMode = GatewayConfig['persistence']['flush'];

/** Rules across keys, run on the merged config. Throw ConfigError naming the key to fix. */
function crossChecks(config: GatewayConfig): void {
  if ((config.tls.cert === '') !== (config.tls.key === '')) {
    throw new ConfigError(config.tls.cert === '' ? 'tls.cert' : 'tls.key', 'tls.cert and tls.key must be set together');
  }
  for (const entry of config.stomp.queueModes) {
    if (!/^[^=+#]+=(shared|key-shared|failover)$/.test(entry)) {
      throw new ConfigError('stomp.queueModes', `entries are "<queue name>=shared|key-shared|failover", got ${JSON.stringify(entry)}`);
    }
  }
  for (const k of ['adminToken', 'metricsToken'] as const) {
    const t = config.http[k];
    if (t !== '' && t.length < MIN_TOKEN_LENGTH) throw new ConfigError(`http.${k}`, `must be at least ${MIN_TOKEN_LENGTH} characters (or empty to turn it off)`);
  }
  if (config.http.headersTimeoutMs > config.http.requestTimeoutMs) {
    throw new ConfigError('http.headersTimeoutMs', `must not exceed http.requestTimeoutMs (${config.http.requestTimeoutMs})`);
  }
  // Topic-shaped values obey the same rules and limits as topics on the wire (src/core/topic.ts): no wildcards,
  // at most mqtt.maxTopicLevels levels. A queue `q` is the MQTT topic `$queue/q`.
  const levels = config.mqtt.maxTopicLevels;
  config.stomp.queues.forEach((q, i) => {
    const bad = topicNameProblem(q, levels) ?? (topicNameProblem(`$queue/${q}`, levels) ? `$queue/${q} has more than ${levels} levels (mqtt.maxTopicLevels)` : undefined);
    if (bad) throw new ConfigError(`stomp.queues[${i}]`, `queue name ${bad}`);
  });
  if (config.stomp.deadLetterTopic !== '') {
    const bad = topicNameProblem(config.stomp.deadLetterTopic, levels);
    if (bad) throw new ConfigError('stomp.deadLetterTopic', `dead-letter topic ${bad}`);
  }
  const sinkProblem = checkHttpSinks(config.bridges.http, levels);
  if (sinkProblem) throw new ConfigError(sinkProblem.key, sinkProblem.detail);
  if (config.bridges.http.length > 0 && !config.persistence.enabled) {
    throw new ConfigError('bridges.http', 'needs persistence.enabled: true (an HTTP sink is a cursor in the durable log)');
  }
  if ((config.tls.requireCertificate || config.tls.useIdentityAsUsername) && config.tls.ca === '') {
    throw new ConfigError('tls.ca', 'tls.requireCertificate and tls.useIdentityAsUsername need tls.ca (the CA client certificates are verified against)');
  }
  try {
    const bridges = parseMqttBridges(config.bridges.mqtt);
    // An outbound bridge is a cursor into the log: without the log there is nothing to read.
    const i = bridges.findIndex((b) => b.topics.some((t) => t.direction !== 'in'));
    if (i >= 0 && !config.persistence.enabled) throw new ConfigError(`bridges.mqtt[${i}].topics`, 'out and both rules read the durable log: they need persistence.enabled: true');
    // MQTT bridges and HTTP sinks share $SYS/broker/bridges/<name>/ and the dashboard's table: one name, one bridge.
    const httpNames = config.bridges.http.map((h) => (h as { name?: unknown }).name);
    const j = bridges.findIndex((b) => httpNames.includes(b.name));
    if (j >= 0) throw new ConfigError(`bridges.mqtt[${j}].name`, `${JSON.stringify(bridges[j]!.name)} is also the name of an HTTP sink (bridges.http); bridge names are unique across both`);
  } catch (err) {
    if (err instanceof BridgeConfigProblem) throw new ConfigError(err.key, err.detail);
    throw err;
  }
  if (config.tls.ca !== '' && config.tls.cert === '') throw new ConfigError('tls.ca', 'needs tls.cert and tls.key (client certificates are asked for on the TLS listeners)');
  const c = config.cluster;
  if (c.backend === 'nats' && c.servers.length === 0) throw new ConfigError('cluster.servers', 'cluster.backend nats needs at least one NATS URL, e.g. ["nats://127.0.0.1:4222"]');
  c.servers.forEach((u, i) => {
    if (!/^(nats|tls):\/\/[^\s/]+$/.test(u)) throw new ConfigError(`cluster.servers[${i}]`, `must be nats://host:port or tls://host:port, got ${JSON.stringify(u)}`);
  });
  if (!/^[A-Za-z0-9_-]+$/.test(c.prefix)) throw new ConfigError('cluster.prefix', `must be letters, digits, '_' or '-' (it names NATS streams and subjects), got ${JSON.stringify(c.prefix)}`);
  if (c.nodeId !== '' && !/^[A-Za-z0-9_.-]+$/.test(c.nodeId)) throw new ConfigError('cluster.nodeId', `must be letters, digits, '_', '.' or '-', got ${JSON.stringify(c.nodeId)}`);
  if ((c.tls.cert === '') !== (c.tls.key === '')) throw new ConfigError(c.tls.cert === '' ? 'cluster.tls.cert' : 'cluster.tls.key', 'cluster.tls.cert and cluster.tls.key must be set together');
  if (c.password !== '' && c.username === '') throw new ConfigError('cluster.username', 'cluster.password needs cluster.username');
  if (c.token !== '' && c.username !== '') throw new ConfigError('cluster.token', 'use cluster.token or cluster.username / cluster.password, not both');
}

const compiled = compileConfig<GatewayConfig>(CONFIG_SCHEMA, crossChecks);

/** Every key at its default. A fresh deep copy each call is `resolveConfig({})`. */
export const DEFAULT_CONFIG: GatewayConfig = compiled.defaults();
/** Merges `input` over the defaults, validating every key; throws ConfigError naming the first bad key. */
export const resolveConfig = (input: unknown): GatewayConfig => compiled.resolve([{ source: '', values: input }]);
/** Merges sources in order (file < environment < flags), each validated on its own, then the cross-key rules. */
export const resolveLayers = compiled.resolve;
/** Every leaf key: dotted path, its schema, its GATEWAY_* name. */
export const CONFIG_KEYS = compiled.keys;
/** The nearest valid dotted key to a mistyped one (for "did you mean"). */
export const nearestKey = compiled.nearest;
/** Parses an environment variable's or a flag's text into its key's type; throws ConfigError naming `origin`. */
export const parseKeyText = compiled.parseText;
export { ConfigError, envName, setDotted, type ConfigKey, type ConfigLayer } from './validate.ts';

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
