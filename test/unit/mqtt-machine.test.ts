// Unit tests for the MQTT connection state machine (protocols/mqtt/machine.ts) without sockets: packets in, effects out, against an in-memory Broker. Imports the machine, the broker and mqtt-packet.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket, { type IConnectPacket, type IPublishPacket, type Packet } from 'mqtt-packet';
import pino from 'pino';
import { Broker, type SessionLink } from '../../src/core/broker.ts';
import { ALLOW_ALL, type AuthHooks, type AuthResult, type ClientIdentity } from '../../src/core/auth.ts';
import type { ErrorCode } from '../../src/core/errors.ts';
import type { Outbound } from '../../src/core/session.ts';
import { MqttMachine } from '../../protocols/mqtt/machine.ts';
import type { ConnectionCounters, Effect, EffectSink, MqttBroker, MqttEnv, Resume } from '../../protocols/mqtt/machine-types.ts';
import type { MqttOptions } from '../../protocols/mqtt/options.ts';

const OPTS: MqttOptions = {
  maxPacketSize: 1 << 20,
  receiveMaximum: 3,
  maxInflight: 10,
  topicAliasMaximum: 5,
  maxKeepalive: 0,
  maxTopicLevels: 8,
  maxClientIdLength: 64,
  maxSessionExpiry: 3600,
  connectTimeoutMs: 1000,
  session: { maxQueued: 100, maxQueuedBytes: 1 << 20, dropPolicy: 'drop-oldest', queueQos0: false },
  maxWriteBuffer: 1 << 20,
};

type Other = Exclude<Effect, Buffer>;

/** One client's machine wired to a broker as its SessionLink; effects are recorded in order, waits kept for the test to settle. */
class Client implements SessionLink {
  readonly m: MqttMachine;
  readonly counters: ConnectionCounters = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, slowConsumerDrops: 0 };
  /** Every effect in order (writes as Buffers). */
  readonly seen: Effect[] = [];
  now = 1_000;
  overWriteBuffer = false;

  constructor(broker: MqttBroker, opts: Partial<MqttOptions> = {}) {
    const env: MqttEnv = {
      now: () => this.now,
      remoteAddress: '127.0.0.1',
      newClientId: () => 'auto-1',
      peer: () => ({ remoteAddress: '127.0.0.1' }),
      overWriteBuffer: () => this.overWriteBuffer,
      logSubscriptions: () => undefined,
    };
    const out: EffectSink = {
      write: (buf) => void this.seen.push(buf),
      effect: (e) => {
        this.seen.push(e);
        if (e.type === 'close') this.m.released(); // as the shell's destroy does
      },
    };
    this.m = new MqttMachine(broker, env, { ...OPTS, ...opts }, this.counters, this, out, this.now);
  }

  get identity(): ClientIdentity {
    return this.m.identity;
  }

  send(out: readonly Outbound[]): void {
    this.m.outbound(out);
  }

  close(code: ErrorCode): void {
    this.m.serverClose(code);
  }

  in(p: Packet): this {
    this.m.packet(p);
    return this;
  }

  /** Decoded packets written so far, then forgotten. */
  packets(): Packet[] {
    const out: Packet[] = [];
    const parser = mqttPacket.parser({ protocolVersion: this.m.version });
    parser.on('packet', (p: Packet) => out.push(p));
    parser.on('error', (e: Error) => assert.fail(`unparseable output: ${e.message}`));
    for (const e of this.seen) if (e instanceof Uint8Array) parser.parse(e);
    this.seen.splice(0, this.seen.length, ...this.seen.filter((e) => !(e instanceof Uint8Array)));
    return out;
  }

  others(): Other[] {
    return this.seen.filter((e): e is Other => !(e instanceof Uint8Array));
  }

  closed(): Other | undefined {
    return this.others().find((e) => e.type === 'close');
  }

  waits(): Extract<Other, { type: 'wait' }>[] {
    return this.others().filter((e): e is Extract<Other, { type: 'wait' }> => e.type === 'wait');
  }

  resume(r: Resume, ok: boolean, value: unknown): void {
    this.m.resume(r, ok, value);
  }
}

