// E2E: a password file made by `mosquitto_passwd -b` and an ACL file in Mosquitto's format, driven through mosquitto_pub/sub,
// mqtt.js (v3.1.1 and v5, TCP and WebSocket) and STOMP (TCP and WebSocket): every refusal of issue 9. Imports the test helpers, mqtt, ws.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { ClientPool, connectClient, runCli, sleep, waitUntil, withTimeout, type TestClient } from '../helpers/mqtt-clients.ts';
import { header, RawStomp } from '../helpers/stomp-clients.ts';
import { encodeFrame, type StompFrame } from '../../protocols/stomp/frame.ts';
import { StompParser } from '../../protocols/stomp/parser.ts';

const ACL = `
# Anonymous clients (rules before any user line): read public/#
topic read public/#

user alice
topic readwrite sensors/#
topic deny sensors/secret/#
topic readwrite $queue/jobs

user bob
topic readwrite sensors/bob/#
topic write sensors/secret/#
topic read $queue/jobs

user ops
topic read $SYS/#
topic readwrite $SYS/broker/spoof

user carol

# every user, wherever it stands
pattern readwrite users/%u/#
`;

let dir: string;
let gw: TestGateway;
let url: string;
let wsUrl: string;
const pool = new ClientPool();

type Who = 'alice' | 'bob' | 'ops' | 'carol';
const creds = (u: Who): { username: string; password: string } => ({ username: u, password: `${u}-pw` });

async function mqttAs(u: Who, version: 4 | 5 = 5, over: 'tcp' | 'ws' = 'tcp'): Promise<TestClient> {
  return pool.mqtt(over === 'tcp' ? url : wsUrl, { protocolVersion: version, ...creds(u) });
}

/** SUBACK code of one filter (mqtt.js rejects on a failure code; its `code` is the reason). */
async function subCode(c: TestClient, filter: string, opts: { qos: 0 | 1 | 2 } = { qos: 0 }): Promise<number> {
  try {
    return (await c.client.subscribeAsync(filter, opts))[0]!.qos;
  } catch (err) {
    // mqtt.js 5 rejects with ErrorWithSubackPacket; the SUBACK is on it.
    const granted = (err as { packet?: { granted?: number[] } }).packet?.granted;
    return granted?.[0] ?? -1;
  }
}

/** mqtt.js connect that must fail: resolves with the CONNACK code it got. */
async function refusedCode(target: string, opts: Parameters<typeof connectClient>[1]): Promise<number> {
  try {
    const c = await connectClient(target, opts);
    await c.end();
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
  return 0;
}

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`)).text();
  const m = new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** STOMP over WebSocket (v12.stomp): frames in, frames out. */
class WsStomp {
  readonly frames: StompFrame[] = [];
  closed = false;
  private readonly parser = new StompParser({ maxFrameBytes: 1 << 20, maxHeaders: 100, maxHeaderBytes: 1 << 16, maxBodyBytes: 1 << 20 });
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => this.parser.push(Buffer.from(d), (f) => this.frames.push({ ...f, body: Buffer.from(f.body) }), () => undefined));
    ws.on('close', () => (this.closed = true));
    ws.on('error', () => undefined);
  }
  static open(target: string): Promise<WsStomp> {
    const ws = new WebSocket(target, ['v12.stomp']);
    return withTimeout(new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new WsStomp(ws)));
      ws.once('error', reject);
    }), 3000, 'ws open');
  }
  send(command: string, headers: Record<string, string>, body = ''): void {
    this.ws.send(encodeFrame({ command, headers: Object.entries(headers), body: Buffer.from(body) }, '1.2'));
  }
  async next(): Promise<StompFrame> {
    await waitUntil(() => this.frames.length > 0 || this.closed, 3000, 'a STOMP frame over ws');
    const f = this.frames.shift();
    if (!f) throw new Error('closed');
    return f;
  }
  close(): void {
    this.ws.terminate();
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gw-auth-'));
  const pw = join(dir, 'passwd');
  // The password file is made by Debian's mosquitto_passwd, as a Mosquitto user would bring it.
  execFileSync('mosquitto_passwd', ['-c', '-b', pw, 'alice', 'alice-pw'], { timeout: 10_000 });
  for (const u of ['bob', 'ops', 'carol']) execFileSync('mosquitto_passwd', ['-b', pw, u, `${u}-pw`], { timeout: 10_000 });
  const acl = join(dir, 'acl');
  writeFileSync(acl, ACL);
  gw = await startGateway({ auth: { passwordFile: pw, aclFile: acl, allowAnonymous: false }, sys: { intervalMs: 100 }, stomp: { queues: ['jobs'] } });
  url = gw.mqttUrl;
  wsUrl = `ws://127.0.0.1:${gw.httpPort}/mqtt`;
});

