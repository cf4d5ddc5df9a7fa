// E2E: an HTTP sink survives a gateway kill -9 in the middle of its backlog: after the restart every acknowledged message reaches the endpoint (duplicates allowed: at least once), per-topic order holds. Real child process (test/helpers/gateway-process.ts). Imports the test helpers and node:test.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayProcess } from '../helpers/gateway-process.ts';
import { connectClient, waitUntil, withTimeout } from '../helpers/mqtt-clients.ts';
import { startSinkServer, type SinkServer } from '../helpers/http-sink-server.ts';

const TOPICS = ['site/1/temp', 'site/2/temp', 'site/3/flow', 'site/4/level'];
const N = 3000;

let proc: GatewayProcess | undefined;
let server: SinkServer | undefined;
after(async () => {
  await proc?.dispose();
  await server?.close();
});

test('kill -9 with a backlog: nothing acknowledged is lost, per-topic order of first arrivals holds', async () => {
  // The endpoint is "down" (503) while the backlog builds, then slow, so the kill lands mid-backlog.
  server = await startSinkServer({ failFirst: Number.MAX_SAFE_INTEGER });
  proc = new GatewayProcess({
    flush: 'always',
    extra: { bridges: { http: [{ name: 'crash', url: server.url, filter: 'site/#', batch: { maxMessages: 20, lingerMs: 0 }, retry: { initialMs: 20, maxMs: 200 } }] } },
  });
  const run1 = await proc.start();
  const pub = await connectClient(run1.url);
  const acks: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) acks.push(pub.client.publishAsync(TOPICS[i % TOPICS.length]!, `${TOPICS[i % TOPICS.length]}#${i}`, { qos: 1 }));
  await withTimeout(Promise.all(acks), 60_000, `${N} PUBACKs`);
  await pub.end();
  assert.equal(server.delivered().length, 0, 'nothing accepted while the endpoint is down');
  assert.ok(server.requests.length >= 1, 'the sink kept retrying');

  server.options = { delayMs: 10 };
  await waitUntil(() => server!.delivered().length >= 400, 30_000, 'part of the backlog delivered');
  await proc.kill9();
  const beforeKill = server.delivered().length;
  assert.ok(beforeKill < N, `the kill landed mid-backlog (${beforeKill} of ${N} delivered)`);

  await proc.start();
  const unique = (): Set<string> => new Set(server!.delivered().map((m) => m.payload));
  await waitUntil(() => unique().size >= N, 60_000, `all ${N} after the restart (have ${unique().size})`);
  const got = server.delivered();
  const payloads = unique();
  for (let i = 0; i < N; i++) assert.ok(payloads.has(`${TOPICS[i % TOPICS.length]}#${i}`), `message ${i} arrived`);
  // Per topic, the first arrival of each message comes in publish order (redeliveries only repeat a tail).
  const seen = new Set<string>();
  const last = new Map<string, number>();
  for (const m of got) {
    if (seen.has(m.payload)) continue;
    seen.add(m.payload);
    const seq = Number(m.payload.slice(m.payload.indexOf('#') + 1));
    assert.ok(seq > (last.get(m.topic) ?? -1), `${m.topic}: ${seq} after ${last.get(m.topic)}`);
    last.set(m.topic, seq);
  }
  // At least once: the duplicates are at most the batch in flight and the one before it, whose commit overlapped it.
  const duplicates = got.length - N;
  assert.ok(duplicates >= 0 && duplicates <= 40, `duplicates ${duplicates} (two batches of 20 at most)`);
});
