// E2E: slowloris on every listener (MQTT, STOMP, HTTP, WebSocket, TLS): a client that opens and says nothing, or trickles a byte at a time, is closed by a timeout, counted in gateway_timeouts_total. Imports the test helpers, ws and node:test (certificates by test/helpers/certs.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { selfSignedCert } from '../helpers/certs.ts';
import { metric } from '../helpers/metrics.ts';

const timeouts = (gw: TestGateway, listener: string, reason: string): Promise<number> =>
  metric(gw.httpPort, 'gateway_timeouts_total', `listener="${listener}",reason="${reason}"`);

/** Opens a socket; optionally trickles `text` one byte every `everyMs`; resolves with ms until the gateway closed it (rejects after `maxMs`). */
function slowClient(port: number, text: string | undefined, everyMs: number, maxMs: number): Promise<{ ms: number; got: string }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    let i = 0;
    let trickle: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => {
      clearInterval(trickle);
      s.destroy();
      reject(new Error(`not closed within ${maxMs} ms`));
    }, maxMs);
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(guard);
      clearInterval(trickle);
      resolve({ ms: Date.now() - t0, got });
    });
    s.on('connect', () => {
      if (text === undefined) return;
      trickle = setInterval(() => {
        if (i < text.length && !s.destroyed) s.write(text[i++]!);
      }, everyMs);
    });
  });
}

describe('slowloris: every listener closes silent and trickling clients on a timer', () => {
  let gw: TestGateway;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-slow-'));
    const { certFile, keyFile } = selfSignedCert(dir);
    gw = await startGateway({
      tls: { cert: certFile, key: keyFile },
      mqtt: { connectTimeoutMs: 500, tlsPort: 0 },
      stomp: { connectTimeoutMs: 500, tlsPort: 0 },
      http: { headersTimeoutMs: 500, requestTimeoutMs: 1000, tlsPort: 0 },
      limits: { tlsHandshakeTimeoutMs: 500 },
    });
  });
  after(async () => {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('MQTT: silent and trickling (a byte a second) clients are closed after mqtt.connectTimeoutMs; counted', async () => {
    const before = await timeouts(gw, 'mqtt', 'connect');
    const silent = await slowClient(gw.mqttPort, undefined, 0, 5000);
    const trickle = await slowClient(gw.mqttPort, '\x10\x20\x00\x04MQTT\x04\x02\x00\x3c', 1000, 5000);
    assert.ok(silent.ms >= 400 && trickle.ms >= 400, `${silent.ms} / ${trickle.ms} ms`);
    assert.equal((await timeouts(gw, 'mqtt', 'connect')) - before, 2);
  });

  test('STOMP: silent and trickling clients get ERROR after stomp.connectTimeoutMs; counted', async () => {
    const before = await timeouts(gw, 'stomp', 'connect');
    const silent = await slowClient(gw.stompPort, undefined, 0, 5000);
    const trickle = await slowClient(gw.stompPort, 'CONNECT\naccept-version:1.2\n\n\0', 1000, 5000);
    assert.match(silent.got, /^ERROR\n/);
    assert.match(trickle.got, /^ERROR\n/);
    assert.equal((await timeouts(gw, 'stomp', 'connect')) - before, 2);
  });

  test('HTTP: a request whose headers trickle in, or that never comes, is closed after http.headersTimeoutMs; counted', async () => {
    const before = await timeouts(gw, 'http', 'http-headers');
    const trickle = await slowClient(gw.httpPort, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 1000, 6000);
    assert.match(trickle.got, /^HTTP\/1\.1 408/);
    const silent = await slowClient(gw.httpPort, undefined, 0, 6000);
    assert.ok(silent.ms < 6000);
    assert.ok((await timeouts(gw, 'http', 'http-headers')) - before >= 1);
  });

  test('WebSocket: an upgraded /mqtt socket that sends nothing is closed by the MQTT connect timeout; a trickled upgrade by the headers timeout', async () => {
    const before = await timeouts(gw, 'mqtt', 'connect');
    const ws = new WebSocket(`ws://127.0.0.1:${gw.httpPort}/mqtt`, 'mqtt');
    const t0 = Date.now();
    await new Promise<void>((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error('websocket not closed')), 5000);
      ws.on('error', () => undefined);
      ws.on('close', () => {
        clearTimeout(guard);
        resolve();
      });
    });
    assert.ok(Date.now() - t0 >= 400);
    assert.equal((await timeouts(gw, 'mqtt', 'connect')) - before, 1);
    const beforeHttp = await timeouts(gw, 'http', 'http-headers');
    const upgrade = 'GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    await slowClient(gw.httpPort, upgrade, 1000, 6000);
    assert.ok((await timeouts(gw, 'http', 'http-headers')) - beforeHttp >= 1);
  });

  test('TLS: a TCP connection that never finishes its handshake is cut after limits.tlsHandshakeTimeoutMs (MQTT, STOMP, HTTPS); counted', async () => {
    const ports: [string, number][] = [['mqtt', gw.mqttTlsPort!], ['stomp', gw.stompTlsPort!], ['http', gw.httpTlsPort!]];
    for (const [listener, port] of ports) {
      const before = await timeouts(gw, listener, 'tls-handshake');
      const silent = await slowClient(port, undefined, 0, 5000);
      // A trickled ClientHello: a TLS record header announcing 512 bytes, one byte a second.
      const trickle = await slowClient(port, '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', 1000, 5000);
      assert.ok(silent.ms >= 400 && trickle.ms >= 400, `${listener}: ${silent.ms} / ${trickle.ms} ms`);
      assert.equal((await timeouts(gw, listener, 'tls-handshake')) - before, 2, listener);
    }
  });
});