after(async () => {
  await pool.closeAll();
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('authentication', () => {
  test('mqtt.js v3.1.1 and v5, TCP and WebSocket: wrong password CONNACK 4 / 0x86; anonymous CONNACK 5 / 0x87; right password accepted', async () => {
    for (const target of [url, wsUrl]) {
      assert.equal(await refusedCode(target, { protocolVersion: 4, username: 'alice', password: 'wrong' }), 4, `${target} v3 bad password`);
      assert.equal(await refusedCode(target, { protocolVersion: 5, username: 'alice', password: 'wrong' }), 0x86, `${target} v5 bad password`);
      assert.equal(await refusedCode(target, { protocolVersion: 4, username: 'nobody', password: 'x' }), 4, `${target} unknown user`);
      assert.equal(await refusedCode(target, { protocolVersion: 4 }), 5, `${target} v3 anonymous`);
      assert.equal(await refusedCode(target, { protocolVersion: 5 }), 0x87, `${target} v5 anonymous`);
      const ok = await connectClient(target, { protocolVersion: 5, ...creds('alice') });
      assert.equal(ok.connack.reasonCode ?? 0, 0);
      await ok.end();
    }
    assert.ok((await metric('gateway_auth_failures_total', 'reason="bad_credentials"')) >= 6);
    assert.ok((await metric('gateway_auth_failures_total', 'reason="not_authorized"')) >= 4);
  });

  test('mosquitto_pub / mosquitto_sub: right credentials pass a message; wrong ones and anonymous are refused', async () => {
    const port = String(gw.mqttPort);
    const sub = runCli('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-u', 'alice', '-P', 'alice-pw', '-t', 'sensors/cli', '-C', '1', '-W', '5']);
    await sleep(300);
    const pub = await runCli('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-u', 'bob', '-P', 'bob-pw', '-t', 'sensors/bob/x', '-m', 'no']);
    assert.equal(pub.code, 0);
    const pub2 = await runCli('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-u', 'alice', '-P', 'alice-pw', '-t', 'sensors/cli', '-m', 'from-cli']);
    assert.equal(pub2.code, 0);
    assert.equal((await sub).stdout.trim(), 'from-cli');
    const bad = await runCli('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-u', 'alice', '-P', 'nope', '-t', 'sensors/cli', '-m', 'x']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /not authori[sz]ed|bad user name or password/i);
    const anon = await runCli('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-t', 'public/#', '-C', '1', '-W', '2']);
    assert.notEqual(anon.code, 0);
    assert.match(anon.stderr, /not authori[sz]ed/i);
  });

  test('STOMP over TCP: a wrong passcode gets ERROR then close; the right one CONNECTED', async () => {
    const bad = await RawStomp.open(gw.stompPort);
    bad.send('CONNECT', { 'accept-version': '1.2', host: 'localhost', login: 'alice', passcode: 'wrong' });
    const err = await bad.next('ERROR');
    assert.equal(header(err, 'message'), 'bad user name or password');
    assert.doesNotMatch(err.body.toString(), /wrong/, 'the passcode is not echoed');
    await bad.waitClosed();
    const anon = await RawStomp.open(gw.stompPort);
    anon.send('CONNECT', { 'accept-version': '1.2', host: 'localhost' });
    assert.equal(header(await anon.next('ERROR'), 'message'), 'not authorized');
    await anon.waitClosed();
    const ok = await RawStomp.connect(gw.stompPort, { login: 'alice', passcode: 'alice-pw' });
    ok.close();
  });

  test('STOMP over WebSocket: the same refusal inside the protocol, then close', async () => {
    const s = await WsStomp.open(`ws://127.0.0.1:${gw.httpPort}/stomp`);
    s.send('CONNECT', { 'accept-version': '1.2', host: 'localhost', login: 'bob', passcode: 'alice-pw' });
    const f = await s.next();
    assert.equal(f.command, 'ERROR');
    assert.equal(header(f, 'message'), 'bad user name or password');
    await waitUntil(() => s.closed, 3000, 'ws close');
    const good = await WsStomp.open(`ws://127.0.0.1:${gw.httpPort}/stomp`);
    good.send('CONNECT', { 'accept-version': '1.2', host: 'localhost', login: 'bob', passcode: 'bob-pw' });
    assert.equal((await good.next()).command, 'CONNECTED');
    good.close();
  });
});

