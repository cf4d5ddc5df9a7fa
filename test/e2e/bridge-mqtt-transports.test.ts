// e2e: MQTT bridges over the other remote transports: ws:// (Mosquitto's websockets listener) and mqtts:// with a CA and a client certificate (Mosquitto require_certificate), and a remote whose certificate the CA does not sign is refused. Certificates are made by openssl here. Imports the helpers and node builtins.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { LOOPBACK_SAN, makeCa, makeCert } from '../helpers/certs.ts';
import { connectClient, sleep, waitUntil } from '../helpers/mqtt-clients.ts';
import { Mosquitto, freePort } from '../helpers/mosquitto.ts';
import type { MqttBridge } from '../../src/bridges/mqtt/bridge.ts';

let dir: string;
let mosq: Mosquitto;
let wsPort: number;
let tlsPort: number;
const f = (name: string): string => join(dir, name);
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bridge-tls-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeCert(dir, 'ca', 'server', 'localhost', LOOPBACK_SAN);
  makeCert(dir, 'ca', 'bridge', 'gateway-bridge');
  wsPort = await freePort();
  tlsPort = await freePort();
  mosq = await Mosquitto.start([
    `listener ${wsPort} 127.0.0.1`,
    'protocol websockets',
    `listener ${tlsPort} 127.0.0.1`,
    `cafile ${f('ca.pem')}`,
    `certfile ${f('server.pem')}`,
    `keyfile ${f('server.key')}`,
    'require_certificate true',
  ]);
});

after(async () => {
  await mosq?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function oneMessageOut(gw: TestGateway, topic: string): Promise<void> {
  const bridge = gw.gateway.bridges.list[0] as MqttBridge;
  await waitUntil(() => bridge.state === 'connected', 15_000, `bridge connected (errors ${bridge.status().errors})`);
  const remote = await connectClient(mosq.url);
  await remote.client.subscribeAsync('r/#', { qos: 1 });
  const local = await connectClient(gw.mqttUrl);
  await local.client.publishAsync(topic, 'hello', { qos: 1 });
  await waitUntil(() => remote.received.some((r) => r.topic === `r/${topic}`), 10_000, `r/${topic} at Mosquitto`);
  await local.end();
  await remote.end();
}

test('ws:// to Mosquitto\'s websockets listener', async () => {
  const gw = await startGateway({ bridges: { mqtt: [{ name: 'ws', url: `ws://127.0.0.1:${wsPort}`, topics: ['topic ws/# out 1 "" r/'] }] } } as never);
  try {
    await oneMessageOut(gw, 'ws/a');
  } finally {
    await gw.close();
  }
});

test('mqtts:// with the CA and a client certificate (Mosquitto require_certificate)', async () => {
  const gw = await startGateway({
    bridges: { mqtt: [{ name: 'tls', url: `mqtts://127.0.0.1:${tlsPort}`, tls: { ca: f('ca.pem'), cert: f('bridge.pem'), key: f('bridge.key') }, topics: ['topic tls/# out 1 "" r/'] }] },
  } as never);
  try {
    await oneMessageOut(gw, 'tls/a');
  } finally {
    await gw.close();
  }
});

test('mqtts:// refuses a remote whose certificate the configured CA did not sign; an unreadable CA file stops the start naming the key', async () => {
  const gw = await startGateway({
    bridges: { mqtt: [{ name: 'bad', url: `mqtts://127.0.0.1:${tlsPort}`, reconnectMinMs: 100, reconnectMaxMs: 200, tls: { ca: f('other-ca.pem'), cert: f('bridge.pem'), key: f('bridge.key') }, topics: ['topic bad/# out 1'] }] },
  } as never);
  try {
    const bridge = gw.gateway.bridges.list[0] as MqttBridge;
    await waitUntil(() => bridge.status().errors >= 1, 10_000, 'a TLS error counted');
    await sleep(300);
    assert.notEqual(bridge.state, 'connected');
    assert.equal(bridge.status().connects, 0);
  } finally {
    await gw.close();
  }
  await assert.rejects(
    startGateway({ bridges: { mqtt: [{ name: 'nofile', url: `mqtts://127.0.0.1:${tlsPort}`, tls: { ca: f('missing.pem') }, topics: ['topic x/# out 1'] }] } } as never),
    /bridges\.mqtt\[0\]\.tls\.ca/,
  );
});
