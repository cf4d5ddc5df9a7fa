// Unit tests of the STOMP connection state machine (protocols/stomp/machine.ts) without sockets: frames, broker answers and timer ticks in, effects out. Imports the machine, its types, the stomp parser and option helpers, and node:test only.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StompMachine } from '../../protocols/stomp/machine.ts';
import type { StompEffect, StompPort, SubRecord } from '../../protocols/stomp/machine-types.ts';
import { header, type StompFrame, type StompVersion } from '../../protocols/stomp/frame.ts';
import { StompParser } from '../../protocols/stomp/parser.ts';
import type { StompOptions } from '../../protocols/stomp/options.ts';
import { stompOptions } from '../../src/server/protocol-options.ts';
import type { LimitName } from '../../src/core/limits.ts';
import type { Message } from '../../src/core/message.ts';
import { GatewayError } from '../../src/core/errors.ts';

/** A port whose answers each test sets, recording what the machine asked. */
class FakePort implements StompPort {
  denyPublish = new Set<string>();
  denySubscribe = new Set<string>();
  retained: 'retained-count' | 'retained-bytes' | undefined = undefined;
  sessions = 0;
  existing = new Set<string>();
  hasLog = true;
  hasQueues = true;
  refuseQueue: GatewayError | undefined;
  admitted: string[] = [];
  prepared: [string, string | undefined][] = [];
  refusals: LimitName[] = [];
  timeouts = 0;
  authorizePublish(_who: unknown, topic: string): boolean {
    return !this.denyPublish.has(topic);
  }
  authorizeSubscribe(_who: unknown, filter: string): boolean {
    return !this.denySubscribe.has(filter);
  }
  retainedOver(): 'retained-count' | 'retained-bytes' | undefined {
    return this.retained;
  }
  sessionCount(): number {
    return this.sessions;
  }
  hasSession(id: string): boolean {
    return this.existing.has(id);
  }
  admitQueue(name: string): void {
    if (this.refuseQueue) throw this.refuseQueue;
    this.admitted.push(name);
  }
  prepareQueue(name: string, mode: string | undefined): void {
    if (this.refuseQueue) throw this.refuseQueue;
    this.prepared.push([name, mode]);
  }
  refused(limit: LimitName): void {
    this.refusals.push(limit);
  }
  connectTimedOut(): void {
    this.timeouts++;
  }
}

const NOW = 1_700_000_000_000;

function make(over: Partial<StompOptions> = {}, port = new FakePort()): { m: StompMachine; port: FakePort } {
  const m = new StompMachine({ sessionId: 'stomp-t', peer: { remoteAddress: '127.0.0.1' }, opts: stompOptions(over), port, now: () => NOW });
  return { m, port };
}

function frame(command: string, headers: Record<string, string> = {}, body = ''): StompFrame {
  return { command, headers: Object.entries(headers), body: Buffer.from(body) };
}

/** The frames an effect list writes, decoded as a client speaking `version` would (heart-beats as 'HEARTBEAT'). */
function written(effects: readonly StompEffect[], version: StompVersion = '1.2'): StompFrame[] {
  const out: StompFrame[] = [];
  const p = new StompParser({ maxFrameBytes: 1 << 20, maxHeaders: 100, maxHeaderBytes: 1 << 16, maxBodyBytes: 1 << 20 }, version);
  for (const e of effects) {
    const bytes = e.type === 'write' || e.type === 'error' ? e.bytes : e.type === 'message' ? e.bytes : undefined;
    if (bytes) p.push(bytes, (f) => out.push(f), () => out.push(frame('HEARTBEAT')));
  }
  return out;
}

/** A compact view of effects: 'CONNECTED', 'RECEIPT r1', 'ERROR <code>', 'publish', 'open:topic', 'settle+7', 'timer:connect', ... */
function kinds(effects: readonly StompEffect[]): string[] {
  return effects.map((e) => {
    switch (e.type) {
      case 'write': {
        const [f] = written([e]);
        if (!f) return 'write';
        const r = header(f, 'receipt-id');
        return r === undefined ? f.command : `${f.command} ${r}`;
      }
      case 'message':
        return e.bytes ? 'MESSAGE' : 'MESSAGE(held)';
      case 'error':
        return `ERROR ${e.code}`;
      case 'open':
        return `open:${e.source.kind}`;
      case 'settle':
        return `settle${e.positive ? '+' : '-'}${e.token}${e.requeue ? '' : ':reject'}`;
      case 'end':
        return `end:${e.sub.id}${e.forget ? ':forget' : ''}`;
      case 'timer':
      case 'stop-timer':
        return `${e.type}:${e.name}`;
      case 'log':
        return `log:${e.level}`;
      default:
        return e.type;
    }
  });
}

