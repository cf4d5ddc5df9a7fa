// One MQTT 3.1 / 3.1.1 / 5 connection's I/O shell: bytes in -> framer -> parser -> the state machine (./machine.ts), and the machine's effects out (writes, close, logs, waits, pacing). Imports core types, ../connection-shell.ts, mqtt-packet and sibling mqtt files.
//
// Contract: the machine's effects are executed as it emits them (EffectSink), so the order on the wire is the order
// of its decisions, and a close releases the connection before the input returns (the framer then drops the rest).
// Nothing read from the socket throws out (../connection-shell.ts maps a throw to a failure).
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { Logger } from 'pino';
import type { Broker, SessionLink } from '../../src/core/broker.ts';
import type { ClientIdentity } from '../../src/core/auth.ts';
import type { ErrorCode } from '../../src/core/errors.ts';
import type { Outbound } from '../../src/core/session.ts';
import { peerInfo } from '../peer.ts';
import { ConnectionShell, Pacer } from '../connection-shell.ts';
import { MqttFramer } from './framer.ts';
import { refuseFirstByte, routePacket } from './packet-gate.ts';
import { decodePublish } from './fast-publish.ts';
import type { MqttOptions } from './options.ts';
import { MqttMachine } from './machine.ts';
import type { ConnectionCounters, Effect, EffectSink, MqttEnv, Resume } from './machine-types.ts';

export type { ConnectionCounters } from './machine-types.ts';

export class MqttConnection implements SessionLink {
  private readonly machine: MqttMachine;
  private readonly framer: MqttFramer;
  /** mqtt-packet's parser, made when a packet needs it and dropped once CONNECT is done (idle connections stay small). */
  private parser: ReturnType<typeof mqttPacket.parser> | undefined;
  private parsed: Packet | undefined;
  private parseFailure: Error | undefined;
  /** Reads, writes, timers and closing (../connection-shell.ts). */
  private readonly io: ConnectionShell;
  /** Inbound publish pacing; packets read while paused wait in it. */
  private readonly pacer: Pacer<Buffer>;
  /** Packets read while the auth hook decides (./packet-gate.ts 'backlog'), handled once connected. */
  private backlog: Buffer[] | undefined;
  private bytesSeen = 0;
  private readonly onPacket = (p: Buffer): boolean => this.onPacketBytes(p);

  constructor(
    /** The byte stream (tests peek at its write buffer). */
    private readonly stream: Duplex & { remoteAddress?: string },
    broker: Broker,
    opts: MqttOptions,
    private readonly log: Logger,
    counters: ConnectionCounters,
    private readonly onClosed: (c: MqttConnection) => void,
  ) {
    this.framer = new MqttFramer(opts.maxPacketSize, opts.guards?.unfinished);
    this.io = new ConnectionShell(
      stream,
      'mqtt',
      log,
      counters,
      opts.maxWriteBuffer,
      { data: (chunk) => this.onData(chunk), fail: (code, detail) => this.fail(code, detail), release: () => this.detach() },
      () => ({ clientId: this.machine.clientId }),
    );
    this.pacer = new Pacer<Buffer>(this.io, opts.guards, this.onPacket, () => (this.io.lastRead = Date.now())); // time paused by us is not idle
    const env: MqttEnv = {
      now: Date.now,
      remoteAddress: stream.remoteAddress,
      newClientId: () => `auto-${randomBytes(8).toString('hex')}`,
      peer: () => peerInfo(this.stream),
      overWriteBuffer: () => this.io.overWriteBuffer,
      // Deliveries of `$log` / `$group` / `$queue` subscriptions go through Broker.outbound too, so they queue behind a held QoS 2 flow.
      logSubscriptions: (entry, onError) => broker.logSubscriptions({
        target: { id: entry.id, session: entry.session, get link() { return entry.link ? { send: (out: readonly Outbound[]) => broker.outbound(entry, out) } : undefined; } },
        whenWritable: () => this.io.whenWritable(),
        onError,
      }),
    };
    const io = this.io;
    const out: EffectSink = { write: (buf) => io.write(buf), effect: (e) => this.apply(e) };
    this.machine = new MqttMachine(broker, env, opts, counters, this, out, Date.now());
  }

  /** SessionLink: who is connected (set at CONNECT). */
  get identity(): ClientIdentity {
    return this.machine.identity;
  }

  get clientId(): string {
    return this.machine.clientId;
  }

  /** Called about once a second by the listener: CONNECT timeout and keepalive. */
  tick(now: number): void {
    this.machine.tick(now, this.io.lastRead);
  }