function broker(auth?: Partial<AuthHooks>): Broker {
  return new Broker({ shareStrategy: 'round-robin', logger: pino({ level: 'silent' }), auth: { ...ALLOW_ALL, ...auth } });
}

const connect = (over: Partial<IConnectPacket> = {}): IConnectPacket => ({ cmd: 'connect', clientId: 'c1', protocolVersion: 4, protocolId: 'MQTT', clean: true, keepalive: 30, ...over });
const publish = (topic: string, qos: 0 | 1 | 2, messageId?: number, over: Partial<IPublishPacket> = {}): IPublishPacket => ({
  cmd: 'publish',
  topic,
  payload: Buffer.from('x'),
  qos,
  dup: false,
  retain: false,
  ...(messageId !== undefined ? { messageId } : {}),
  ...over,
});

/** A connected client (CONNACK consumed). */
function online(b: MqttBroker, over: Partial<IConnectPacket> = {}, opts: Partial<MqttOptions> = {}): Client {
  const c = new Client(b, opts).in(connect(over));
  const [ack] = c.packets();
  assert.equal(ack?.cmd, 'connack');
  assert.equal(c.m.state, 'connected');
  return c;
}

function only<T extends Packet['cmd']>(c: Client, cmd: T): Extract<Packet, { cmd: T }> {
  const ps = c.packets();
  assert.equal(ps.length, 1, `one packet expected, got ${ps.map((p) => p.cmd).join(',')}`);
  assert.equal(ps[0]!.cmd, cmd);
  return ps[0] as Extract<Packet, { cmd: T }>;
}

