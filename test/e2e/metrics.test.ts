// E2E: GET /metrics in the Prometheus text format: values follow the traffic the test sends (per protocol, QoS, transport), log histograms, partitions, group lag, default process metrics, one registry per gateway. Imports the test helpers and node:test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { connectClient, withTimeout, type TestClient } from '../helpers/mqtt-clients.ts';
import { stompitConnect } from '../helpers/stomp-clients.ts';

/** `name{a="x",b="y"}` -> value, from the text exposition format (labels sorted as printed). */
type Samples = Map<string, number>;

function parse(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    out.set(m[1]! + (m[2] ?? ''), Number(m[3]));
  }
  return out;
}

async function scrape(port: number): Promise<{ text: string; samples: Samples; type: string }> {
  const res = await withTimeout(fetch(`http://127.0.0.1:${port}/metrics`), 3000, 'GET /metrics');
  assert.equal(res.status, 200);
  const text = await res.text();
  return { text, samples: parse(text), type: res.headers.get('content-type') ?? '' };
}

const get = (s: Samples, key: string): number => s.get(key) ?? 0;

describe('/metrics', () => {
  let gw: TestGateway;
  const clients: TestClient[] = [];
  before(async () => {
    gw = await startGateway({ sys: { intervalMs: 0 } });
  });
  after(async () => {
    for (const c of clients) await c.end();
    await gw.close();
  });

  test('Prometheus text with the expected families and default process metrics', async () => {
    const { text, samples, type } = await scrape(gw.httpPort);
    assert.match(type, /^text\/plain/);
    for (const family of [
      'gateway_connections gauge',
      'gateway_messages_received_total counter',
      'gateway_messages_sent_total counter',
      'gateway_bytes_total counter',
      'gateway_messages_dropped_total counter',
      'gateway_retained_messages gauge',
      'gateway_sessions gauge',
      'gateway_subscriptions gauge',
      'gateway_log_append_seconds histogram',
      'gateway_log_fsync_seconds histogram',
      'gateway_log_partition_end_offset gauge',
      'gateway_consumer_group_lag gauge',
      'nodejs_eventloop_lag_seconds gauge',
      'process_resident_memory_bytes gauge',
    ]) {
      assert.ok(text.includes(`# TYPE ${family}`), `family ${family}`);
    }
    assert.ok(get(samples, 'process_resident_memory_bytes') > 0, 'RSS reported');
    assert.match(text, /# HELP gateway_log_append_seconds .*one append in 8 is timed/, 'the HELP text says the histogram is sampled');
  });

  test('10 QoS 1 publishes count +10 for mqtt qos 1; deliveries, bytes, connections by transport, log offsets and latency', async () => {
    const before = (await scrape(gw.httpPort)).samples;
    const sub = await connectClient(gw.mqttUrl, { protocolVersion: 5 });
    clients.push(sub);
    await withTimeout(sub.client.subscribeAsync('metrics/#', { qos: 1 }), 3000, 'subscribe');
    const pub = await connectClient(`ws://127.0.0.1:${gw.httpPort}/mqtt`, { protocolVersion: 4 });
    clients.push(pub);
    for (let i = 0; i < 10; i++) await withTimeout(pub.client.publishAsync(`metrics/${i}`, 'x'.repeat(100), { qos: 1 }), 3000, 'publish');
    for (let i = 0; i < 3; i++) await withTimeout(pub.client.publishAsync('metrics/zero', 'z', { qos: 0 }), 3000, 'publish');
    await sub.waitFor(13);
    const now = (await scrape(gw.httpPort)).samples;
    const d = (k: string): number => get(now, k) - get(before, k);
    assert.equal(d('gateway_messages_received_total{protocol="mqtt",qos="1"}'), 10);
    assert.equal(d('gateway_messages_received_total{protocol="mqtt",qos="0"}'), 3);
    assert.equal(d('gateway_messages_received_total{protocol="stomp",qos="1"}'), 0);
    assert.equal(d('gateway_messages_sent_total{protocol="mqtt",qos="1"}'), 10);
    assert.equal(d('gateway_messages_sent_total{protocol="mqtt",qos="0"}'), 3);
    assert.equal(d('gateway_wire_messages_total{protocol="mqtt",direction="in"}'), 13);
    assert.ok(d('gateway_bytes_total{protocol="mqtt",direction="in"}') >= 10 * 100, 'payload bytes in');
    assert.ok(d('gateway_bytes_total{protocol="mqtt",direction="out"}') >= 10 * 100, 'payload bytes out');
    assert.equal(get(now, 'gateway_connections{protocol="mqtt",transport="ws"}'), 1);
    assert.equal(get(now, 'gateway_connections{protocol="mqtt",transport="tcp"}'), 1);
    assert.ok(get(now, 'gateway_subscriptions') >= 1, 'subscriptions');
    assert.ok(get(now, 'gateway_sessions') >= 2, 'sessions');
    let ends = 0;
    for (const [k, v] of now) if (k.startsWith('gateway_log_partition_end_offset{')) ends += v;
    assert.equal(ends, 10, 'ten QoS 1 records in the log (QoS 0 is not persisted by default)');
    // One append in 8 is timed (src/server/metrics.ts): 10 appends give at least one sample, never more than 2.
    const samples = d('gateway_log_append_seconds_count');
    assert.ok(samples >= 1 && samples <= 2, `append latency is sampled 1 in 8, got ${samples} samples for 10 appends`);
    assert.ok(get(now, 'gateway_log_fsync_seconds_count') >= 1, 'the interval flush fsynced at least once');
  });

  test('STOMP traffic is labelled stomp; retained count; the registry is per gateway', async () => {
    const before = (await scrape(gw.httpPort)).samples;
    const stomp = await stompitConnect(gw.stompPort);
    try {
      for (let i = 0; i < 4; i++) {
        const frame = stomp.send({ destination: '/topic/metrics-stomp/a' });
        frame.write(`s${i}`);
        frame.end();
      }
      const pub = await connectClient(gw.mqttUrl);
      clients.push(pub);
      await withTimeout(pub.client.publishAsync('metrics/retained', 'keep', { qos: 1, retain: true }), 3000, 'publish');
      let now = before;
      for (let i = 0; i < 50; i++) {
        now = (await scrape(gw.httpPort)).samples;
        if (get(now, 'gateway_wire_messages_total{protocol="stomp",direction="in"}') - get(before, 'gateway_wire_messages_total{protocol="stomp",direction="in"}') >= 4) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const d = (k: string): number => get(now, k) - get(before, k);
      assert.equal(d('gateway_wire_messages_total{protocol="stomp",direction="in"}'), 4);
      let stompIn = 0;
      for (const q of ['0', '1', '2']) stompIn += d(`gateway_messages_received_total{protocol="stomp",qos="${q}"}`);
      assert.equal(stompIn, 4, 'four SENDs counted under protocol stomp');
      assert.ok(get(now, 'gateway_connections{protocol="stomp",transport="tcp"}') >= 1, 'stomp connection');
      assert.ok(get(now, 'gateway_retained_messages') >= 1, 'retained');
    } finally {
      stomp.disconnect();
    }
    const other = await startGateway({ sys: { intervalMs: 0 } });
    try {
      const fresh = (await scrape(other.httpPort)).samples;
      assert.equal(get(fresh, 'gateway_messages_received_total{protocol="mqtt",qos="1"}'), 0, 'a second gateway starts from zero');
      assert.ok(get((await scrape(gw.httpPort)).samples, 'gateway_messages_received_total{protocol="mqtt",qos="1"}') >= 10, 'the first keeps its counts');
    } finally {
      await other.close();
    }
  });
});
