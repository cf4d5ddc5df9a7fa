// E2E: $SYS topics (the contract in src/server/sys-topics.ts): every topic published retained, values follow the traffic the test sends, `#` never sees them, interval 0 turns them off. Imports the test helpers and node:test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { ClientPool, connectClient, sleep, withTimeout, uniqueId, waitUntil, type TestClient } from '../helpers/mqtt-clients.ts';

const CONTRACT = [
  '$SYS/broker/version',
  '$SYS/broker/uptime',
  '$SYS/broker/clients/connected',
  '$SYS/broker/clients/total',
  '$SYS/broker/clients/maximum',
  '$SYS/broker/messages/received',
  '$SYS/broker/messages/sent',
  '$SYS/broker/messages/dropped',
  '$SYS/broker/load/messages/received/1min',
  '$SYS/broker/load/messages/sent/1min',
  '$SYS/broker/subscriptions/count',
  '$SYS/broker/retained messages/count',
  '$SYS/broker/bytes/received',
  '$SYS/broker/bytes/sent',
  '$SYS/gateway/stats',
  '$SYS/gateway/clients',
];

interface Stats {
  time: number;
  uptimeSeconds: number;
  clients: { mqtt: number; stomp: number; byTransport: { tcp: number; ws: number } };
  sessions: number;
  subscriptions: number;
  retained: number;
  messages: { in: number; out: number; inPerSecond: number; outPerSecond: number; dropped: number };
  partitions: { partition: number; startOffset: number; endOffset: number; bytes: number }[];
  groups: unknown[];
}

interface Client {
  clientId: string;
  protocol: string;
  transport: string;
  remote: string;
  connectedAt: number;
}

/** The latest value per $SYS topic seen by `c`. */
function latest(c: TestClient): Map<string, string> {
  const m = new Map<string, string>();
  for (const r of c.received) if (r.topic.startsWith('$SYS/')) m.set(r.topic, r.payload);
  return m;
}