function ticketOf(effects: readonly StompEffect[]): number {
  const p = effects.find((e) => e.type === 'publish');
  assert.ok(p && p.type === 'publish', `a publish effect in ${kinds(effects).join(',')}`);
  return p.ticket;
}

function opened(effects: readonly StompEffect[]): Extract<StompEffect, { type: 'open' }> {
  const o = effects.find((e) => e.type === 'open');
  assert.ok(o && o.type === 'open', `an open effect in ${kinds(effects).join(',')}`);
  return o;
}

/** A connected machine (auth answered true synchronously). */
function connected(headers: Record<string, string> = { 'accept-version': '1.2' }, over: Partial<StompOptions> = {}, port = new FakePort()) {
  const { m } = make(over, port);
  const first = m.frame(frame('CONNECT', headers));
  assert.ok(first.some((e) => e.type === 'authenticate'));
  const answer = m.authenticated(true);
  assert.equal(written(answer, m.version)[0]?.command, 'CONNECTED');
  return { m, port };
}

function msg(topic: string, payload = 'x', ref?: { partition: number; offset: number }): Message {
  const m: Message = { topic, payload: Buffer.from(payload), qos: 1, retain: false, properties: {}, createdAt: NOW, expiresAt: 0, senderId: 'p' };
  if (ref) m.ref = ref;
  return m;
}

function subscribe(m: StompMachine, headers: Record<string, string>): { sub: SubRecord; effects: readonly StompEffect[] } {
  const effects = m.frame(frame('SUBSCRIBE', headers));
  return { sub: opened(effects).sub, effects };
}