describe('mqtt machine: CONNECT', () => {
  for (const [name, version, sessionPresentShown] of [['3.1', 3, false], ['3.1.1', 4, true], ['5', 5, true]] as const) {
    it(`v${name}: CONNACK accepted; a resumed session is reported ${sessionPresentShown ? 'as present' : '(3.1 has no flag)'}`, () => {
      const b = broker();
      const first = new Client(b).in(connect({ protocolVersion: version, protocolId: version === 3 ? 'MQIsdp' : 'MQTT', clean: false, properties: version === 5 ? { sessionExpiryInterval: 60 } : undefined }));
      const ack = only(first, 'connack');
      assert.equal(version === 5 ? ack.reasonCode : ack.returnCode, 0);
      assert.equal(ack.sessionPresent, false);
      first.in({ cmd: 'disconnect' });
      assert.equal(first.closed()?.type, 'close');
      const again = new Client(b).in(connect({ protocolVersion: version, protocolId: version === 3 ? 'MQIsdp' : 'MQTT', clean: false, properties: version === 5 ? { sessionExpiryInterval: 60 } : undefined }));
      assert.equal(only(again, 'connack').sessionPresent, sessionPresentShown);
    });
  }

  it('v5 CONNACK carries our limits and the assigned client id [MQTT-3.2.2-16]', () => {
    const c = new Client(broker()).in(connect({ protocolVersion: 5, clientId: '' }));
    const ack = only(c, 'connack');
    assert.equal(ack.properties?.assignedClientIdentifier, 'auto-1');
    assert.equal(ack.properties?.receiveMaximum, OPTS.receiveMaximum);
    assert.equal(ack.properties?.topicAliasMaximum, OPTS.topicAliasMaximum);
    assert.equal(c.m.clientId, 'auto-1');
  });

  it('an unsupported protocol level gets CONNACK 0x01 and a close [MQTT-3.1.2-2]', () => {
    const c = new Client(broker());
    c.m.parseError('Invalid protocol version');
    const ack = only(c, 'connack');
    assert.equal(ack.returnCode, 0x01);
    assert.deepEqual(c.closed(), { type: 'close' });
  });

  it('a first packet that is not CONNECT closes without an answer [MQTT-3.1.0-1]', () => {
    const c = new Client(broker());
    c.m.notConnect('type', 12);
    assert.equal(c.packets().length, 0);
    assert.ok(c.closed());
  });

  for (const [result, v3, v5] of [[false, 4, 0x86], ['not-authorized', 5, 0x87]] as const) {
    it(`auth ${String(result)}: CONNACK ${v3} (v3) / 0x${v5.toString(16)} (v5), then close`, () => {
      const b = broker({ authenticate: () => result });
      const c3 = new Client(b).in(connect());
      assert.equal(only(c3, 'connack').returnCode, v3);
      assert.ok(c3.closed());
      const c5 = new Client(b).in(connect({ protocolVersion: 5 }));
      assert.equal(only(c5, 'connack').reasonCode, v5);
      assert.ok(c5.closed());
      assert.equal(b.sessionCount, 0, 'no session was made');
    });
  }

  it('an asynchronous auth hook: a wait effect, authenticating until it answers, then CONNACK', () => {
    let answer!: (v: AuthResult) => void;
    const b = broker({ authenticate: () => new Promise<AuthResult>((r) => (answer = r)) });
    const c = new Client(b).in(connect());
    assert.equal(c.m.state, 'authenticating');
    assert.equal(c.packets().length, 0);
    const [w] = c.waits();
    assert.equal(w?.resume.kind, 'auth');
    answer(true);
    c.resume(w!.resume, true, true);
    assert.equal(only(c, 'connack').returnCode, 0);
    assert.equal(c.m.state, 'connected');
    assert.ok(c.others().some((e) => e.type === 'connected'), 'the shell is told to replay the backlog');
  });

  it('a failing auth hook is refused with 0x83 / server unavailable', () => {
    const c = new Client(broker({ authenticate: () => Promise.resolve(true) })).in(connect({ protocolVersion: 5 }));
    c.resume(c.waits()[0]!.resume, false, new Error('down'));
    assert.equal(only(c, 'connack').reasonCode, 0x83);
    assert.ok(c.closed());
  });

  it('a will topic the client may not publish to is refused 0x87', () => {
    const b = broker({ authorizePublish: (_w, topic) => topic !== 'secret' });
    const c = new Client(b).in(connect({ protocolVersion: 5, will: { topic: 'secret', payload: Buffer.from('x'), qos: 0, retain: false } }));
    assert.equal(only(c, 'connack').reasonCode, 0x87);
  });

  it('admission refusal answers the CONNECT: v5 0x97, v3 3 (server unavailable)', () => {
    const c5 = new Client(broker());
    c5.m.refuseAtConnect('QUOTA_EXCEEDED', 'too many');
    c5.in(connect({ protocolVersion: 5 }));
    assert.equal(only(c5, 'connack').reasonCode, 0x97);
    const c3 = new Client(broker());
    c3.m.refuseAtConnect('QUOTA_EXCEEDED', 'too many');
    c3.in(connect());
    assert.equal(only(c3, 'connack').returnCode, 3);
  });

  it('takeover: the old connection gets DISCONNECT 0x8E (v5) and closes; its late release leaves the new one bound [MQTT-3.1.4-3]', () => {
    const b = broker();
    const old = online(b, { protocolVersion: 5 });
    const fresh = online(b, { protocolVersion: 5 });
    assert.equal(only(old, 'disconnect').reasonCode, 0x8e);
    assert.ok(old.closed());
    assert.equal(b.getSession('c1')?.link, fresh);
    // The new one still receives.
    fresh.in({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't', qos: 0 }] });
    fresh.packets();
    online(b, { clientId: 'p' }).in(publish('t', 0));
    assert.equal(only(fresh, 'publish').topic, 't');
  });

  it('takeover of a v3 connection closes it without a DISCONNECT (the server has none in 3.1.1)', () => {
    const b = broker();
    const old = online(b);
    online(b);
    assert.equal(old.packets().length, 0);
    assert.ok(old.closed());
  });

  it('a second CONNECT is a protocol error: v5 DISCONNECT 0x82, v3 a plain close [MQTT-3.1.0-2]', () => {
    const c5 = online(broker(), { protocolVersion: 5 });
    c5.in(connect({ protocolVersion: 5 }));
    assert.equal(only(c5, 'disconnect').reasonCode, 0x82);
    assert.deepEqual(c5.closed(), { type: 'close', code: 'PROTOCOL_ERROR', detail: 'protocol error: second CONNECT [MQTT-3.1.0-2]' });
    const c3 = online(broker());
    c3.in(connect());
    assert.equal(c3.packets().length, 0);
    assert.equal((c3.closed() as { code?: string } | undefined)?.code, 'PROTOCOL_ERROR');
  });
});