  /** Admission refused this connection: its CONNECT is answered with that refusal. */
  refuseAtConnect(code: ErrorCode, detail: string): void {
    this.machine.refuseAtConnect(code, detail);
  }

  /** SessionLink: write PUBLISH / PUBREL items in order. */
  send(out: readonly Outbound[]): void {
    this.machine.outbound(out);
  }

  /** SessionLink: server-initiated close (takeover, admin, shutdown). */
  close(code: ErrorCode): void {
    this.machine.serverClose(code);
  }

  /** Protocol or limit failure (the shell's mapped throws too). */
  fail(code: ErrorCode, detail: string): void {
    this.machine.fail(code, detail);
  }

  // ---- inbound ----

  private onData(chunk: Buffer): void {
    if (refuseFirstByte(this.machine.state, this.bytesSeen, chunk)) {
      // The first packet must be CONNECT [MQTT-3.1.0-1], fixed header flags 0 [MQTT-2.2.2-2]: known from
      // the first byte, so garbage (e.g. an HTTP request) is closed now, not after the CONNECT timeout.
      return this.machine.notConnect('byte', chunk[0]!);
    }
    this.bytesSeen += chunk.length;
    this.framer.push(chunk, this.onPacket); // a throw is mapped and closes (the shell's run())
  }

  /** One framed packet; false once the connection closed (the framer drops the rest). */
  private onPacketBytes(p: Buffer): boolean {
    const m = this.machine;
    if (!m.closed && this.pacer.holding) {
      this.pacer.deferred!.push(p);
      return true;
    }
    const route = routePacket(m.state, p, m.version);
    switch (route.kind) {
      case 'drop':
        return false;
      case 'backlog':
        (this.backlog ??= []).push(Buffer.from(p));
        return true;
      case 'not-connect':
        m.notConnect('type', route.type);
        break;
      case 'malformed':
        m.fail('MALFORMED_PACKET', route.detail);
        break;
      case 'ack':
        m.ack(route.cmd, route.packetId);
        break;
      case 'fast-publish': {
        const pub = decodePublish(p);
        if (typeof pub === 'string') m.fail('MALFORMED_PACKET', pub);
        else m.publish(pub.topic, pub.qos, pub.retain, pub.packetId, pub.payload);
        break;
      }
      case 'parse':
        this.parse(p);
        break;
    }
    return !m.closed;
  }

  private parse(p: Buffer): void {
    this.parseFailure = undefined;
    this.parsed = undefined;
    let parser = this.parser;
    if (!parser) {
      // Before CONNECT the parser learns the version from the packet; afterwards it is told.
      const m = this.machine;
      parser = m.state === 'awaiting-connect' ? mqttPacket.parser() : mqttPacket.parser({ protocolVersion: m.version });
      parser.on('packet', (packet: Packet) => (this.parsed = packet));
      parser.on('error', (e: Error) => (this.parseFailure = e));
      this.parser = parser;
    }
    parser.parse(p);
    const failure = this.parseFailure as Error | undefined;
    const packet = this.parsed as Packet | undefined;
    if (failure) this.machine.parseError(failure.message);
    else if (!packet) this.machine.fail('MALFORMED_PACKET', 'packet did not parse');
    else this.machine.packet(packet);
  }

  // ---- effects ----

  /** One effect other than a write (./machine-types.ts), executed as the machine emits it. */
  private apply(e: Exclude<Effect, Buffer>): void {
    switch (e.type) {
      case 'close':
        if (e.code !== undefined) this.io.logFailure(e.code, e.detail ?? '');
        this.io.destroy();
        return;
      case 'log':
        this.log[e.level](e.fields, e.msg);
        return;
      case 'wait': {
        const r = e.resume;
        e.promise.then(
          (v) => this.resume(r, true, v),
          (err: unknown) => this.resume(r, false, err),
        );
        return;
      }
      case 'charge':
        this.pacer.charge(e.bytes); // over the publish rate: reading pauses, never a drop
        return;
      case 'connected': {
        this.parser = undefined; // made again, told the version, when a packet off the fast paths arrives
        const backlog = this.backlog;
        this.backlog = undefined;
        if (backlog) for (const b of backlog) if (!this.onPacketBytes(b)) break;
        return;
      }
    }
  }

  private resume(r: Resume, ok: boolean, value: unknown): void {
    this.io.run(() => this.machine.resume(r, ok, value));
  }

  /** Released once (our close or the stream's): unbind from the broker, return the framer's bytes, tell the listener. */
  private detach(): void {
    this.machine.released();
    this.framer.reset(); // an unfinished packet's bytes go back to the shared budget
    this.onClosed(this);
  }
}