describe('stomp machine: CONNECT', () => {
  it('starts the CONNECT deadline; the timer closes a connection that never connects, and is stopped by CONNECTED', () => {
    const { m, port } = make({ connectTimeoutMs: 1234 });
    assert.deepEqual(m.start(), [{ type: 'timer', name: 'connect', ms: 1234, repeat: false }]);
    const out = m.timer('connect', NOW, NOW, NOW);
    assert.deepEqual(kinds(out), ['ERROR PROTOCOL_ERROR']);
    assert.equal(port.timeouts, 1);
    assert.ok(m.isClosed);

    const c = connected();
    assert.deepEqual(c.m.timer('connect', NOW, NOW, NOW), []);
  });

  it('negotiates 1.0 (no accept-version), 1.1 and 1.2 (the highest shared), and refuses a version it does not speak', () => {
    for (const [accept, want] of [[undefined, '1.0'], ['1.1', '1.1'], ['1.0,1.1', '1.1'], ['1.1,1.2,1.0', '1.2']] as const) {
      const { m } = make();
      const out = m.frame(frame('CONNECT', accept === undefined ? {} : { 'accept-version': accept }));
      assert.deepEqual(kinds(out), ['version', 'authenticate']);
      assert.equal(m.version, want);
      const [c] = written(m.authenticated(true), want);
      assert.equal(c?.command, 'CONNECTED');
      // 1.2 "CONNECTED Frame": version (and heart-beat) only from 1.1 on.
      assert.equal(header(c!, 'version'), want === '1.0' ? undefined : want);
      assert.equal(header(c!, 'session'), 'stomp-t');
    }
    const { m } = make();
    const out = m.frame(frame('CONNECT', { 'accept-version': '2.0', receipt: 'c1' }));
    assert.deepEqual(kinds(out), ['ERROR UNSUPPORTED_PROTOCOL_VERSION']);
    const [err] = written(out, '1.0');
    assert.equal(header(err!, 'version'), '1.2,1.1,1.0');
    assert.equal(header(err!, 'receipt-id'), 'c1');
  });

  it('heart-beats: out = max(sx, cy), in = max(cx, sy), each only when both sides want it; timers tick at half the interval', () => {
    const { m } = make({ heartbeatSendMs: 1000, heartbeatReceiveMs: 2000, heartbeatGrace: 2 });
    m.frame(frame('CONNECT', { 'accept-version': '1.2', 'heart-beat': '5000,500' }));
    const out = m.authenticated(true);
    assert.equal(header(written(out)[0]!, 'heart-beat'), '1000,2000');
    assert.equal(m.heartbeatOut, 1000);
    assert.equal(m.heartbeatIn, 5000);
    assert.deepEqual(
      out.filter((e) => e.type === 'timer'),
      [
        { type: 'timer', name: 'heartbeat-out', ms: 500, repeat: true },
        { type: 'timer', name: 'heartbeat-in', ms: 2500, repeat: true },
      ],
    );
    // Out: a heart-beat only when nothing else was written for half the interval.
    assert.deepEqual(kinds(m.timer('heartbeat-out', NOW, NOW, NOW - 100)), []);
    assert.deepEqual(kinds(m.timer('heartbeat-out', NOW, NOW, NOW - 500)), ['HEARTBEAT']);
    // In: silence past grace x interval closes.
    assert.deepEqual(kinds(m.timer('heartbeat-in', NOW, NOW - 10_000, NOW)), []);
    assert.deepEqual(kinds(m.timer('heartbeat-in', NOW, NOW - 10_001, NOW)), ['ERROR KEEPALIVE_TIMEOUT']);

    const off = make({ heartbeatSendMs: 1000, heartbeatReceiveMs: 2000 }).m;
    off.frame(frame('CONNECT', { 'accept-version': '1.2', 'heart-beat': '0,0' }));
    assert.equal(off.authenticated(true).filter((e) => e.type === 'timer').length, 0);
  });

  it('a malformed heart-beat header is STOMP_HEADER_INVALID', () => {
    const { m } = make();
    assert.deepEqual(kinds(m.frame(frame('CONNECT', { 'accept-version': '1.2', 'heart-beat': 'fast' }))), ['ERROR STOMP_HEADER_INVALID']);
  });

  it('auth refused: BAD_CREDENTIALS naming the login; not-authorized: NOT_AUTHORIZED; a failing hook: IMPLEMENTATION_SPECIFIC', () => {
    const a = make().m;
    const ask = a.frame(frame('CONNECT', { 'accept-version': '1.2', login: 'bob', passcode: 'pw' }));
    const auth = ask.find((e) => e.type === 'authenticate');
    assert.ok(auth && auth.type === 'authenticate');
    assert.equal(auth.identity.username, 'bob');
    assert.equal(auth.identity.remoteAddress, '127.0.0.1');
    assert.equal(auth.passcode?.toString(), 'pw');
    const refused = a.authenticated(false);
    assert.deepEqual(kinds(refused), ['ERROR BAD_CREDENTIALS']);
    assert.match(written(refused)[0]!.body.toString(), /login refused for "bob"/);
    assert.ok(a.isClosed);

    const b = make().m;
    b.frame(frame('CONNECT', { 'accept-version': '1.2' }));
    assert.deepEqual(kinds(b.authenticated('not-authorized')), ['ERROR NOT_AUTHORIZED']);

    const c = make().m;
    c.frame(frame('CONNECT', { 'accept-version': '1.2' }));
    assert.deepEqual(kinds(c.authFailed(new Error('hook down'))), ['log:error', 'ERROR IMPLEMENTATION_SPECIFIC']);
  });

  it('frames read while the auth hook answers wait, and are replayed after CONNECTED', () => {
    const { m } = make();
    m.frame(frame('CONNECT', { 'accept-version': '1.2' }));
    assert.deepEqual(m.frame(frame('SEND', { destination: '/topic/a' }, 'early')), []);
    const out = m.authenticated(true);
    assert.deepEqual(kinds(out), ['stop-timer:connect', 'CONNECTED', 'log:debug', 'replay']);
    const replay = out.find((e) => e.type === 'replay');
    assert.ok(replay && replay.type === 'replay');
    assert.deepEqual(replay.frames.map((f) => `${f.command}:${f.body}`), ['SEND:early']);
  });

  it('a frame before CONNECT, a second CONNECT and an unknown command are PROTOCOL_ERROR (with the receipt-id asked for)', () => {
    const { m } = make();
    const out = m.frame(frame('SEND', { destination: '/topic/a', receipt: 'r0' }));
    assert.deepEqual(kinds(out), ['ERROR PROTOCOL_ERROR']);
    const [err] = written(out, '1.0');
    assert.equal(header(err!, 'receipt-id'), 'r0');
    assert.match(err!.body.toString(), /SEND before CONNECT/);
    assert.deepEqual(m.frame(frame('CONNECT')), [], 'nothing after the connection failed');

    assert.deepEqual(kinds(connected().m.frame(frame('CONNECT', { 'accept-version': '1.2' }))), ['ERROR PROTOCOL_ERROR']);
    assert.deepEqual(kinds(connected().m.frame(frame('FLY'))), ['ERROR PROTOCOL_ERROR']);
  });
});

