// e2e: MQTT bridges between an in-process gateway and a real Mosquitto (Debian's /usr/sbin/mosquitto on a free loopback port): out, in and both at QoS 0/1/2 with prefixes, over 3.1.1 and 5, no loop in `both`, the ACL on the bridge identity, status in $SYS and /metrics.
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { connectClient, sleep, waitUntil, type TestClient } from '../helpers/mqtt-clients.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import type { MqttBridge } from '../../src/bridges/mqtt/bridge.ts';

const RULES = [
  'topic out0/# out 0 gw/ m/',
  'topic out1/# out 1 gw/ m/',
  'topic out2/# out 2 gw/ m/',
  'topic in0/# in 0 gw/ m/',
  'topic in1/# in 1 gw/ m/',
  'topic in2/# in 2 gw/ m/',
  'topic both/# both 1 gw/ m/',
];

function bridgeOf(gw: TestGateway): MqttBridge {
  return gw.gateway.bridges.list[0] as MqttBridge;
}

async function connected(gw: TestGateway): Promise<void> {
  await waitUntil(() => bridgeOf(gw).state === 'connected', 10_000, 'bridge connected');
  await sleep(200); // the SUBACK for the bridge's remote subscriptions
}

for (const version of [4, 5] as const) {
  describe(`MQTT bridge to Mosquitto, protocol ${version === 4 ? '3.1.1' : '5'}`, () => {
    let mosq: Mosquitto;
    let gw: TestGateway;
    let remoteSub: TestClient;
    let localSub: TestClient;

    before(async () => {
      mosq = await Mosquitto.start();
      gw = await startGateway({
        sys: { intervalMs: 300 },
        bridges: { mqtt: [{ name: `m${version}`, url: mosq.url, clientId: `gw-bridge-${version}`, protocolVersion: version === 4 ? '3.1.1' : 5, topics: RULES }] },
      } as never);
      await connected(gw);
      remoteSub = await connectClient(mosq.url, { protocolVersion: 5 });
      await remoteSub.client.subscribeAsync('m/#', { qos: 2 });
      localSub = await connectClient(gw.mqttUrl, { protocolVersion: 5 });
      await localSub.client.subscribeAsync('gw/#', { qos: 2 });
    });

    after(async () => {
      await remoteSub?.end();
      await localSub?.end();
      await gw?.close();
      await mosq?.dispose();
    });

    for (const q of [0, 1, 2] as const) {
      test(`out at QoS ${q}: gw/out${q}/# reaches Mosquitto as m/out${q}/# at QoS ${q}, in order`, async () => {
        const pub = await connectClient(gw.mqttUrl);
        const before = remoteSub.received.length;
        // Published at QoS 1 so the message is in the log (QoS 0 is logged only with persistence.persistQos0); the rule sets the remote QoS.
        for (let i = 0; i < 20; i++) await pub.client.publishAsync(`gw/out${q}/t`, `m${i}`, { qos: 1 });
        await pub.end();
        await waitUntil(() => remoteSub.received.filter((r) => r.topic === `m/out${q}/t`).length >= 20, 10_000, `20 on m/out${q}/t`);
        const got = remoteSub.received.slice(before).filter((r) => r.topic === `m/out${q}/t`);
        assert.deepEqual(got.map((r) => r.payload), Array.from({ length: 20 }, (_, i) => `m${i}`));
        for (const r of got) assert.equal(r.packet.qos, q);
        assert.equal(remoteSub.received.some((r) => r.topic === `gw/out${q}/t` || r.topic === `m/gw/out${q}/t`), false, 'mapped with the prefixes');
      });

      test(`in at QoS ${q}: m/in${q}/# from Mosquitto arrives as gw/in${q}/# at QoS ${q}`, async () => {
        const pub = await connectClient(mosq.url, { protocolVersion: 5 });
        const before = localSub.received.length;
        for (let i = 0; i < 20; i++) await pub.client.publishAsync(`m/in${q}/t`, `i${i}`, { qos: 2 });
        await pub.end();
        await waitUntil(() => localSub.received.filter((r) => r.topic === `gw/in${q}/t`).length >= 20, 10_000, `20 on gw/in${q}/t`);
        const got = localSub.received.slice(before).filter((r) => r.topic === `gw/in${q}/t`);
        assert.deepEqual(got.map((r) => r.payload), Array.from({ length: 20 }, (_, i) => `i${i}`));
        for (const r of got) assert.equal(r.packet.qos, q);
      });
    }

    test('in: a QoS 1/2 message from the remote is in the log (durable) once received', async () => {
      const pub = await connectClient(mosq.url);
      await pub.client.publishAsync('m/in1/durable', 'd', { qos: 1 });
      await pub.end();
      await waitUntil(() => localSub.received.some((r) => r.topic === 'gw/in1/durable'), 10_000, 'gw/in1/durable');
      const replay = await connectClient(gw.mqttUrl);
      await replay.client.subscribeAsync('$log/first/gw/in1/durable', { qos: 1 });
      await replay.waitFor(1, 5000);
      assert.equal(replay.received[0]!.payload, 'd');
      await replay.end();
    });

    test('both: a message goes over once each way and never comes back (no loop)', async () => {
      const gwPub = await connectClient(gw.mqttUrl);
      const mPub = await connectClient(mosq.url);
      const b = bridgeOf(gw);
      const outBefore = b.status().messagesOut;
      const inBefore = b.status().messagesIn;
      await gwPub.client.publishAsync('gw/both/from-gw', 'g', { qos: 1 });
      await mPub.client.publishAsync('m/both/from-m', 'm', { qos: 1 });
      await waitUntil(() => remoteSub.received.some((r) => r.topic === 'm/both/from-gw'), 10_000, 'gw -> mosquitto');
      await waitUntil(() => localSub.received.some((r) => r.topic === 'gw/both/from-m'), 10_000, 'mosquitto -> gw');
      await sleep(1500); // a loop would show up as repeats within this time
      const count = (list: TestClient['received'], topic: string): number => list.filter((r) => r.topic === topic).length;
      assert.equal(count(remoteSub.received, 'm/both/from-gw'), 1);
      assert.equal(count(remoteSub.received, 'm/both/from-m'), 1);
      assert.equal(count(localSub.received, 'gw/both/from-gw'), 1);
      assert.equal(count(localSub.received, 'gw/both/from-m'), 1);
      assert.equal(b.status().messagesOut - outBefore, 1, 'one message out');
      assert.equal(b.status().messagesIn - inBefore, 1, 'one message in');
      assert.ok((b.outbound?.loopSkipped ?? 0) >= 1, 'the inbound copy was skipped by the outbound reader');
      await gwPub.end();
      await mPub.end();
    });

    test('status: state, lag and counters in $SYS and /metrics', async () => {
      const sys = await connectClient(gw.mqttUrl);
      gw.gateway.bridges.status(); // the sources are live; publish $SYS once more
      await sys.client.subscribeAsync(`$SYS/broker/bridges/m${version}/#`, { qos: 0 });
      await waitUntil(() => sys.received.some((r) => r.topic === `$SYS/broker/bridges/m${version}/state`), 15_000, '$SYS bridge state');
      assert.equal(sys.received.find((r) => r.topic === `$SYS/broker/bridges/m${version}/state`)!.payload, 'connected');
      assert.ok(sys.received.some((r) => r.topic === `$SYS/broker/bridges/m${version}/lag`));
      await sys.end();
      const res = await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`);
      const text = await res.text();
      assert.match(text, new RegExp(`gateway_bridge_state\\{kind="mqtt",bridge="m${version}",state="connected"\\} 1`));
      assert.match(text, new RegExp(`gateway_bridge_lag_messages\\{kind="mqtt",bridge="m${version}"\\} 0`));
      assert.match(text, new RegExp(`gateway_bridge_messages_out_total\\{kind="mqtt",bridge="m${version}"\\} [1-9]`));
      assert.doesNotMatch(text, /\u0000/, 'no NUL in metric labels (internal group names read internal:...)');
    });
  });
}

describe('MQTT bridge identity and the ACL', () => {
  let mosq: Mosquitto;
  let gw: TestGateway;

  before(async () => {
    mosq = await Mosquitto.start();
    const base = await startGateway(); // only for a temp dir path to write the ACL file into
    const aclFile = join(base.dataDir, '..', `bridge-acl-${process.pid}.acl`);
    await base.close();
    writeFileSync(aclFile, ['topic readwrite gw/#', 'user bridge:acl', 'topic readwrite gw/ok/#', 'topic read gw/out/#', ''].join('\n'));
    gw = await startGateway({
      auth: { aclFile },
      bridges: { mqtt: [{ name: 'acl', url: mosq.url, topics: ['topic ok/# in 1 gw/ m/', 'topic no/# in 1 gw/ m/', 'topic out/# out 1 gw/ m/', 'topic secret/# out 1 gw/ m/'] }] },
    } as never);
    await connected(gw);
  });

  after(async () => {
    await gw?.close();
    await mosq?.dispose();
  });

  test('inbound publishes as user bridge:<name>: the ACL decides what enters; outbound sends only what it may read', async () => {
    const local = await connectClient(gw.mqttUrl, { protocolVersion: 5 });
    await local.client.subscribeAsync('gw/#', { qos: 1 });
    const remote = await connectClient(mosq.url);
    await remote.client.subscribeAsync('m/#', { qos: 1 });
    await remote.client.publishAsync('m/no/x', 'denied', { qos: 1 });
    await remote.client.publishAsync('m/ok/x', 'allowed', { qos: 1 });
    await local.client.publishAsync('gw/secret/x', 'hidden', { qos: 1 });
    await local.client.publishAsync('gw/out/x', 'shown', { qos: 1 });
    await waitUntil(() => local.received.some((r) => r.topic === 'gw/ok/x'), 10_000, 'gw/ok/x');
    await waitUntil(() => remote.received.some((r) => r.topic === 'm/out/x'), 10_000, 'm/out/x');
    await sleep(500);
    assert.equal(local.received.some((r) => r.topic === 'gw/no/x'), false, 'the ACL refused gw/no/x for bridge:acl');
    assert.equal(remote.received.some((r) => r.topic === 'm/secret/x'), false, 'bridge:acl may not read gw/secret/x');
    const b = bridgeOf(gw);
    assert.equal(b.stats.inboundRefused, 1);
    assert.equal(b.outbound?.denied, 1);
    await local.end();
    await remote.end();
  });
});

describe('MQTT bridge from a pasted Mosquitto connection block', () => {
  let mosq: Mosquitto;
  let gw: TestGateway;

  before(async () => {
    mosq = await Mosquitto.start();
    const block = [
      '# as in mosquitto.conf',
      'connection blk',
      `address 127.0.0.1:${mosq.port}`,
      'remote_clientid gw-blk',
      'bridge_protocol_version mqttv50',
      'keepalive_interval 30',
      'notifications false',
      'topic blk/# both 1 "" remote/',
    ].join('\n');
    gw = await startGateway({ bridges: { mqtt: [block] } } as never);
    await connected(gw);
  });

  after(async () => {
    await gw?.close();
    await mosq?.dispose();
  });

  test('the block connects and maps both ways with an empty local prefix', async () => {
    assert.equal(bridgeOf(gw).config.name, 'blk');
    assert.deepEqual(bridgeOf(gw).config.ignored, ['notifications']);
    const local = await connectClient(gw.mqttUrl);
    await local.client.subscribeAsync('blk/#', { qos: 1 });
    const remote = await connectClient(mosq.url, { protocolVersion: 5 });
    await remote.client.subscribeAsync('remote/#', { qos: 1 });
    await local.client.publishAsync('blk/up', 'u', { qos: 1 });
    await remote.client.publishAsync('remote/blk/down', 'd', { qos: 1 });
    await waitUntil(() => remote.received.some((r) => r.topic === 'remote/blk/up'), 10_000, 'remote/blk/up at Mosquitto');
    await waitUntil(() => local.received.some((r) => r.topic === 'blk/down'), 10_000, 'blk/down at the gateway');
    const up = remote.received.find((r) => r.topic === 'remote/blk/up')!;
    assert.equal(up.payload, 'u');
    assert.equal(up.packet.properties?.userProperties?.['x-bridge-origin'], 'gw-blk', 'v5 origin marker');
    await local.end();
    await remote.end();
  });
});
