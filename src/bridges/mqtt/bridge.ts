// One MQTT bridge: the connection to the remote broker (mqtt.js) with reconnect backoff, the outbound pump from the log, and the inbound path into the broker. Imports core (broker, auth, topic, message), mqtt.js and the sibling bridge modules.
//
// Connection: one mqtt.js client per attempt, its own reconnect off (reconnectPeriod 0); after a close the next
// attempt waits min(reconnectMaxMs, reconnectMinMs * 2^failures) * (0.5 + 0.5 * random) (exponential backoff with
// jitter); a CONNACK resets the count. State: connecting (attempt under way), connected, down (waiting to retry),
// stopped.
// Inbound contract: a remote PUBLISH is mapped by the rules, checked (topic, size, the ACL of the bridge identity:
// user `localUsername`, client id `bridge:<name>`) and published through Broker.publish with sender id
// `\0bridge-mqtt-<name>`; its PUBACK / PUBREC is sent only after that publish resolved (the append is durable),
// in arrival order. mqtt.js's `customHandleAcks` hook is what holds the ack (set for 3.1.1 too). A refused
// message is acknowledged with the v5 reason code (3.1.1 cannot refuse: acknowledged and dropped, counted); a
// failed append is not acknowledged and the connection is dropped, so a persistent remote session sends it again.
// Loop prevention: records whose sender id is this bridge's are never sent out again (outbound.ts); on the remote,
// v5 subscriptions use No Local [MQTT-3.8.3-3] and every outbound message carries the user property
// `x-bridge-origin: <clientId>`, and an inbound message carrying our own marker is dropped; 3.1.1 connects in
// Mosquitto's bridge mode (protocol level 0x84, `try_private`), so a Mosquitto remote does not echo our messages.
import type { Logger } from 'pino';
import mqtt, { type IClientOptions, type IClientPublishOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { ClientIdentity } from '../../core/auth.ts';
import { INTERNAL_KEY, type Broker } from '../../core/broker.ts';
import type { OffsetStorePort } from '../../core/consumer-group.ts';
import type { ConsumerLogPort } from '../../core/consumer.ts';
import { remainingExpirySeconds, type Message, type MessageProperties } from '../../core/message.ts';
import { validateTopicName } from '../../core/topic.ts';
import type { BridgeState, BridgeStatus } from '../status.ts';
import { BridgeConfigProblem, type MqttBridgeConfig } from './config.ts';
import { OutboundPump, type SendResult } from './outbound.ts';
import { readBridgeTlsFiles, type BridgeTlsFiles } from './tls-files.ts';
import { hasOutbound, mapInbound, remoteSubscriptions, type Mapped } from './topic-map.ts';

/** The user property every outbound v5 message carries; its value is the bridge's remote client id. */
export const ORIGIN_PROPERTY = 'x-bridge-origin';

/** Sender id of messages a bridge published into the gateway (kept in the record headers). */
export function bridgeSenderId(name: string): string {
  return `${INTERNAL_KEY}bridge-mqtt-${name}`;
}

/** Consumer group of a bridge's outbound position (internal: no client can name a group starting with U+0000). */
export function bridgeGroup(name: string): string {
  return `${INTERNAL_KEY}bridge-mqtt-${name}`;
}

export interface MqttBridgeDeps {
  broker: Broker;
  /** Undefined when persistence is off: then only inbound rules work (outbound needs the log). */
  log: ConsumerLogPort | undefined;
  store: OffsetStorePort | undefined;
  logger: Logger;
  /** mqtt.maxPacketSize: larger inbound messages are refused. */
  maxPacketSize: number;
  maxTopicLevels: number;
  /** Config key of this bridge, for start errors (`bridges.mqtt[0]`). */
  key: string;
}

export interface MqttBridgeStats {
  messagesIn: number;
  errors: number;
  connects: number;
  /** Inbound messages refused (ACL, topic, size) or dropped as our own echo. */
  inboundRefused: number;
  inboundLoopDropped: number;
}

/** In-flight outbound messages unacknowledged this long make the bridge reconnect and resend them. */
const STALL_MS = 30_000;

const V5_REASON = { notAuthorized: 0x87, topicInvalid: 0x90, unspecified: 0x80 } as const;

export class MqttBridge {
  readonly config: MqttBridgeConfig;
  readonly stats: MqttBridgeStats = { messagesIn: 0, errors: 0, connects: 0, inboundRefused: 0, inboundLoopDropped: 0 };
  private readonly deps: MqttBridgeDeps;
  private readonly log: Logger;
  private readonly identity: ClientIdentity;
  private readonly senderId: string;
  private readonly pump: OutboundPump | undefined;
  private client: MqttClient | undefined;
  private stateValue: BridgeState = 'down';
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The remote refused protocol level 0x84 once: use plain 3.1.1. */
  private privateRefused = false;
  private tlsFiles: BridgeTlsFiles = {};
  /** Inbound acks go out in arrival order: each waits for the one before it. */
  private ackChain: Promise<void> = Promise.resolve();

  constructor(config: MqttBridgeConfig, deps: MqttBridgeDeps) {
    this.config = config;
    this.deps = deps;
    this.log = deps.logger.child({ component: 'bridge', bridge: config.name });
    this.identity = { clientId: `bridge:${config.name}`, username: config.localUsername, protocol: 'mqtt' };
    this.senderId = bridgeSenderId(config.name);
    if (hasOutbound(config.topics)) {
      if (!deps.log || !deps.store) throw new BridgeConfigProblem(`${deps.key}.topics`, 'out and both rules read the log: they need persistence.enabled: true');
      this.pump = new OutboundPump({
        group: bridgeGroup(config.name),
        log: deps.log,
        store: deps.store,
        rules: config.topics,
        senderId: this.senderId,
        mayRead: (topic) => deps.broker.auth.authorizeRead(this.identity, topic),
        send: (msg, to, done) => this.send(msg, to, done),
        onError: (err) => this.fail(err, 'outbound'),
      });
    }
  }

  get state(): BridgeState {
    return this.stateValue;
  }

  status(): BridgeStatus {
    return {
      kind: 'mqtt',
      name: this.config.name,
      state: this.stateValue,
      lag: this.pump?.lag() ?? 0,
      messagesOut: this.pump?.stats.sent ?? 0,
      messagesIn: this.stats.messagesIn,
      errors: this.stats.errors + (this.pump?.stats.refused ?? 0),
      connects: this.stats.connects,
    };
  }

  /** Outbound counters (sent, refused, loop-skipped, denied), for tests and the log. */
  get outbound(): OutboundPump['stats'] | undefined {
    return this.pump?.stats;
  }

  /** Reads the TLS files (an unreadable one throws naming its key), fixes the start position, connects. */
  async start(): Promise<void> {
    this.tlsFiles = readBridgeTlsFiles(this.config, this.deps.key);
    if (this.config.ignored.length !== 0) this.log.info({ ignored: this.config.ignored }, 'Mosquitto bridge options accepted and ignored');
    await this.pump?.init();
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.stateValue = 'stopped';
    const c = this.client;
    this.client = undefined;
    await this.pump?.stop();
    await this.pump?.flush();
    if (c) {
      // Forced: no DISCONNECT wait; bounded in case the socket never opened.
      await new Promise<void>((r) => {
        const t = setTimeout(r, 2000);
        c.end(true, {}, () => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  private options(): IClientOptions {
    const c = this.config;
    const v5 = c.protocolVersion === 5;
    const o: IClientOptions = {
      clientId: c.clientId,
      protocolVersion: c.protocolVersion,
      keepalive: c.keepalive,
      clean: c.cleanSession,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      resubscribe: false,
      queueQoSZero: false,
      manualConnect: true,
      rejectUnauthorized: c.tls.rejectUnauthorized,
      ...this.tlsFiles,
    };
    if (c.username !== undefined) o.username = c.username;
    if (c.password !== undefined) o.password = c.password;
    if (v5) {
      o.properties = {
        receiveMaximum: Math.min(65535, c.maxInflight),
        maximumPacketSize: this.deps.maxPacketSize,
        sessionExpiryInterval: c.cleanSession ? 0 : 7 * 24 * 3600,
      };
    }
    return o;
  }

  private connect(): void {
    if (this.stopped) return;
    this.stateValue = 'connecting';
    const client = mqtt.connect(this.config.url, this.options());
    this.client = client;
    // mqtt.js honours customHandleAcks only for v5 at construction; the publish handler reads it per packet, for 3.1.1 too.
    client.options.customHandleAcks = (_topic, _payload, packet, cb) => this.onAckedPublish(client, packet, cb);
    if (this.config.protocolVersion === 4 && !this.privateRefused) {
      // Mosquitto's try_private: protocol level 0x84 tells a Mosquitto remote we are a bridge (it then does not echo our publishes).
      const raw = client as unknown as { _writePacket(packet: { cmd: string; bridgeMode?: boolean }, ...rest: unknown[]): void };
      const send = raw._writePacket.bind(client);
      raw._writePacket = (packet, ...rest) => {
        if (packet.cmd === 'connect') packet.bridgeMode = true;
        send(packet, ...rest);
      };
    }
    client.on('connect', (connack) => {
      if (this.client !== client) return;
      this.stateValue = 'connected';
      this.failures = 0;
      this.stats.connects++;
      this.log.info({ url: this.config.url, sessionPresent: connack.sessionPresent }, 'bridge connected');
      this.subscribe(client);
      const remoteMax = connack.properties?.receiveMaximum ?? 65535;
      this.pump?.start(Math.min(this.config.maxInflight, remoteMax));
      this.watch(client);
    });
    client.on('message', (_topic, _payload, packet) => {
      // QoS 1/2 were handled (and acknowledged) in customHandleAcks; QoS 0 has no ack.
      if (packet.qos === 0 && this.client === client) void this.inbound(packet).catch((err: unknown) => this.fail(err, 'inbound'));
    });
    client.on('error', (err) => {
      if (this.client !== client) return;
      // CONNACK 0x01 (unacceptable protocol version) to the bridge-mode level 0x84: a remote without Mosquitto's bridge
      // extension; connect as a plain 3.1.1 client from now on (Mosquitto's try_private falls back the same way).
      if (this.config.protocolVersion === 4 && !this.privateRefused && (err as { code?: unknown }).code === 1) {
        this.privateRefused = true;
        this.log.warn('remote refused bridge mode (protocol level 0x84): connecting as a plain 3.1.1 client; loop prevention then relies on the sender marker only');
      }
      this.stats.errors++;
      this.log.warn({ err: err.message, url: this.config.url }, 'bridge connection error');
    });
    client.on('close', () => {
      if (this.client !== client) return;
      this.client = undefined;
      client.end(true);
      this.stateValue = 'down';
      void (this.pump ? this.pump.stop() : Promise.resolve()).then(() => this.scheduleReconnect());
    });
    client.connect();
  }

  /**
   * While connected: every 5 s nudge the reader, and if the remote acknowledged nothing for STALL_MS while messages are in
   * flight, drop the connection (the close handler rewinds to the commit and reconnects): at least once, never stuck.
   */
  private watch(client: MqttClient): void {
    const timer = setInterval(() => {
      if (this.client !== client || !this.pump) return clearInterval(timer);
      this.pump.nudge();
      const stalled = this.pump.stalledMs();
      if (stalled > STALL_MS) {
        clearInterval(timer);
        this.fail(new Error(`no outbound progress for ${Math.round(stalled / 1000)} s (${this.pump.inFlight} in flight, ${this.pump.lag()} behind): reconnecting`), 'outbound');
        client.end(true);
      }
    }, 5000);
    timer.unref();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const c = this.config;
    const base = Math.min(c.reconnectMaxMs, c.reconnectMinMs * 2 ** Math.min(20, this.failures));
    const delay = Math.round(base * (0.5 + 0.5 * Math.random()));
    this.failures++;
    this.log.info({ delayMs: delay, failures: this.failures }, 'bridge down, reconnecting');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private subscribe(client: MqttClient): void {
    const subs = remoteSubscriptions(this.config.topics);
    if (subs.size === 0) return;
    const v5 = this.config.protocolVersion === 5;
    const map: Record<string, { qos: 0 | 1 | 2; nl?: boolean; rap?: boolean }> = {};
    for (const [filter, qos] of subs) map[filter] = v5 ? { qos, nl: true, rap: true } : { qos };
    client.subscribe(map, (err, granted) => {
      if (err) return this.fail(err, 'subscribe');
      for (const g of granted ?? []) if (g.qos === 128) this.fail(new Error(`remote refused the subscription ${g.topic}`), 'subscribe');
    });
  }

  /** Outbound: one message to the remote. */
  private send(msg: Message, to: Mapped, done: (r: SendResult) => void): void {
    const client = this.client;
    if (!client || !client.connected) return done('lost');
    const opts: IClientPublishOptions = { qos: to.qos, retain: this.config.outgoingRetain && msg.retain };
    if (this.config.protocolVersion === 5) opts.properties = outboundProperties(msg, this.config.clientId);
    client.publish(to.topic, msg.payload, opts, (err) => {
      if (!err) return done('ok');
      // An error while still connected is the remote's answer (a reason code >= 0x80, a packet too large): do not retry it.
      if (client.connected && this.client === client) {
        this.log.warn({ err: err.message, topic: to.topic }, 'remote refused an outbound message');
        return done('refused');
      }
      done('lost');
    });
  }

  /** QoS 1/2 from the remote: publish locally, then let mqtt.js acknowledge (cb), in arrival order. */
  private onAckedPublish(client: MqttClient, packet: IPublishPacket, cb: (error: Error | number, code?: number) => void): void {
    const result = this.inbound(packet);
    result.catch(() => undefined); // handled below, after the acks before it; not an unhandled rejection meanwhile
    const prev = this.ackChain;
    const mine = prev.then(() => result).then(
      (code) => cb(code),
      (err: unknown) => {
        cb(err instanceof Error ? err : new Error(String(err)));
        this.fail(err, 'inbound');
        // Not acknowledged: drop the connection so the remote sends it again (persistent session) instead of waiting.
        if (this.client === client) client.end(true);
      },
    );
    this.ackChain = mine.catch(() => undefined);
  }

  /** Publishes one remote message into the gateway; resolves with the reason code for the ack (0 = success). */
  private async inbound(packet: IPublishPacket): Promise<number> {
    const remoteTopic = packet.topic.toString();
    const props = packet.properties;
    const origin = props?.userProperties?.[ORIGIN_PROPERTY];
    if (origin === this.config.clientId || (Array.isArray(origin) && origin.includes(this.config.clientId))) {
      this.stats.inboundLoopDropped++;
      return 0;
    }
    const to = mapInbound(this.config.topics, remoteTopic);
    if (!to) return 0; // overlapping subscriptions on the remote may deliver topics no in-rule maps
    const refuse = (code: number, why: string): number => {
      this.stats.inboundRefused++;
      this.log.warn({ remoteTopic, topic: to.topic, why }, 'inbound message refused');
      return this.config.protocolVersion === 5 ? code : 0;
    };
    const bad = validateTopicName(to.topic, this.deps.maxTopicLevels);
    if (bad) return refuse(V5_REASON.topicInvalid, bad);
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    if (payload.length + Buffer.byteLength(to.topic) > this.deps.maxPacketSize) return refuse(V5_REASON.unspecified, 'larger than mqtt.maxPacketSize');
    if (!this.deps.broker.auth.authorizePublish(this.identity, to.topic)) return refuse(V5_REASON.notAuthorized, `the ACL does not let ${this.config.localUsername} publish here`);
    const now = Date.now();
    const properties: MessageProperties = {};
    if (props) {
      if (props.payloadFormatIndicator !== undefined) properties.payloadFormatIndicator = props.payloadFormatIndicator;
      if (props.messageExpiryInterval !== undefined) properties.messageExpiryInterval = props.messageExpiryInterval;
      if (props.contentType !== undefined) properties.contentType = props.contentType;
      if (props.responseTopic !== undefined) properties.responseTopic = props.responseTopic;
      if (props.correlationData !== undefined) properties.correlationData = Buffer.from(props.correlationData);
      if (props.userProperties !== undefined) properties.userProperties = props.userProperties;
    }
    const msg: Message = {
      topic: to.topic,
      payload,
      qos: packet.qos,
      retain: packet.retain,
      properties,
      createdAt: now,
      expiresAt: properties.messageExpiryInterval ? now + properties.messageExpiryInterval * 1000 : 0,
      senderId: this.senderId,
    };
    await this.deps.broker.publish(msg);
    this.stats.messagesIn++;
    return 0;
  }

  private fail(err: unknown, where: string): void {
    this.stats.errors++;
    this.log.error({ err: err instanceof Error ? err.message : String(err), where }, 'bridge error');
  }
}

/** v5 properties of an outbound message: the stored ones, the remaining expiry, and the origin marker. */
function outboundProperties(msg: Message, clientId: string): NonNullable<IClientPublishOptions['properties']> {
  const p = msg.properties;
  const user: Record<string, string | string[]> = { ...(p.userProperties ?? {}), [ORIGIN_PROPERTY]: clientId };
  const out: NonNullable<IClientPublishOptions['properties']> = { userProperties: user };
  if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) out.correlationData = p.correlationData;
  const expiry = remainingExpirySeconds(msg, Date.now());
  if (expiry !== undefined) out.messageExpiryInterval = Math.max(1, expiry);
  return out;
}