describe('stomp machine: SEND', () => {
  it('the RECEIPT waits until the broker says the append is durable; RECEIPTs keep frame order', () => {
    const { m } = connected();
    const send = m.frame(frame('SEND', { destination: '/topic/a/b', receipt: 'r1', 'x-app': 'v' }, 'hello'));
    assert.deepEqual(kinds(send), ['charge', 'publish']);
    const p = send[1]!;
    assert.ok(p.type === 'publish');
    assert.equal(p.msg.topic, 'a/b');
    assert.equal(p.msg.payload.toString(), 'hello');
    assert.equal(p.msg.senderId, 'stomp-t');
    assert.equal(p.msg.createdAt, NOW);
    assert.deepEqual(p.msg.properties.userProperties, { 'x-app': 'v' });
    // A later frame's RECEIPT is ready now but goes after r1.
    assert.deepEqual(kinds(m.frame(frame('BEGIN', { transaction: 't', receipt: 'r2' }))), []);
    assert.deepEqual(kinds(m.published(p.ticket)), ['RECEIPT r1', 'RECEIPT r2']);
    assert.deepEqual(m.published(p.ticket), [], 'a ticket is answered once');
  });

  it('a failed append of a receipted SEND is PERSIST_FAILED carrying its receipt-id; without a receipt it is only logged', () => {
    const a = connected().m;
    const t1 = ticketOf(a.frame(frame('SEND', { destination: '/topic/a', receipt: 'r1' })));
    a.frame(frame('BEGIN', { transaction: 'x', receipt: 'r2' }));
    const out = a.publishFailed(t1, new Error('disk full'));
    assert.deepEqual(kinds(out), ['log:error', 'ERROR PERSIST_FAILED']);
    assert.equal(header(written(out)[0]!, 'receipt-id'), 'r1');
    assert.ok(a.isClosed);

    const b = connected().m;
    const t = ticketOf(b.frame(frame('SEND', { destination: '/topic/a' })));
    assert.deepEqual(kinds(b.publishFailed(t, new Error('disk full'))), ['log:error']);
    assert.ok(!b.isClosed);
  });

  it('ACL, destination, expires, retained and queue refusals are ERROR frames', () => {
    const port = new FakePort();
    port.denyPublish.add('secret');
    assert.deepEqual(kinds(connected(undefined, undefined, port).m.frame(frame('SEND', { destination: '/topic/secret' }))), ['ERROR NOT_AUTHORIZED']);
    assert.deepEqual(kinds(connected().m.frame(frame('SEND', { destination: '/elsewhere/x' }))), ['ERROR TOPIC_NAME_INVALID']);
    assert.deepEqual(kinds(connected().m.frame(frame('SEND', {}))), ['ERROR STOMP_HEADER_MISSING']);
    assert.deepEqual(kinds(connected().m.frame(frame('SEND', { destination: '/topic/a', expires: 'soon' }))), ['ERROR STOMP_HEADER_INVALID']);

    const full = new FakePort();
    full.retained = 'retained-count';
    assert.deepEqual(kinds(connected(undefined, undefined, full).m.frame(frame('SEND', { destination: '/topic/a', 'x-retain': 'true' }, 'r'))), ['ERROR QUOTA_EXCEEDED']);
    assert.deepEqual(full.refusals, ['retained-count']);

    const noLog = new FakePort();
    noLog.hasQueues = false;
    assert.deepEqual(kinds(connected(undefined, undefined, noLog).m.frame(frame('SEND', { destination: '/queue/q' }))), ['ERROR IMPLEMENTATION_SPECIFIC']);

    const q = new FakePort();
    assert.deepEqual(kinds(connected(undefined, undefined, q).m.frame(frame('SEND', { destination: '/queue/jobs' }))), ['charge', 'publish']);
    assert.deepEqual(q.admitted, ['jobs']);
    q.refuseQueue = new GatewayError('QUOTA_EXCEEDED', '1 queues exist');
    assert.deepEqual(kinds(connected(undefined, undefined, q).m.frame(frame('SEND', { destination: '/queue/more' }))), ['ERROR QUOTA_EXCEEDED']);
  });
});

