// E2E: inbound backpressure. A raw-socket (TCP, and MQTT over WebSocket) publisher that never stops, against a log whose appends are held: reading pauses (metrics move), pending bytes stay near persistence.maxPendingBytes, and after the log catches up reading resumes with nothing lost. Imports the test helpers and loadtest/wire.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import type { Duplex } from 'node:stream';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { sleep, waitUntil } from '../helpers/mqtt-clients.ts';
import { CONNACK, PUBACK, PUBLISH, SUBACK, PacketReader, encodeConnect, encodePublish, encodeSubscribe, writePuback } from '../../loadtest/wire.ts';
import { openStream } from '../../loadtest/ws-transport.ts';

const MAX_PENDING = 256 * 1024;
// What was read before the pause took effect still goes through: one socket read (<= 64 KiB) per
// connection plus one partial packet. Two reads of slack for the publisher.
const SLACK = 2 * 64 * 1024;

let gw: TestGateway;
/** Held appends: each resolves when the gate opens (in call order, so per-partition order holds). */
let gate: { open: boolean; waiters: (() => void)[] };

before(async () => {
  gw = await startGateway({
    persistence: { maxPendingBytes: MAX_PENDING, persistQos0: true },
    // Not what is tested here: the subscriber's queue must not drop what the publisher got through.
    sessions: { maxQueued: 10_000_000, maxQueuedBytes: 2 ** 40 },
  });
  const log = gw.gateway.broker.log as unknown as { append: (...a: unknown[]) => Promise<unknown> };
  assert.ok(log, 'persistence must be on for this suite');
  const real = log.append.bind(log);
  gate = { open: true, waiters: [] };
  // A log writer that falls behind: while the gate is shut, appends wait.
  log.append = (...a: unknown[]) => (gate.open ? real(...a) : new Promise<void>((r) => gate.waiters.push(r)).then(() => real(...a)));
});

after(async () => {
  await gw.close();
});

function shut(): void {
  gate.open = false;
}
function release(): void {
  gate.open = true;
  for (const w of gate.waiters.splice(0)) w();
}

async function scrape(): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`);
  const text = await res.text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(gateway_backpressure_\w+) (\S+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** Raw MQTT 3.1.1 connection over TCP or WebSocket (/mqtt); `onPacket` sees every packet after CONNACK. */
async function rawConnect(clientId: string, ws = false): Promise<{ socket: Duplex; onPacket: (f: (buf: Buffer, start: number, end: number, body: number) => void) => void }> {
  const socket = openStream('127.0.0.1', gw.mqttPort, ws ? { transport: 'ws', wsUrl: `ws://127.0.0.1:${gw.httpPort}/mqtt` } : { transport: 'tcp' });
  const reader = new PacketReader();
  let handler: (buf: Buffer, start: number, end: number, body: number) => void = () => undefined;
  let connected: () => void = () => undefined;
  const ready = new Promise<void>((r) => (connected = r));
  socket.on('data', (d: Buffer) => reader.feed(d, (buf, start, end, body) => {
    if (buf[start]! >> 4 === CONNACK) connected();
    else handler(buf, start, end, body);
  }));
  socket.on('error', () => undefined);
  socket.write(encodeConnect(clientId, 0));
  await Promise.race([ready, sleep(5000).then(() => { throw new Error(`${clientId}: no CONNACK`); })]);
  return { socket, onPacket: (f) => (handler = f) };
}