describe('$SYS topics', () => {
  let gw: TestGateway;
  const pool = new ClientPool();
  const mq = (url: string, opts: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> => pool.mqtt(url, opts);
  before(async () => {
    gw = await startGateway({ sys: { intervalMs: 100 } });
  });
  after(async () => {
    await pool.closeAll();
    await gw.close();
  });

  test('a $SYS/# subscriber gets every contract topic, retained on subscribe', async () => {
    await sleep(150);
    const s = await mq(gw.mqttUrl, { protocolVersion: 5 });
    await withTimeout(s.client.subscribeAsync('$SYS/#', { qos: 0 }), 3000, 'subscribeAsync');
    await waitUntil(() => latest(s).size >= CONTRACT.length, 3000, 'every $SYS topic');
    const first = s.received.slice(0, CONTRACT.length);
    assert.ok(first.every((r) => r.packet.retain), 'the first copies come from the retained store (RETAIN 1)');
    assert.deepEqual([...latest(s).keys()].sort(), [...CONTRACT].sort());
    const v = latest(s);
    assert.match(v.get('$SYS/broker/version')!, /^\d+\.\d+\.\d+/);
    assert.match(v.get('$SYS/broker/uptime')!, /^\d+ seconds$/);
    for (const t of CONTRACT.filter((x) => x.startsWith('$SYS/broker/') && !x.endsWith('version') && !x.endsWith('uptime'))) {
      assert.match(v.get(t)!, /^\d+(\.\d+)?$/, `${t} is a decimal number`);
    }
  });

  test('values reflect traffic: clients by transport, messages and bytes in/out, subscriptions', async () => {
    const watcher = await mq(gw.mqttUrl, { protocolVersion: 4 });
    await withTimeout(watcher.client.subscribeAsync('$SYS/gateway/#', { qos: 0 }), 3000, 'subscribeAsync');
    await watcher.waitFor(2);
    const before = JSON.parse(latest(watcher).get('$SYS/gateway/stats')!) as Stats;
    const wsId = uniqueId('ws');
    const wsClient = await mq(`ws://127.0.0.1:${gw.httpPort}/mqtt`, { clientId: wsId, protocolVersion: 5 });
    const sub = await mq(gw.mqttUrl, { protocolVersion: 5 });
    await withTimeout(sub.client.subscribeAsync('sys-test/+', { qos: 1 }), 3000, 'subscribeAsync');
    for (let i = 0; i < 10; i++) await withTimeout(wsClient.client.publishAsync(`sys-test/${i}`, `m${i}`, { qos: 1 }), 3000, 'publishAsync');
    await sub.waitFor(10);
    const t0 = Date.now();
    let stats = before;
    let list: Client[] = [];
    await waitUntil(
      () => {
        const v = latest(watcher);
        stats = JSON.parse(v.get('$SYS/gateway/stats')!) as Stats;
        list = JSON.parse(v.get('$SYS/gateway/clients')!) as Client[];
        return stats.time > t0 && stats.messages.in >= before.messages.in + 10;
      },
      3000,
      'stats after the traffic',
    );
    assert.equal(stats.messages.in - before.messages.in, 10, 'ten publishes in');
    assert.ok(stats.messages.out - before.messages.out >= 10, 'ten deliveries out (plus $SYS copies)');
    assert.ok(stats.clients.byTransport.ws >= 1 && stats.clients.mqtt >= 3, JSON.stringify(stats.clients));
    assert.ok(stats.subscriptions >= 2, 'two subscriptions at least');
    assert.ok(stats.partitions.length > 0, 'partition offsets listed');
    assert.ok(stats.partitions.reduce((n, p) => n + p.endOffset, 0) >= 10, 'ten QoS 1 messages appended to the log');
    assert.ok(stats.uptimeSeconds >= 0 && Array.isArray(stats.groups), 'stats.uptimeSeconds >= 0 && Array.isArray(stats.groups)');
    const mine = list.find((c) => c.clientId === wsId);
    assert.ok(mine, 'the ws client is listed');
    assert.equal(mine.protocol, 'mqtt');
    assert.equal(mine.transport, 'ws');
    assert.match(mine.remote, /127\.0\.0\.1/);
    assert.ok(Math.abs(mine.connectedAt - Date.now()) < 10_000, 'Math.abs(mine.connectedAt - Date.now()) < 10_000');
    const tcp = list.find((c) => c.clientId === sub.client.options.clientId);
    assert.equal(tcp?.transport, 'tcp');
    // The mosquitto-style counters follow the same traffic.
    const s2 = await mq(gw.mqttUrl, { protocolVersion: 4 });
    await withTimeout(s2.client.subscribeAsync('$SYS/broker/#', { qos: 0 }), 3000, 'subscribeAsync');
    await waitUntil(() => latest(s2).size >= 14 && Number(latest(s2).get('$SYS/broker/clients/connected')) >= 5, 3000, 'broker topics counting five clients');
    const b = latest(s2);
    assert.ok(Number(b.get('$SYS/broker/messages/received')) >= 10, `Number(b.get('$SYS/broker/messages/received')) >= 10`);
    assert.ok(Number(b.get('$SYS/broker/bytes/received')) > 10 * 'sys-test/0'.length, `Number(b.get('$SYS/broker/bytes/received')) > 10 * 'sys-test/0'.length`);
    assert.ok(Number(b.get('$SYS/broker/clients/connected')) >= 5, `Number(b.get('$SYS/broker/clients/connected')) >= 5`);
    assert.ok(Number(b.get('$SYS/broker/clients/maximum')) >= Number(b.get('$SYS/broker/clients/connected')), `Number(b.get('$SYS/broker/clients/maximum')) >= Number(b.get('$SYS/broker/clients/connected'))`);
    assert.ok(Number(b.get('$SYS/broker/subscriptions/count')) >= 4, `Number(b.get('$SYS/broker/subscriptions/count')) >= 4`);
  });

  test('`#` and `+/...` never receive $SYS topics [MQTT-4.7.2-1]', async () => {
    const all = await mq(gw.mqttUrl, { protocolVersion: 5 });
    await withTimeout(all.client.subscribeAsync(['#', '+/broker/#'], { qos: 0 }), 3000, 'subscribeAsync');
    const pub = await mq(gw.mqttUrl, { protocolVersion: 4 });
    await withTimeout(pub.client.publishAsync('plain/topic', 'x', { qos: 1 }), 3000, 'publishAsync');
    await all.waitFor(1);
    await sleep(350); // at least three $SYS rounds
    assert.ok(all.received.length >= 1, 'ordinary traffic arrives');
    assert.deepEqual(all.received.filter((r) => r.topic.startsWith('$')).map((r) => r.topic), []);
  });
});

describe('$SYS retained count', () => {
  test("stats.retained (the dashboard's Retained card) counts the clients' retained topics, not the gateway's own $SYS topics", async () => {
    const gw = await startGateway({ sys: { intervalMs: 50 } });
    try {
      const pub = await connectClient(gw.mqttUrl, { protocolVersion: 4 });
      for (const t of ['ret-count/a', 'ret-count/b']) await withTimeout(pub.client.publishAsync(t, 'x', { qos: 1, retain: true }), 3000, 'publishAsync');
      const w = await connectClient(gw.mqttUrl, { protocolVersion: 4 });
      await withTimeout(w.client.subscribeAsync('$SYS/gateway/stats', { qos: 0 }), 3000, 'subscribeAsync');
      const t0 = Date.now();
      let stats: Stats | undefined;
      await waitUntil(() => {
        const v = latest(w).get('$SYS/gateway/stats');
        stats = v === undefined ? undefined : (JSON.parse(v) as Stats);
        return stats !== undefined && stats.time > t0;
      }, 3000, 'a fresh stats message');
      assert.ok(gw.gateway.broker.retained.size > 2, 'the $SYS topics sit in the retained store too');
      assert.equal(stats!.retained, 2);
      await pub.end();
      await w.end();
    } finally {
      await gw.close();
    }
  });
});

describe('$SYS topics off', () => {
  test('sys.intervalMs 0 publishes nothing', async () => {
    const gw = await startGateway({ sys: { intervalMs: 0 } });
    try {
      const c = await connectClient(gw.mqttUrl);
      await withTimeout(c.client.subscribeAsync('$SYS/#', { qos: 0 }), 3000, 'subscribeAsync');
      await sleep(300);
      assert.equal(c.received.length, 0);
      assert.equal(gw.gateway.broker.retained.size, 0);
      await c.end();
    } finally {
      await gw.close();
    }
  });
});
