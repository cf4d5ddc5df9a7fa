// E2E: an HTTP sink survives a gateway kill -9 in the middle of its backlog (real child process, test/helpers/gateway-process.ts) and a graceful restart (in process, same data dir): every acknowledged message reaches the endpoint (duplicates allowed: at least once), per-topic order holds; `from` for sinks added later. Imports the test helpers and node:test.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayProcess } from '../helpers/gateway-process.ts';
import { startGateway } from '../helpers/gateway.ts';
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
    startTimeoutMs: 60_000, // tsx starts slowly on a busy machine
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

test('graceful restart: the position survives, a byte-bounded backlog resumes where it stopped; from first / next for sinks added later', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sink-restart-'));
  const srv = await startSinkServer({ failFirst: Number.MAX_SAFE_INTEGER });
  try {
    const sink = { name: 'resume', url: `${srv.url}?s=resume`, filter: 'r/#', batch: { maxMessages: 1000, maxBytes: 1024, lingerMs: 0 }, retry: { initialMs: 10, maxMs: 50 } };
    let gw = await startGateway({ bridges: { http: [sink] } } as never, dir);
    const pub = await connectClient(gw.mqttUrl);
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < 400; i++) acks.push(pub.client.publishAsync(`r/${i % 3}`, `r/${i % 3}#${i}:${'x'.repeat(40)}`, { qos: 1 }));
    await withTimeout(Promise.all(acks), 20_000, 'acks');
    await pub.end();
    srv.options = { delayMs: 5 };
    const resumeMsgs = () => srv.delivered().filter((m) => m.topic.startsWith('r/'));
    await waitUntil(() => resumeMsgs().length >= 100, 20_000, 'part delivered');
    await gw.close();
    const before = resumeMsgs().length;
    assert.ok(before < 400, `stopped mid-backlog (${before})`);
    const bodies = srv.requests.filter((r) => r.status === 200).map((r) => r.body.length);
    assert.ok(bodies.every((b) => b <= 1024), 'byte-bounded batches (leftovers committed per partition)');

    srv.options = {};
    gw = await startGateway({
      bridges: {
        http: [
          sink,
          { name: 'late-first', url: `${srv.url}?s=first`, filter: 'r/#', from: 'first', batch: { lingerMs: 0 } },
          { name: 'late-next', url: `${srv.url}?s=next`, filter: 'r/#', from: 'next', batch: { lingerMs: 0 } },
        ],
      },
    } as never, dir);
    const pub2 = await connectClient(gw.mqttUrl);
    await pub2.client.publishAsync('r/new', 'r/new#400', { qos: 1 });
    await pub2.end();
    const of = (s: string) => srv.requests.filter((r) => r.status === 200 && r.url.endsWith(`?s=${s}`)).flatMap((r) => r.messages);
    await waitUntil(() => new Set(of('resume').map((m) => m.payload)).size >= 401 && of('first').length >= 401 && of('next').length >= 1, 20_000,
      `resume ${new Set(of('resume').map((m) => m.payload)).size}, first ${of('first').length}, next ${of('next').length}`);
    const dup = of('resume').length - 401;
    assert.ok(dup >= 0 && dup <= 50, `duplicates after a graceful stop: at most the aborted batch (${dup})`);
    assert.equal(of('first').length, 401, 'from first: the whole retained history, once');
    assert.deepEqual(of('next').map((m) => m.payload), ['r/new#400'], 'from next: only what came after the sink was added');
    await gw.close();
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