describe('mqtt machine: PUBLISH in', () => {
  function pair(version: 4 | 5, subQos: 0 | 1 | 2 = 2): { b: Broker; pub: Client; sub: Client } {
    const b = broker();
    const sub = online(b, { clientId: 'sub', protocolVersion: version });
    sub.in({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: subQos }] });
    assert.deepEqual(only(sub, 'suback').granted, [subQos]);
    const pub = online(b, { clientId: 'pub', protocolVersion: version });
    return { b, pub, sub };
  }

  it('QoS 0: routed, no answer', () => {
    const { pub, sub } = pair(4);
    pub.in(publish('a/b', 0));
    assert.equal(pub.packets().length, 0);
    const got = only(sub, 'publish');
    assert.equal(got.topic, 'a/b');
    assert.equal(got.qos, 0);
    assert.equal(pub.counters.messagesIn, 1);
    assert.equal(sub.counters.messagesOut, 1);
  });

  it('QoS 1: PUBACK after routing; the subscriber gets packet id 1', () => {
    const { pub, sub } = pair(4);
    pub.in(publish('a/b', 1, 7));
    assert.equal(only(pub, 'puback').messageId, 7);
    const got = only(sub, 'publish');
    assert.equal(got.qos, 1);
    assert.equal(got.messageId, 1);
  });

  it('QoS 2: PUBREC, a duplicate is acknowledged again but not routed again, PUBREL -> PUBCOMP [MQTT-4.3.3-10]', () => {
    const { pub, sub } = pair(4);
    pub.in(publish('a/b', 2, 9));
    assert.equal(only(pub, 'pubrec').messageId, 9);
    assert.equal(only(sub, 'publish').qos, 2);
    pub.in(publish('a/b', 2, 9, { dup: true }));
    assert.equal(only(pub, 'pubrec').messageId, 9);
    assert.equal(sub.packets().length, 0, 'not routed twice');
    pub.in({ cmd: 'pubrel', messageId: 9 });
    assert.equal(only(pub, 'pubcomp').messageId, 9);
    assert.equal(pub.m.inboundInflight, 0);
  });

  it('QoS 2 outbound: PUBREC -> PUBREL, PUBCOMP ends the flow; the fast ack input does the same', () => {
    const { pub, sub } = pair(4);
    pub.in(publish('a/b', 2, 1));
    const out = only(sub, 'publish');
    sub.m.ack('pubrec', out.messageId!);
    assert.equal(only(sub, 'pubrel').messageId, out.messageId);
    sub.in({ cmd: 'pubcomp', messageId: out.messageId! });
    assert.equal(sub.packets().length, 0);
  });

  it('an ack with packet id 0 is malformed, on the fast path and parsed: DISCONNECT 0x81 [MQTT-2.2.1-3]', () => {
    const fast = pair(5).pub;
    fast.m.ack('puback', 0);
    assert.equal(only(fast, 'disconnect').reasonCode, 0x81);
    const parsed = pair(5).pub;
    parsed.in({ cmd: 'pubrel', messageId: 0 });
    assert.equal(only(parsed, 'disconnect').reasonCode, 0x81);
  });

  it('v5 topic alias: set on one PUBLISH, used by the next; alias 0 or over our maximum is DISCONNECT 0x94 [MQTT-3.3.2-8]', () => {
    const { pub, sub } = pair(5);
    pub.in(publish('a/long/topic', 0, undefined, { properties: { topicAlias: 2 } }));
    pub.in(publish('', 1, 3, { properties: { topicAlias: 2 } }));
    assert.equal(only(pub, 'puback').messageId, 3);
    assert.deepEqual(sub.packets().map((p) => (p as IPublishPacket).topic), ['a/long/topic', 'a/long/topic']);
    pub.in(publish('a/x', 0, undefined, { properties: { topicAlias: 6 } }));
    assert.equal(only(pub, 'disconnect').reasonCode, 0x94);
  });

  it('v5 unknown topic alias is a protocol error 0x82', () => {
    const { pub } = pair(5);
    pub.in(publish('', 0, undefined, { properties: { topicAlias: 1 } }));
    assert.equal(only(pub, 'disconnect').reasonCode, 0x82);
  });

  it('v5 receive maximum exceeded: DISCONNECT 0x93 [MQTT-3.3.4-8]; v3 is not bounded', () => {
    const { pub } = pair(5);
    for (let id = 1; id <= 3; id++) pub.in(publish('a/b', 2, id));
    assert.equal(pub.packets().length, 3);
    pub.in(publish('a/b', 2, 4));
    assert.equal(only(pub, 'disconnect').reasonCode, 0x93);
    assert.equal((pub.closed() as { code?: string }).code, 'RECEIVE_MAXIMUM_EXCEEDED');
    const v3 = pair(4).pub;
    for (let id = 1; id <= 5; id++) v3.in(publish('a/b', 2, id));
    assert.equal(v3.packets().length, 5);
    assert.equal(v3.closed(), undefined);
  });

  it('PUBREL for an unknown id: v5 PUBCOMP 0x92, v3 a plain PUBCOMP', () => {
    const v5 = pair(5).pub;
    v5.in({ cmd: 'pubrel', messageId: 42 });
    const c5 = only(v5, 'pubcomp');
    assert.equal(c5.reasonCode, 0x92);
    const v3 = pair(4).pub;
    v3.in({ cmd: 'pubrel', messageId: 42 });
    assert.equal(only(v3, 'pubcomp').messageId, 42);
  });

  it('an ACL refusal: v5 PUBACK 0x87; v3 PUBACK (dropped, not routed)', () => {
    for (const version of [4, 5] as const) {
      const b = broker({ authorizePublish: () => false });
      const sub = online(b, { clientId: 'sub', protocolVersion: version });
      sub.in({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 1 }] });
      sub.packets();
      const pub = online(b, { clientId: 'pub', protocolVersion: version });
      pub.in(publish('a', 1, 5));
      const ack = only(pub, 'puback');
      assert.equal(ack.reasonCode ?? 0, version === 5 ? 0x87 : 0);
      assert.equal(sub.packets().length, 0);
    }
  });

  it('an invalid topic name closes: v5 DISCONNECT 0x90', () => {
    const { pub } = pair(5);
    pub.in(publish('a/+', 0));
    assert.equal(only(pub, 'disconnect').reasonCode, 0x90);
  });

  it('a durable publish: the ack waits for the write, later acks queue behind it in order [MQTT-4.6.0-2]', () => {
    const b = broker();
    let resolveFirst!: () => void;
    const real = b.publish.bind(b);
    let n = 0;
    b.publish = (msg, q2) => (n++ === 0 ? new Promise<void>((r) => (resolveFirst = r)) : real(msg, q2));
    const pub = online(b, { clientId: 'pub' });
    pub.in(publish('a', 1, 1));
    pub.in(publish('a', 1, 2));
    assert.equal(pub.packets().length, 0, 'the second ack waits behind the first');
    const [w] = pub.waits();
    assert.equal(w?.resume.kind, 'publish-ack');
    resolveFirst();
    pub.resume(w!.resume, true, undefined);
    assert.deepEqual(pub.packets().map((p) => (p as { messageId?: number }).messageId), [1, 2]);
  });

  it('a publish that cannot be made durable: v5 PUBACK 0x80; v3 closes without acknowledging', () => {
    for (const version of [5, 4] as const) {
      const b = broker();
      b.publish = () => Promise.reject(new Error('disk'));
      const pub = online(b, { clientId: 'pub', protocolVersion: version });
      pub.in(publish('a', 1, 1));
      const w = pub.waits()[0]!;
      w.promise.catch(() => undefined);
      pub.resume(w.resume, false, new Error('disk'));
      if (version === 5) assert.equal(only(pub, 'puback').reasonCode, 0x80);
      else {
        assert.equal(pub.packets().length, 0);
        assert.ok(pub.closed());
      }
    }
  });
});

