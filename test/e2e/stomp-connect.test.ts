// E2E: STOMP CONNECT / heart-beats / SEND / SUBSCRIBE / UNSUBSCRIBE / DISCONNECT / RECEIPT / ERROR over TCP with a raw client and stompit. Imports the stomp test helpers, the broker and the listener.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Broker } from '../../src/core/broker.ts';
import { StompListener } from '../../protocols/stomp/listener.ts';
import { stompOptions } from '../../protocols/stomp/options.ts';
import { RawStomp, header, readBody, startStomp, stompitConnect, type StompFixture } from '../helpers/stomp-clients.ts';

describe('stomp: connect and negotiation', () => {
  let fx: StompFixture;
  before(async () => {
    fx = await startStomp({ heartbeatSendMs: 50, heartbeatReceiveMs: 100, heartbeatGrace: 2, limits: { maxBodyBytes: 4096 } });
  });
  after(async () => {
    await fx.close();
  });

  it('negotiates the highest common version and answers with server, session and heart-beat', async () => {
    const c = await RawStomp.open(fx.port);
    try {
      c.send('CONNECT', { 'accept-version': '1.0,1.1', host: 'localhost' });
      const f = await c.next('CONNECTED');
      assert.equal(header(f, 'version'), '1.1');
      assert.equal(header(f, 'heart-beat'), '50,100');
      assert.match(header(f, 'session') ?? '', /^stomp-[0-9a-f]{16}$/);
      assert.equal(header(f, 'server'), 'iot-gateway');
    } finally {
      c.close();
    }
  });

  it('treats a CONNECT without accept-version as 1.0 and accepts the STOMP command', async () => {
    const a = await RawStomp.open(fx.port);
    const b = await RawStomp.connect(fx.port, {}, 'STOMP');
    try {
      a.send('CONNECT', {});
      const f = await a.next('CONNECTED');
      assert.equal(header(f, 'version'), undefined);
      assert.ok(header(f, 'session'));
      assert.equal(b.version, '1.2');
    } finally {
      a.close();
      b.close();
    }
  });

  it('refuses an unsupported version with an ERROR listing ours, then closes', async () => {
    const c = await RawStomp.open(fx.port);
    try {
      c.send('CONNECT', { 'accept-version': '2.0', host: 'x' });
      const f = await c.next('ERROR');
      assert.equal(header(f, 'version'), '1.2,1.1,1.0');
      assert.equal(header(f, 'message'), 'unsupported protocol version');
      await c.waitClosed();
    } finally {
      c.close();
    }
  });

  it('sends heart-beats at the negotiated rate and closes a peer that stops sending its own', async () => {
    const c = await RawStomp.connect(fx.port, { 'heart-beat': '100,50' });
    try {
      // We asked for server beats every 50 ms: max(sx=50, cy=50). Expect several within 400 ms.
      await c.until(() => c.heartbeats >= 3, 1000, 'server heart-beats');
      // We promised one every 100 ms (max(cx=100, sy=100)) and send nothing: closed after 2 x 100 ms.
      const t0 = Date.now();
      const err = await c.next('ERROR', 2000);
      assert.equal(header(err, 'message'), 'keep alive timeout');
      await c.waitClosed(1000);
      assert.ok(Date.now() - t0 < 1500);
    } finally {
      c.close();
    }
  });

  it('keeps a peer that sends heart-beats open past the grace period', async () => {
    const c = await RawStomp.connect(fx.port, { 'heart-beat': '100,0' });
    try {
      const before = c.heartbeats;
      for (let i = 0; i < 8; i++) {
        c.writeRaw('\n');
        await new Promise((r) => setTimeout(r, 60));
      }
      assert.equal(c.closed, false);
      assert.equal(c.heartbeats, before, 'cy=0: the server must not send beats');
      await c.withReceipt('SUBSCRIBE', { id: '1', destination: '/topic/hb' });
    } finally {
      c.close();
    }
  });

  it('SEND reaches a SUBSCRIBE, RECEIPTs arrive in order, UNSUBSCRIBE stops delivery, DISCONNECT is receipted', async () => {
    const sub = await RawStomp.connect(fx.port);
    const pub = await RawStomp.connect(fx.port);
    try {
      await sub.withReceipt('SUBSCRIBE', { id: 's1', destination: '/topic/a/b' });
      for (let i = 0; i < 3; i++) pub.send('SEND', { destination: '/topic/a/b', receipt: `p${i}` }, `m${i}`);
      for (let i = 0; i < 3; i++) assert.equal(header(await pub.next('RECEIPT'), 'receipt-id'), `p${i}`);
      for (let i = 0; i < 3; i++) {
        const m = await sub.next('MESSAGE');
        assert.equal(m.body.toString(), `m${i}`);
        assert.equal(header(m, 'destination'), '/topic/a/b');
        assert.equal(header(m, 'subscription'), 's1');
        assert.equal(header(m, 'content-length'), '2');
        assert.ok(header(m, 'message-id'));
        assert.equal(header(m, 'ack'), undefined, 'ack:auto carries no ack header');
      }
      await sub.withReceipt('UNSUBSCRIBE', { id: 's1' });
      await pub.withReceipt('SEND', { destination: '/topic/a/b' }, 'late');
      assert.deepEqual((await sub.drain(150)).map((f) => f.command), []);
      sub.send('DISCONNECT', { receipt: 'bye' });
      assert.equal(header(await sub.next('RECEIPT'), 'receipt-id'), 'bye');
      await sub.waitClosed();
    } finally {
      sub.close();
      pub.close();
    }
  });

  it('1.0: SUBSCRIBE without id uses the destination as subscription and UNSUBSCRIBE by destination', async () => {
    const c = await RawStomp.open(fx.port);
    try {
      c.send('CONNECT', {});
      await c.next('CONNECTED');
      c.send('SUBSCRIBE', { destination: '/topic/old', receipt: 'r1' });
      await c.next('RECEIPT');
      c.send('SEND', { destination: '/topic/old' }, 'x');
      const m = await c.next('MESSAGE');
      assert.equal(header(m, 'subscription'), '/topic/old');
      c.send('UNSUBSCRIBE', { destination: '/topic/old', receipt: 'r2' });
      await c.next('RECEIPT');
      c.send('SEND', { destination: '/topic/old', receipt: 'r3' }, 'y');
      await c.next('RECEIPT');
      assert.deepEqual((await c.drain(100)).length, 0);
    } finally {
      c.close();
    }
  });

  const bad: [string, string | Buffer, string][] = [
    ['garbage command', 'hello\n\n\0', 'malformed frame'],
    ['header line without colon', 'SEND\ndestination /topic/x\n\nbody\0', 'malformed frame'],
    ['frame body over the limit', `SEND\ndestination:/topic/x\ncontent-length:5000\n\n${'x'.repeat(5000)}\0`, 'frame exceeds a configured limit'],
    ['unknown command', 'FLY\n\n\0', 'protocol error'],
    ['SEND without destination', 'SEND\nreceipt:r9\n\nx\0', 'malformed frame'],
    ['SEND to a wildcard', 'SEND\ndestination:/topic/a/+\n\nx\0', 'topic name invalid'],
    ['SEND outside /topic and /queue', 'SEND\ndestination:/exchange/x\n\nx\0', 'topic name invalid'],
    ['SUBSCRIBE with a bad ack mode', 'SUBSCRIBE\nid:1\ndestination:/topic/x\nack:sometimes\n\n\0', 'malformed frame'],
    ['duplicate subscription id', 'SUBSCRIBE\nid:1\ndestination:/topic/x\n\n\0SUBSCRIBE\nid:1\ndestination:/topic/y\n\n\0', 'protocol error'],
    ['COMMIT of an unknown transaction', 'COMMIT\ntransaction:nope\n\n\0', 'protocol error'],
    ['second CONNECT', 'CONNECT\naccept-version:1.2\nhost:x\n\n\0', 'protocol error'],
  ];
  for (const [name, bytes, message] of bad) {
    it(`closes only the offending connection with an ERROR: ${name}`, async () => {
      const victim = await RawStomp.connect(fx.port);
      const bystander = await RawStomp.connect(fx.port);
      try {
        await bystander.withReceipt('SUBSCRIBE', { id: 'b', destination: '/topic/bystander' });
        victim.writeRaw(bytes);
        const err = await victim.next('ERROR');
        assert.equal(header(err, 'message'), message);
        await victim.waitClosed();
        if (name === 'SEND without destination') assert.equal(header(err, 'receipt-id'), 'r9');
        bystander.send('SEND', { destination: '/topic/bystander', receipt: 'b1' }, 'still here');
        // Routing is synchronous here, so the MESSAGE may precede the RECEIPT: accept either order.
        const got = [await bystander.next(), await bystander.next()].map((f) => `${f.command}:${f.body.toString()}`).sort();
        assert.deepEqual(got, ['MESSAGE:still here', 'RECEIPT:']);
      } finally {
        victim.close();
        bystander.close();
      }
    });
  }

  it('a frame before CONNECT is an ERROR', async () => {
    const c = await RawStomp.open(fx.port);
    try {
      c.send('SEND', { destination: '/topic/x' }, 'x');
      assert.equal(header(await c.next('ERROR'), 'message'), 'protocol error');
      await c.waitClosed();
    } finally {
      c.close();
    }
  });

  it('works with stompit: subscribe, send with receipt, message body and headers', async () => {
    const a = await stompitConnect(fx.port);
    const b = await stompitConnect(fx.port);
    try {
      const got = new Promise<{ body: string; headers: Record<string, string> }>((resolve, reject) => {
        a.subscribe({ destination: '/topic/stompit/x', ack: 'auto' }, (err, msg) => {
          if (err) return reject(err);
          readBody(msg).then((body) => resolve({ body, headers: msg.headers }), reject);
        });
      });
      await new Promise((r) => setTimeout(r, 50));
      await new Promise<void>((resolve) => {
        const w = b.send({ destination: '/topic/stompit/x', 'content-type': 'text/plain', color: 'blue' }, { onReceipt: () => resolve() });
        w.write('hello');
        w.end();
      });
      const m = await got;
      assert.equal(m.body, 'hello');
      assert.equal(m.headers['content-type'], 'text/plain');
      assert.equal(m.headers.color, 'blue');
    } finally {
      a.destroy();
      b.destroy();
    }
  });
});

