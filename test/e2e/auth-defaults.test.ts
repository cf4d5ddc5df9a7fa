// E2E: the secure defaults and the operator's controls - loopback bind without auth (and the start line saying so), SIGHUP reload
// of the password and ACL files without dropping connections, http.metricsToken, token length, http.allowedOrigins. Imports the helpers, config, ws.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import WebSocket from 'ws';
import { bindHosts, ConfigError, resolveConfig } from '../../config/schema.ts';
import { createGateway } from '../../src/server/gateway.ts';
import { startGateway } from '../helpers/gateway.ts';
import { GatewayProcess } from '../helpers/gateway-process.ts';
import { connectClient, sleep, waitUntil, withTimeout } from '../helpers/mqtt-clients.ts';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'gw-authdef-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('no auth configured and no host set: every listener binds 127.0.0.1 and the start line says so', async () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const config = resolveConfig({ dataDir: tmp(), mqtt: { port: 0 }, stomp: { port: 0 }, http: { port: 0 }, sys: { intervalMs: 0 } });
  const gw = createGateway(config, pino({ level: 'info' }, sink));
  await gw.start();
  try {
    const listening = lines.filter((l) => l.msg === 'listening');
    assert.equal(listening.length, 3);
    for (const l of listening) assert.equal(l.host, '127.0.0.1', `${String(l.protocol)} binds loopback`);
    assert.ok(lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('no authentication configured') && l.level === 40), 'a warning names why');
    const mqttPort = listening.find((l) => l.protocol === 'mqtt')!.port as number;
    const c = await connectClient(`mqtt://127.0.0.1:${mqttPort}`, { protocolVersion: 4 });
    assert.equal(c.connack.returnCode, 0, 'anonymous on loopback is allowed by default');
    await c.end();
  } finally {
    await gw.close();
  }
});

test('bind rule: 0.0.0.0 once a password file, required certificates or allowAnonymous: true is set; an explicit host always wins', () => {
  const base = { tls: {}, mqtt: {}, stomp: {}, http: {} };
  assert.deepEqual(bindHosts(resolveConfig(base)), { mqtt: '127.0.0.1', stomp: '127.0.0.1', http: '127.0.0.1', loopbackOnly: true });
  assert.equal(bindHosts(resolveConfig({ auth: { passwordFile: '/x' } })).mqtt, '0.0.0.0');
  assert.equal(bindHosts(resolveConfig({ auth: { allowAnonymous: true } })).http, '0.0.0.0');
  assert.equal(bindHosts(resolveConfig({ auth: { allowAnonymous: false } })).stomp, '127.0.0.1', 'refusing everyone is not "configured"');
  const explicit = bindHosts(resolveConfig({ mqtt: { host: '::' } }));
  assert.equal(explicit.mqtt, '::');
  assert.equal(explicit.loopbackOnly, false);
});

test('tokens shorter than 16 characters are refused at start, naming the key', () => {
  assert.throws(() => resolveConfig({ http: { adminToken: 'x' } }), (e: unknown) => e instanceof ConfigError && e.key === 'http.adminToken');
  assert.throws(() => resolveConfig({ http: { metricsToken: 'short' } }), (e: unknown) => e instanceof ConfigError && e.key === 'http.metricsToken');
  assert.throws(() => resolveConfig({ auth: { allowAnonymous: 'yes' } }), (e: unknown) => e instanceof ConfigError && e.key === 'auth.allowAnonymous');
  assert.throws(() => resolveConfig({ tls: { requireCertificate: true } }), (e: unknown) => e instanceof ConfigError && e.key === 'tls.ca');
  assert.equal(resolveConfig({ http: { adminToken: '0123456789abcdef' } }).http.adminToken, '0123456789abcdef');
});

test('a malformed ACL file stops the start naming auth.aclFile and the line', async () => {
  const d = tmp();
  writeFileSync(join(d, 'acl'), 'topic read a/#\nbogus line here\n');
  await assert.rejects(startGateway({ auth: { aclFile: join(d, 'acl') } }), (e: unknown) => e instanceof ConfigError && e.key === 'auth.aclFile' && /line 2/.test(e.message));
  await assert.rejects(startGateway({ auth: { passwordFile: join(d, 'missing') } }), (e: unknown) => e instanceof ConfigError && e.key === 'auth.passwordFile');
});

