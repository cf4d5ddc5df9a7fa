// One MQTT 3.1 / 3.1.1 / 5 connection: the protocol state machine between a byte stream and the broker. Imports core APIs, mqtt-packet and sibling codec files.
import type { Duplex } from 'node:stream';
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import mqttPacket, { type IConnectPacket, type IPublishPacket, type ISubscribePacket, type IUnsubscribePacket, type Packet } from 'mqtt-packet';
import type { Logger } from 'pino';
import type { Broker, SessionEntry, SessionLink } from '../../src/core/broker.ts';
import type { AuthResult, ClientIdentity } from '../../src/core/auth.ts';
import { GatewayError, type ErrorCode } from '../../src/core/errors.ts';
import type { Message, QoS } from '../../src/core/message.ts';
import type { Outbound } from '../../src/core/session.ts';
import type { SubscriptionOptions } from '../../src/core/router.ts';
import { validateTopicFilter, validateTopicName } from '../../src/core/topic.ts';
import { parseLogFilter, withMode, type LogSubscriptions } from '../../src/core/log-subscriptions.ts';
import { connackProperties, decideConnect, type ConnectDecision } from './connect.ts';
import { type MqttVersion, connackRefusal, disconnectReason, refusedPublishAck, subackFailure, unstoredPublishAck, unsubackCode, UNACCEPTABLE_PROTOCOL_LEVEL, reasonCode } from './reason-codes.ts';
import { MqttFramer } from './framer.ts';
import { peerInfo } from '../peer.ts';
import { ConnectionShell, Pacer } from '../connection-shell.ts';
import { OrderedReplies } from '../ordered-replies.ts';
import { InboundAliases, OutboundAliases } from './topic-aliases.ts';
import { checkSubscribePacket, decideFilter } from './subscribe.ts';
import { refuseFirstByte, routePacket, type ConnState } from './packet-gate.ts';
import { decodePublish, encodeAck, encodePublishShared } from './fast-publish.ts';
import type { MqttOptions } from './options.ts';
import { toMessageProperties, toPublishProperties } from './properties.ts';

const EMPTY: readonly number[] = [];
type State = ConnState;

/** Counters the listener aggregates for metrics. */
export interface ConnectionCounters {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  slowConsumerDrops: number;
}

/** A new outbound QoS 2 PUBLISH or a PUBREL: its state must be durable before it is sent (MqttConnection.send). */
function needsDurableFlow(o: Outbound): boolean {
  return o.type === 'pubrel' || (o.qos === 2 && !o.dup);
}

export class MqttConnection implements SessionLink {
  identity: ClientIdentity = { clientId: '', protocol: 'mqtt' };
  version: MqttVersion = 4;
  private state: State = 'awaiting-connect';
  private readonly framer: MqttFramer;
  /** mqtt-packet's parser, made when a packet needs it and dropped once CONNECT is done (idle connections stay small). */
  private parser: ReturnType<typeof mqttPacket.parser> | undefined;
  private entry: SessionEntry | undefined;
  private keepaliveMs = 0;
  private readonly openedAt = Date.now();
  /** Reads, writes, timers and closing (../connection-shell.ts). */
  private readonly io: ConnectionShell;
  /** Inbound publish pacing; packets read while paused wait in it. */
  private readonly pacer: Pacer<Buffer>;
  private willOnClose = true;
  private backlog: Buffer[] | undefined;
  private bytesSeen = 0;
  // v5 negotiated limits
  private clientMaxPacket = 0; // 0 = unlimited
  // Topic aliases (./topic-aliases.ts): ours bounded by mqtt.topicAliasMaximum, the client's by its CONNECT.
  private readonly inboundAliases: InboundAliases;
  private outboundAliases = new OutboundAliases(0);
  /**
   * Inbound QoS 1/2 acks in PUBLISH order [MQTT-4.6.0-2], [MQTT-4.6.0-3] (../ordered-replies.ts); a failed
   * slot (v3 persistence failure: no way to say so) closes instead of acknowledging.
   */
  private readonly acks = new OrderedReplies<Buffer>();
  private inboundInflight = 0;
  private currentPacket: Packet | undefined;
  /** `$log/` and `$group/` subscriptions of this connection (created on the first one). */
  private logSubs: LogSubscriptions | undefined;
  private parseError: Error | undefined;
  /** Set when admission refused this connection: its CONNECT is answered with this refusal. */
  private refusal: { code: ErrorCode; detail: string } | undefined;