describe('stomp machine: SUBSCRIBE and MESSAGE', () => {
  it('each ack mode: MESSAGE carries subscription and message-id; ack (1.2) only for client / client-individual', () => {
    for (const ack of ['auto', 'client', 'client-individual'] as const) {
      const { m } = connected();
      const { sub, effects } = subscribe(m, { id: 's', destination: '/topic/t/+', ack, 'prefetch-count': '7', receipt: 'r' });
      assert.deepEqual(kinds(effects), ['RECEIPT r', 'open:topic'], 'the RECEIPT goes before any retained message');
      const o = opened(effects);
      assert.deepEqual(o.source, { kind: 'topic', filter: 't/+', sessionId: 'stomp-t/1', durable: false, prefetch: 7 });
      assert.equal(sub.ackMode, ack);
      const [mf] = written(m.deliver(sub, msg('t/1', 'p'), 3, 0, false));
      assert.equal(mf?.command, 'MESSAGE');
      assert.equal(header(mf!, 'destination'), '/topic/t/1');
      assert.equal(header(mf!, 'subscription'), 's');
      assert.equal(header(mf!, 'message-id'), '1');
      assert.equal(header(mf!, 'ack'), ack === 'auto' ? undefined : '1');
      assert.equal(m.pendingAckCount, ack === 'auto' ? 0 : 1);
    }
  });

  it('1.0 / 1.1 MESSAGEs carry no ack header; a redelivery carries redelivered and its count', () => {
    const { m } = connected({ 'accept-version': '1.1' });
    const { sub } = subscribe(m, { id: 's', destination: '/topic/a', ack: 'client' });
    const [mf] = written(m.deliver(sub, msg('a'), 1, 2, false), '1.1');
    assert.equal(header(mf!, 'ack'), undefined);
    assert.equal(header(mf!, 'redelivered'), 'true');
    assert.equal(header(mf!, 'x-redelivery-count'), '2');
  });

  it('a mapped header the version cannot carry (a newline in 1.0) is left out, the MESSAGE still goes', () => {
    const { m } = connected({});
    const { sub } = subscribe(m, { destination: '/topic/a' });
    const bad = msg('a', 'body');
    bad.properties.userProperties = { note: 'two\nlines', ok: 'yes' };
    const [mf] = written(m.deliver(sub, bad, undefined, 0, false), '1.0');
    assert.equal(mf?.command, 'MESSAGE');
    assert.equal(header(mf!, 'note'), undefined);
    assert.equal(header(mf!, 'destination'), '/topic/a');
    assert.equal(header(mf!, 'subscription'), '/topic/a');
    assert.equal(mf!.body.toString(), 'body');
    const good = msg('a');
    good.properties.userProperties = { ok: 'yes' };
    assert.equal(header(written(m.deliver(sub, good, undefined, 0, false), '1.0')[0]!, 'ok'), 'yes');
  });

  it('an at-most-once MESSAGE is dropped (counted) while the socket is past its write bound; one with a token never is', () => {
    const { m } = connected();
    const { sub } = subscribe(m, { id: 's', destination: '/topic/a' });
    assert.deepEqual(kinds(m.deliver(sub, msg('a'), undefined, 0, true)), ['dropped']);
    assert.deepEqual(kinds(m.deliver(sub, msg('a'), 5, 0, true)), ['MESSAGE']);
  });

  it('/queue: the queue is prepared in the asked mode, then a queue consumer opens; a bad x-queue-mode or no log is refused', () => {
    const port = new FakePort();
    const { m } = connected(undefined, undefined, port);
    const { effects } = subscribe(m, { id: 'q', destination: '/queue/jobs', ack: 'client-individual', 'x-queue-mode': 'failover' });
    assert.deepEqual(opened(effects).source, { kind: 'queue', name: 'jobs', prefetch: stompOptions().defaultPrefetch });
    assert.deepEqual(port.prepared, [['jobs', 'failover']]);
    assert.deepEqual(kinds(m.frame(frame('SUBSCRIBE', { id: 'q2', destination: '/queue/jobs', 'x-queue-mode': 'random' }))), ['ERROR STOMP_FRAME_INVALID']);

    const noLog = new FakePort();
    noLog.hasQueues = false;
    assert.deepEqual(kinds(connected(undefined, undefined, noLog).m.frame(frame('SUBSCRIBE', { id: 'q', destination: '/queue/jobs' }))), ['ERROR IMPLEMENTATION_SPECIFIC']);
  });

  it('x-stream-offset: a replay source from that point whose MESSAGEs carry the log position; /queue, bad values and no log are refused', () => {
    const { m } = connected();
    const { sub, effects } = subscribe(m, { id: 'r', destination: '/topic/a/#', 'x-stream-offset': 'offset=5', ack: 'client' });
    assert.deepEqual(opened(effects).source, { kind: 'stream', filter: 'a/#', from: { offset: 5 }, prefetch: stompOptions().defaultPrefetch });
    assert.equal(sub.streamOffsets, true);
    const [mf] = written(m.deliver(sub, msg('a/b', 'x', { partition: 2, offset: 9 }), 1, 0, false));
    assert.equal(header(mf!, 'x-stream-offset'), '9');
    assert.equal(header(mf!, 'x-stream-partition'), '2');

    assert.deepEqual(kinds(connected().m.frame(frame('SUBSCRIBE', { id: 'r', destination: '/queue/q', 'x-stream-offset': 'first' }))), ['ERROR STOMP_HEADER_INVALID']);
    assert.deepEqual(kinds(connected().m.frame(frame('SUBSCRIBE', { id: 'r', destination: '/topic/a', 'x-stream-offset': 'soon' }))), ['ERROR STOMP_HEADER_INVALID']);
    const noLog = new FakePort();
    noLog.hasLog = false;
    assert.deepEqual(kinds(connected(undefined, undefined, noLog).m.frame(frame('SUBSCRIBE', { id: 'r', destination: '/topic/a', 'x-stream-offset': 'first' }))), ['ERROR IMPLEMENTATION_SPECIFIC']);
  });

  it('durable: needs a CONNECT client-id; names the session stomp/<client-id>/<id>; a receipted one holds MESSAGEs until its image is saved', () => {
    assert.deepEqual(kinds(connected().m.frame(frame('SUBSCRIBE', { id: 'd', destination: '/topic/a', durable: 'true' }))), ['ERROR STOMP_FRAME_INVALID']);

    const { m } = connected({ 'accept-version': '1.2', 'client-id': 'app' });
    const { sub, effects } = subscribe(m, { id: 'd', destination: '/topic/a', persistent: 'true', ack: 'client', receipt: 'rd' });
    const o = opened(effects);
    assert.deepEqual(kinds(effects), ['open:topic'], 'no RECEIPT yet');
    assert.deepEqual(o.source, { kind: 'topic', filter: 'a', sessionId: 'stomp/app/d', durable: true, prefetch: stompOptions().defaultPrefetch });
    assert.ok(o.savedTicket !== undefined);
    assert.deepEqual(kinds(m.deliver(sub, msg('a', 'stored'), 1, 1, false)), ['MESSAGE(held)']);
    const out = m.saved(o.savedTicket);
    assert.deepEqual(kinds(out), ['RECEIPT rd', 'MESSAGE']);
    assert.equal(written(out)[1]!.body.toString(), 'stored');
    assert.deepEqual(kinds(m.deliver(sub, msg('a', 'live'), 2, 0, false)), ['MESSAGE'], 'nothing held after');

    const f = connected({ 'accept-version': '1.2', 'client-id': 'app' }).m;
    const t = opened(f.frame(frame('SUBSCRIBE', { id: 'd', destination: '/topic/a', durable: 'true', receipt: 'rx' }))).savedTicket!;
    const failed = f.saveFailed(t, new Error('state store down'));
    assert.deepEqual(kinds(failed), ['log:error', 'ERROR PERSIST_FAILED']);
    assert.equal(header(written(failed)[0]!, 'receipt-id'), 'rx');
  });

  it('limits: a reused id, too many subscriptions and an ACL refusal are ERROR frames', () => {
    const { m } = connected(undefined, { maxSubscriptions: 1 });
    subscribe(m, { id: 's', destination: '/topic/a' });
    assert.deepEqual(kinds(m.frame(frame('SUBSCRIBE', { id: 's', destination: '/topic/b' }))), ['ERROR PROTOCOL_ERROR']);
    const port = new FakePort();
    const two = connected(undefined, { maxSubscriptions: 1 }, port).m;
    subscribe(two, { id: 's', destination: '/topic/a' });
    assert.deepEqual(kinds(two.frame(frame('SUBSCRIBE', { id: 't', destination: '/topic/b' }))), ['ERROR QUOTA_EXCEEDED']);
    assert.deepEqual(port.refusals, ['subscriptions']);
    const acl = new FakePort();
    acl.denySubscribe.add('private/#');
    assert.deepEqual(kinds(connected(undefined, undefined, acl).m.frame(frame('SUBSCRIBE', { id: 's', destination: '/topic/private/#' }))), ['ERROR NOT_AUTHORIZED']);
  });

  it('UNSUBSCRIBE ends the source (durable:true forgets it) and forgets its pending ACKs; 1.0 names it by destination', () => {
    const { m } = connected();
    const { sub } = subscribe(m, { id: 's', destination: '/topic/a', ack: 'client-individual' });
    m.deliver(sub, msg('a'), 4, 0, false);
    assert.deepEqual(kinds(m.frame(frame('UNSUBSCRIBE', { id: 's', durable: 'true', receipt: 'u' }))), ['end:s:forget', 'RECEIPT u']);
    assert.equal(m.pendingAckCount, 0);
    assert.deepEqual(kinds(m.frame(frame('ACK', { id: '1' }))), ['log:debug'], 'its ack id is unknown now');

    const old = connected({}).m;
    assert.equal(old.version, '1.0');
    subscribe(old, { destination: '/topic/x' });
    assert.deepEqual(kinds(old.frame(frame('UNSUBSCRIBE', { destination: '/topic/x' }))), ['end:/topic/x']);
  });
});

