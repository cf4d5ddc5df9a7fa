// E2E: MQTT and STOMP over TLS with a self-signed certificate made by openssl, crossing to TCP clients; TLS config errors name the key. Imports the test helpers, mqtt and node:tls.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import tls from 'node:tls';
import mqtt from 'mqtt';
import { ConfigError, resolveConfig } from '../../config/schema.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { selfSignedCert } from '../helpers/certs.ts';
import { connectClient, withTimeout, type TestClient } from '../helpers/mqtt-clients.ts';

let dir: string;
let cert: Buffer;
let gw: TestGateway;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gw-tls-'));
  const { certFile, keyFile, cert: pem } = selfSignedCert(dir);
  cert = pem;
  gw = await startGateway({ tls: { cert: certFile, key: keyFile }, mqtt: { tlsPort: 0 }, stomp: { tlsPort: 0 }, http: { tlsPort: 0 } });
});

after(async () => {
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('MQTT over TLS (verified against the certificate) exchanges messages with a TCP client, both ways', async () => {
  assert.ok(gw.mqttTlsPort, 'the TLS listener is up');
  const secure = await mqtt.connectAsync(`mqtts://127.0.0.1:${gw.mqttTlsPort}`, { ca: cert, rejectUnauthorized: true, protocolVersion: 5, reconnectPeriod: 0 });
  let plain: TestClient | undefined;
  try {
    plain = await connectClient(gw.mqttUrl, { protocolVersion: 4 });
    await secure.subscribeAsync('tls/in', { qos: 1 });
    await plain.client.subscribeAsync('tls/out', { qos: 1 });
    const gotSecure = withTimeout(new Promise<string>((r) => secure.once('message', (_t, m) => r(m.toString()))), 3000, 'message over TLS');
    await plain.client.publishAsync('tls/in', 'to tls', { qos: 1 });
    assert.equal(await gotSecure, 'to tls');
    await secure.publishAsync('tls/out', 'from tls', { qos: 1 });
    const got = await plain.waitFor(1);
    assert.equal(got[0]!.payload, 'from tls');
    const metrics = await (await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`)).text();
    assert.match(metrics, /^gateway_connections\{protocol="mqtt",transport="tls"\} 1$/m);
  } finally {
    await secure.endAsync();
    await plain?.end();
  }
});

test('MQTT over secure WebSocket (wss://.../mqtt) reaches a TCP subscriber; the HTTPS port serves /healthz', async () => {
  assert.ok(gw.httpTlsPort, 'the HTTPS listener is up');
  const plain = await connectClient(gw.mqttUrl, { protocolVersion: 4 });
  const wss = await mqtt.connectAsync(`wss://127.0.0.1:${gw.httpTlsPort}/mqtt`, { ca: cert, rejectUnauthorized: true, protocolVersion: 4, reconnectPeriod: 0 });
  try {
    await plain.client.subscribeAsync('tls/wss', { qos: 1 });
    await wss.publishAsync('tls/wss', 'over wss', { qos: 1 });
    assert.equal((await plain.waitFor(1))[0]!.payload, 'over wss');
    const status = await withTimeout(
      new Promise<number>((resolve, reject) => {
        https.get({ host: '127.0.0.1', port: gw.httpTlsPort, path: '/healthz', ca: cert, servername: 'localhost' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).once('error', reject);
      }),
      3000,
      'GET /healthz over HTTPS',
    );
    assert.equal(status, 200);
  } finally {
    await wss.endAsync();
    await plain.end();
  }
});

test('STOMP over TLS: CONNECT, SEND with a receipt, MESSAGE back', async () => {
  assert.ok(gw.stompTlsPort, 'the STOMP TLS listener is up');
  const s = tls.connect({ port: gw.stompTlsPort, host: '127.0.0.1', ca: cert, servername: 'localhost' });
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString('utf8')));
  try {
    await withTimeout(new Promise<void>((r, j) => s.once('secureConnect', () => r()).once('error', j)), 3000, 'TLS handshake');
    s.write('CONNECT\naccept-version:1.2\nhost:localhost\n\n\0');
    s.write('SUBSCRIBE\nid:1\ndestination:/topic/tls/stomp\n\n\0');
    s.write('SEND\ndestination:/topic/tls/stomp\nreceipt:r1\n\nsecure hello\0');
    const deadline = Date.now() + 3000;
    while (!(text.includes('RECEIPT') && text.includes('secure hello')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.match(text, /^CONNECTED\n/);
    assert.match(text, /RECEIPT\nreceipt-id:r1/);
    assert.match(text, /MESSAGE\n[^\0]*\n\nsecure hello\0/);
  } finally {
    s.destroy();
  }
});

test('tls.cert without tls.key (and the reverse) is refused naming the missing key', () => {
  assert.throws(() => resolveConfig({ tls: { cert: 'a.pem' } }), (e: unknown) => e instanceof ConfigError && e.key === 'tls.key');
  assert.throws(() => resolveConfig({ tls: { key: 'k.pem' } }), (e: unknown) => e instanceof ConfigError && e.key === 'tls.cert');
});

test('an unreadable certificate stops the start with a message naming tls.cert', async () => {
  await assert.rejects(
    startGateway({ tls: { cert: join(dir, 'missing.pem'), key: join(dir, 'key.pem') }, mqtt: { tlsPort: 0 }, stomp: { tlsPort: 0 } }),
    (e: unknown) => e instanceof ConfigError && e.key === 'tls.cert',
  );
});
