// E2E: the admin API (/api/*): bearer-token auth (401 / 404 when disabled), every listing against state the test created, and POST disconnect (MQTT 5 gets DISCONNECT 0x98). Imports the test helpers and node:test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IDisconnectPacket } from 'mqtt';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { ClientPool, connectClient, uniqueId, waitUntil, withTimeout, type TestClient } from '../helpers/mqtt-clients.ts';
import { offsetKey } from '../../src/core/consumer-group.ts';

const TOKEN = 's3cret-token-of-16+';

async function api(port: number, path: string, opts: { method?: string; token?: string | null } = {}): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await withTimeout(fetch(`http://127.0.0.1:${port}${path}`, { method: opts.method ?? 'GET', headers }), 3000, `${path}`);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON (404 from the server) */
  }
  return { status: res.status, body };
}

type Row = Record<string, unknown>;

describe('admin API', () => {
  let gw: TestGateway;
  const pool = new ClientPool();
  const mq = (url: string, opts: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> => pool.mqtt(url, opts);
  before(async () => {
    gw = await startGateway({ http: { adminToken: TOKEN }, sys: { intervalMs: 0 } });
  });
  after(async () => {
    await pool.closeAll();
    await gw.close();
  });

  test('401 without a token or with a wrong one; 404 for an unknown /api path; 405 for a wrong method', async () => {
    const none = await api(gw.httpPort, '/api/clients', { token: null });
    assert.equal(none.status, 401);
    assert.equal((await api(gw.httpPort, '/api/clients', { token: 'wrong' })).status, 401);
    assert.equal((await api(gw.httpPort, '/api/clients', { token: `${TOKEN}x` })).status, 401);
    assert.equal((await api(gw.httpPort, '/api/nothing-here')).status, 404);
    assert.equal((await api(gw.httpPort, '/api/clients', { method: 'POST' })).status, 405);
    assert.equal((await api(gw.httpPort, '/api/clients/x/disconnect')).status, 405);
  });

  test('clients, sessions, subscriptions, retained (with preview), groups and log reflect what the test did', async () => {
    const wsId = uniqueId('adm-ws');
    const ws = await mq(`ws://127.0.0.1:${gw.httpPort}/mqtt`, { clientId: wsId, protocolVersion: 5 });
    await withTimeout(ws.client.subscribeAsync('adm/+/t', { qos: 1 }), 3000, 'subscribe');
    const offId = uniqueId('adm-off');
    const off = await connectClient(gw.mqttUrl, { clientId: offId, clean: false, protocolVersion: 4 });
    await withTimeout(off.client.subscribeAsync('adm/off', { qos: 1 }), 3000, 'subscribe');
    await off.end();
    await withTimeout(ws.client.publishAsync('adm/text/t', 'hello retained', { qos: 1, retain: true }), 3000, 'publish');
    await withTimeout(ws.client.publishAsync('adm/bin', Buffer.from([0xff, 0xfe, 0x00, 0x01]), { qos: 1, retain: true }), 3000, 'publish');
    await withTimeout(ws.client.publishAsync('adm/big', 'y'.repeat(1000), { qos: 0, retain: true }), 3000, 'publish');

    const cl = (await api(gw.httpPort, '/api/clients')).body as Row[];
    const mine = cl.find((c) => c.clientId === wsId);
    assert.deepEqual({ protocol: mine?.protocol, transport: mine?.transport }, { protocol: 'mqtt', transport: 'ws' });
    assert.equal(typeof mine?.connectedAt, 'number');
    assert.equal(cl.find((c) => c.clientId === offId), undefined, 'an offline session is not a client');

    const se = (await api(gw.httpPort, '/api/sessions')).body as Row[];
    const offline = se.find((s) => s.id === offId);
    assert.equal(offline?.connected, false);
    assert.deepEqual(offline?.subscriptions, ['adm/off']);
    assert.equal(se.find((s) => s.id === wsId)?.connected, true);

    const subs = (await api(gw.httpPort, '/api/subscriptions')).body as Row[];
    assert.ok(subs.some((s) => s.clientId === wsId && s.filter === 'adm/+/t' && s.qos === 1), 'ws subscription listed');
    assert.ok(subs.some((s) => s.clientId === offId && s.filter === 'adm/off'), 'offline subscription listed');

    const ret = (await api(gw.httpPort, '/api/retained')).body as Row[];
    const text = ret.find((r) => r.topic === 'adm/text/t');
    assert.deepEqual({ bytes: text?.bytes, preview: text?.preview, enc: text?.previewEncoding }, { bytes: 14, preview: 'hello retained', enc: 'utf8' });
    const bin = ret.find((r) => r.topic === 'adm/bin');
    assert.deepEqual({ preview: bin?.preview, enc: bin?.previewEncoding }, { preview: 'fffe0001', enc: 'hex' });
    const big = ret.find((r) => r.topic === 'adm/big');
    assert.equal(big?.bytes, 1000);
    assert.equal((big?.preview as string).length, 64, 'preview is cut to 64 bytes');

    const log = (await api(gw.httpPort, '/api/log')).body as { partition: number; endOffset: number; segments: unknown[] }[];
    assert.equal(log.length, gw.config.persistence.partitions);
    assert.equal(log.reduce((n, p) => n + p.endOffset, 0), 2, 'two QoS 1 messages in the log');
    assert.ok(log.every((p) => p.segments.length >= 1), 'segments listed');

    const partition = log.find((p) => p.endOffset > 0)!.partition;
    await gw.gateway.broker.state!.put(offsetKey('adm-group', partition), Buffer.from(JSON.stringify({ offset: 0, at: Date.now() })));
    const groups = (await api(gw.httpPort, '/api/groups')).body as Row[];
    assert.deepEqual(groups, [{ group: 'adm-group', partition, committed: 0, end: 1, lag: 1 }]);
  });

  test('POST disconnect: MQTT 5 gets DISCONNECT 0x98, v3.1.1 is closed, the persistent session stays; unknown id 404', async () => {
    const v5Id = uniqueId('kick5');
    const v5 = await mq(gw.mqttUrl, { clientId: v5Id, protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 60 } });
    let reason: number | undefined;
    v5.client.on('disconnect', (p: IDisconnectPacket) => (reason = p.reasonCode));
    let closed5 = false;
    v5.client.on('close', () => (closed5 = true));
    const res = await api(gw.httpPort, `/api/clients/${encodeURIComponent(v5Id)}/disconnect`, { method: 'POST' });
    assert.deepEqual(res, { status: 200, body: { disconnected: v5Id, protocol: 'mqtt' } });
    await waitUntil(() => closed5, 3000, 'v5 client closed');
    assert.equal(reason, 0x98, 'administrative action [MQTT-3.14.2-1]');
    const sessions = (await api(gw.httpPort, '/api/sessions')).body as Row[];
    assert.equal(sessions.find((s) => s.id === v5Id)?.connected, false, 'session kept, now offline');

    const v4Id = uniqueId('kick4');
    const v4 = await mq(gw.mqttUrl, { clientId: v4Id, protocolVersion: 4 });
    let closed4 = false;
    v4.client.on('close', () => (closed4 = true));
    assert.equal((await api(gw.httpPort, `/api/clients/${v4Id}/disconnect`, { method: 'POST' })).status, 200);
    await waitUntil(() => closed4, 3000, 'v4 client closed');
    assert.equal(((await api(gw.httpPort, '/api/clients')).body as Row[]).some((c) => c.clientId === v4Id), false);

    assert.equal((await api(gw.httpPort, '/api/clients/nobody/disconnect', { method: 'POST' })).status, 404);
    assert.equal((await api(gw.httpPort, `/api/clients/${v5Id}/disconnect`, { method: 'POST', token: null })).status, 401);
  });
});

describe('admin API disabled', () => {
  test('an empty http.adminToken answers 404 on /api/* with a hint on how to turn it on', async () => {
    const gw = await startGateway({ sys: { intervalMs: 0 } });
    try {
      const off = await api(gw.httpPort, '/api/clients');
      assert.equal(off.status, 404);
      assert.match(String((off.body as { error?: string }).error), /admin API is off: set http\.adminToken \(GATEWAY_HTTP_ADMIN_TOKEN\)/);
      assert.equal((await api(gw.httpPort, '/nothing-here')).status, 404, 'other paths still 404');
      assert.equal((await api(gw.httpPort, '/api/clients/x/disconnect', { method: 'POST' })).status, 404);
      assert.equal((await api(gw.httpPort, '/metrics')).status, 200, 'metrics stay public');
    } finally {
      await gw.close();
    }
  });
});