describe('stomp: authentication and limits', () => {
  it('passes login/passcode to the auth hook; a refusal is an ERROR then close', async () => {
    const log = pino({ level: 'silent' });
    const seen: string[] = [];
    const broker = new Broker({
      shareStrategy: 'round-robin',
      logger: log,
      auth: {
        authenticate: async (who, pw) => {
          seen.push(`${who.protocol}:${who.username}:${pw?.toString()}`);
          return pw?.toString() === 'secret';
        },
        authorizePublish: (_who, topic) => !topic.startsWith('private/'),
        authorizeSubscribe: () => true,
        authorizeRead: () => true,
      },
    });
    const l = new StompListener(broker, stompOptions({ limits: { maxHeaders: 4 } }), log);
    const port = await l.listen(0, '127.0.0.1');
    const bad = await RawStomp.open(port);
    let good: RawStomp | undefined;
    try {
      bad.send('CONNECT', { 'accept-version': '1.2', host: 'h', login: 'ann', passcode: 'wrong' });
      assert.equal(header(await bad.next('ERROR'), 'message'), 'bad user name or password');
      await bad.waitClosed();
      good = await RawStomp.connect(port, { login: 'ann', passcode: 'secret' });
      assert.deepEqual(seen, ['stomp:ann:wrong', 'stomp:ann:secret']);
      good.send('SEND', { destination: '/topic/private/x' }, 'no');
      assert.equal(header(await good.next('ERROR'), 'message'), 'not authorized');
      await good.waitClosed();
      const many = await RawStomp.connect(port, { login: 'ann', passcode: 'secret' });
      try {
        many.send('SEND', { destination: '/topic/t', a: '1', b: '2', c: '3', d: '4' }, 'x');
        assert.equal(header(await many.next('ERROR'), 'message'), 'frame exceeds a configured limit');
      } finally {
        many.close();
      }
    } finally {
      bad.close();
      good?.close();
      await l.close();
      broker.close();
    }
  });
});
