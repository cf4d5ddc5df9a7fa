// E2E: TLS client certificates (tls.ca, tls.requireCertificate, tls.useIdentityAsUsername), tls.minVersion and tls.ciphers
// defaults, and certificate reload without dropping connections. Certificates are made by openssl here. Imports the helpers, mqtt, node:tls.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import mqtt, { type MqttClient } from 'mqtt';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { LOOPBACK_SAN, makeCa, makeCert, selfSignedCert } from '../helpers/certs.ts';
import { withTimeout } from '../helpers/mqtt-clients.ts';
import { encodeFrame } from '../../protocols/stomp/frame.ts';

let dir: string;
let gw: TestGateway;
let optional: TestGateway;
const f = (name: string): string => join(dir, name);
const read = (name: string): Buffer => readFileSync(f(name));

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gw-tlsauth-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'rogue-ca');
  makeCert(dir, 'ca', 'server', 'localhost', LOOPBACK_SAN);
  copyFileSync(f('server.pem'), f('live.pem'));
  copyFileSync(f('server.key'), f('live.key'));
  makeCert(dir, 'ca', 'server2', 'localhost-renewed', LOOPBACK_SAN);
  makeCert(dir, 'ca', 'device', 'device-1');
  makeCert(dir, 'rogue-ca', 'rogue', 'device-1');
  // An RSA server certificate too, so static-RSA key exchange suites could be negotiated at all.
  selfSignedCert(dir, 'rsa');
  execFileSync('mosquitto_passwd', ['-c', '-b', f('passwd'), 'alice', 'alice-pw'], { timeout: 10_000 });
  writeFileSync(f('acl'), 'user device-1\ntopic readwrite devices/device-1/#\nuser alice\ntopic readwrite #\n');
  gw = await startGateway({
    tls: { cert: f('live.pem'), key: f('live.key'), ca: f('ca.pem'), requireCertificate: true, useIdentityAsUsername: true },
    auth: { passwordFile: f('passwd'), aclFile: f('acl') },
    mqtt: { tlsPort: 0 },
    stomp: { tlsPort: 0 },
    http: { tlsPort: 0 },
    sys: { intervalMs: 0 },
  });
  optional = await startGateway({
    tls: { cert: f('rsa.pem'), key: f('rsa.key'), ca: f('ca.pem') },
    auth: { passwordFile: f('passwd'), aclFile: f('acl'), allowAnonymous: false },
    mqtt: { tlsPort: 0 },
    stomp: { tlsPort: 0 },
    http: { tlsPort: 0 },
    sys: { intervalMs: 0 },
  });
});

after(async () => {
  await gw?.close();
  await optional?.close();
  rmSync(dir, { recursive: true, force: true });
});

function mqttsConnect(port: number, extra: Record<string, unknown>): Promise<MqttClient> {
  return withTimeout(
    mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, { ca: read('ca.pem'), rejectUnauthorized: true, servername: 'localhost', protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 3000, ...extra }),
    5000,
    'mqtts connect',
  );
}

/** A raw TLS handshake with the given client options: 'ok' or the error message. */
function handshake(port: number, opts: tls.ConnectionOptions): Promise<string> {
  return withTimeout(
    new Promise((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts }, () => {
        // With TLS 1.3 a refused client certificate shows only after the handshake: wait for the server's verdict.
        setTimeout(() => {
          s.destroy();
          resolve('ok');
        }, 200);
      });
      s.once('error', (e) => resolve(e.message));
    }),
    5000,
    'tls handshake',
  );
}

test('a client certificate signed by tls.ca is accepted; its CN is the username (the ACL of device-1 applies)', async () => {
  const c = await mqttsConnect(gw.mqttTlsPort!, { cert: read('device.pem'), key: read('device.key'), username: 'alice', password: 'wrong-and-ignored' });
  try {
    await c.publishAsync('devices/device-1/state', 'on', { qos: 1 });
    await assert.rejects(c.publishAsync('devices/device-2/state', 'on', { qos: 1 }), (e: { code?: number }) => e.code === 0x87, 'not alice: device-1 may not write device-2');
  } finally {
    await c.endAsync();
  }
});

test('tls.requireCertificate: no certificate, or one from another CA, is refused at the handshake', async () => {
  await assert.rejects(mqttsConnect(gw.mqttTlsPort!, { username: 'alice', password: 'alice-pw' }));
  await assert.rejects(mqttsConnect(gw.mqttTlsPort!, { cert: read('rogue.pem'), key: read('rogue.key') }));
  // STOMP over TLS with no certificate: no CONNECTED ever.
  const stomp = await withTimeout(
    new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: gw.stompTlsPort!, ca: read('ca.pem'), servername: 'localhost' });
      let out = '';
      s.on('secureConnect', () => s.write(encodeFrame({ command: 'CONNECT', headers: [['accept-version', '1.2'], ['host', 'localhost']], body: Buffer.alloc(0) }, '1.2')));
      s.on('data', (d: Buffer) => (out += d.toString()));
      s.on('error', (e) => resolve(`error: ${e.message}`));
      s.on('close', () => resolve(out));
    }),
    5000,
    'stomp tls without a certificate',
  );
  assert.doesNotMatch(stomp, /CONNECTED/);
});

