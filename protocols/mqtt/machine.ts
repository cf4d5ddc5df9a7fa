// One MQTT 3.1 / 3.1.1 / 5 connection as a pure, event-driven state machine: decoded packets, broker callbacks, settled promises and ticks in; effects out (./machine-types.ts). No sockets, timers or I/O. Imports core types, ../ordered-replies.ts and sibling mqtt files.
//
// States (./packet-gate.ts): awaiting-connect -> (authenticating) -> connected -> closed. Every input is
// ignored once closed; emitting close moves to closed at once, so the rest of a read is dropped.
// Inputs never throw: a GatewayError closes with its reason (v5 DISCONNECT [MQTT-4.13.1-1], v3 a plain close),
// anything else is one error line and IMPLEMENTATION_SPECIFIC. Reason codes come from ./reason-codes.ts only.
// The decisions live in: ./machine-publish.ts (PUBLISH in, the acks both ways), ./machine-subscribe.ts
// (SUBSCRIBE / UNSUBSCRIBE), ./machine-outbound.ts (PUBLISH / PUBREL out); CONNECT, DISCONNECT, keepalive here.
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';
import { GatewayError, type ErrorCode } from '../../src/core/errors.ts';
import type { ClientIdentity } from '../../src/core/auth.ts';
import type { Outbound } from '../../src/core/session.ts';
import type { LogSubscriptions } from '../../src/core/log-subscriptions.ts';
import { PublishMeter } from '../../src/core/limits.ts';
import { OrderedReplies } from '../ordered-replies.ts';
import { connackProperties, decideConnect } from './connect.ts';
import type { MqttOptions } from './options.ts';
import type { AckCmd, ConnState } from './packet-gate.ts';
import { connackRefusal, DISCONNECT_WITH_WILL, disconnectReason, errorCodeOf, UNACCEPTABLE_PROTOCOL_LEVEL, type MqttVersion } from './reason-codes.ts';
import { InboundAliases, OutboundAliases } from './topic-aliases.ts';
import type { Accept, AuthResult, ConnectionCounters, Effect, EffectSink, LogLevel, MqttBroker, MqttEnv, Resume, SessionEntry, SessionLink } from './machine-types.ts';
import { onAck, onPublish, onPublishPacket, resumeAck } from './machine-publish.ts';
import { onSubscribe, onUnsubscribe, resumeSuback } from './machine-subscribe.ts';
import { writeOutbound } from './machine-outbound.ts';

const PINGRESP = Buffer.from([0xd0, 0x00]);

export class MqttMachine {
  state: ConnState = 'awaiting-connect';
  version: MqttVersion = 4;
  identity: ClientIdentity;
  entry: SessionEntry | undefined;
  keepaliveMs = 0;
  /** False after a normal DISCONNECT: the will is discarded [MQTT-3.1.2-10]. */
  willOnClose = true;
  /** v5: the client's Maximum Packet Size (0 = none) [MQTT-3.1.2-25]. */
  clientMaxPacket = 0;
  /** Topic aliases (./topic-aliases.ts): ours bounded by mqtt.topicAliasMaximum, the client's by its CONNECT. */
  readonly inboundAliases: InboundAliases;
  outboundAliases = new OutboundAliases(0);
  /** Inbound QoS 1/2 acks in PUBLISH order [MQTT-4.6.0-2], [MQTT-4.6.0-3]; a failed slot closes instead. */
  readonly acks = new OrderedReplies<Buffer>();
  /** Inbound QoS 1/2 flows not yet acknowledged (PUBACK sent / PUBREL received), bounded by our Receive Maximum. */
  inboundInflight = 0;
  /** `$log/`, `$group/`, `$queue/` subscriptions of this connection (made on the first one). */
  logSubs: LogSubscriptions | undefined;
  /** Publish-rate accounting is wanted (limits.maxPublishRate / maxPublishBytesRate): emit charge effects. */
  readonly charging: boolean;
  /** Set when admission refused this connection: its CONNECT is answered with this refusal. */
  private refusal: { code: ErrorCode; detail: string } | undefined;

  constructor(
    readonly broker: MqttBroker,
    readonly env: MqttEnv,
    readonly opts: MqttOptions,
    readonly counters: ConnectionCounters,
    /** What the broker knows this connection by (connect, disconnect); the machine only passes it on. */
    private readonly link: SessionLink,
    /** Where effects go (./machine-types.ts). */
    readonly out: EffectSink,
    private readonly openedAt: number,
  ) {
    this.identity = { clientId: '', protocol: 'mqtt', remoteAddress: env.remoteAddress };
    this.inboundAliases = new InboundAliases(opts.topicAliasMaximum);
    this.charging = PublishMeter.wanted(opts.guards?.client);
  }

