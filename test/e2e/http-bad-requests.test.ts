// E2E: request lines, paths and upgrades that once threw out of an HTTP handler get 400 and the process carries on. Imports the test helpers, node:net and node:test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { connectClient, uniqueId, withTimeout } from '../helpers/mqtt-clients.ts';

/** Sends raw bytes to the HTTP port and returns the status line of the answer ('' if the socket closed without one). */
function rawHttp(port: number, request: string): Promise<string> {
  return withTimeout(
    new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      let got = '';
      s.on('data', (d) => (got += d.toString('latin1')));
      s.on('error', () => resolve(got.split('\r\n')[0] ?? ''));
      s.on('close', () => resolve(got.split('\r\n')[0] ?? ''));
      s.write(request);
      setTimeout(() => s.end(), 500);
    }),
    5000,
    'raw http',
  );
}

describe('HTTP: bad request targets answer 400 and the gateway stays up', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ http: { adminToken: 'a-long-enough-token' }, sys: { intervalMs: 0 } });
  });
  after(async () => {
    await gw.close();
  });

  const cases: [string, string][] = [
    ['authority-form target with a bad port', 'GET //x:99999 HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['upgrade with a bad port', 'GET //x:99999 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'],
    ['absolute-form target', 'GET http://[::1 HTTP/1.1\r\nHost: a\r\n\r\n'],
  ];
  for (const [name, req] of cases) {
    test(name, async () => {
      const status = await rawHttp(gw.httpPort, req);
      assert.match(status, /^HTTP\/1\.1 400 /);
    });
  }

  test('a bad percent-encoding in the admin API gets 400', async () => {
    const res = await fetch(`http://127.0.0.1:${gw.httpPort}/api/clients/%E0%A4%A/disconnect`, {
      method: 'POST',
      headers: { authorization: 'Bearer a-long-enough-token' },
    });
    assert.equal(res.status, 400);
  });

  test('after all of them, MQTT and HTTP still answer', async () => {
    const res = await fetch(`http://127.0.0.1:${gw.httpPort}/healthz`);
    assert.equal(res.status, 200);
    const c = await connectClient(gw.mqttUrl, { clientId: uniqueId('http-bad') });
    assert.ok(c.client.connected);
    await c.end();
  });
});