describe('mqtt machine: inbound QoS 2 across a reconnect while the write is in flight (cluster kill tests)', () => {
  function setup(): { b: Broker; sub: Client; fail: (err: Error) => void; calls: () => number } {
    const b = broker();
    const sub = online(b, { clientId: 'sub' });
    sub.in({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 2 }] });
    sub.packets();
    const real = b.publish.bind(b);
    let n = 0;
    let reject!: (err: Error) => void;
    // The first write stalls (a NATS failover) and then fails; later ones go through.
    b.publish = (msg, q2) => (n++ === 0 ? new Promise<void>((_r, rej) => (reject = rej)) : real(msg, q2));
    return { b, sub, fail: (err) => reject(err), calls: () => n };
  }

  it('a resend on a new connection waits for the first write; when that fails it is not acknowledged, and the next resend is published', async () => {
    const { b, sub, fail, calls } = setup();
    const first = online(b, { clientId: 'pub', clean: false });
    first.in(publish('a', 2, 9));
    const w1 = first.waits()[0]!;
    first.close('KEEPALIVE_TIMEOUT'); // the v3 connection is gone, its write still in flight
    const second = online(b, { clientId: 'pub', clean: false });
    second.in(publish('a', 2, 9, { dup: true }));
    assert.equal(second.packets().length, 0, 'no PUBREC while the first copy is not durable');
    const w2 = second.waits().find((w) => w.resume.kind === 'publish-ack')!;
    assert.ok(w2, 'the resend waits for the first write');
    fail(new Error('NATS connection lost'));
    await Promise.allSettled([w1.promise, w2.promise]);
    first.resume(w1.resume, false, new Error('NATS connection lost'));
    second.resume(w2.resume, false, new Error('NATS connection lost'));
    assert.equal(second.packets().length, 0, 'never acknowledged');
    assert.ok(second.closed(), 'v3: closed, so the client resends');
    const third = online(b, { clientId: 'pub', clean: false });
    third.in(publish('a', 2, 9, { dup: true }));
    assert.equal(calls(), 2, 'published again: the failed write forgot the id although its connection was released');
    assert.equal(only(third, 'pubrec').messageId, 9);
    assert.equal(only(sub, 'publish').payload.toString(), 'x');
  });

  it('a resend whose first write then succeeds gets PUBREC and is routed once', async () => {
    const b = broker();
    const sub = online(b, { clientId: 'sub' });
    sub.in({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 2 }] });
    sub.packets();
    const real = b.publish.bind(b);
    let release!: () => void;
    let n = 0;
    b.publish = (msg, q2) => {
      n++;
      const routed = real(msg, q2);
      return new Promise<void>((r) => (release = r)).then(() => routed);
    };
    const first = online(b, { clientId: 'pub', clean: false });
    first.in(publish('a', 2, 9));
    const w1 = first.waits()[0]!;
    first.close('KEEPALIVE_TIMEOUT');
    const second = online(b, { clientId: 'pub', clean: false });
    second.in(publish('a', 2, 9, { dup: true }));
    assert.equal(second.packets().length, 0);
    const w2 = second.waits().find((w) => w.resume.kind === 'publish-ack')!;
    release();
    await Promise.all([w1.promise, w2.promise]);
    first.resume(w1.resume, true, undefined);
    second.resume(w2.resume, true, undefined);
    assert.equal(only(second, 'pubrec').messageId, 9);
    assert.equal(n, 1, 'published once');
    assert.equal(sub.packets().filter((p) => p.cmd === 'publish').length, 1);
  });
});