  get clientId(): string {
    return this.identity.clientId;
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  // ---- inputs (none throws) ----

  /** A parsed packet. */
  packet(p: Packet): void {
    if (this.state === 'closed') return;
    try {
      this.onPacket(p);
    } catch (err) {
      this.crash(err);
    }
  }

  /** A 4-byte PUBACK / PUBREC / PUBREL / PUBCOMP (./packet-gate.ts fast path): reason 0. */
  ack(cmd: AckCmd, packetId: number): void {
    if (this.state === 'closed') return;
    try {
      onAck(this, cmd, packetIdOf(packetId), 0);
    } catch (err) {
      this.crash(err);
    }
  }

  /** A v3 PUBLISH decoded on the fast path (./fast-publish.ts). */
  publish(topic: string, qos: 0 | 1 | 2, retain: boolean, packetId: number, payload: Buffer): void {
    if (this.state === 'closed') return;
    try {
      onPublish(this, topic, qos, retain, packetId, payload, undefined);
    } catch (err) {
      this.crash(err);
    }
  }

  /** The parser refused a packet: malformed, except that before CONNECT a protocol version we do not speak gets CONNACK 0x01 [MQTT-3.1.2-2]. */
  parseError(detail: string): void {
    if (this.state === 'closed') return;
    if (this.state === 'awaiting-connect' && /protocol version/i.test(detail)) {
      this.out.write(mqttPacket.generate({ cmd: 'connack', returnCode: UNACCEPTABLE_PROTOCOL_LEVEL, sessionPresent: false }, { protocolVersion: 4 }));
      this.log('warn', { remote: this.identity.remoteAddress }, 'mqtt unsupported protocol version');
      return this.close();
    }
    this.fail('MALFORMED_PACKET', detail);
  }

  /** The first packet is not CONNECT [MQTT-3.1.0-1] (or its first byte already says so): close without an answer. */
  notConnect(what: 'byte' | 'type', type: number): void {
    if (this.state === 'closed') return;
    this.log('warn', { remote: this.identity.remoteAddress, [what]: type }, what === 'byte' ? 'mqtt first byte is not CONNECT' : 'mqtt first packet was not CONNECT');
    this.close();
  }

  /** Admission refused this connection: answer its CONNECT with CONNACK 0x97 / 0x9F (v3: 0x03 server unavailable). */
  refuseAtConnect(code: ErrorCode, detail: string): void {
    this.refusal = { code, detail };
  }

  /** About once a second: CONNECT timeout and keepalive x1.5 [MQTT-3.1.2-24]; `lastRead` excludes time we paused reading. */
  tick(now: number, lastRead: number): void {
    if (this.state === 'awaiting-connect' && now - this.openedAt > this.opts.connectTimeoutMs) {
      this.log('info', { remote: this.identity.remoteAddress }, 'mqtt connection sent no CONNECT in time');
      this.opts.guards?.counters.timedOut('mqtt', 'connect');
      this.close();
    } else if (this.state === 'connected' && this.keepaliveMs > 0 && now - lastRead > this.keepaliveMs * 1.5) {
      this.log('info', { clientId: this.clientId }, 'mqtt keepalive timeout');
      this.fail('KEEPALIVE_TIMEOUT', 'no packet within 1.5x keepalive');
    }
  }

  /** A promise from a wait effect settled: `ok` with its value, or not with the error. */
  resume(r: Resume, ok: boolean, value: unknown): void {
    // After close only the publish-side writes still settle (their failures are logged; nothing is written).
    if (this.state === 'closed' && (r.kind === 'auth' || r.kind === 'claim' || r.kind === 'suback')) return;
    try {
      switch (r.kind) {
        case 'auth':
          if (ok) return this.authenticated(r.decision, r.clean, value as AuthResult);
          this.log('error', { err: value, clientId: r.decision.clientId }, 'authentication hook failed');
          return this.refuse('IMPLEMENTATION_SPECIFIC', 'authentication failed');
        case 'claim':
          if (ok) return this.accept(r.decision, r.clean);
          this.log('error', { err: value, clientId: r.decision.clientId }, 'session could not be claimed from the cluster');
          return this.refuse('SERVER_BUSY', 'session could not be claimed');
        case 'suback':
          return resumeSuback(this, r, ok, value);
        default:
          return resumeAck(this, r, ok, value);
      }
    } catch (err) {
      this.crash(err);
    }
  }

  /** SessionLink.send: PUBLISH / PUBREL items from the broker, in order (held QoS 2 flows are the broker's: Broker.outbound). */
  outbound(out: readonly Outbound[]): void {
    if (this.state === 'closed') return;
    try {
      writeOutbound(this, out);
    } catch (err) {
      this.crash(err);
    }
  }

  /** SessionLink.close: server-initiated close (takeover, admin, shutdown) with a v5 DISCONNECT reason [MQTT-3.14.2-1]. */
  serverClose(code: ErrorCode): void {
    if (this.state === 'closed') return;
    this.entry = undefined; // the broker already unbound us
    const reason = disconnectReason(code, this.version);
    if (reason !== undefined) this.out.write(mqttPacket.generate({ cmd: 'disconnect', reasonCode: reason }, { protocolVersion: 5 }));
    this.close();
  }

  /** Protocol or limit failure: v5 gets DISCONNECT with the reason code first [MQTT-4.13.1-1]; one log line. */
  fail(code: ErrorCode, detail: string): void {
    if (this.state === 'closed') return;
    const reason = disconnectReason(code, this.version);
    if (reason !== undefined && this.state === 'connected') this.out.write(mqttPacket.generate({ cmd: 'disconnect', reasonCode: reason }, { protocolVersion: 5 }));
    this.close(code, detail);
  }

  /** The connection is over (our close effect, or the peer): unbind from the broker (will per willOnClose). Once. */
  released(): void {
    this.state = 'closed';
    const entry = this.entry;
    this.entry = undefined;
    this.logSubs?.closeAll();
    if (entry) this.broker.disconnect(entry, this.link, this.willOnClose);
  }

  // ---- effects ----

  log(level: LogLevel, fields: Record<string, unknown>, msg: string): void {
    this.out.effect({ type: 'log', level, fields, msg });
  }

  wait(promise: Promise<unknown>, resume: Resume): void {
    this.out.effect({ type: 'wait', promise, resume });
  }

  writePacket(p: Packet): void {
    this.out.write(mqttPacket.generate(p, { protocolVersion: this.version }));
  }

  /** Ends the connection; nothing after this input is processed. */
  close(code?: ErrorCode, detail?: string): void {
    this.state = 'closed';
    this.out.effect(code === undefined ? CLOSE : { type: 'close', code, detail });
  }

  /** A throw inside an input: a GatewayError keeps its code, anything else is logged with its stack first. */
  private crash(err: unknown): void {
    const f = errorCodeOf(err);
    if (f.unexpected) this.log('error', { err, clientId: this.clientId }, 'mqtt handler failed');
    this.fail(f.code, f.detail);
  }

  // ---- dispatch ----

  private onPacket(packet: Packet): void {
    switch (packet.cmd) {
      case 'connect':
        if (this.state !== 'awaiting-connect') throw new GatewayError('PROTOCOL_ERROR', 'second CONNECT [MQTT-3.1.0-2]');
        return this.onConnect(packet);
      case 'publish':
        return onPublishPacket(this, packet);
      case 'puback':
      case 'pubrec':
      case 'pubrel':
      case 'pubcomp':
        return onAck(this, packet.cmd, packetIdOf(packet.messageId), packet.reasonCode ?? 0);
      case 'subscribe':
        return onSubscribe(this, packet);
      case 'unsubscribe':
        return onUnsubscribe(this, packet);
      case 'pingreq':
        this.out.write(PINGRESP);
        return;
      case 'disconnect':
        return this.onDisconnect(packet.reasonCode ?? 0, packet.properties?.sessionExpiryInterval);
      case 'auth':
        throw new GatewayError('PROTOCOL_ERROR', 'AUTH without an authentication method');
      default:
        throw new GatewayError('PROTOCOL_ERROR', `unexpected ${packet.cmd} from a client`);
    }
  }

  /** The session of a connected client; a packet that needs one before CONNECT is a protocol error. */
  connectedEntry(): SessionEntry {
    if (!this.entry) throw new GatewayError('PROTOCOL_ERROR', 'packet before CONNECT');
    return this.entry;
  }

  // ---- CONNECT ----

  private onConnect(p: IConnectPacket): void {
    this.version = (p.protocolVersion ?? 4) as MqttVersion;
    if (this.refusal) return this.refuse(this.refusal.code, this.refusal.detail);
    const d = decideConnect(p, this.opts, this.env.now(), () => this.env.newClientId());
    if (d.kind === 'refuse') return this.refuse(d.code, d.why);
    const maxSessions = this.opts.guards?.client.maxSessions ?? 0;
    if (maxSessions > 0 && d.expiry > 0 && this.broker.sessionCount >= maxSessions && !this.broker.getSession(d.clientId)) {
      // A new session that would outlive the connection, past limits.maxSessions: 0x97 (v3: 0x03 server unavailable).
      this.opts.guards!.counters.refused('sessions');
      return this.refuse('QUOTA_EXCEEDED', `${maxSessions} sessions exist (limits.maxSessions)`);
    }
    this.identity = { clientId: d.clientId, username: p.username, protocol: 'mqtt', ...this.env.peer() };
    const auth = this.broker.auth.authenticate(this.identity, p.password);
    if (typeof auth !== 'object') return this.authenticated(d, !!p.clean, auth);
    this.state = 'authenticating'; // packets read meanwhile wait in the shell (./packet-gate.ts 'backlog')
    this.wait(auth, { kind: 'auth', decision: d, clean: !!p.clean });
  }

  private authenticated(d: Accept, cleanStart: boolean, ok: AuthResult): void {
    // Bad credentials: CONNACK 4 / v5 0x86; not allowed to connect (anonymous): CONNACK 5 / v5 0x87 (MQTT 3.1.1 table 3.1, MQTT 5 3.2.2.2).
    if (ok === false) return this.refuse('BAD_CREDENTIALS', 'bad user name or password');
    if (ok !== true) return this.refuse('NOT_AUTHORIZED', 'not authorized');
    // A will is a publish: its topic must be writable now (as Mosquitto 2 checks it at CONNECT).
    if (d.will && !this.broker.auth.authorizePublish(this.identity, d.will.msg.topic)) return this.refuse('NOT_AUTHORIZED', 'will topic not authorized');
    // A cluster node first claims the session (the node serving it closes it with 0x8E and hands it over); a single node goes on.
    const claimed = this.broker.prepareConnect(d.clientId, cleanStart);
    if (claimed === undefined) return this.accept(d, cleanStart);
    this.state = 'authenticating'; // packets read meanwhile wait in the shell, as during authentication
    this.wait(claimed, { kind: 'claim', decision: d, clean: cleanStart });
  }

  private accept(d: Accept, cleanStart: boolean): void {
    this.keepaliveMs = d.keepalive * 1000;
    this.clientMaxPacket = d.clientMaxPacket;
    this.outboundAliases = new OutboundAliases(d.clientTopicAliasMax);
    // Takeover of a connected client id [MQTT-3.1.4-3], clean start [MQTT-3.1.2-4] or resume [MQTT-3.1.2-5]: the broker's.
    const { entry, sessionPresent, resend } = this.broker.connect({
      clientId: d.clientId,
      cleanStart,
      expiryInterval: d.expiry,
      limits: { ...this.opts.session, maxInflight: d.maxInflight },
      link: this.link,
      will: d.will,
    });
    this.entry = entry;
    this.state = 'connected';
    if (this.version === 5) {
      this.writePacket({ cmd: 'connack', reasonCode: 0, sessionPresent, properties: connackProperties(d, this.opts) });
    } else {
      // A 3.1 CONNACK has no session present flag.
      this.writePacket({ cmd: 'connack', returnCode: 0, sessionPresent: this.version === 4 && sessionPresent });
    }
    this.log('debug', { clientId: d.clientId, version: this.version, sessionPresent }, 'mqtt client connected');
    // Unacknowledged PUBLISHes (DUP), PUBRELs, then the queue, right after CONNACK; new QoS 2 flows wait in the broker.
    this.broker.outbound(entry, resend);
    this.out.effect(CONNECTED);
  }

  /** Refuses a CONNECT with a CONNACK return/reason code, then closes [MQTT-3.2.2-7]. */
  private refuse(code: ErrorCode | number, why: string): void {
    // Never the password; the username only as the client sent it.
    const who = this.identity;
    this.log('warn', { remote: who.remoteAddress, clientId: who.clientId, username: who.username, code, why }, 'mqtt connect refused');
    this.writePacket({ cmd: 'connack', sessionPresent: false, ...connackRefusal(code, this.version) });
    this.close();
  }

  // ---- DISCONNECT ----

  private onDisconnect(reason: number, expiry: number | undefined): void {
    if (expiry !== undefined && this.entry) {
      // Setting a non-zero expiry at DISCONNECT after CONNECT said 0 is a protocol error [MQTT-3.14.2-2].
      if (this.broker.sessionExpiry(this.entry) === 0 && expiry !== 0) {
        throw new GatewayError('PROTOCOL_ERROR', 'session expiry set at DISCONNECT after 0 at CONNECT');
      }
      this.broker.setSessionExpiry(this.entry, Math.min(expiry, this.opts.maxSessionExpiry));
    }
    // Normal disconnect discards the will [MQTT-3.1.2-10]; 0x04 asks for it to be published.
    this.willOnClose = reason === DISCONNECT_WITH_WILL;
    this.close();
  }
}

const CONNECTED: Exclude<Effect, Buffer> = { type: 'connected' };
const CLOSE: Exclude<Effect, Buffer> = { type: 'close' };

/** The packet id of an ack: present and non-zero [MQTT-2.2.1-3]; a PUBREL `62 00` has none and is malformed. */
function packetIdOf(id: number | undefined): number {
  if (id === undefined || !Number.isInteger(id) || id < 1 || id > 0xffff) throw new GatewayError('MALFORMED_PACKET', 'acknowledgement without a packet identifier');
  return id;
}
