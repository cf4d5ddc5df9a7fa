// E2E: sessions are cursors over the log - a slow, stalled or offline MQTT subscriber (mqtt.js v3.1.1 / v5) and a stalled `$share` member never lose an acknowledged QoS 1 message, with the default session limits. Imports the test helpers and node:test.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { connectClient, sleep, uniqueId, waitUntil, type TestClient } from '../helpers/mqtt-clients.ts';

const N = 50_000;

/** Publishes `n` QoS 1 messages `prefix<i>` to `topic`, at most `window` unacknowledged; resolves once every PUBACK arrived. */
async function publishAll(pub: TestClient, topic: string, n: number, window = 500, prefix = ''): Promise<void> {
  for (let i = 0; i < n; i += window) {
    const batch: Promise<unknown>[] = [];
    for (let k = i; k < Math.min(n, i + window); k++) batch.push(pub.client.publishAsync(topic, `${prefix}${k}`, { qos: 1 }));
    await Promise.all(batch);
  }
}

/** Asserts that `got` is exactly 0..n-1 in order (duplicates allowed only as consecutive resends). */
function assertAllInOrder(got: string[], n: number): void {
  const firsts: number[] = [];
  const seen = new Set<number>();
  for (const p of got) {
    const v = Number(p);
    if (seen.has(v)) continue;
    seen.add(v);
    firsts.push(v);
  }
  assert.equal(seen.size, n, `received ${seen.size} distinct of ${n}`);
  for (let i = 0; i < firsts.length; i++) if (firsts[i] !== i) assert.fail(`out of order at ${i}: got ${firsts[i]}`);
}

describe('sessions are cursors: nothing acknowledged is dropped (default limits)', () => {
  const gateways: TestGateway[] = [];
  const clients: TestClient[] = [];
  const mq = async (g: TestGateway, opts: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> => {
    const c = await connectClient(g.mqttUrl, opts, 5000);
    clients.push(c);
    return c;
  };
  after(async () => {
    for (const c of clients) await c.end().catch(() => undefined);
    for (const g of gateways) await g.close();
  });

  test(`(a) a v3.1.1 QoS 1 subscriber that stops reading gets all ${N} in order`, { timeout: 240_000 }, async () => {
    const g = await startGateway();
    gateways.push(g);
    const sub = await mq(g, { protocolVersion: 4 });
    await sub.client.subscribeAsync('cur/a', { qos: 1 });
    const pub = await mq(g, { protocolVersion: 4 });
    const stream = sub.client.stream as Duplex;
    stream.pause(); // stops reading: the gateway's writes back up, then its window and buffer fill
    await publishAll(pub, 'cur/a', N);
    const broker = g.gateway.broker;
    assert.ok(broker.stats.behindEntered >= 1, 'the subscriber fell behind (read-ahead full) instead of dropping');
    assert.equal(broker.stats.dropped, 0, 'nothing dropped');
    await sleep(2000); // still paused: only a cursor moves, nothing is lost
    stream.resume();
    await waitUntil(() => sub.received.length >= N, 180_000, `all ${N} (have ${sub.received.length})`);
    assertAllInOrder(sub.received.map((r) => r.payload), N);
    assert.equal(broker.stats.dropped, 0);
    const lag = broker.lag().find((l) => l.id === (sub.client.options.clientId as string));
    await waitUntil(() => broker.lag().find((l) => l.id === (sub.client.options.clientId as string))?.behind === false, 5000, 'back to live');
    assert.ok(lag !== undefined);
  });

  test(`(b) a persistent session (clean=false) offline while ${N} arrive gets all of them on reconnect`, { timeout: 240_000 }, async () => {
    const g = await startGateway();
    gateways.push(g);
    const clientId = uniqueId('off');
    const first = await mq(g, { protocolVersion: 4, clientId, clean: false });
    await first.client.subscribeAsync('cur/b', { qos: 1 });
    await first.end();
    const pub = await mq(g, { protocolVersion: 4 });
    await publishAll(pub, 'cur/b', N);
    const lagged = g.gateway.broker.lag().find((l) => l.id === clientId);
    assert.ok(lagged && lagged.behind && lagged.lag >= N - 10_000, `offline session lags (${JSON.stringify(lagged)})`);
    const metrics = await (await fetch(`http://127.0.0.1:${g.httpPort}/metrics`)).text();
    const series = metrics.split('\n').find((l) => l.startsWith('gateway_subscriber_lag_messages{') && l.includes(`subscriber="${clientId}"`));
    assert.ok(series !== undefined && Number(series.split(' ').pop()) >= N - 10_000, `lag series for the session: ${series}`);
    assert.match(metrics, /^gateway_subscribers_behind [1-9]/m);
    const back = await mq(g, { protocolVersion: 4, clientId, clean: false });
    assert.equal(back.connack.sessionPresent, true);
    await waitUntil(() => back.received.length >= N, 180_000, `all ${N} (have ${back.received.length})`);
    assertAllInOrder(back.received.map((r) => r.payload), N);
    assert.equal(g.gateway.broker.stats.dropped, 0);
  });

  test('(d) $share with a stalled member: every message reaches the group once, none lost', { timeout: 180_000 }, async () => {
    // Small read-ahead so both members fill up and the group itself falls behind and reads the log.
    const g = await startGateway({ sessions: { maxQueued: 50 }, mqtt: { maxInflight: 20 } });
    gateways.push(g);
    const total = 20_000;
    const stalled = await mq(g, { protocolVersion: 5 });
    const slow = await mq(g, { protocolVersion: 4 });
    for (const m of [stalled, slow]) await m.client.subscribeAsync('$share/grp/cur/d', { qos: 1 });
    (stalled.client.stream as Duplex).pause();
    (slow.client.stream as Duplex).pause();
    const pub = await mq(g, { protocolVersion: 4 });
    await publishAll(pub, 'cur/d', total);
    const broker = g.gateway.broker;
    assert.ok(broker.lag().some((l) => l.kind === 'group' && l.behind), 'the group fell behind');
    (slow.client.stream as Duplex).resume(); // one member comes back; the other stays stalled
    const distinct = (): number => new Set([...stalled.received, ...slow.received].map((r) => r.payload)).size;
    await waitUntil(() => distinct() >= total - 2000, 120_000, `most of ${total} via the live member (have ${distinct()})`);
    (stalled.client.stream as Duplex).resume();
    await waitUntil(() => distinct() >= total, 60_000, `all ${total} (have ${distinct()})`);
    assert.equal(broker.stats.dropped, 0);
    assert.ok(slow.received.length > stalled.received.length, 'the member with room took the backlog');
    await waitUntil(() => !broker.lag().some((l) => l.kind === 'group'), 5000, 'group back to live');
  });
});