describe('stomp machine: ACK / NACK', () => {
  it('client-individual settles one message; client is cumulative over its subscription; QoS 0 entries settle nothing upstream', () => {
    const { m } = connected();
    const ind = subscribe(m, { id: 'i', destination: '/topic/i', ack: 'client-individual' }).sub;
    const cum = subscribe(m, { id: 'c', destination: '/topic/c', ack: 'client' }).sub;
    m.deliver(ind, msg('i'), 11, 0, false); // message-id 1
    m.deliver(cum, msg('c'), 21, 0, false); // 2
    m.deliver(cum, msg('c'), undefined, 0, false); // 3 (QoS 0)
    m.deliver(ind, msg('i'), 12, 0, false); // 4
    m.deliver(cum, msg('c'), 23, 0, false); // 5
    assert.deepEqual(kinds(m.frame(frame('ACK', { id: '4' }))), ['settle+12']);
    assert.deepEqual(kinds(m.frame(frame('ACK', { id: '5', receipt: 'a' }))), ['settle+21', 'settle+23', 'RECEIPT a']);
    assert.deepEqual(kinds(m.frame(frame('NACK', { id: '1' }))), ['settle-11']);
    assert.equal(m.pendingAckCount, 0);
  });

  it('NACK requeue:false dead-letters now; 1.1 names the message by message-id; an unknown id is ignored but still answered', () => {
    const { m } = connected({ 'accept-version': '1.1' });
    const { sub } = subscribe(m, { id: 's', destination: '/topic/a', ack: 'client-individual' });
    m.deliver(sub, msg('a'), 7, 0, false);
    assert.deepEqual(kinds(m.frame(frame('NACK', { 'message-id': '1', subscription: 's', requeue: 'false' }))), ['settle-7:reject']);
    assert.deepEqual(kinds(m.frame(frame('ACK', { 'message-id': '99', subscription: 's', receipt: 'k' }))), ['log:debug', 'RECEIPT k']);
    assert.deepEqual(kinds(m.frame(frame('ACK', { subscription: 's' }))), ['ERROR STOMP_HEADER_MISSING']);
  });
});

