// E2E: HTTP sinks (bridges.http) against a local HTTP server: retries through 500s until every message arrives in per-topic order, batch bounds (count, bytes, linger), 4xx batches to the dead-letter topic, bearer token and headers, keep-alive, /metrics and $SYS. Imports the test helpers and node:test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { connectClient, waitUntil, withTimeout, type TestClient } from '../helpers/mqtt-clients.ts';
import { startSinkServer, type SinkMessage, type SinkServer } from '../helpers/http-sink-server.ts';

async function metric(gw: TestGateway, line: string): Promise<number> {
  const res = await withTimeout(fetch(`http://127.0.0.1:${gw.httpPort}/metrics`), 3000, 'GET /metrics');
  const text = await res.text();
  const hit = text.split('\n').find((l) => l.startsWith(`${line} `));
  return hit === undefined ? NaN : Number(hit.slice(line.length + 1));
}

/** Publishes `n` QoS 1 messages round-robin over `topics` (payload `<topic>#<i>`), all acknowledged. */
async function publishMany(c: TestClient, topics: string[], n: number): Promise<void> {
  const acks: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const topic = topics[i % topics.length]!;
    acks.push(c.client.publishAsync(topic, `${topic}#${i}`, { qos: 1 }));
  }
  await withTimeout(Promise.all(acks), 20_000, `${n} PUBACKs`);
}

/** Per topic, the sequence numbers in arrival order. */
function perTopic(msgs: SinkMessage[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of msgs) {
    const seq = Number(m.payload.slice(m.payload.lastIndexOf('#') + 1));
    let l = out.get(m.topic);
    if (!l) out.set(m.topic, (l = []));
    l.push(seq);
  }
  return out;
}

const increasing = (l: number[]): boolean => l.every((v, i) => i === 0 || v > l[i - 1]!);

describe('HTTP sink: endpoint failing the first requests with 500', () => {
  let server: SinkServer;
  let gw: TestGateway;
  let pub: TestClient;
  before(async () => {
    server = await startSinkServer({ failFirst: 4 });
    gw = await startGateway({
      sys: { intervalMs: 100 },
      bridges: { http: [{ name: 'fail500', url: server.url, filter: 'plant/#', batch: { maxMessages: 50, lingerMs: 20 }, retry: { initialMs: 20, maxMs: 100 } }] },
    } as never);
    pub = await connectClient(gw.mqttUrl, { protocolVersion: 5 });
  });
  after(async () => {
    await pub.end();
    await gw.close();
    await server.close();
  });

  test('every message arrives once the server accepts, in per-topic order, on kept-alive connections', async () => {
    const topics = ['plant/a/temp', 'plant/b/temp', 'plant/c/pressure'];
    await publishMany(pub, topics, 600);
    await pub.client.publishAsync('other/x', 'not for the sink', { qos: 1 });
    await waitUntil(() => server.delivered().length >= 600, 20_000, `600 delivered (have ${server.delivered().length})`);
    const got = server.delivered();
    assert.equal(got.length, 600, 'no duplicates without a crash');
    assert.equal(server.requests.slice(0, 4).every((r) => r.status === 500), true);
    assert.ok(server.requests.length > 4);
    for (const [topic, seqs] of perTopic(got)) {
      assert.ok(topics.includes(topic), `only the filter's topics (${topic})`);
      assert.equal(seqs.length, 200, topic);
      assert.ok(increasing(seqs), `${topic} in order`);
    }
    const m = got[0]!;
    assert.equal(m.encoding, 'text');
    assert.equal(m.qos, 1);
    assert.equal(m.retain, false);
    assert.equal(typeof m.partition, 'number');
    assert.equal(typeof m.offset, 'number');
    assert.ok(Math.abs(m.timestamp - Date.now()) < 60_000);
    // Keep-alive: far fewer sockets than requests.
    const sockets = new Set(server.requests.map((r) => r.socket)).size;
    assert.ok(sockets <= 4, `${sockets} sockets for ${server.requests.length} requests`);
    for (const r of server.requests) {
      assert.equal(r.method, 'POST');
      assert.equal(r.url, '/ingest');
      assert.equal(r.headers['content-type'], 'application/json');
    }
  });

  test('/metrics counts deliveries, retries and 5xx errors; lag drains to 0; $SYS shows the sink', async () => {
    await waitUntil(() => server.delivered().length >= 600, 20_000, 'deliveries');
    assert.equal(await metric(gw, 'gateway_bridge_http_messages_total{bridge="fail500"}'), 600);
    assert.equal(await metric(gw, 'gateway_bridge_http_errors_total{bridge="fail500",class="5xx"}'), 4);
    assert.equal(await metric(gw, 'gateway_bridge_http_retries_total{bridge="fail500"}'), 4);
    const ok = server.requests.filter((r) => r.status === 200);
    assert.equal(await metric(gw, 'gateway_bridge_http_batches_total{bridge="fail500"}'), ok.length);
    assert.equal(await metric(gw, 'gateway_bridge_http_bytes_total{bridge="fail500"}'), ok.reduce((s, r) => s + r.body.length, 0));
    const end = Date.now() + 5000;
    while ((await metric(gw, 'gateway_bridge_http_lag_messages{bridge="fail500"}')) !== 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await metric(gw, 'gateway_bridge_http_lag_messages{bridge="fail500"}'), 0, 'lag 0: the non-matching record is committed past too');
    assert.equal(await metric(gw, 'gateway_bridge_http_state{bridge="fail500",state="idle"}'), 1);
    const sys = await connectClient(gw.mqttUrl);
    try {
      await sys.client.subscribeAsync('$SYS/broker/bridges/fail500/#');
      await waitUntil(() => sys.received.some((r) => r.topic.endsWith('/messages/sent') && r.payload === '600'), 3000, '$SYS messages/sent');
      assert.ok(sys.received.some((r) => r.topic === '$SYS/broker/bridges/fail500/state' && r.payload === 'idle'));
      assert.ok(sys.received.some((r) => r.topic === '$SYS/broker/bridges/fail500/type' && r.payload === 'http'));
    } finally {
      await sys.end();
    }
  });
});