describe('authorization', () => {
  test('a # subscriber receives only the topics it may read (v3.1.1 and v5, TCP and WebSocket)', async () => {
    const readers = [await mqttAs('alice', 5), await mqttAs('alice', 4), await mqttAs('alice', 5, 'ws'), await mqttAs('alice', 4, 'ws')];
    for (const r of readers) {
      const granted = await r.client.subscribeAsync('#', { qos: 1 });
      assert.ok(granted[0]!.qos <= 2, `# granted (deliveries filtered), got ${granted[0]!.qos}`);
    }
    const bob = await mqttAs('bob', 5);
    await bob.client.publishAsync('sensors/secret/door', 'hidden', { qos: 1 }); // bob may write it; alice may not read it
    await bob.client.publishAsync('sensors/bob/temp', 'visible', { qos: 1 });
    for (const r of readers) {
      const got = await r.waitFor(1);
      await sleep(100);
      assert.deepEqual(got.map((m) => m.topic), ['sensors/bob/temp']);
    }
  });

  test('denied SUBSCRIBE: v3.1.1 SUBACK 0x80, v5 0x87; mosquitto_sub too', async () => {
    const v3 = await mqttAs('bob', 4);
    const v5 = await mqttAs('bob', 5);
    assert.equal(await subCode(v3, 'alice-only/#'), 0x80);
    assert.equal(await subCode(v5, 'alice-only/#'), 0x87);
    assert.equal(await subCode(v5, '$SYS/#'), 0x87, 'bob may read nothing in $SYS');
    assert.equal(await subCode(v5, 'sensors/secret/#'), 0x87, 'write-only is not read');
    assert.equal(await subCode(v5, '$share/g/sensors/bob/#'), 0, 'a shared subscription is checked on its inner filter');
    for (const v of ['mqttv5', 'mqttv311']) {
      const cli = await runCli('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(gw.mqttPort), '-u', 'carol', '-P', 'carol-pw', '-t', 'sensors/#', '-C', '1', '-W', '2', '-V', v]);
      assert.match(cli.stderr, /All subscription requests were denied/, v);
    }
    assert.ok((await metric('gateway_acl_denied_total', 'action="subscribe"')) >= 4);
  });

  test('denied PUBLISH: v5 PUBACK / PUBREC 0x87; v3 dropped and counted; no subscriber sees it', async () => {
    const watcher = await mqttAs('alice', 5);
    await watcher.client.subscribeAsync('sensors/#', { qos: 1 });
    const v5 = await mqttAs('bob', 5);
    for (const qos of [1, 2] as const) {
      await assert.rejects(v5.client.publishAsync('sensors/alice-area', 'x', { qos }), (e: { code?: number }) => e.code === 0x87, `QoS ${qos}`);
    }
    const before = await metric('gateway_acl_denied_total', 'action="publish"');
    const v3 = await mqttAs('bob', 4);
    await v3.client.publishAsync('sensors/alice-area', 'v3', { qos: 1 }); // acknowledged: v3 has no refusal
    assert.equal(await metric('gateway_acl_denied_total', 'action="publish"'), before + 1);
    await v3.client.publishAsync('sensors/bob/ok', 'ok', { qos: 1 });
    const got = await watcher.waitFor(1);
    await sleep(100);
    assert.deepEqual(got.map((m) => m.topic), ['sensors/bob/ok']);
  });

  test('retained messages pass the same ACL', async () => {
    const bob = await mqttAs('bob', 5);
    await bob.client.publishAsync('sensors/secret/retained', 'no', { qos: 1, retain: true });
    await bob.client.publishAsync('sensors/bob/retained', 'yes', { qos: 1, retain: true });
    const alice = await mqttAs('alice', 4);
    await alice.client.subscribeAsync('sensors/+/retained', { qos: 1 });
    const got = await alice.waitFor(1);
    await sleep(150);
    assert.deepEqual(got.map((m) => `${m.topic}=${m.payload}`), ['sensors/bob/retained=yes']);
    assert.equal(got[0]!.packet.retain, true);
  });

  test('replay: $log/first/<filter> and $group/<g>/<filter> check the inner filter; a # replay skips unreadable topics', async () => {
    const bob = await mqttAs('bob', 5);
    await bob.client.publishAsync('sensors/secret/log', 'never', { qos: 1 });
    await bob.client.publishAsync('sensors/bob/log', 'replayed', { qos: 1 });
    const alice = await mqttAs('alice', 5);
    assert.equal(await subCode(alice, '$log/first/sensors/secret/#', { qos: 1 }), 0x87);
    assert.equal(await subCode(alice, '$group/g1/sensors/secret/#', { qos: 1 }), 0x87);
    const carol = await mqttAs('carol', 4);
    assert.equal(await subCode(carol, '$log/first/sensors/#', { qos: 1 }), 0x80, 'carol may read nothing under sensors/');
    await alice.client.subscribeAsync('$log/first/#', { qos: 1 });
    await waitUntil(() => alice.received.some((m) => m.payload === 'replayed'), 5000, 'the replayed readable message');
    await sleep(200);
    assert.ok(alice.received.every((m) => !m.topic.startsWith('sensors/secret/')), `no secret topic replayed: ${alice.received.map((m) => m.topic).join(',')}`);
  });

  test('STOMP: x-stream-offset checks the inner filter and filters a # replay; SEND refused with an ERROR answering the receipt', async () => {
    const s = await RawStomp.connect(gw.stompPort, { login: 'alice', passcode: 'alice-pw' });
    s.send('SUBSCRIBE', { id: '1', destination: '/topic/#', 'x-stream-offset': 'first', ack: 'auto' });
    const frames = await s.drain(400);
    const topics = frames.filter((f) => f.command === 'MESSAGE').map((f) => header(f, 'destination'));
    assert.ok(topics.includes('/topic/sensors/bob/log'), `readable history replayed: ${topics.join(',')}`);
    assert.ok(topics.every((t) => !t!.startsWith('/topic/sensors/secret/')), 'nothing unreadable');
    s.send('SEND', { destination: '/topic/sensors/secret/x', receipt: 'r-9' }, 'x');
    const err = await s.next('ERROR');
    assert.equal(header(err, 'message'), 'not authorized');
    assert.equal(header(err, 'receipt-id'), 'r-9');
    await s.waitClosed();
    const t = await RawStomp.connect(gw.stompPort, { login: 'alice', passcode: 'alice-pw' });
    t.send('SUBSCRIBE', { id: '2', destination: '/topic/sensors/secret/#', 'x-stream-offset': 'first' });
    assert.equal(header(await t.next('ERROR'), 'message'), 'not authorized');
    const u = await RawStomp.connect(gw.stompPort, { login: 'bob', passcode: 'bob-pw' });
    u.send('SUBSCRIBE', { id: '3', destination: '/topic/sensors/+/x' });
    await u.drain(150);
    assert.equal(u.closed, false, 'a wildcard with some readable topics is granted');
    u.close();
  });

  test('queues: /queue/<name> and $queue/<name> are one topic to the ACL - read to consume, write to send', async () => {
    const alice = await RawStomp.connect(gw.stompPort, { login: 'alice', passcode: 'alice-pw' });
    const bob = await RawStomp.connect(gw.stompPort, { login: 'bob', passcode: 'bob-pw' });
    await bob.withReceipt('SUBSCRIBE', { id: 'q', destination: '/queue/jobs' });
    await alice.withReceipt('SEND', { destination: '/queue/jobs' }, 'job-1');
    const m = await bob.next('MESSAGE');
    assert.equal(m.body.toString(), 'job-1');
    bob.send('SEND', { destination: '/queue/jobs', receipt: 'rb' }, 'bob may not send');
    assert.equal(header(await bob.next('ERROR'), 'message'), 'not authorized');
    const carol = await RawStomp.connect(gw.stompPort, { login: 'carol', passcode: 'carol-pw' });
    carol.send('SUBSCRIBE', { id: 'q', destination: '/queue/jobs' });
    assert.equal(header(await carol.next('ERROR'), 'message'), 'not authorized');
    const mqttBob = await mqttAs('bob', 5);
    await assert.rejects(mqttBob.client.publishAsync('$queue/jobs', 'x', { qos: 1 }), (e: { code?: number }) => e.code === 0x87);
    const mqttAlice = await mqttAs('alice', 5);
    await mqttAlice.client.publishAsync('$queue/jobs', 'job-2', { qos: 1 });
    alice.close();
  });

  test('STOMP over WebSocket: SUBSCRIBE outside the ACL gets ERROR', async () => {
    const s = await WsStomp.open(`ws://127.0.0.1:${gw.httpPort}/stomp`);
    s.send('CONNECT', { 'accept-version': '1.2', host: 'localhost', login: 'carol', passcode: 'carol-pw' });
    assert.equal((await s.next()).command, 'CONNECTED');
    s.send('SUBSCRIBE', { id: '1', destination: '/topic/sensors/#' });
    const f = await s.next();
    assert.equal(f.command, 'ERROR');
    assert.equal(header(f, 'message'), 'not authorized');
    s.close();
  });

  test('$SYS: never writable (even when the ACL grants it); $SYS/gateway/clients read only where granted', async () => {
    const ops = await mqttAs('ops', 5);
    await ops.client.subscribeAsync('$SYS/#', { qos: 0 });
    await waitUntil(() => ops.received.some((m) => m.topic === '$SYS/gateway/clients'), 3000, '$SYS/gateway/clients for ops');
    await assert.rejects(ops.client.publishAsync('$SYS/broker/spoof', 'fake', { qos: 1 }), (e: { code?: number }) => e.code === 0x87);
    const alice = await mqttAs('alice', 5);
    assert.equal(await subCode(alice, '$SYS/#'), 0x87);
    const cli = await runCli('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(gw.mqttPort), '-u', 'ops', '-P', 'ops-pw', '-t', '$SYS/broker/spoof', '-m', 'fake', '-q', '1']);
    assert.equal(cli.code, 0, 'v3: acknowledged and dropped');
    await sleep(200);
    assert.ok(!ops.received.some((m) => m.topic === '$SYS/broker/spoof'), 'no one received the spoofed $SYS value');
  });

  test('pattern %u: each user has their own users/<name>/# tree', async () => {
    const bob = await mqttAs('bob', 5);
    assert.equal(await subCode(bob, 'users/bob/#', { qos: 1 }), 1);
    assert.equal(await subCode(bob, 'users/alice/#', { qos: 1 }), 0x87);
    const alice = await mqttAs('alice', 5);
    await assert.rejects(alice.client.publishAsync('users/bob/inbox', 'x', { qos: 1 }), (e: { code?: number }) => e.code === 0x87);
    await alice.client.publishAsync('users/alice/notes', 'mine', { qos: 1 });
  });

  test('a will on a topic the client may not write refuses the CONNECT (0x87)', async () => {
    const code = await refusedCode(url, { protocolVersion: 5, ...creds('bob'), will: { topic: 'sensors/alice-area', payload: Buffer.from('x'), qos: 0, retain: false } });
    assert.equal(code, 0x87);
  });
});