describe('mqtt machine: SUBSCRIBE / UNSUBSCRIBE', () => {
  it('a bad filter gets SUBACK 0x8F (v5) / 0x80 (v3); the good one beside it is granted', () => {
    for (const [version, code] of [[5, 0x8f], [4, 0x80]] as const) {
      const c = online(broker(), { protocolVersion: version });
      c.in({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/#/b', qos: 1 }, { topic: 'ok/+', qos: 1 }] });
      const ack = only(c, 'suback');
      assert.equal(ack.messageId, 3);
      assert.deepEqual(ack.granted, [code, 1]);
    }
  });

  it('a filter the ACL denies gets 0x87 (v5)', () => {
    const c = online(broker({ authorizeSubscribe: () => false }), { protocolVersion: 5 });
    c.in({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] });
    assert.deepEqual(only(c, 'suback').granted, [0x87]);
  });

  it('retained messages follow the SUBACK [MQTT-3.3.1-9]', () => {
    const b = broker();
    online(b, { clientId: 'p' }).in(publish('r/1', 0, undefined, { retain: true }));
    const c = online(b);
    c.in({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'r/#', qos: 0 }] });
    const ps = c.packets();
    assert.deepEqual(ps.map((p) => p.cmd), ['suback', 'publish']);
    assert.equal((ps[1] as IPublishPacket).retain, true);
  });

  it('a persistent session: SUBACK waits for the subscription to be durable; not durable closes 0x83', () => {
    const b = broker();
    let fail!: (e: Error) => void;
    b.sessionSaved = () => new Promise<void>((_r, j) => (fail = j));
    const c = online(b, { protocolVersion: 5 });
    c.in({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] });
    assert.equal(c.packets().length, 0);
    const w = c.waits()[0]!;
    w.promise.catch(() => undefined);
    fail(new Error('disk'));
    c.resume(w.resume, false, new Error('disk'));
    assert.equal(only(c, 'disconnect').reasonCode, 0x83);
  });

  it('SUBSCRIBE without filters and UNSUBSCRIBE without filters are protocol errors', () => {
    const c = online(broker(), { protocolVersion: 5 });
    c.in({ cmd: 'subscribe', messageId: 1, subscriptions: [] });
    assert.equal(only(c, 'disconnect').reasonCode, 0x82);
    const d = online(broker(), { protocolVersion: 5 });
    d.in({ cmd: 'unsubscribe', messageId: 1, unsubscriptions: [] });
    assert.equal(only(d, 'disconnect').reasonCode, 0x82);
  });

  it('UNSUBACK: v5 0x00 / 0x11 per filter; v3 no payload', () => {
    const c = online(broker(), { protocolVersion: 5 });
    c.in({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] });
    c.packets();
    c.in({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['a', 'b'] });
    assert.deepEqual(only(c, 'unsuback').granted, [0x00, 0x11]);
    const d = online(broker());
    d.in({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['a'] });
    assert.equal(only(d, 'unsuback').messageId, 2);
  });
});