describe('HTTP sink: batch bounds and formats', () => {
  let server: SinkServer;
  let gw: TestGateway;
  let pub: TestClient;
  before(async () => {
    server = await startSinkServer();
    gw = await startGateway({
      bridges: {
        http: [
          { name: 'count', url: `${server.url}?s=count`, filter: 'count/#', batch: { maxMessages: 7, lingerMs: 200 } },
          { name: 'bytes', url: `${server.url}?s=bytes`, filter: 'bytes/#', format: 'ndjson', batch: { maxMessages: 1000, maxBytes: 2048, lingerMs: 200 } },
          { name: 'linger', url: `${server.url}?s=linger`, filter: 'linger/#', batch: { maxMessages: 1000, lingerMs: 400 } },
          { name: 'bin', url: `${server.url}?s=bin`, filter: 'bin/#', format: 'ndjson', payloadEncoding: 'auto', batch: { lingerMs: 0 } },
        ],
      },
    } as never);
    pub = await connectClient(gw.mqttUrl, { protocolVersion: 5 });
  });
  after(async () => {
    await pub.end();
    await gw.close();
    await server.close();
  });
  const of = (s: string) => server.requests.filter((r) => r.url.endsWith(`?s=${s}`));

  test('maxMessages: no request carries more, a backlog fills them', async () => {
    await publishMany(pub, ['count/a', 'count/b'], 100);
    await waitUntil(() => of('count').flatMap((r) => r.messages).length >= 100, 10_000, 'count sink');
    const sizes = of('count').map((r) => r.messages.length);
    assert.ok(sizes.every((n) => n >= 1 && n <= 7), `sizes ${sizes.join(',')}`);
    assert.ok(sizes.filter((n) => n === 7).length >= 10, `full batches under a backlog: ${sizes.join(',')}`);
    assert.equal(sizes.reduce((a, b) => a + b, 0), 100);
  });

  test('maxBytes: every NDJSON body stays within it, one message per line', async () => {
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < 60; i++) acks.push(pub.client.publishAsync('bytes/x', `bytes/x#${i}:${'p'.repeat(100 + (i % 7) * 30)}`, { qos: 1 }));
    await withTimeout(Promise.all(acks), 10_000, 'acks');
    await waitUntil(() => of('bytes').flatMap((r) => r.messages).length >= 60, 10_000, 'bytes sink');
    for (const r of of('bytes')) {
      assert.ok(r.body.length <= 2048, `body ${r.body.length} bytes`);
      assert.equal(r.headers['content-type'], 'application/x-ndjson');
      const lines = r.body.toString('utf8').split('\n');
      assert.equal(lines.pop(), '', 'each line ends with \\n');
      assert.equal(lines.length, r.messages.length);
    }
    assert.ok(of('bytes').length >= 4, `60 messages of ~200 B need several 2 KiB bodies (${of('bytes').length})`);
    const seqs = of('bytes').flatMap((r) => r.messages).map((m) => Number(/#(\d+):/.exec(m.payload)![1]));
    assert.deepEqual(seqs, Array.from({ length: 60 }, (_, i) => i));
  });

  test('lingerMs: a few messages wait for more and go out together, not before the linger time', async () => {
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) await pub.client.publishAsync('linger/x', `linger/x#${i}`, { qos: 1 });
    await waitUntil(() => of('linger').length >= 1, 5000, 'linger request');
    const first = of('linger')[0]!;
    assert.ok(first.at - t0 >= 350, `sent after ${first.at - t0} ms`);
    assert.deepEqual(first.messages.map((m) => m.payload), ['linger/x#0', 'linger/x#1', 'linger/x#2']);
  });

  test('payloadEncoding auto: UTF-8 as text, other bytes as base64; MQTT 5 properties travel', async () => {
    await pub.client.publishAsync('bin/t', 'héllo', { qos: 1, properties: { contentType: 'text/plain', userProperties: { site: 'north', tag: ['a', 'b'] }, correlationData: Buffer.from([1, 2]) } });
    await pub.client.publishAsync('bin/b', Buffer.from([0xff, 0x00, 0xfe]), { qos: 1 });
    await waitUntil(() => of('bin').flatMap((r) => r.messages).length >= 2, 5000, 'bin sink');
    const [t, b] = of('bin').flatMap((r) => r.messages);
    assert.equal(t!.encoding, 'text');
    assert.equal(t!.payload, 'héllo');
    assert.deepEqual(t!.properties, { contentType: 'text/plain', correlationData: Buffer.from([1, 2]).toString('base64'), userProperties: { site: 'north', tag: ['a', 'b'] } });
    assert.equal(b!.encoding, 'base64');
    assert.deepEqual(Buffer.from(b!.payload, 'base64'), Buffer.from([0xff, 0x00, 0xfe]));
  });
});

