// E2E: Pulsar's subscription modes for queues and consumer groups over real clients: shared (round robin), key-shared (one key on one consumer, in order), failover (one active consumer; the next takes over where it stopped, in order); chosen by STOMP `x-queue-mode`, the MQTT 5 SUBSCRIBE user property `x-queue-mode`, or stomp.queueModes. Imports stompit (typed helper), mqtt.js and the test helpers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { RawStomp, header, readBody, stompitConnect, waitFor, type StompitClient, type StompitMessage } from '../helpers/stomp-clients.ts';
import { connectClient, sleep, type TestClient } from '../helpers/mqtt-clients.ts';

interface Got { body: string; key: string | undefined }

/** A stompit consumer that ACKs every MESSAGE and records it. */
function consume(c: StompitClient, destination: string, headers: Record<string, string> = {}): Got[] {
  const got: Got[] = [];
  c.subscribe({ destination, ack: 'client-individual', 'prefetch-count': '5', ...headers }, (err: Error | null, msg: StompitMessage) => {
    if (err) return;
    const key = msg.headers.JMSXGroupID;
    void readBody(msg).then((body) => {
      got.push({ body, key });
      c.ack(msg);
    });
  });
  return got;
}

describe('queue and group subscription modes', () => {
  let tg: TestGateway;
  const stompits: StompitClient[] = [];
  const raws: RawStomp[] = [];
  const mqtts: TestClient[] = [];
  before(async () => {
    tg = await startGateway({ stomp: { queueModes: ['conf-failover=failover'] } });
  });
  after(async () => {
    for (const c of stompits) c.destroy();
    for (const r of raws) r.close();
    for (const m of mqtts) await m.end();
    await tg.close();
  });

  async function sender(): Promise<RawStomp> {
    const s = await RawStomp.connect(tg.stompPort);
    raws.push(s);
    return s;
  }

  it('shared: two stompit consumers split a queue round robin, every message once', async () => {
    const a = await stompitConnect(tg.stompPort);
    const b = await stompitConnect(tg.stompPort);
    stompits.push(a, b);
    const ga = consume(a, '/queue/m-shared', { 'x-queue-mode': 'shared' });
    const gb = consume(b, '/queue/m-shared', { 'x-queue-mode': 'shared' });
    await sleep(100);
    const s = await sender();
    for (let i = 0; i < 100; i++) await s.withReceipt('SEND', { destination: '/queue/m-shared' }, `m${i}`);
    await waitFor(() => ga.length + gb.length >= 100, 5000, '100 consumed');
    await sleep(100);
    assert.deepEqual([...ga, ...gb].map((g) => g.body).sort(), Array.from({ length: 100 }, (_, i) => `m${i}`).sort());
    assert.ok(ga.length >= 30 && gb.length >= 30, `both consumers served (${ga.length}/${gb.length})`);
  });

  it('key-shared: each JMSXGroupID stays on one consumer and keeps its order', async () => {
    const a = await stompitConnect(tg.stompPort);
    const b = await stompitConnect(tg.stompPort);
    stompits.push(a, b);
    const ga = consume(a, '/queue/m-key', { 'x-queue-mode': 'key-shared' });
    const gb = consume(b, '/queue/m-key', { 'x-queue-mode': 'key-shared' });
    await sleep(100);
    const s = await sender();
    const keys = Array.from({ length: 8 }, (_, k) => `dev-${k}`);
    for (let i = 0; i < 160; i++) await s.withReceipt('SEND', { destination: '/queue/m-key', JMSXGroupID: keys[i % 8]! }, `${keys[i % 8]}:${i}`);
    await waitFor(() => ga.length + gb.length >= 160, 5000, '160 consumed');
    await sleep(100);
    assert.equal(ga.length + gb.length, 160);
    for (const k of keys) {
      const inA = ga.filter((g) => g.key === k);
      const inB = gb.filter((g) => g.key === k);
      assert.ok(inA.length === 0 || inB.length === 0, `key ${k} on one consumer (${inA.length}/${inB.length})`);
      const seq = [...inA, ...inB].map((g) => Number(g.body.split(':')[1]));
      assert.equal(seq.length, 20);
      assert.deepEqual(seq, [...seq].sort((x, y) => x - y), `key ${k} in order`);
    }
    assert.ok(ga.length > 0 && gb.length > 0, 'keys spread over both consumers');
  });

  it('failover: one active consumer; on its disconnect the next takes over where it stopped, in order (mode from stomp.queueModes)', async () => {
    const a = await RawStomp.connect(tg.stompPort);
    const b = await RawStomp.connect(tg.stompPort);
    raws.push(a, b);
    await a.withReceipt('SUBSCRIBE', { id: 'fa', destination: '/queue/conf-failover', ack: 'client-individual', 'prefetch-count': '3' });
    await b.withReceipt('SUBSCRIBE', { id: 'fb', destination: '/queue/conf-failover', ack: 'client-individual', 'prefetch-count': '3' });
    const s = await sender();
    for (let i = 0; i < 10; i++) await s.withReceipt('SEND', { destination: '/queue/conf-failover' }, `f${i}`);
    const first = await a.drain(200);
    assert.deepEqual(first.map((f) => f.body.toString()), ['f0', 'f1', 'f2'], 'the active consumer gets its window');
    assert.deepEqual(await b.drain(100), [], 'the standby gets nothing');
    a.send('ACK', { id: header(first[0]!, 'ack') as string });
    const more = await a.drain(200);
    assert.deepEqual(more.map((f) => f.body.toString()), ['f3']);
    a.close(); // f1, f2, f3 unacknowledged
    await a.waitClosed();
    const seen: string[] = [];
    for (let round = 0; round < 20 && seen.length < 9; round++) {
      const fs = await b.drain(150);
      for (const f of fs) {
        seen.push(f.body.toString());
        b.send('ACK', { id: header(f, 'ack') as string });
      }
    }
    assert.deepEqual(seen, ['f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'f8', 'f9']);
  });

  it('an x-queue-mode other than the running one is refused while the queue has consumers; a bad value is an ERROR', async () => {
    const a = await RawStomp.connect(tg.stompPort);
    raws.push(a);
    await a.withReceipt('SUBSCRIBE', { id: 'x', destination: '/queue/m-conflict', 'x-queue-mode': 'shared' });
    const b = await RawStomp.connect(tg.stompPort);
    raws.push(b);
    b.send('SUBSCRIBE', { id: 'y', destination: '/queue/m-conflict', 'x-queue-mode': 'failover', receipt: 'r' });
    const err = await b.next('ERROR');
    assert.match(err.body.toString(), /runs in mode shared/);
    const c = await RawStomp.connect(tg.stompPort);
    raws.push(c);
    c.send('SUBSCRIBE', { id: 'z', destination: '/queue/m-conflict', 'x-queue-mode': 'exclusive' });
    assert.match((await c.next('ERROR')).body.toString(), /x-queue-mode/);
  });

  it('MQTT: $queue/<name> in failover mode via the v5 SUBSCRIBE user property; $group/<name>/<filter> key-shared keeps each topic on one member, in order', async () => {
    const a = await connectClient(tg.mqttUrl, { protocolVersion: 5, clientId: 'fo-a' });
    const b = await connectClient(tg.mqttUrl, { protocolVersion: 5, clientId: 'fo-b' });
    mqtts.push(a, b);
    const props = (mode: string) => ({ qos: 1 as const, properties: { userProperties: { 'x-queue-mode': mode } } });
    await a.client.subscribeAsync('$queue/m-mqtt-fo', props('failover'));
    await b.client.subscribeAsync('$queue/m-mqtt-fo', props('failover'));
    for (let i = 0; i < 20; i++) await a.client.publishAsync('$queue/m-mqtt-fo', `o${i}`, { qos: 1 });
    await a.waitFor(20);
    await sleep(100);
    assert.equal(b.received.length, 0, 'standby member idle');
    await a.end();
    for (let i = 20; i < 30; i++) await b.client.publishAsync('$queue/m-mqtt-fo', `o${i}`, { qos: 1 });
    await b.waitFor(10);
    assert.deepEqual(b.received.map((r) => r.payload), Array.from({ length: 10 }, (_, i) => `o${20 + i}`));

    const g1 = await connectClient(tg.mqttUrl, { protocolVersion: 5, clientId: 'ks-1' });
    const g2 = await connectClient(tg.mqttUrl, { protocolVersion: 5, clientId: 'ks-2' });
    mqtts.push(g1, g2);
    await g1.client.subscribeAsync('$group/ks/kt/#', props('key-shared'));
    await g2.client.subscribeAsync('$group/ks/kt/#', props('key-shared'));
    const pub = await connectClient(tg.mqttUrl, { protocolVersion: 5 });
    mqtts.push(pub);
    for (let i = 0; i < 120; i++) await pub.client.publishAsync(`kt/${i % 12}`, String(i), { qos: 1 });
    await waitFor(() => g1.received.length + g2.received.length >= 120, 5000, '120 group deliveries');
    await sleep(100);
    assert.equal(g1.received.length + g2.received.length, 120);
    for (let t = 0; t < 12; t++) {
      const in1 = g1.received.filter((r) => r.topic === `kt/${t}`).map((r) => Number(r.payload));
      const in2 = g2.received.filter((r) => r.topic === `kt/${t}`).map((r) => Number(r.payload));
      assert.ok(in1.length === 0 || in2.length === 0, `topic kt/${t} on one member`);
      const seq = [...in1, ...in2];
      assert.deepEqual(seq, [...seq].sort((x, y) => x - y), `kt/${t} in order`);
    }
    assert.ok(g1.received.length > 0 && g2.received.length > 0, 'topics spread over both members');
    // A member asking for the partition mode of a group running key-shared is refused.
    const g3 = await connectClient(tg.mqttUrl, { protocolVersion: 5, clientId: 'ks-3' });
    mqtts.push(g3);
    await assert.rejects(g3.client.subscribeAsync('$group/ks/kt/#', { qos: 1 }), /Implementation specific error/, 'SUBACK 0x83');
  });

  it('MQTT groups: shared splits one topic\'s messages round robin over members; failover keeps one active member and the next continues in order', async () => {
    const props = (mode: string) => ({ qos: 1 as const, properties: { userProperties: { 'x-queue-mode': mode } } });
    const pub = await connectClient(tg.mqttUrl, { protocolVersion: 5 });
    mqtts.push(pub);
    const s1 = await connectClient(tg.mqttUrl, { protocolVersion: 5, clientId: 'gs-1' });
    const s2 = await connectClient(tg.mqttUrl, { protocolVersion: 5, clientId: 'gs-2' });
    mqtts.push(s1, s2);
    await s1.client.subscribeAsync('$group/gshared/gsh/#', props('shared'));
    await s2.client.subscribeAsync('$group/gshared/gsh/#', props('shared'));
    for (let i = 0; i < 40; i++) await pub.client.publishAsync('gsh/one-topic', `s${i}`, { qos: 1 });
    await waitFor(() => s1.received.length + s2.received.length >= 40, 5000, '40 shared deliveries');
    await sleep(100);
    assert.deepEqual([...s1.received, ...s2.received].map((r) => r.payload).sort(), Array.from({ length: 40 }, (_, i) => `s${i}`).sort());
    assert.ok(s1.received.length >= 10 && s2.received.length >= 10, `one topic spread over both members (${s1.received.length}/${s2.received.length})`);

    const f1 = await connectClient(tg.mqttUrl, { protocolVersion: 5, clientId: 'gf-1' });
    const f2 = await connectClient(tg.mqttUrl, { protocolVersion: 5, clientId: 'gf-2' });
    mqtts.push(f1, f2);
    await f1.client.subscribeAsync('$group/gfail/gf/#', props('failover'));
    await f2.client.subscribeAsync('$group/gfail/gf/#', props('failover'));
    for (let i = 0; i < 10; i++) await pub.client.publishAsync(`gf/${i % 3}`, `f${i}`, { qos: 1 });
    await f1.waitFor(10);
    await sleep(100);
    assert.equal(f2.received.length, 0, 'the standby member gets nothing');
    await f1.end();
    for (let i = 10; i < 20; i++) await pub.client.publishAsync(`gf/${i % 3}`, `f${i}`, { qos: 1 });
    await f2.waitFor(10);
    await sleep(100);
    assert.deepEqual(f2.received.map((r) => r.payload).sort(), Array.from({ length: 10 }, (_, i) => `f${10 + i}`).sort(), 'continues after the last acknowledged');
    for (let t = 0; t < 3; t++) {
      const seq = f2.received.filter((r) => r.topic === `gf/${t}`).map((r) => Number(r.payload.slice(1)));
      assert.deepEqual(seq, [...seq].sort((x, y) => x - y), `gf/${t} in order (order is per topic: a group spans partitions)`);
    }
  });
});