  constructor(
    private readonly stream: Duplex & { remoteAddress?: string; setNoDelay?: (v: boolean) => unknown },
    private readonly broker: Broker,
    private readonly opts: MqttOptions,
    private readonly log: Logger,
    private readonly counters: ConnectionCounters,
    private readonly onClosed: (c: MqttConnection) => void,
  ) {
    this.framer = new MqttFramer(opts.maxPacketSize, opts.guards?.unfinished);
    this.identity.remoteAddress = stream.remoteAddress;
    this.inboundAliases = new InboundAliases(opts.topicAliasMaximum);
    this.io = new ConnectionShell(
      stream,
      'mqtt',
      log,
      counters,
      opts.maxWriteBuffer,
      { data: (chunk) => this.onData(chunk), fail: (code, detail) => this.fail(code, detail), release: () => this.detach() },
      () => ({ clientId: this.identity.clientId }),
    );
    this.pacer = new Pacer<Buffer>(
      this.io,
      opts.guards,
      (p) => this.onPacketBytes(p),
      () => (this.io.lastRead = Date.now()), // time spent paused by us does not count against keepalive
    );
  }

  get clientId(): string {
    return this.identity.clientId;
  }

  // ---- timers (driven by the listener's sweep) ----

  /** Called about once a second: CONNECT timeout and keepalive x1.5 [MQTT-3.1.2-24]. */
  tick(now: number): void {
    if (this.state === 'awaiting-connect' && now - this.openedAt > this.opts.connectTimeoutMs) {
      this.log.info({ remote: this.identity.remoteAddress }, 'mqtt connection sent no CONNECT in time');
      this.opts.guards?.counters.timedOut('mqtt', 'connect');
      this.destroy();
    } else if (this.state === 'connected' && this.keepaliveMs > 0 && now - this.io.lastRead > this.keepaliveMs * 1.5) {
      this.log.info({ clientId: this.clientId }, 'mqtt keepalive timeout');
      this.fail('KEEPALIVE_TIMEOUT', 'no packet within 1.5x keepalive');
    }
  }

  // ---- inbound ----

  private onData(chunk: Buffer): void {
    if (refuseFirstByte(this.state, this.bytesSeen, chunk)) {
      // The first packet must be CONNECT [MQTT-3.1.0-1], fixed header flags 0 [MQTT-2.2.2-2]: known from
      // the first byte, so garbage (e.g. an HTTP request) is closed now, not after the CONNECT timeout.
      this.log.warn({ remote: this.identity.remoteAddress, byte: chunk[0] }, 'mqtt first byte is not CONNECT');
      this.destroy();
      return;
    }
    this.bytesSeen += chunk.length;
    this.framer.push(chunk, (p) => this.onPacketBytes(p)); // a throw is mapped and closes (the shell's run())
  }

  private onPacketBytes(p: Buffer): boolean {
    if (this.state !== 'closed' && this.pacer.holding) {
      this.pacer.deferred!.push(p);
      return true;
    }
    // The dispatch state machine (./packet-gate.ts) says where the packet goes; this shell does the I/O.
    const route = routePacket(this.state, p, this.version);
    switch (route.kind) {
      case 'drop':
        return false;
      case 'backlog':
        (this.backlog ??= []).push(Buffer.from(p));
        return true;
      case 'not-connect':
        // The first packet must be CONNECT [MQTT-3.1.0-1].
        this.log.warn({ remote: this.identity.remoteAddress, type: route.type }, 'mqtt first packet was not CONNECT');
        this.destroy();
        return false;
      case 'malformed':
        this.fail('MALFORMED_PACKET', route.detail);
        return false;
      case 'ack':
        return this.dispatch({ cmd: route.cmd, messageId: route.packetId } as Packet);
      case 'fast-publish': {
        const pub = decodePublish(p);
        if (typeof pub === 'string') {
          this.fail('MALFORMED_PACKET', pub);
          return false;
        }
        this.onPublish(pub.topic, pub.qos, pub.dup, pub.retain, pub.packetId, pub.payload, undefined);
        return !this.isClosed();
      }
      case 'parse':
        break;
    }
    this.parseError = undefined;
    this.currentPacket = undefined;
    this.packetParser().parse(p);
    const parseError = this.parseError as Error | undefined;
    if (parseError) {
      const msg = parseError.message;
      if (this.state === 'awaiting-connect' && /protocol version/i.test(msg)) {
        // Unacceptable protocol level: CONNACK 0x01 then close [MQTT-3.1.2-2].
        this.writeRaw(mqttPacket.generate({ cmd: 'connack', returnCode: UNACCEPTABLE_PROTOCOL_LEVEL, sessionPresent: false }, { protocolVersion: 4 }));
        this.log.warn({ remote: this.identity.remoteAddress }, 'mqtt unsupported protocol version');
        this.destroy();
        return false;
      }
      this.fail('MALFORMED_PACKET', msg);
      return false;
    }
    const packet = this.currentPacket as Packet | undefined;
    if (!packet) {
      this.fail('MALFORMED_PACKET', 'packet did not parse');
      return false;
    }
    return this.dispatch(packet);
  }

  /** Runs one parsed packet's handler; a thrown GatewayError closes the connection with its reason. */
  private dispatch(packet: Packet): boolean {
    this.io.run(() => this.onPacket(packet));
    return !this.isClosed();
  }

  /**
   * Wraps a promise continuation so nothing it throws escapes as an unhandled rejection: a GatewayError
   * closes this connection with its reason, anything else is one error line and IMPLEMENTATION_SPECIFIC.
   */
  private guarded<T>(fn: (v: T) => void): (v: T) => void {
    return this.io.guarded(fn);
  }

