// E2E: MQTT access to the durable log: `$log/<start>/<filter>` replay (each start point, live continuation, window) and `$group/<name>/<filter>` consumer groups (split, hand-over, commits across a restart), with mqtt.js v5 and v3.1.1 and a raw client. Imports the test helpers and node:test.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IPublishPacket } from 'mqtt';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { connectClient, RawClient, sleep, waitUntil, type Received, type TestClient } from '../helpers/mqtt-clients.ts';

const userProp = (p: IPublishPacket, k: string): string | undefined => {
  const v = p.properties?.userProperties?.[k];
  return Array.isArray(v) ? v[0] : v;
};
const payloads = (rs: readonly Received[]): string[] => rs.map((r) => r.payload);

/** The SUBACK code for one filter (mqtt.js rejects on a failure code but keeps the packet on the error). */
async function subackCode(c: TestClient, filter: string, qos: 0 | 1 | 2 = 1): Promise<number> {
  try {
    return (await c.client.subscribeAsync(filter, { qos }))[0]!.qos;
  } catch (err) {
    const granted = (err as { packet?: { granted?: (number | { qos: number })[] } }).packet?.granted?.[0];
    if (granted === undefined) throw err;
    return typeof granted === 'number' ? granted : granted.qos;
  }
}

describe('mqtt replay and consumer groups over the durable log', () => {
  const clients: TestClient[] = [];
  const raws: RawClient[] = [];
  const gateways: TestGateway[] = [];
  const dirs: string[] = [];
  let shared: TestGateway | undefined;
  const gw = async (): Promise<TestGateway> => {
    if (!shared) {
      shared = await startGateway({ persistence: { flush: 'never' } });
      gateways.push(shared);
    }
    return shared;
  };
  const mq = async (g: TestGateway, opts: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> => {
    const c = await connectClient(g.mqttUrl, opts);
    clients.push(c);
    return c;
  };
  const publish = async (g: TestGateway, topic: string, msgs: string[]): Promise<void> => {
    const pub = await mq(g, { protocolVersion: 5 });
    for (const m of msgs) await pub.client.publishAsync(topic, m, { qos: 1 });
    await pub.end();
  };
  after(async () => {
    for (const c of clients) await c.end();
    for (const r of raws) r.destroy();
    for (const g of gateways) await g.close().catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  for (const version of [5, 4] as const) {
    test(`v${version}: $log/first replays stored messages in order, then continues live without gap or duplicate`, async () => {
      const g = await gw();
      const t = `first${version}/a`;
      await publish(g, t, ['h0', 'h1', 'h2', 'h3', 'h4']);
      const sub = await mq(g, { protocolVersion: version });
      const ack = await sub.client.subscribeAsync(`$log/first/first${version}/#`, { qos: 1 });
      assert.equal(ack[0]!.qos, 1);
      await sub.waitFor(5);
      await publish(g, t, ['l0', 'l1', 'l2']);
      await sub.waitFor(8);
      await sleep(100);
      assert.deepEqual(payloads(sub.received), ['h0', 'h1', 'h2', 'h3', 'h4', 'l0', 'l1', 'l2']);
      assert.ok(sub.received.every((r) => r.topic === t), 'delivered under the stored topic');
      if (version === 5) {
        const offs = sub.received.map((r) => Number(userProp(r.packet, 'x-offset')));
        const parts = new Set(sub.received.map((r) => userProp(r.packet, 'x-partition')));
        assert.equal(parts.size, 1, 'one topic lives in one partition');
        for (let i = 1; i < offs.length; i++) assert.ok(offs[i]! > offs[i - 1]!, `offsets ascend: ${offs.join(',')}`);
      }
    });

    test(`v${version}: $log/last, $log/next, $log/offset=N and $log/timestamp=T`, async () => {
      const g = await gw();
      const base = `starts${version}`;
      await publish(g, `${base}/last`, ['a', 'b', 'c']);
      const last = await mq(g, { protocolVersion: version });
      await last.client.subscribeAsync(`$log/last/${base}/last`, { qos: 1 });
      await last.waitFor(1);

      await publish(g, `${base}/next`, ['old1', 'old2']);
      const next = await mq(g, { protocolVersion: version });
      await next.client.subscribeAsync(`$log/next/${base}/next`, { qos: 1 });
      await sleep(50);
      await publish(g, `${base}/next`, ['new1', 'new2']);
      await next.waitFor(2);

      // offset=N: find the offsets with a v5 first-replay, then start at the third message's offset.
      await publish(g, `${base}/off`, ['o0', 'o1', 'o2', 'o3']);
      const probe = await mq(g, { protocolVersion: 5 });
      await probe.client.subscribeAsync(`$log/first/${base}/off`, { qos: 1 });
      await probe.waitFor(4);
      const third = userProp(probe.received[2]!.packet, 'x-offset');
      const off = await mq(g, { protocolVersion: version });
      await off.client.subscribeAsync(`$log/offset=${third}/${base}/off`, { qos: 1 });
      await off.waitFor(2);

      await publish(g, `${base}/ts`, ['t0', 't1']);
      await sleep(30);
      const ts = Date.now();
      await sleep(5);
      await publish(g, `${base}/ts`, ['t2', 't3']);
      const byTime = await mq(g, { protocolVersion: version });
      await byTime.client.subscribeAsync(`$log/timestamp=${ts}/${base}/ts`, { qos: 1 });
      await byTime.waitFor(2);

      await sleep(150);
      assert.deepEqual(payloads(last.received), ['c'], 'last: the last stored message only');
      assert.deepEqual(payloads(next.received), ['new1', 'new2'], 'next: only messages appended after the SUBSCRIBE');
      assert.deepEqual(payloads(off.received), ['o2', 'o3'], `offset=${third}: from that offset on`);
      assert.deepEqual(payloads(byTime.received), ['t2', 't3'], 'timestamp: from the first message at or after T');
    });

    test(`v${version}: bad start points and filters are refused in SUBACK; UNSUBSCRIBE stops the replay`, async () => {
      const g = await gw();
      const c = await mq(g, { protocolVersion: version });
      const bad = version === 5 ? 0x8f : 0x80;
      const filters = ['$log/oldest/a', '$log/offset=-1/a', '$log/offset=1.5/a', '$log/first', '$log/first/a#', '$group/g+/a', '$group//a', '$log/first/ok'];
      const raw = await RawClient.connect(g.mqttPort, { protocolVersion: version });
      raws.push(raw);
      raw.send({ cmd: 'subscribe', messageId: 7, subscriptions: filters.map((topic) => ({ topic, qos: 1 as const })) });
      const suback = await raw.next('suback');
      assert.deepEqual(suback.granted, [bad, bad, bad, bad, bad, bad, bad, 1], 'one code per filter; the valid one granted');
      assert.equal(await subackCode(c, `$log/next/unsub${version}/a`, 2), 1, 'granted QoS is at most 1');
      await publish(g, `unsub${version}/a`, ['before']);
      await c.waitFor(1);
      await c.client.unsubscribeAsync(`$log/next/unsub${version}/a`);
      await publish(g, `unsub${version}/a`, ['after']);
      await sleep(200);
      assert.deepEqual(payloads(c.received), ['before']);
    });
  }

  test('persistence off: $log and $group subscriptions are refused (0x83 v5, 0x80 v3.1.1)', async () => {
    const g = await startGateway({ persistence: { enabled: false } });
    gateways.push(g);
    const c5 = await mq(g, { protocolVersion: 5 });
    assert.equal(await subackCode(c5, '$log/first/#'), 0x83);
    assert.equal(await subackCode(c5, '$group/g/#'), 0x83);
    const c4 = await mq(g, { protocolVersion: 4 });
    assert.equal(await subackCode(c4, '$log/first/#'), 0x80);
  });

  test('window: with Receive Maximum 2 the replay holds at 2 unacknowledged PUBLISHes and moves on with each PUBACK', async () => {
    const g = await gw();
    const msgs = Array.from({ length: 10 }, (_, i) => `w${i}`);
    await publish(g, 'win/a', msgs);
    const raw = await RawClient.connect(g.mqttPort, { protocolVersion: 5, properties: { receiveMaximum: 2 } });
    raws.push(raw);
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$log/first/win/a', qos: 1 }] });
    await raw.next('suback');
    const got: IPublishPacket[] = [];
    for (let round = 0; round < 5; round++) {
      await waitUntil(() => raw.publishes().length >= 2, 2000, `round ${round}: 2 publishes`);
      await sleep(100);
      const batch = raw.takePublishes();
      assert.equal(batch.length, 2, `round ${round}: never more than the window in flight`);
      got.push(...batch);
      for (const p of batch) raw.send({ cmd: 'puback', messageId: p.messageId! });
    }
    assert.deepEqual(got.map((p) => p.payload.toString()), msgs);
    await sleep(100);
    assert.equal(raw.publishes().length, 0);
  });

  test('groups: two members split the partitions, every message once; a leaving member hands its partitions over', async () => {
    const g = await gw();
    const a = await mq(g, { protocolVersion: 5, clientId: 'grp-a' });
    const b = await mq(g, { protocolVersion: 5, clientId: 'grp-b' });
    await a.client.subscribeAsync('$group/split/gs/#', { qos: 1 });
    await b.client.subscribeAsync('$group/split/gs/#', { qos: 1 });
    const pub = await mq(g, { protocolVersion: 5 });
    const sent: string[] = [];
    for (let i = 0; i < 64; i++) {
      const m = `m${i}`;
      sent.push(m);
      await pub.client.publishAsync(`gs/${i % 16}`, m, { qos: 1 });
    }
    const total = (): number => a.received.length + b.received.length;
    await waitUntil(() => total() >= 64, 5000, `64 deliveries (have ${total()})`);
    await sleep(100);
    assert.ok(a.received.length > 0 && b.received.length > 0, `both members got some: ${a.received.length}/${b.received.length}`);
    assert.deepEqual([...payloads(a.received), ...payloads(b.received)].sort(), [...sent].sort(), 'every message exactly once');
    const partsOf = (c: TestClient): Set<string> => new Set(c.received.map((r) => userProp(r.packet, 'x-partition')!));
    for (const p of partsOf(a)) assert.ok(!partsOf(b).has(p), `partition ${p} served by one member only`);

    await a.client.unsubscribeAsync('$group/split/gs/#');
    a.received.length = 0;
    b.received.length = 0;
    for (let i = 0; i < 32; i++) await pub.client.publishAsync(`gs/${i % 16}`, `n${i}`, { qos: 1 });
    await b.waitFor(32, 5000);
    await sleep(100);
    assert.equal(a.received.length, 0, 'the member that left gets nothing');
    assert.deepEqual(payloads(b.received).sort(), Array.from({ length: 32 }, (_, i) => `n${i}`).sort());
  });

  test('groups: a member that disconnects hands over its unacknowledged messages (v3.1.1 members)', async () => {
    const g = await gw();
    const raw = await RawClient.connect(g.mqttPort, { protocolVersion: 4, clientId: 'grp-raw' });
    raws.push(raw);
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$group/handover/gh/#', qos: 1 }] });
    await raw.next('suback');
    await publish(g, 'gh/x', ['x0', 'x1', 'x2']);
    await waitUntil(() => raw.publishes().length >= 3, 2000, 'raw member got 3');
    raw.destroy(); // never acknowledged
    const b = await mq(g, { protocolVersion: 4, clientId: 'grp-b4' });
    await b.client.subscribeAsync('$group/handover/gh/#', { qos: 1 });
    await b.waitFor(3);
    await sleep(100);
    assert.deepEqual(payloads(b.received), ['x0', 'x1', 'x2'], 'redelivered from the commit to the new owner');
  });

  test('groups: committed offsets survive a gateway restart; the group resumes after the last acknowledged message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-replay-'));
    dirs.push(dir);
    const g1 = await startGateway({}, dir);
    gateways.push(g1);
    const m1 = await mq(g1, { protocolVersion: 5, clientId: 'durable-member' });
    await m1.client.subscribeAsync('$group/durable/gd/#', { qos: 1 });
    await publish(g1, 'gd/1', ['a0', 'a1', 'a2', 'a3']);
    await m1.waitFor(4);
    await sleep(200); // PUBACKs reach the gateway and the commits are written
    await m1.end();
    await publish(g1, 'gd/1', ['b0', 'b1']); // stored while the group has no member
    await g1.close();

    const g2 = await startGateway({}, dir);
    gateways.push(g2);
    const m2 = await mq(g2, { protocolVersion: 4, clientId: 'durable-member-2' });
    await m2.client.subscribeAsync('$group/durable/gd/#', { qos: 1 });
    await m2.waitFor(2);
    await publish(g2, 'gd/1', ['c0']);
    await m2.waitFor(3);
    await sleep(150);
    assert.deepEqual(payloads(m2.received), ['b0', 'b1', 'c0']);
  });
});