describe('mqtt machine: timers, DISCONNECT and the will', () => {
  it('keepalive: no packet within 1.5x closes; v5 DISCONNECT 0x8D first, v3 a plain close [MQTT-3.1.2-24]', () => {
    for (const version of [5, 4] as const) {
      const c = online(broker(), { protocolVersion: version, keepalive: 10 });
      c.m.tick(20_000, 10_000);
      assert.equal(c.closed(), undefined, '10 s idle < 15 s');
      c.m.tick(25_001, 10_000);
      if (version === 5) assert.equal(only(c, 'disconnect').reasonCode, 0x8d);
      else assert.equal(c.packets().length, 0);
      assert.equal((c.closed() as { code?: string }).code, 'KEEPALIVE_TIMEOUT');
    }
  });

  it('no CONNECT within mqtt.connectTimeoutMs closes', () => {
    const c = new Client(broker());
    c.m.tick(1_500, 1_000);
    assert.equal(c.closed(), undefined);
    c.m.tick(2_001, 1_000);
    assert.ok(c.closed());
  });

  function withWatcher(): { b: Broker; watcher: Client } {
    const b = broker();
    const watcher = online(b, { clientId: 'w' });
    watcher.in({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'will/#', qos: 0 }] });
    watcher.packets();
    return { b, watcher };
  }
  const will = { topic: 'will/c1', payload: Buffer.from('gone'), qos: 0 as const, retain: false };

  it('a normal DISCONNECT discards the will [MQTT-3.1.2-10]', () => {
    const { b, watcher } = withWatcher();
    const c = online(b, { protocolVersion: 5, will });
    c.in({ cmd: 'disconnect', reasonCode: 0 });
    assert.ok(c.closed());
    assert.equal(watcher.packets().length, 0);
  });

  it('DISCONNECT 0x04 publishes the will', () => {
    const { b, watcher } = withWatcher();
    const c = online(b, { protocolVersion: 5, will });
    c.in({ cmd: 'disconnect', reasonCode: 0x04 });
    assert.equal(only(watcher, 'publish').topic, 'will/c1');
  });

  it('an abnormal close (the peer went away) publishes the will', () => {
    const { b, watcher } = withWatcher();
    const c = online(b, { will });
    c.m.released();
    assert.equal(only(watcher, 'publish').topic, 'will/c1');
  });

  it('DISCONNECT with a session expiry after CONNECT said 0 is a protocol error [MQTT-3.14.2-2]', () => {
    const c = online(broker(), { protocolVersion: 5 });
    c.in({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 30 } });
    assert.equal(only(c, 'disconnect').reasonCode, 0x82);
  });
});

