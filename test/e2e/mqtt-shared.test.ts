// E2E: MQTT shared subscriptions ($share/group/filter) with mqtt.js v3.1.1 and v5 members: round-robin split and the sticky strategy. Imports the test helpers and node:test.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { connectClient, sleep, type TestClient } from '../helpers/mqtt-clients.ts';

describe('mqtt shared subscriptions', () => {
  const clients: TestClient[] = [];
  const gateways: TestGateway[] = [];
  const gateway = async (strategy: 'round-robin' | 'sticky'): Promise<TestGateway> => {
    const g = await startGateway({ shared: { strategy } });
    gateways.push(g);
    return g;
  };
  const mq = async (g: TestGateway, opts: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> => {
    const c = await connectClient(g.mqttUrl, opts);
    clients.push(c);
    return c;
  };
  after(async () => {
    for (const c of clients) await c.end();
    for (const g of gateways) await g.close();
  });

  for (const version of [4, 5] as const) {
    test(`round-robin: 3 v${version} members split 30 messages, each ~10, none duplicated`, async () => {
      const g = await gateway('round-robin');
      const members = [await mq(g, { protocolVersion: version }), await mq(g, { protocolVersion: version }), await mq(g, { protocolVersion: version })];
      for (const m of members) await m.client.subscribeAsync('$share/g1/sh/t', { qos: 1 });
      const plain = await mq(g, { protocolVersion: version });
      await plain.client.subscribeAsync('sh/t', { qos: 1 });
      const pub = await mq(g, { protocolVersion: version });
      for (let i = 0; i < 30; i++) await pub.client.publishAsync('sh/t', `m${i}`, { qos: 1 });
      await plain.waitFor(30);
      const total = (): number => members.reduce((n, m) => n + m.received.length, 0);
      const end = Date.now() + 3000;
      while (total() < 30 && Date.now() < end) await sleep(10);
      await sleep(100);
      const counts = members.map((m) => m.received.length);
      assert.equal(total(), 30, `total ${counts.join('+')}`);
      for (const c of counts) assert.ok(c >= 8 && c <= 12, `uneven split ${counts.join('/')}`);
      const all = members.flatMap((m) => m.received.map((r) => r.payload));
      assert.equal(new Set(all).size, 30, 'no duplicates');
      for (const m of members) assert.ok(m.received.every((r) => r.topic === 'sh/t'), 'the topic is the published one, not the $share filter');
      assert.equal(plain.received.length, 30, 'a plain subscription still gets every message');
    });
  }

  test('mixed v3.1.1 and v5 members in one group; two groups each get every message once', async () => {
    const g = await gateway('round-robin');
    const a = [await mq(g, { protocolVersion: 4 }), await mq(g, { protocolVersion: 5 })];
    const b = [await mq(g, { protocolVersion: 5 }), await mq(g, { protocolVersion: 4 })];
    for (const m of a) await m.client.subscribeAsync('$share/ga/mix/+', { qos: 1 });
    for (const m of b) await m.client.subscribeAsync('$share/gb/mix/#', { qos: 0 });
    const pub = await mq(g, { protocolVersion: 5 });
    for (let i = 0; i < 10; i++) await pub.client.publishAsync('mix/x', `m${i}`, { qos: 1 });
    const end = Date.now() + 3000;
    const sum = (ms: TestClient[]): number => ms.reduce((n, m) => n + m.received.length, 0);
    while ((sum(a) < 10 || sum(b) < 10) && Date.now() < end) await sleep(10);
    await sleep(100);
    assert.equal(sum(a), 10);
    assert.equal(sum(b), 10);
    assert.ok(a.every((m) => m.received.length === 5), 'round-robin over 2 members');
  });

  test('sticky: each topic stays on one member', async () => {
    const g = await gateway('sticky');
    const members = [await mq(g, { protocolVersion: 5 }), await mq(g, { protocolVersion: 4 }), await mq(g, { protocolVersion: 5 })];
    for (const m of members) await m.client.subscribeAsync('$share/st/sticky/+', { qos: 1 });
    const pub = await mq(g, { protocolVersion: 5 });
    const topics = ['sticky/a', 'sticky/b', 'sticky/c', 'sticky/d', 'sticky/e', 'sticky/f'];
    for (let i = 0; i < 5; i++) for (const t of topics) await pub.client.publishAsync(t, `${t}#${i}`, { qos: 1 });
    const end = Date.now() + 3000;
    const total = (): number => members.reduce((n, m) => n + m.received.length, 0);
    while (total() < 30 && Date.now() < end) await sleep(10);
    await sleep(100);
    assert.equal(total(), 30);
    for (const t of topics) {
      const holders = members.filter((m) => m.received.some((r) => r.topic === t));
      assert.equal(holders.length, 1, `${t} went to ${holders.length} members`);
      assert.equal(holders[0]!.received.filter((r) => r.topic === t).length, 5);
    }
  });

  test('a member that leaves the group stops receiving; the rest get everything', async () => {
    const g = await gateway('round-robin');
    const [x, y] = [await mq(g, { protocolVersion: 5 }), await mq(g, { protocolVersion: 5 })];
    await x!.client.subscribeAsync('$share/lv/leave/t', { qos: 1 });
    await y!.client.subscribeAsync('$share/lv/leave/t', { qos: 1 });
    await y!.client.unsubscribeAsync('$share/lv/leave/t');
    const pub = await mq(g, { protocolVersion: 5 });
    for (let i = 0; i < 6; i++) await pub.client.publishAsync('leave/t', `m${i}`, { qos: 1 });
    await x!.waitFor(6);
    await sleep(100);
    assert.equal(y!.received.length, 0);
  });
});