/** A QoS 0 or 1 publisher that writes as fast as its socket takes bytes, until stop(). */
function neverStop(socket: Duplex, topic: string, qos: 0 | 1, payloadBytes: number): { sent: () => number; stop: () => void } {
  const t = encodePublish(topic, qos, Buffer.alloc(payloadBytes, 0x61));
  let seq = 0;
  let pid = 0;
  let running = true;
  const pump = (): void => {
    while (running) {
      const out = Buffer.allocUnsafe(t.bytes.length * 16);
      for (let k = 0; k < 16; k++) {
        const base = k * t.bytes.length;
        t.bytes.copy(out, base);
        out.writeUInt32BE(seq++, base + t.payloadOffset);
        if (qos > 0) {
          pid = pid === 65535 ? 1 : pid + 1; // v3.1.1 has no receive maximum: ids wrap, the test acks come back in order
          out.writeUInt16BE(pid, base + t.packetIdOffset);
        }
      }
      if (!socket.write(out)) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  setImmediate(pump);
  return { sent: () => seq, stop: () => { running = false; } };
}

test('a QoS 1 publisher that never stops: reads pause while the log is held, pending bytes stay bounded, then everything is delivered', async () => {
  const pending = gw.gateway.broker.pending!;
  assert.equal(pending.highWater, MAX_PENDING);
  const before0 = await scrape();
  assert.equal(before0.gateway_backpressure_paused, 0);

  // Subscriber: QoS 1, acks every delivery, counts unique sequence numbers.
  const sub = await rawConnect('bp-sub');
  const seen = new Set<number>();
  let subscribed: () => void = () => undefined;
  const subAck = new Promise<void>((r) => (subscribed = r));
  sub.onPacket((buf, start, end, body) => {
    const type = buf[start]! >> 4;
    if (type === SUBACK) return subscribed();
    if (type !== PUBLISH) return;
    let p = body + 2 + buf.readUInt16BE(body);
    if (((buf[start]! >> 1) & 3) > 0) {
      const ack = Buffer.allocUnsafe(4);
      writePuback(ack, 0, buf.readUInt16BE(p));
      sub.socket.write(ack);
      p += 2;
    }
    if (end - p >= 4) seen.add(buf.readUInt32BE(p));
  });
  sub.socket.write(encodeSubscribe(1, 'bp/q1', 1));
  await subAck;

  const pub = await rawConnect('bp-pub');
  let acked = 0;
  pub.onPacket((buf, start) => {
    if (buf[start]! >> 4 === PUBACK) acked++;
  });

  shut();
  const p = neverStop(pub.socket, 'bp/q1', 1, 4096);
  try {
    await waitUntil(() => pending.paused, 10_000, 'reading to pause');
    // While the log is held, the publisher keeps trying; memory must not follow it.
    let peak = 0;
    const sentAtPause = p.sent();
    for (let i = 0; i < 20; i++) {
      peak = Math.max(peak, pending.bytes);
      await sleep(50);
    }
    assert.ok(pending.paused, 'still paused while the log is held');
    assert.ok(peak <= MAX_PENDING + SLACK, `pending ${peak} bytes with a bound of ${MAX_PENDING}`);
    assert.ok(pending.peakBytes <= MAX_PENDING + SLACK, `peak ${pending.peakBytes}`);
    // TCP flow control holds the publisher: what it wrote in a second is at most what the socket buffers took.
    const heldBack = p.sent() - sentAtPause;
    assert.ok(heldBack * 4096 < 32 * 1024 * 1024, `publisher wrote ${heldBack} messages during the pause`);
    const during = await scrape();
    assert.equal(during.gateway_backpressure_paused, 1);
    assert.ok(during.gateway_backpressure_pauses_total! >= 1);
    assert.ok(during.gateway_backpressure_pending_bytes! > MAX_PENDING / 2 && during.gateway_backpressure_pending_bytes! <= MAX_PENDING + SLACK);
    assert.equal(acked, 0, 'nothing acknowledged before it is durable');

    release();
    await waitUntil(() => !pending.paused, 10_000, 'reading to resume');
    const resumedAt = p.sent();
    await waitUntil(() => p.sent() > resumedAt + 500, 10_000, 'the publisher to be read again');
  } finally {
    p.stop();
    release();
  }
  const sent = p.sent();
  await waitUntil(() => acked >= sent, 20_000, `PUBACK for all ${sent} (got ${acked})`);
  await waitUntil(() => seen.size >= sent, 20_000, `delivery of all ${sent} (got ${seen.size})`);
  assert.equal(acked, sent);
  assert.equal(seen.size, sent, 'nothing lost');
  assert.equal(pending.bytes, 0);
  const after1 = await scrape();
  assert.equal(after1.gateway_backpressure_paused, 0);
  assert.ok(after1.gateway_backpressure_paused_seconds_total! > 0);
  pub.socket.destroy();
  sub.socket.destroy();
});

test('a QoS 0 publisher (persistQos0) that never stops is held the same way, and reading resumes', async () => {
  const pending = gw.gateway.broker.pending!;
  const pauses0 = pending.pauses;
  const pub = await rawConnect('bp-pub0');
  shut();
  const p = neverStop(pub.socket, 'bp/q0', 0, 1024);
  try {
    await waitUntil(() => pending.pauses > pauses0, 10_000, 'reading to pause');
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      peak = Math.max(peak, pending.bytes);
      await sleep(50);
    }
    assert.ok(pending.paused);
    assert.ok(peak <= MAX_PENDING + SLACK, `pending ${peak} bytes with a bound of ${MAX_PENDING}`);
    release();
    await waitUntil(() => !pending.paused, 10_000, 'reading to resume');
    const resumedAt = p.sent();
    await waitUntil(() => p.sent() > resumedAt + 500, 10_000, 'the publisher to be read again');
  } finally {
    p.stop();
    release();
  }
  await waitUntil(() => pending.bytes === 0, 10_000, 'the log to settle everything');
  assert.ok((await scrape()).gateway_backpressure_pauses_total! > pauses0);
  pub.socket.destroy();
});

test('over WebSocket (/mqtt) the publisher is held the same way: the paused stream stops its WebSocket', async () => {
  const pending = gw.gateway.broker.pending!;
  const pauses0 = pending.pauses;
  const pub = await rawConnect('bp-pub-ws', true);
  shut();
  const p = neverStop(pub.socket, 'bp/ws', 0, 1024);
  try {
    await waitUntil(() => pending.pauses > pauses0, 10_000, 'reading to pause');
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      peak = Math.max(peak, pending.bytes);
      await sleep(50);
    }
    assert.ok(pending.paused);
    // One WebSocket message per write (<= 16 x 1 KiB here) plus the Duplex's 16 KiB read buffer of slack.
    assert.ok(peak <= MAX_PENDING + SLACK, `pending ${peak} bytes with a bound of ${MAX_PENDING}`);
    release();
    await waitUntil(() => !pending.paused, 10_000, 'reading to resume');
    const resumedAt = p.sent();
    await waitUntil(() => p.sent() > resumedAt + 500, 10_000, 'the publisher to be read again');
  } finally {
    p.stop();
    release();
  }
  await waitUntil(() => pending.bytes === 0, 10_000, 'the log to settle everything');
  pub.socket.destroy();
});

