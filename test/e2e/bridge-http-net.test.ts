// E2E: HTTP sinks over HTTPS (tls.ca, rejectUnauthorized) with an openssl self-signed certificate, a refused connection and a slow endpoint counted as network errors and retried until they deliver. Imports the test helpers, node builtins and node:test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { selfSignedCert } from '../helpers/certs.ts';
import { connectClient, waitUntil, withTimeout, type TestClient } from '../helpers/mqtt-clients.ts';
import { startSinkServer, type SinkServer } from '../helpers/http-sink-server.ts';

async function metric(gw: TestGateway, line: string): Promise<number> {
  const res = await withTimeout(fetch(`http://127.0.0.1:${gw.httpPort}/metrics`), 3000, 'GET /metrics');
  const hit = (await res.text()).split('\n').find((l) => l.startsWith(`${line} `));
  return hit === undefined ? NaN : Number(hit.slice(line.length + 1));
}

/** A port nothing listens on (bound once, then closed). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('HTTP sink over HTTPS and through network failures', () => {
  let dir: string;
  let tlsServer: SinkServer;
  let slow: SinkServer;
  let gw: TestGateway;
  let pub: TestClient;
  let refusedPort: number;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sink-tls-'));
    const { certFile, keyFile } = selfSignedCert(dir);
    tlsServer = await startSinkServer({ tls: { cert: readFileSync(certFile), key: readFileSync(keyFile) } });
    slow = await startSinkServer({ delayMs: 1500 });
    refusedPort = await deadPort();
    const retry = { initialMs: 20, maxMs: 100 };
    gw = await startGateway({
      bridges: {
        http: [
          { name: 'ca', url: `${tlsServer.url}?s=ca`, filter: 'tls/#', tls: { ca: certFile }, retry, batch: { lingerMs: 0 } },
          { name: 'insecure', url: `${tlsServer.url}?s=insecure`, filter: 'tls/#', tls: { rejectUnauthorized: false }, retry, batch: { lingerMs: 0 } },
          { name: 'untrusted', url: `${tlsServer.url}?s=untrusted`, filter: 'tls/#', retry, batch: { lingerMs: 0 } },
          { name: 'refused', url: `http://127.0.0.1:${refusedPort}/x`, filter: 'net/#', retry, batch: { lingerMs: 0 } },
          { name: 'slow', url: slow.url, filter: 'net/#', timeoutMs: 300, retry, batch: { lingerMs: 0 } },
        ],
      },
    } as never);
    pub = await connectClient(gw.mqttUrl);
  });
  after(async () => {
    await pub.end();
    await gw.close();
    await tlsServer.close();
    await slow.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const of = (s: string) => tlsServer.requests.filter((r) => r.url.endsWith(`?s=${s}`));

  test('https: delivered with tls.ca or rejectUnauthorized false; a self-signed endpoint without them is a network error, retried', async () => {
    await pub.client.publishAsync('tls/1', 'secure', { qos: 1 });
    await waitUntil(() => of('ca').length >= 1 && of('insecure').length >= 1, 10_000, 'https deliveries');
    assert.equal(of('ca')[0]!.messages[0]!.payload, 'secure');
    assert.equal(of('insecure')[0]!.messages[0]!.payload, 'secure');
    const end = Date.now() + 10_000;
    while (!((await metric(gw, 'gateway_bridge_http_errors_total{bridge="untrusted",class="network"}')) >= 2) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.ok((await metric(gw, 'gateway_bridge_http_errors_total{bridge="untrusted",class="network"}')) >= 2, 'retried');
    assert.equal(of('untrusted').length, 0, 'no request got through an untrusted certificate');
    assert.equal(await metric(gw, 'gateway_bridge_http_messages_total{bridge="untrusted"}'), 0);
    assert.equal(await metric(gw, 'gateway_bridge_http_state{bridge="untrusted",state="retrying"}'), 1);
  });

  test('a refused connection is a network error, retried while the message waits in the log (lag)', async () => {
    await pub.client.publishAsync('net/1', 'waiting', { qos: 1 });
    const end = Date.now() + 10_000;
    while (!((await metric(gw, 'gateway_bridge_http_errors_total{bridge="refused",class="network"}')) >= 2) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.ok((await metric(gw, 'gateway_bridge_http_errors_total{bridge="refused",class="network"}')) >= 2);
    assert.ok((await metric(gw, 'gateway_bridge_http_retries_total{bridge="refused"}')) >= 2);
    assert.ok((await metric(gw, 'gateway_bridge_http_lag_messages{bridge="refused"}')) >= 1, 'the undelivered message is lag');
  });

  test('an endpoint slower than timeoutMs is timed out and retried; once it is fast the batch is delivered', async () => {
    await waitUntil(() => slow.requests.length >= 2, 10_000, 'two timed-out attempts');
    assert.ok((await metric(gw, 'gateway_bridge_http_errors_total{bridge="slow",class="network"}')) >= 1);
    slow.options = {};
    const end = Date.now() + 10_000;
    while ((await metric(gw, 'gateway_bridge_http_messages_total{bridge="slow"}')) < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await metric(gw, 'gateway_bridge_http_messages_total{bridge="slow"}'), 1);
    assert.ok(slow.requests.every((r) => r.messages[0]?.payload === 'waiting'), 'the same batch every time');
  });
});