  private packetParser(): ReturnType<typeof mqttPacket.parser> {
    let parser = this.parser;
    if (!parser) {
      // Before CONNECT the parser learns the version from the packet; afterwards it is told.
      parser = this.state === 'awaiting-connect' ? mqttPacket.parser() : mqttPacket.parser({ protocolVersion: this.version });
      parser.on('packet', (p: Packet) => (this.currentPacket = p));
      parser.on('error', (e: Error) => (this.parseError = e));
      this.parser = parser;
    }
    return parser;
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private onPacket(packet: Packet): void {
    switch (packet.cmd) {
      case 'connect':
        if (this.state !== 'awaiting-connect') throw new GatewayError('PROTOCOL_ERROR', 'second CONNECT [MQTT-3.1.0-2]');
        return this.onConnect(packet);
      case 'publish':
        return this.onPublishPacket(packet);
      case 'puback': {
        const id = packetIdOf(packet);
        const entry = this.connectedEntry();
        const acked = this.logSubs ? this.broker.unackedMessage(entry, id) : undefined;
        this.send(this.broker.settleOutbound(entry, id, 'puback'));
        return this.logSubs?.acked(acked, packet.reasonCode); // a log-backed delivery: settle it (commit), refill the window
      }
      case 'pubrec': {
        const id = packetIdOf(packet);
        // A PUBREC with an error reason ends the flow: no PUBREL [MQTT-4.3.3-4].
        const entry = this.connectedEntry();
        if ((packet.reasonCode ?? 0) >= 0x80) return this.send(this.broker.settleOutbound(entry, id, 'pubrec-error'));
        if (!this.broker.isKnownOutbound(entry, id)) {
          return this.writeRaw(this.ackPacket('pubrel', id, 'PACKET_ID_NOT_FOUND'));
        }
        return this.send(this.broker.settleOutbound(entry, id, 'pubrec'));
      }
      case 'pubcomp':
        return this.send(this.broker.settleOutbound(this.connectedEntry(), packetIdOf(packet), 'pubcomp'));
      case 'pubrel': {
        const id = packetIdOf(packet);
        const { known, done } = this.broker.releaseQos2(this.entry!, id);
        if (known) this.inboundInflight--;
        const pubcomp = this.ackPacket('pubcomp', id, known ? 0 : 'PACKET_ID_NOT_FOUND');
        // PUBCOMP only once the release is durable, so a crash cannot turn a new message with this id into a "duplicate".
        if (!done) return this.queueAck(pubcomp);
        const slot = this.acks.later();
        done.then(
          this.guarded(() => {
            slot.value = pubcomp;
            this.flushAcks();
          }),
          this.guarded((err: unknown) => {
            this.log.error({ err: String(err), clientId: this.clientId }, 'QoS 2 release not durable; closing');
            slot.failed = true;
            this.flushAcks();
          }),
        );
        return;
      }
      case 'subscribe':
        return this.onSubscribe(packet);
      case 'unsubscribe':
        return this.onUnsubscribe(packet);
      case 'pingreq':
        return this.writeRaw(PINGRESP);
      case 'disconnect':
        return this.onDisconnect(packet.reasonCode ?? 0, packet.properties?.sessionExpiryInterval);
      case 'auth':
        throw new GatewayError('PROTOCOL_ERROR', 'AUTH without an authentication method');
      default:
        throw new GatewayError('PROTOCOL_ERROR', `unexpected ${packet.cmd} from a client`);
    }
  }

  private connectedEntry(): SessionEntry {
    if (!this.entry) throw new GatewayError('PROTOCOL_ERROR', 'packet before CONNECT');
    return this.entry;
  }

  // ---- CONNECT ----

  private onConnect(p: IConnectPacket): void {
    this.version = (p.protocolVersion ?? 4) as 3 | 4 | 5;
    if (this.refusal) return this.refuse(this.refusal.code, this.refusal.detail);
    const d = decideConnect(p, this.opts, Date.now(), () => `auto-${randomBytes(8).toString('hex')}`);
    if (d.kind === 'refuse') return this.refuse(d.code, d.why);
    const maxSessions = this.opts.guards?.client.maxSessions ?? 0;
    if (maxSessions > 0 && d.expiry > 0 && this.broker.sessionCount >= maxSessions && !this.broker.getSession(d.clientId)) {
      // A new session that would outlive the connection, past limits.maxSessions: 0x97 (v3: 0x03 server unavailable).
      this.opts.guards!.counters.refused('sessions');
      return this.refuse('QUOTA_EXCEEDED', `${maxSessions} sessions exist (limits.maxSessions)`);
    }
    this.identity = { clientId: d.clientId, username: p.username, protocol: 'mqtt', ...peerInfo(this.stream) };
    const auth = this.broker.auth.authenticate(this.identity, p.password);
    const finish = (ok: AuthResult): void => {
      if (this.state === 'closed') return;
      // Bad credentials: CONNACK 4 / v5 0x86; not allowed to connect (anonymous): CONNACK 5 / v5 0x87 (MQTT 3.1.1 table 3.1, MQTT 5 3.2.2.2).
      if (ok === false) return this.refuse('BAD_CREDENTIALS', 'bad user name or password');
      if (ok !== true) return this.refuse('NOT_AUTHORIZED', 'not authorized');
      // A will is a publish: its topic must be writable now (as Mosquitto 2 checks it at CONNECT).
      if (d.will && !this.broker.auth.authorizePublish(this.identity, d.will.msg.topic)) return this.refuse('NOT_AUTHORIZED', 'will topic not authorized');
      // A cluster node first claims the session (the node serving it hands it over); a single node goes on at once.
      const claimed = this.broker.prepareConnect(d.clientId, !!p.clean);
      if (claimed === undefined) return this.completeConnect(d, !!p.clean);
      this.state = 'authenticating';
      claimed.then(
        this.guarded(() => {
          if (this.state !== 'closed') this.completeConnect(d, !!p.clean);
        }),
        this.guarded((err: unknown) => {
          this.log.error({ err, clientId: d.clientId }, 'session could not be claimed from the cluster');
          if (this.state !== 'closed') this.refuse('SERVER_BUSY', 'session could not be claimed');
        }),
      );
    };
    if (typeof auth !== 'object') return finish(auth);
    this.state = 'authenticating';
    auth.then(
      this.guarded(finish),
      this.guarded((err: unknown) => {
        this.log.error({ err, clientId: d.clientId }, 'authentication hook failed');
        this.refuse('IMPLEMENTATION_SPECIFIC', 'authentication failed');
      }),
    );
  }

  private completeConnect(d: Extract<ConnectDecision, { kind: 'accept' }>, cleanStart: boolean): void {
    this.keepaliveMs = d.keepalive * 1000;
    this.clientMaxPacket = d.clientMaxPacket;
    this.outboundAliases = new OutboundAliases(d.clientTopicAliasMax);
    const { entry, sessionPresent, resend } = this.broker.connect({
      clientId: d.clientId,
      cleanStart,
      expiryInterval: d.expiry,
      limits: { ...this.opts.session, maxInflight: d.maxInflight },
      link: this,
      will: d.will,
    });
    this.entry = entry;
    this.state = 'connected';
    this.parser = undefined; // made again, told the version, when a packet off the fast paths arrives
    if (this.version === 5) {
      this.writePacket({ cmd: 'connack', reasonCode: 0, sessionPresent, properties: connackProperties(d, this.opts) });
    } else {
      this.writePacket({ cmd: 'connack', returnCode: 0, sessionPresent: this.version === 4 && sessionPresent });
    }
    this.log.debug({ clientId: d.clientId, version: this.version, sessionPresent }, 'mqtt client connected');
    if (resend.length) this.send(resend);
    const backlog = this.backlog;
    this.backlog = undefined;
    if (backlog) for (const b of backlog) if (!this.onPacketBytes(b)) break;
  }

  /** Refuses a CONNECT with a CONNACK return/reason code, then closes [MQTT-3.2.2-7]. */
  private refuse(code: ErrorCode | number, why: string): void {
    // Never the password; the username only as the client sent it.
    this.log.warn({ remote: this.identity.remoteAddress, clientId: this.identity.clientId, username: this.identity.username, code, why }, 'mqtt connect refused');
    this.writePacket({ cmd: 'connack', sessionPresent: false, ...connackRefusal(code, this.version) });
    this.destroy();
  }

  /** Admission refused this connection: answer its CONNECT with CONNACK 0x97 / 0x9F (v3: 0x03 server unavailable). */
  refuseAtConnect(code: ErrorCode, detail: string): void {
    this.refusal = { code, detail };
  }

  // ---- PUBLISH in ----

  private onPublishPacket(p: IPublishPacket): void {
    if (p.qos > 0 && !p.messageId) throw new GatewayError('MALFORMED_PACKET', 'missing packet identifier');
    if (p.dup && p.qos === 0) throw new GatewayError('MALFORMED_PACKET', 'DUP on QoS 0 [MQTT-3.3.1-2]');
    const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;
    this.onPublish(p.topic, p.qos, p.dup, p.retain, p.messageId ?? 0, payload, p.properties);
  }

  private onPublish(
    topicIn: string,
    qos: QoS,
    _dup: boolean,
    retain: boolean,
    packetId: number,
    payload: Buffer,
    props: IPublishPacket['properties'],
  ): void {
    if (this.state !== 'connected') throw new GatewayError('PROTOCOL_ERROR', 'PUBLISH before CONNACK');
    // Alias 0, above our maximum (DISCONNECT 0x94) or unknown throws [MQTT-3.3.2-8], [MQTT-3.3.2-9].
    const topic = this.inboundAliases.resolve(topicIn, props?.topicAlias);
    const bad = validateTopicName(topic, this.opts.maxTopicLevels);
    if (bad) throw new GatewayError(bad, JSON.stringify(topic.slice(0, 200)));
    this.counters.messagesIn++;
    this.pacer.charge(payload.length); // over the publish rate: reading pauses, never a drop
    const v5 = this.version === 5;
    if (qos > 0 && ++this.inboundInflight > this.opts.receiveMaximum && v5) {
      // More unacknowledged QoS 1/2 than our Receive Maximum [MQTT-3.3.4-8].
      throw new GatewayError('RECEIVE_MAXIMUM_EXCEEDED');
    }
    if (qos === 2 && !this.broker.receiveQos2(this.entry!, packetId)) {
      // Duplicate of a QoS 2 message not yet released: acknowledge again, do not route again [MQTT-4.3.3-10].
      this.inboundInflight--;
      return this.queueAck(this.ackPacket('pubrec', packetId, 0));
    }
    const ackType = qos === 1 ? 'puback' : 'pubrec';
    if (v5 && props?.payloadFormatIndicator && !isUtf8(payload)) {
      return this.rejectPublish(qos, ackType, packetId, 'PAYLOAD_FORMAT_INVALID');
    }
    if (!this.broker.auth.authorizePublish(this.identity, topic)) {
      // v5: PUBACK / PUBREC 0x87; v3 has no refusal, so the message is dropped (and counted) and acknowledged, as Mosquitto does.
      this.log.info({ clientId: this.clientId, username: this.identity.username, topic }, 'mqtt publish not authorized');
      return this.rejectPublish(qos, ackType, packetId, 'NOT_AUTHORIZED');
    }
    if (retain && payload.length > 0) {
      // A new retained topic past the count / bytes limit: v5 0x97 Quota exceeded; v3 cannot be told, so dropped (counted).
      const over = this.broker.retained.admits(topic, payload.length);
      if (over) {
        this.opts.guards?.counters.refused(over);
        this.log.info({ clientId: this.clientId, topic, limit: over }, 'mqtt retained message refused');
        return this.rejectPublish(qos, ackType, packetId, 'QUOTA_EXCEEDED');
      }
    }
    const now = Date.now();
    const msg: Message = {
      topic,
      // Copied out of the read buffer so a stored or queued message does not pin the whole chunk.
      payload: Buffer.from(payload),
      qos,
      retain,
      properties: v5 ? toMessageProperties(props) : {},
      createdAt: now,
      expiresAt: props?.messageExpiryInterval !== undefined ? now + props.messageExpiryInterval * 1000 : 0,
      senderId: this.clientId,
    };
    let done: Promise<void> | undefined;
    try {
      // A persistent publisher's QoS 2 id is stored with the message: exactly once across a crash.
      const q2 = qos === 2 && this.broker.sessionExpiry(this.entry!) !== 0 ? { sessionId: this.clientId, packetId } : undefined;
      done = this.broker.publish(msg, q2);
    } catch (err) {
      this.log.error({ err, clientId: this.clientId }, 'publish failed');
      return this.rejectPublish(qos, ackType, packetId, 'IMPLEMENTATION_SPECIFIC');
    }
    if (qos === 0) {
      done?.catch((err: unknown) => this.log.warn({ err, topic }, 'QoS 0 publish not stored'));
      return;
    }
    if (!done) return this.queueAck(this.ackPacket(ackType, packetId, 0));
    const slot = this.acks.later();
    done.then(
      this.guarded(() => {
        slot.value = this.ackPacket(ackType, packetId, 0);
        this.flushAcks();
      }),
      this.guarded((err: unknown) => {
        // Never acknowledge what is not durable: v5 gets an error reason code, v3 a closed connection.
        this.log.error({ err: String(err), clientId: this.clientId, topic }, 'publish not durable; not acknowledged');
        if (qos === 2 && this.entry) this.broker.forgetQos2(this.entry, packetId);
        const reason = unstoredPublishAck(this.version);
        if (reason !== undefined) slot.value = this.ackPacket(ackType, packetId, reason);
        else slot.failed = true;
        this.flushAcks();
      }),
    );
  }

  private rejectPublish(qos: QoS, ackType: 'puback' | 'pubrec', packetId: number, code: ErrorCode): void {
    if (qos === 0) return;
    if (qos === 2) this.broker.forgetQos2(this.entry!, packetId);
    // v3 has no failure acks: acknowledge and drop, as a v3 client cannot be told otherwise.
    this.queueAck(this.ackPacket(ackType, packetId, refusedPublishAck(code, this.version)));
  }

  private queueAck(packet: Buffer): void {
    const now = this.acks.now(packet);
    if (now === undefined) return; // queued behind an ack still waiting for its durable write
    this.afterAck(now);
    this.writeRaw(now);
  }

  /** Acks go out in the order their PUBLISHes arrived [MQTT-4.6.0-2], [MQTT-4.6.0-3]. */
  private flushAcks(): void {
    const { send, close } = this.acks.take();
    for (const packet of send) {
      if (this.state === 'closed') continue;
      this.afterAck(packet);
      this.writeRaw(packet);
    }
    if (close) this.destroy();
  }

  private afterAck(packet: Buffer): void {
    // A PUBACK ends an inbound QoS 1 flow; QoS 2 ends at PUBREL.
    if ((packet[0]! & 0xf0) === 0x40) this.inboundInflight--;
  }

  // ---- SUBSCRIBE / UNSUBSCRIBE ----

  private onSubscribe(p: ISubscribePacket): void {
    // At least one filter (there is no SUBACK to encode otherwise) and no Subscription Identifier 0: ./subscribe.ts.
    const subId = checkSubscribePacket(p);
    const entry = this.entry!;
    const granted: number[] = [];
    const retained: { msgs: Message[]; options: SubscriptionOptions }[] = [];
    for (const s of p.subscriptions) {
      const logFilter = parseLogFilter(s.topic);
      if (logFilter) {
        // `$queue/` / `$group/` mode: MQTT 5 SUBSCRIBE user property x-queue-mode (docs/REPLAY.md).
        const mode = p.properties?.userProperties?.['x-queue-mode'];
        const parsed = 'error' in logFilter ? logFilter : withMode(logFilter, Array.isArray(mode) ? mode[0] : mode);
        granted.push(this.subscribeLog(s, parsed, subId));
        continue;
      }
      const maxSubs = this.opts.guards?.client.maxSubscriptions ?? 0;
      const subs = this.broker.subscriptionsOf(entry);
      const d = decideFilter(s, {
        version: this.version,
        maxTopicLevels: this.opts.maxTopicLevels,
        maxSubscriptions: maxSubs,
        subscriptionCount: subs.size,
        alreadySubscribed: subs.has(s.topic),
        authorized: () => this.broker.auth.authorizeSubscribe(this.identity, s.topic),
        subscriptionId: subId,
      });
      if (d.kind === 'refuse') {
        if (d.limit) {
          // A new filter past the per-client limit: 0x97 Quota exceeded (v3: 0x80 failure).
          this.opts.guards!.counters.refused('subscriptions');
          this.log.info({ clientId: this.clientId, topic: s.topic, limit: maxSubs }, 'mqtt subscription refused: limit');
        }
        granted.push(subackFailure(d.code, this.version));
        continue;
      }
      const options = d.options;
      const msgs = this.broker.subscribe(entry, s.topic, options);
      if (msgs.length) retained.push({ msgs, options });
      granted.push(s.qos);
    }
    const ack = (): void => {
      if (this.isClosed()) return;
      this.writePacket({ cmd: 'suback', messageId: p.messageId, granted });
      // Retained messages follow the SUBACK, through the session window [MQTT-3.3.1-9].
      for (const r of retained) this.broker.deliverRetained(entry, r.msgs, r.options);
    };
    // A persistent session's SUBACK waits until the subscription is durable; matching PUBLISHes may
    // arrive before it, which MQTT 5 section 3.8.4 allows ("The Server is permitted to start sending PUBLISH packets ... before the Server sends the SUBACK").
    const saved = this.broker.sessionSaved(entry);
    if (!saved) return ack();
    saved.then(
      this.guarded(ack),
      this.guarded((err: unknown) => {
        this.log.error({ err: String(err), clientId: this.clientId }, 'subscription not durable; closing');
        this.fail('IMPLEMENTATION_SPECIFIC', 'subscription could not be stored');
      }),
    );
  }

  /**
   * `$log/<start>/<filter>` and `$group/<name>/<filter>` (src/core/log-subscriptions.ts, docs/REPLAY.md): fed from the
   * durable log, not the router; granted QoS at most 1; connection-scoped. Returns the SUBACK code.
   */
  private subscribeLog(s: ISubscribePacket['subscriptions'][number], parsed: NonNullable<ReturnType<typeof parseLogFilter>>, subId: number | undefined): number {
    const v5 = this.version === 5;
    if ('error' in parsed) return subackFailure(parsed.error, this.version);
    // Replay filters obey the same depth as every other filter (mqtt.maxTopicLevels).
    if (validateTopicFilter(parsed.kind === 'queue' ? s.topic : parsed.filter, this.opts.maxTopicLevels)) return subackFailure('TOPIC_FILTER_INVALID', this.version);
    const maxLog = this.opts.guards?.client.maxLogSubscriptions ?? 0;
    if (maxLog > 0 && (this.logSubs?.size ?? 0) >= maxLog && !this.logSubs?.has(s.topic)) {
      this.opts.guards!.counters.refused('log-subscriptions');
      this.log.info({ clientId: this.clientId, topic: s.topic, limit: maxLog }, 'mqtt log subscription refused: limit');
      return subackFailure('QUOTA_EXCEEDED', this.version);
    }
    if (!this.broker.hasLog) return subackFailure('IMPLEMENTATION_SPECIFIC', this.version); // persistence is off: no log to read
    if (!this.broker.auth.authorizeSubscribe(this.identity, parsed.kind === 'queue' ? s.topic : parsed.filter)) return subackFailure('NOT_AUTHORIZED', this.version);
    const entry = this.entry!;
    this.logSubs ??= this.broker.logSubscriptions({
      target: entry,
      whenWritable: () =>
        this.io.whenWritable(),
      onError: (err, topic) => this.log.warn({ err: String(err), clientId: this.clientId, topic }, 'mqtt log subscription stopped'),
    })!; // hasLog was checked above
    const qos = (s.qos > 1 ? 1 : s.qos) as QoS;
    const options: SubscriptionOptions = { qos, noLocal: v5 ? !!s.nl : false, retainAsPublished: v5 ? !!s.rap : false, retainHandling: 2, subscriptionId: subId };
    try {
      this.logSubs.add(s.topic, parsed, options);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      this.log.info({ clientId: this.clientId, topic: s.topic, err: err.message }, 'mqtt log subscription refused');
      return subackFailure(err.code, this.version);
    }
    return qos;
  }

  private onUnsubscribe(p: IUnsubscribePacket): void {
    // At least one filter [MQTT-3.10.3-2]; mqtt-packet cannot encode a v5 UNSUBACK without reason codes.
    if (!p.unsubscriptions || p.unsubscriptions.length === 0) throw new GatewayError('PROTOCOL_ERROR', 'UNSUBSCRIBE without a topic filter [MQTT-3.10.3-2]');
    const granted: number[] = [];
    for (const f of p.unsubscriptions) {
      if (parseLogFilter(f)) {
        granted.push(unsubackCode(!!this.logSubs?.remove(f)));
        continue;
      }
      const existed = this.broker.unsubscribe(this.entry!, f);
      granted.push(unsubackCode(existed));
    }
    if (this.version === 5) this.writePacket({ cmd: 'unsuback', messageId: p.messageId, granted });
    else this.writePacket({ cmd: 'unsuback', messageId: p.messageId, granted: [] });
  }

  private onDisconnect(reason: number, expiry: number | undefined): void {
    if (expiry !== undefined && this.entry) {
      // Setting a non-zero expiry at DISCONNECT after CONNECT said 0 is a protocol error [MQTT-3.14.2-2].
      if (this.broker.sessionExpiry(this.entry) === 0 && expiry !== 0) {
        throw new GatewayError('PROTOCOL_ERROR', 'session expiry set at DISCONNECT after 0 at CONNECT');
      }
      this.broker.setSessionExpiry(this.entry, Math.min(expiry, this.opts.maxSessionExpiry));
    }
    // Normal disconnect discards the will [MQTT-3.1.2-10]; 0x04 asks for it to be published.
    this.willOnClose = reason === 0x04;
    this.destroy();
  }

  // ---- outbound ----

  /**
   * SessionLink: write PUBLISH / PUBREL items in order. A new QoS 2 PUBLISH or a PUBREL to a persistent session
   * waits until the session's in-flight record naming it is durable (Broker.saveFlows), so a kill -9 cannot make
   * the restored session deliver it again as a new message [MQTT-4.3.3-10]; what is sent meanwhile queues behind
   * it, in order. QoS 0 and QoS 1 never wait.
   */
  send(out: readonly Outbound[]): void {
    if (this.state === 'closed') return;
    if (this.flowWait) {
      for (const o of out) this.flowWait.push(o);
      return;
    }
    const saved = this.entry && out.some(needsDurableFlow) ? this.broker.saveFlows(this.entry) : undefined;
    if (!saved) return this.write(out);
    // The record being written covers `out` (the session state that produced it); later items need their own.
    const held: Outbound[] = (this.flowWait = [...out]);
    const covered = held.length;
    const release = (): void => {
      if (this.flowWait !== held) return;
      this.flowWait = undefined;
      this.write(held.slice(0, covered));
      if (held.length > covered) this.send(held.slice(covered));
    };
    saved.then(
      this.guarded(release),
      // The state store failed (logged once, /readyz fails): deliver anyway, at least once, rather than hold acknowledged messages.
      this.guarded(release),
    );
  }

  /** Outbound items held until the in-flight record a QoS 2 flow needs is durable (see send). */
  private flowWait: Outbound[] | undefined;

  private write(out: readonly Outbound[]): void {
    if (this.state === 'closed') return;
    const now = Date.now();
    for (const o of out) {
      if (o.type === 'pubrel') {
        this.writeRaw(encodeAck('pubrel', o.packetId));
        continue;
      }
      if (!this.broker.auth.authorizeRead(this.identity, o.msg.topic)) {
        // Last line of the ACL: whatever queued it (a session restored from disk, a log replay), an unreadable topic is not sent.
        this.discardOutbound(o, now);
        continue;
      }
      if (o.qos === 0 && this.io.overWriteBuffer) {
        // A slow reader must not grow memory without bound: QoS 0 is dropped, and counted.
        this.counters.slowConsumerDrops++;
        continue;
      }
      const buf = this.encodeOutbound(o, now);
      if (buf === undefined) {
        // Larger than the client's Maximum Packet Size: discard as if sent [MQTT-3.1.2-25].
        this.discardOutbound(o, now);
        continue;
      }
      this.counters.messagesOut++;
      this.writeRaw(buf);
    }
  }

  /** Settles an outbound PUBLISH that is not sent, as if the client had acknowledged it. */
  private discardOutbound(o: Extract<Outbound, { type: 'publish' }>, now: number): void {
    const entry = this.entry;
    if (!entry || o.qos === 0) return;
    const acked = this.logSubs ? this.broker.unackedMessage(entry, o.packetId) : undefined;
    // QoS 2 never sent: the flow ends as after a refusing PUBREC (no PUBREL), freeing the id and the slot.
    this.send(this.broker.settleOutbound(entry, o.packetId, o.qos === 1 ? 'puback' : 'pubrec-error', now));
    this.logSubs?.acked(acked);
  }

  private encodeOutbound(o: Extract<Outbound, { type: 'publish' }>, now: number): Buffer | undefined {
    const msg = o.msg;
    if (this.version !== 5) return encodePublishShared(msg, msg.topic, msg.payload, o.qos, o.dup, o.retain, o.packetId);
    const properties = toPublishProperties(msg, o.subscriptionIds ?? EMPTY, now) ?? {};
    const { topic, alias } = this.outboundAliases.assign(msg.topic);
    if (alias !== undefined) properties.topicAlias = alias;
    const packet: IPublishPacket = {
      cmd: 'publish',
      topic,
      payload: msg.payload,
      qos: o.qos,
      dup: o.dup,
      retain: o.retain,
      properties,
    };
    if (o.qos > 0) packet.messageId = o.packetId;
    let buf: Buffer;
    try {
      buf = mqttPacket.generate(packet, { protocolVersion: 5 });
    } catch (err) {
      // A message this encoder cannot write must not throw into whoever published it: treat as undeliverable.
      this.log.warn({ err: String(err), clientId: this.clientId, topic: msg.topic }, 'mqtt message could not be encoded; skipped');
      return undefined;
    }
    if (this.clientMaxPacket > 0 && buf.length > this.clientMaxPacket) return undefined;
    return buf;
  }

  /** An ack packet; `reason` (a code or an MQTT 5 reason) is carried by v5 only, v3 acks have none. */
  private ackPacket(type: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', packetId: number, code: ErrorCode | number): Buffer {
    const reason = reasonCode(code);
    if (reason === 0 || this.version !== 5) return encodeAck(type, packetId);
    return mqttPacket.generate({ cmd: type, messageId: packetId, reasonCode: reason }, { protocolVersion: 5 });
  }

  private writePacket(p: Packet): void {
    this.writeRaw(mqttPacket.generate(p, { protocolVersion: this.version }));
  }

  /** Corked, counted, never after the stream ended (../connection-shell.ts). */
  private writeRaw(buf: Buffer): void {
    this.io.write(buf);
  }

  // ---- closing ----

  /** SessionLink: server-initiated close (takeover, admin, shutdown) with a v5 DISCONNECT reason [MQTT-3.14.2-1]. */
  close(code: ErrorCode): void {
    if (this.state === 'closed') return;
    this.entry = undefined; // the broker already unbound us
    const reason = disconnectReason(code, this.version);
    if (reason !== undefined) this.writePacket({ cmd: 'disconnect', reasonCode: reason });
    this.destroy();
  }

  /** Protocol or limit failure: v5 gets DISCONNECT with the reason code first [MQTT-4.13.1-1]; one log line. */
  fail(code: ErrorCode, detail: string): void {
    if (this.state === 'closed') return;
    this.io.logFailure(code, detail);
    const reason = disconnectReason(code, this.version);
    if (reason !== undefined && this.state === 'connected') this.writePacket({ cmd: 'disconnect', reasonCode: reason });
    this.destroy();
  }

  /** Ends the stream and releases (../connection-shell.ts: once, with the stream's own close). */
  private destroy(): void {
    this.io.destroy();
  }

  /** The MQTT part of releasing a connection; the shell runs it once, on our destroy or the stream's close. */
  private detach(): void {
    this.state = 'closed';
    this.framer.reset(); // an unfinished packet's bytes go back to the shared budget
    this.logSubs?.closeAll();
    if (this.entry) this.broker.disconnect(this.entry, this, this.willOnClose);
    this.entry = undefined;
    this.onClosed(this);
  }
}

const PINGRESP = Buffer.from([0xd0, 0x00]);

/** The packet id of an ack: present and non-zero [MQTT-2.2.1-3]; a PUBREL `62 00` has none and is malformed. */
function packetIdOf(p: { messageId?: number }): number {
  const id = p.messageId;
  if (id === undefined || !Number.isInteger(id) || id < 1 || id > 0xffff) throw new GatewayError('MALFORMED_PACKET', 'acknowledgement without a packet identifier');
  return id;
}
