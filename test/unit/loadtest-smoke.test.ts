// Smoke test of the load generator itself: its codec pieces, qos0/qos1 runs against the in-process trivial forwarder, and the NATS peer started and measured. Imports loadtest/*.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { startForwarder, type Forwarder } from '../../loadtest/peers/forwarder.ts';
import { runWorkload } from '../../loadtest/driver.ts';
import { buildWorkload } from '../../loadtest/scenarios.ts';
import { SeqTracker } from '../../loadtest/seq-tracker.ts';
import { encodePublish, PacketReader } from '../../loadtest/wire.ts';
import { startNats } from '../../loadtest/targets.ts';

test('SeqTracker tells duplicates from reordering', () => {
  const t = new SeqTracker();
  for (const s of [0, 1, 3, 2, 3, 100_000, 4]) t.see(s);
  assert.equal(t.unique, 6);
  assert.equal(t.duplicates, 1);
  assert.equal(t.outOfOrder, 2); // 2 after 3, 4 after 100000
});

test('PacketReader finds the same packets when fed one byte at a time', () => {
  const pkts = [encodePublish('a/b', 0, Buffer.from('hello')).bytes, encodePublish('x', 1, Buffer.alloc(200, 1)).bytes];
  const all = Buffer.concat(pkts);
  const seen: string[] = [];
  const r = new PacketReader();
  for (let i = 0; i < all.length; i++) {
    r.feed(all.subarray(i, i + 1), (buf, start, end) => seen.push(buf.subarray(start, end).toString('hex')));
  }
  assert.deepEqual(seen, pkts.map((p) => p.toString('hex')));
  assert.equal(pkts[1]![1], 0xcd); // 2-byte remaining length [MQTT-2.2.3]: 0xcd 0x01 = 77 + 128 = 205
  assert.equal(pkts[1]![2], 0x01);
});

for (const scenario of ['qos0', 'qos1'] as const) {
  test(`${scenario} through the trivial forwarder: delivered, nothing lost or duplicated`, async () => {
    const fwd: Forwarder = await startForwarder(0);
    try {
      const w = buildWorkload(scenario, '127.0.0.1', fwd.port, `smoke-${scenario}`);
      const r = await runWorkload(w, { warmupS: 0.3, durationS: 0.7, brokerPid: null, label: null });
      assert.ok(r.sent > 1000, `sent only ${r.sent}`);
      assert.ok(r.msgPerS > 1000, `delivered ${r.msgPerS} msg/s`);
      assert.equal(r.expected, r.sent);
      assert.equal(r.unique, r.sent);
      assert.equal(r.lost, 0);
      assert.equal(r.duplicates, 0);
      assert.equal(r.outOfOrder, 0);
      if (scenario === 'qos1') assert.equal(r.acked, r.sent);
      assert.ok(r.generatorCpuPct !== null && r.generatorCpuPct > 0);
    } finally {
      await fwd.close();
    }
  });
}

// nats-server comes from test/install-system-deps.sh (run by npm test); nothing here is skipped.
test('NATS peer: nats-server starts with JetStream and its MQTT listener carries qos1 with nothing lost, then stops', async () => {
  const nats = await startNats();
  let closed = false;
  try {
    assert.ok(nats.pid !== null && nats.port > 0);
    const w = buildWorkload('qos1', nats.host, nats.port, 'smoke-nats');
    const r = await runWorkload(w, { warmupS: 0.2, durationS: 0.6, brokerPid: nats.pid, label: null });
    assert.ok(r.sent > 500, `sent only ${r.sent}`);
    assert.equal(r.acked, r.sent);
    assert.equal(r.unique, r.sent);
    assert.equal(r.lost, 0);
    assert.equal(r.duplicates, 0);
    assert.ok(r.brokerCpuPct !== null && r.brokerCpuPct > 0, 'CPU of nats-server measured');
    assert.equal(nats.exited(), null);
    await nats.close();
    closed = true;
    assert.throws(() => process.kill(nats.pid!, 0), 'nats-server is gone after close()');
  } finally {
    if (!closed) await nats.close();
  }
});