describe('HTTP sink: 4xx batches go to the dead-letter topic; token and headers', () => {
  let server: SinkServer;
  let gw: TestGateway;
  let pub: TestClient;
  let dlq: TestClient;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sink-token-'));
    writeFileSync(join(dir, 'token'), 'file-token-123\n');
    // Rejects (422) a batch holding a `poison` payload; accepts the rest.
    server = await startSinkServer({ decide: (r) => (r.messages.some((m) => m.payload.includes('poison')) ? 422 : 200) });
    gw = await startGateway({
      bridges: {
        http: [
          { name: 'dl', url: `${server.url}?s=dl`, filter: 'dl/#', bearerToken: 's3cret-token', headers: { 'X-Tenant': 'acme', 'x-api-key': 'k1' }, batch: { maxMessages: 1, lingerMs: 0 } },
          { name: 'tf', url: `${server.url}?s=tf`, filter: 'tf/#', tokenFile: join(dir, 'token'), deadLetterTopic: 'dead/tf', batch: { lingerMs: 0 } },
        ],
      },
    } as never);
    pub = await connectClient(gw.mqttUrl, { protocolVersion: 5 });
    dlq = await connectClient(gw.mqttUrl, { protocolVersion: 5 });
    await dlq.client.subscribeAsync(['$dlq/http/dl', 'dead/tf'], { qos: 1 });
  });
  after(async () => {
    await pub.end();
    await dlq.end();
    await gw.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const of = (s: string) => server.requests.filter((r) => r.url.endsWith(`?s=${s}`));

  test('a 4xx batch is published to $dlq/http/<name>, counted, and the sink moves on', async () => {
    const payloads = ['ok-1', 'poison-1', 'ok-2', 'poison-2', 'ok-3'];
    for (const p of payloads) await pub.client.publishAsync('dl/x', p, { qos: 1, properties: { userProperties: { k: 'v' } } });
    await dlq.waitFor(2, 10_000);
    await waitUntil(() => server.delivered().filter((m) => m.topic === 'dl/x').length >= 3, 10_000, 'good ones');
    assert.deepEqual(server.delivered().filter((m) => m.topic === 'dl/x').map((m) => m.payload), ['ok-1', 'ok-2', 'ok-3']);
    const dead = dlq.received.filter((r) => r.topic === '$dlq/http/dl');
    assert.deepEqual(dead.map((r) => r.payload), ['poison-1', 'poison-2']);
    const props = dead[0]!.packet.properties?.userProperties as Record<string, string>;
    assert.equal(props['x-original-topic'], 'dl/x');
    assert.equal(props['x-http-status'], '422');
    assert.equal(props['x-bridge'], 'http/dl');
    assert.equal(props.k, 'v', 'the original user properties are kept');
    assert.equal(of('dl').filter((r) => r.status === 422).length, 2, 'a 4xx is not retried');
    assert.equal(await metric(gw, 'gateway_bridge_http_dead_lettered_total{bridge="dl"}'), 2);
    assert.equal(await metric(gw, 'gateway_bridge_http_errors_total{bridge="dl",class="4xx"}'), 2);
    assert.equal(await metric(gw, 'gateway_bridge_http_messages_total{bridge="dl"}'), 3);
  });

  test('bearer token and configured headers are sent; tokenFile is read; a configured deadLetterTopic is used', async () => {
    await waitUntil(() => of('dl').length > 0, 5000, 'dl requests');
    for (const r of of('dl')) {
      assert.equal(r.headers.authorization, 'Bearer s3cret-token');
      assert.equal(r.headers['x-tenant'], 'acme');
      assert.equal(r.headers['x-api-key'], 'k1');
    }
    await pub.client.publishAsync('tf/1', 'fine', { qos: 1 });
    await pub.client.publishAsync('tf/1', 'poison', { qos: 1 });
    await waitUntil(() => dlq.received.some((r) => r.topic === 'dead/tf'), 10_000, 'dead/tf');
    assert.ok(of('tf').length >= 1);
    for (const r of of('tf')) assert.equal(r.headers.authorization, 'Bearer file-token-123');
  });
});