describe('stomp machine: transactions', () => {
  it('SEND and ACK in a transaction wait for COMMIT, then apply in order; the COMMIT RECEIPT waits for every SEND', () => {
    const { m } = connected();
    const { sub } = subscribe(m, { id: 's', destination: '/topic/in', ack: 'client-individual' });
    m.deliver(sub, msg('in'), 3, 0, false);
    assert.deepEqual(kinds(m.frame(frame('BEGIN', { transaction: 't', receipt: 'b' }))), ['RECEIPT b']);
    assert.deepEqual(kinds(m.frame(frame('SEND', { destination: '/topic/x', transaction: 't', receipt: 's1' }, 'one'))), ['charge', 'RECEIPT s1']);
    assert.deepEqual(kinds(m.frame(frame('ACK', { id: '1', transaction: 't' }))), []);
    assert.deepEqual(kinds(m.frame(frame('SEND', { destination: '/topic/y', transaction: 't' }, 'two'))), ['charge']);
    const commit = m.frame(frame('COMMIT', { transaction: 't', receipt: 'c' }));
    assert.deepEqual(kinds(commit), ['publish', 'settle+3', 'publish']);
    const pubs = commit.filter((e) => e.type === 'publish');
    assert.deepEqual(pubs.map((p) => (p.type === 'publish' ? p.msg.payload.toString() : '')), ['one', 'two']);
    const ticket = ticketOf(commit);
    assert.deepEqual(m.published(ticket), [], 'one of two SENDs is not enough');
    assert.deepEqual(kinds(m.published(ticket)), ['RECEIPT c']);
    assert.deepEqual(kinds(m.frame(frame('SEND', { destination: '/topic/x', transaction: 't' }))), ['charge', 'ERROR PROTOCOL_ERROR'], 'committed: the name is gone');
  });

  it('ABORT discards; a COMMIT without SENDs answers at once; a failed append in a COMMIT is PERSIST_FAILED', () => {
    const { m } = connected();
    m.frame(frame('BEGIN', { transaction: 't' }));
    m.frame(frame('SEND', { destination: '/topic/x', transaction: 't' }));
    assert.deepEqual(kinds(m.frame(frame('ABORT', { transaction: 't', receipt: 'a' }))), ['RECEIPT a']);
    assert.deepEqual(kinds(m.frame(frame('COMMIT', { transaction: 't' }))), ['ERROR PROTOCOL_ERROR']);

    const e = connected().m;
    e.frame(frame('BEGIN', { transaction: 'empty' }));
    assert.deepEqual(kinds(e.frame(frame('COMMIT', { transaction: 'empty', receipt: 'c' }))), ['RECEIPT c']);

    const f = connected().m;
    f.frame(frame('BEGIN', { transaction: 't' }));
    f.frame(frame('SEND', { destination: '/topic/x', transaction: 't' }));
    const t = ticketOf(f.frame(frame('COMMIT', { transaction: 't', receipt: 'c' })));
    const out = f.publishFailed(t, new Error('disk'));
    assert.deepEqual(kinds(out), ['log:error', 'ERROR PERSIST_FAILED']);
    assert.equal(header(written(out)[0]!, 'receipt-id'), 'c');
  });

  it('limits: open transactions and frames per transaction; the end of the connection discards what is open', () => {
    const { m } = connected(undefined, { maxTransactions: 1, maxTransactionFrames: 1 });
    m.frame(frame('BEGIN', { transaction: 'a' }));
    m.frame(frame('SEND', { destination: '/topic/x', transaction: 'a' }));
    assert.deepEqual(kinds(m.frame(frame('SEND', { destination: '/topic/x', transaction: 'a' }))), ['charge', 'ERROR STOMP_LIMIT_EXCEEDED']);
    const n = connected(undefined, { maxTransactions: 1 }).m;
    n.frame(frame('BEGIN', { transaction: 'a' }));
    n.frame(frame('SEND', { destination: '/topic/x', transaction: 'a' }));
    assert.deepEqual(kinds(n.frame(frame('BEGIN', { transaction: 'b' }))), ['ERROR QUOTA_EXCEEDED']);
    assert.deepEqual(n.released(), []);
    assert.deepEqual(n.frame(frame('COMMIT', { transaction: 'a' })), [], 'nothing after release');
  });
});