test('http.metricsToken: /metrics answers 401 without the bearer token and 200 with it', async () => {
  const token = 'metrics-token-0123456789';
  const gw = await startGateway({ http: { metricsToken: token }, sys: { intervalMs: 0 } });
  try {
    const base = `http://127.0.0.1:${gw.httpPort}/metrics`;
    const no = await fetch(base);
    assert.equal(no.status, 401);
    assert.equal(no.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await fetch(base, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
    const yes = await fetch(base, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(yes.status, 200);
    assert.match(await yes.text(), /^gateway_auth_failures_total\{reason="bad_credentials"\} 0$/m);
  } finally {
    await gw.close();
  }
});

test('http.allowedOrigins: a browser upgrade from another origin gets 403; a listed origin and a non-browser client connect', async () => {
  const gw = await startGateway({ http: { allowedOrigins: ['https://ops.example.com'] }, sys: { intervalMs: 0 } });
  const upgrade = (origin?: string): Promise<number | 'open'> =>
    withTimeout(
      new Promise((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${gw.httpPort}/mqtt`, ['mqtt'], origin ? { origin } : {});
        ws.once('open', () => {
          ws.terminate();
          resolve('open');
        });
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('error', () => undefined);
      }),
      3000,
      `upgrade from ${origin}`,
    );
  try {
    assert.equal(await upgrade('https://evil.example.net'), 403);
    assert.equal(await upgrade('https://ops.example.com'), 'open');
    assert.equal(await upgrade(undefined), 'open');
  } finally {
    await gw.close();
  }
});

test('SIGHUP reloads the password and ACL files: new rules apply to open connections, none is dropped', async () => {
  const d = tmp();
  const pw = join(d, 'passwd');
  const acl = join(d, 'acl');
  execFileSync('mosquitto_passwd', ['-c', '-b', pw, 'alice', 'alice-pw'], { timeout: 10_000 });
  writeFileSync(acl, 'user alice\ntopic readwrite a/#\ntopic readwrite b/#\n');
  const proc = new GatewayProcess({ flush: 'interval', extra: { auth: { passwordFile: pw, aclFile: acl }, sys: { intervalMs: 0 } } });
  try {
    const run = await proc.start();
    const alice = await connectClient(run.url, { protocolVersion: 5, username: 'alice', password: 'alice-pw' });
    await alice.client.subscribeAsync('#', { qos: 1 });
    await assert.rejects(connectClient(run.url, { protocolVersion: 5, username: 'dan', password: 'dan-pw' }), (e: { code?: number }) => e.code === 0x86);
    // New files: dan exists; alice loses b/#.
    execFileSync('mosquitto_passwd', ['-b', pw, 'dan', 'dan-pw'], { timeout: 10_000 });
    writeFileSync(acl, 'user alice\ntopic readwrite a/#\ntopic read b/#\nuser dan\ntopic readwrite b/#\n');
    const seen = run.lines.length;
    run.child.kill('SIGHUP');
    await waitUntil(() => run.lines.slice(seen).some((l) => l.includes('auth files reloaded')), 5000, 'the reload log line');
    const dan = await connectClient(run.url, { protocolVersion: 5, username: 'dan', password: 'dan-pw' });
    await assert.rejects(alice.client.publishAsync('b/x', 'x', { qos: 1 }), (e: { code?: number }) => e.code === 0x87, 'alice may no longer write b/');
    await dan.client.publishAsync('b/from-dan', 'hi', { qos: 1 });
    await alice.waitFor(1);
    assert.equal(alice.received[0]!.topic, 'b/from-dan', 'alice still reads b/, on the same connection');
    assert.equal(alice.client.connected, true);
    await sleep(50);
    await alice.end();
    await dan.end();
  } finally {
    await proc.dispose();
  }
});

test('repeated failures from one address are answered more slowly (per-address backoff), a success clears it', async () => {
  const d = tmp();
  execFileSync('mosquitto_passwd', ['-c', '-b', join(d, 'passwd'), 'alice', 'alice-pw'], { timeout: 10_000 });
  const gw = await startGateway({ auth: { passwordFile: join(d, 'passwd') }, sys: { intervalMs: 0 } });
  const attempt = async (password: string): Promise<{ code: number; ms: number }> => {
    const t0 = Date.now();
    try {
      const c = await connectClient(gw.mqttUrl, { protocolVersion: 4, username: 'alice', password }, 15_000);
      await c.end();
      return { code: 0, ms: Date.now() - t0 };
    } catch (err) {
      return { code: (err as { code?: number }).code ?? -1, ms: Date.now() - t0 };
    }
  };
  try {
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await attempt('wrong');
      assert.equal(r.code, 4);
      times.push(r.ms);
    }
    // Two free failures, then 200 ms, then 400 ms before the answer.
    assert.ok(times[2]! >= 180, `third failure delayed: ${times.join(',')}`);
    assert.ok(times[3]! >= 380, `fourth failure delayed more: ${times.join(',')}`);
    const ok = await attempt('alice-pw');
    assert.equal(ok.code, 0);
    assert.ok(ok.ms >= 700, `the next attempt waits too (${ok.ms} ms), even with the right password`);
    const after = await attempt('wrong');
    assert.ok(after.ms < 180, `a success cleared the backoff (${after.ms} ms)`);
  } finally {
    await gw.close();
  }
});

test('a persistent session restored from disk after a restart still gets only readable topics (checked at send)', async () => {
  const d = tmp();
  const pw = join(d, 'passwd');
  execFileSync('mosquitto_passwd', ['-c', '-b', pw, 'alice', 'alice-pw'], { timeout: 10_000 });
  execFileSync('mosquitto_passwd', ['-b', pw, 'bob', 'bob-pw'], { timeout: 10_000 });
  writeFileSync(join(d, 'acl'), 'user alice\ntopic read s/#\ntopic deny s/secret\nuser bob\ntopic write s/#\n');
  const overrides = { auth: { passwordFile: pw, aclFile: join(d, 'acl') }, sys: { intervalMs: 0 }, persistence: { flush: 'always' as const } };
  const data = join(d, 'data');
  let gw = await startGateway(overrides, data);
  const sub = { protocolVersion: 5 as const, clientId: 'alice-persistent', clean: false, properties: { sessionExpiryInterval: 3600 }, username: 'alice', password: 'alice-pw' };
  const a1 = await connectClient(gw.mqttUrl, sub);
  await a1.client.subscribeAsync('#', { qos: 1 });
  await a1.end();
  await gw.close();
  gw = await startGateway(overrides, data);
  try {
    // Restored from disk, offline: the broker does not know alice's identity yet, so both are queued for her.
    const bob = await connectClient(gw.mqttUrl, { protocolVersion: 5, username: 'bob', password: 'bob-pw' });
    await bob.client.publishAsync('s/secret', 'hidden', { qos: 1 });
    await bob.client.publishAsync('s/open', 'visible', { qos: 1 });
    await bob.end();
    const a2 = await connectClient(gw.mqttUrl, sub);
    assert.equal(a2.connack.sessionPresent, true);
    await a2.waitFor(1);
    await sleep(200);
    assert.deepEqual(a2.received.map((m) => m.topic), ['s/open']);
    await a2.end();
  } finally {
    await gw.close();
  }
});

test('a refused login is logged once with client id, username and address, never the password', async () => {
  const d = tmp();
  execFileSync('mosquitto_passwd', ['-c', '-b', join(d, 'passwd'), 'alice', 'alice-pw'], { timeout: 10_000 });
  const out: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk.toString());
      cb();
    },
  });
  const config = resolveConfig({
    dataDir: join(d, 'data'),
    auth: { passwordFile: join(d, 'passwd') },
    mqtt: { host: '127.0.0.1', port: 0 },
    stomp: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    sys: { intervalMs: 0 },
  });
  const gw = createGateway(config, pino({ level: 'info' }, sink));
  const ports = await gw.start();
  const SECRET = 'Sup3r-Secret-Guess';
  try {
    await assert.rejects(connectClient(`mqtt://127.0.0.1:${ports.mqtt}`, { protocolVersion: 4, clientId: 'guesser', username: 'alice', password: SECRET }));
    const { RawStomp, header } = await import('../helpers/stomp-clients.ts');
    const s = await RawStomp.open(ports.stomp);
    s.send('CONNECT', { 'accept-version': '1.2', host: 'localhost', login: 'alice', passcode: SECRET });
    assert.equal(header(await s.next('ERROR'), 'message'), 'bad user name or password');
    await s.waitClosed();
    await sleep(50);
    const text = out.join('');
    assert.doesNotMatch(text, new RegExp(SECRET));
    const mqttLine = text.split('\n').find((l) => l.includes('mqtt connect refused'));
    assert.ok(mqttLine, text);
    assert.match(mqttLine, /"clientId":"guesser"/);
    assert.match(mqttLine, /"username":"alice"/);
    assert.match(mqttLine, /"remote":"127\.0\.0\.1"/);
    assert.ok(text.includes('stomp connection closed on error') && text.includes('BAD_CREDENTIALS'));
  } finally {
    await gw.close();
  }
});

test('CLI: --password-file naming a missing file stops the start (exit 2) naming auth.passwordFile', () => {
  const d = tmp();
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/server/cli.ts', '--data-dir', join(d, 'data'), '--mqtt-port', '0', '--stomp-port', '0', '--http-port', '0', '--password-file', join(d, 'nope')], {
    cwd: join(import.meta.dirname, '../..'),
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /auth\.passwordFile/);
});