test('a STOMP publisher (SEND without receipts, never stopping) is held the same way, and reading resumes', async () => {
  const pending = gw.gateway.broker.pending!;
  const pauses0 = pending.pauses;
  const { connect } = await import('node:net');
  const s = connect(gw.stompPort, '127.0.0.1');
  s.on('error', () => undefined);
  let text = '';
  const connected = new Promise<void>((r) => s.on('data', (d: Buffer) => {
    text += d.toString('latin1');
    if (text.startsWith('CONNECTED')) r();
  }));
  s.write('CONNECT\naccept-version:1.2\nhost:x\n\n\0');
  await Promise.race([connected, sleep(5000).then(() => { throw new Error(`no CONNECTED: ${text}`); })]);
  const frame = Buffer.from(`SEND\ndestination:/topic/bp/stomp\ncontent-length:1024\n\n${'s'.repeat(1024)}\0`, 'latin1');
  const batch = Buffer.concat(Array.from({ length: 16 }, () => frame));
  let frames = 0;
  let running = true;
  const pump = (): void => {
    while (running) {
      frames += 16;
      if (!s.write(batch)) {
        s.once('drain', pump);
        return;
      }
    }
  };
  shut();
  setImmediate(pump);
  try {
    await waitUntil(() => pending.pauses > pauses0, 10_000, 'reading to pause');
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      peak = Math.max(peak, pending.bytes);
      await sleep(50);
    }
    assert.ok(pending.paused);
    assert.ok(peak <= MAX_PENDING + SLACK, `pending ${peak} bytes with a bound of ${MAX_PENDING}`);
    release();
    await waitUntil(() => !pending.paused, 10_000, 'reading to resume');
    const resumedAt = frames;
    await waitUntil(() => frames > resumedAt + 500, 10_000, 'the STOMP publisher to be read again');
  } finally {
    running = false;
    release();
  }
  await waitUntil(() => pending.bytes === 0, 10_000, 'the log to settle everything');
  assert.doesNotMatch(text, /ERROR/);
  s.destroy();
});