test('STOMP over TLS with a client certificate: CONNECTED as the CN', async () => {
  const frames = await withTimeout(
    new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: gw.stompTlsPort!, ca: read('ca.pem'), servername: 'localhost', cert: read('device.pem'), key: read('device.key') });
      let out = '';
      s.on('secureConnect', () => {
        s.write(encodeFrame({ command: 'CONNECT', headers: [['accept-version', '1.2'], ['host', 'localhost']], body: Buffer.alloc(0) }, '1.2'));
        s.write(encodeFrame({ command: 'SEND', headers: [['destination', '/topic/devices/device-2/x'], ['receipt', 'r1']], body: Buffer.from('x') }, '1.2'));
      });
      s.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ERROR')) {
          s.destroy();
          resolve(out);
        }
      });
      s.on('error', reject);
    }),
    5000,
    'stomp over tls',
  );
  assert.match(frames, /^CONNECTED/);
  assert.match(frames, /ERROR\nmessage:not authorized/, 'device-1 (the CN) may not send to device-2');
});

test('optional client certificates (tls.ca without requireCertificate): no certificate falls back to the password file', async () => {
  const c = await mqttsConnect(optional.mqttTlsPort!, { ca: read('rsa.pem'), username: 'alice', password: 'alice-pw' });
  await c.endAsync();
  await assert.rejects(mqttsConnect(optional.mqttTlsPort!, { ca: read('rsa.pem') }), (e: { code?: number }) => e.code === 0x87, 'anonymous refused');
});

test('tls.minVersion (default TLSv1.2): a TLS 1.1 client is refused; the same client at TLS 1.2 connects', async () => {
  const legacy = { ciphers: 'DEFAULT@SECLEVEL=0', servername: 'localhost' };
  const tls11 = { ...legacy, minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1' } as const;
  // Control: this client can speak TLS 1.1 to a server that allows it, so the refusal below is the gateway's.
  const permissive = tls.createServer({ cert: read('rsa.pem'), key: read('rsa.key'), minVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }, (s) => s.end());
  await new Promise<void>((r) => permissive.listen(0, '127.0.0.1', () => r()));
  try {
    assert.equal(await handshake((permissive.address() as import('node:net').AddressInfo).port, tls11), 'ok');
  } finally {
    permissive.close();
  }
  const old = await handshake(optional.mqttTlsPort!, tls11);
  assert.match(old, /protocol version|unsupported protocol/i, old);
  assert.equal(await handshake(optional.mqttTlsPort!, { ...legacy, minVersion: 'TLSv1.1', maxVersion: 'TLSv1.2' }), 'ok');
});

test('tls.ciphers (default forward-secret only): a static-RSA suite is refused; ECDHE with the same RSA certificate is accepted', async () => {
  const rsaOnly = { maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA' } as const;
  // Control: Node's default server list (what the gateway used before) negotiates a static-RSA suite with this client.
  const permissive = tls.createServer({ cert: read('rsa.pem'), key: read('rsa.key') }, (s) => s.end());
  await new Promise<void>((r) => permissive.listen(0, '127.0.0.1', () => r()));
  try {
    assert.equal(await handshake((permissive.address() as import('node:net').AddressInfo).port, rsaOnly), 'ok');
  } finally {
    permissive.close();
  }
  const staticRsa = await handshake(optional.mqttTlsPort!, rsaOnly);
  assert.match(staticRsa, /handshake failure|no shared cipher|alert/i, staticRsa);
  assert.equal(await handshake(optional.mqttTlsPort!, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }), 'ok');
});

test('certificate reload (SIGHUP path): new handshakes get the new certificate, an open connection stays', async () => {
  const subjectOf = (port: number): Promise<string> =>
    withTimeout(
      new Promise((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port, ca: read('ca.pem'), servername: 'localhost', cert: read('device.pem'), key: read('device.key') }, () => {
          const cn = s.getPeerCertificate().subject.CN;
          s.destroy();
          resolve(String(cn));
        });
        s.once('error', reject);
      }),
      5000,
      'peer certificate',
    );
  assert.equal(await subjectOf(gw.mqttTlsPort!), 'localhost');
  const open = await mqttsConnect(gw.mqttTlsPort!, { cert: read('device.pem'), key: read('device.key') });
  try {
    copyFileSync(f('server2.pem'), f('live.pem'));
    copyFileSync(f('server2.key'), f('live.key'));
    assert.equal(gw.gateway.reload(), true);
    assert.equal(await subjectOf(gw.mqttTlsPort!), 'localhost-renewed');
    assert.equal(await subjectOf(gw.stompTlsPort!), 'localhost-renewed');
    assert.equal(await subjectOf(gw.httpTlsPort!), 'localhost-renewed');
    await open.publishAsync('devices/device-1/after-reload', 'still here', { qos: 1 });
    assert.equal(open.connected, true);
  } finally {
    await open.endAsync();
  }
});