describe('mqtt machine: outbound', () => {
  it('QoS 0 past the write buffer is dropped and counted; QoS 1 is still sent', () => {
    const b = broker();
    const sub = online(b, { clientId: 'sub' });
    sub.in({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't', qos: 1 }] });
    sub.packets();
    sub.overWriteBuffer = true;
    const pub = online(b, { clientId: 'pub' });
    pub.in(publish('t', 0));
    pub.in(publish('t', 1, 1));
    assert.equal(sub.counters.slowConsumerDrops, 1);
    assert.equal(only(sub, 'publish').qos, 1);
  });

  it('a queued message whose topic became unreadable is not sent, and its QoS 1 flow is settled (the next one goes)', () => {
    let secretReadable = true;
    const b = broker({ authorizeRead: (w, topic) => secretReadable || !(w.clientId === 'sub' && topic === 't/secret') });
    const sub = online(b, { clientId: 'sub' }, { maxInflight: 1 });
    sub.in({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't/#', qos: 1 }] });
    sub.packets();
    const pub = online(b, { clientId: 'pub' });
    pub.in(publish('t/a', 1, 1));
    pub.in(publish('t/secret', 1, 2));
    pub.in(publish('t/b', 1, 3));
    const first = only(sub, 'publish');
    assert.equal(first.topic, 't/a');
    secretReadable = false; // e.g. the ACL changed while t/secret waited in the session's queue
    sub.m.ack('puback', first.messageId!);
    const next = only(sub, 'publish');
    assert.equal(next.topic, 't/b', 't/secret was settled unsent, freeing the window for t/b');
    assert.equal(b.getSession('sub')!.session.inflightCount, 1);
  });

  it('v5 outbound topic aliases up to the client maximum', () => {
    const b = broker();
    const sub = online(b, { clientId: 'sub', protocolVersion: 5, properties: { topicAliasMaximum: 1 } });
    sub.in({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't/#', qos: 0 }] });
    sub.packets();
    const pub = online(b, { clientId: 'pub' });
    pub.in(publish('t/a', 0));
    pub.in(publish('t/a', 0));
    pub.in(publish('t/b', 0));
    const ps = sub.packets() as IPublishPacket[];
    assert.deepEqual(ps.map((p) => [p.topic, p.properties?.topicAlias]), [['t/a', 1], ['', 1], ['t/b', undefined]]);
  });
});