describe('stomp machine: DISCONNECT and release', () => {
  it('DISCONNECT with a receipt: RECEIPT then close, after any RECEIPT still waiting; without one: close', () => {
    const { m } = connected();
    const t = ticketOf(m.frame(frame('SEND', { destination: '/topic/a', receipt: 's' })));
    assert.deepEqual(kinds(m.frame(frame('DISCONNECT', { receipt: 'd' }))), []);
    assert.deepEqual(kinds(m.published(t)), ['RECEIPT s', 'RECEIPT d', 'close']);
    assert.ok(m.isClosed);

    const n = connected().m;
    assert.deepEqual(kinds(n.frame(frame('DISCONNECT'))), ['close']);
  });

  it('release ends every source once; later events do nothing', () => {
    const { m } = connected();
    subscribe(m, { id: 'a', destination: '/topic/a' });
    subscribe(m, { id: 'b', destination: '/queue/b' });
    assert.deepEqual(kinds(m.released()), ['end:a', 'end:b']);
    assert.deepEqual(m.released(), []);
    assert.equal(m.subscriptionCount, 0);
    assert.deepEqual(m.frame(frame('SEND', { destination: '/topic/a' })), []);
    assert.deepEqual(m.close('SERVER_SHUTTING_DOWN'), []);
  });

  it('a server close is an ERROR with the code; an unexpected throw is IMPLEMENTATION_SPECIFIC with its cause', () => {
    const { m } = connected();
    const out = m.close('SERVER_SHUTTING_DOWN');
    assert.deepEqual(kinds(out), ['ERROR SERVER_SHUTTING_DOWN']);
    assert.match(written(out)[0]!.body.toString(), /closed by the server/);

    const port = new FakePort();
    port.authorizePublish = () => {
      throw new TypeError('bug');
    };
    const b = connected(undefined, undefined, port).m;
    const boom = b.frame(frame('SEND', { destination: '/topic/a' }));
    assert.equal(boom.length, 1);
    assert.ok(boom[0]!.type === 'error' && boom[0]!.code === 'IMPLEMENTATION_SPECIFIC' && boom[0]!.cause instanceof TypeError);
  });
});
