// E2E: STOMP topic subscribers that fall behind (ack:auto reader that stops reading, ack:client-individual that holds its ACKs) lose nothing of a receipted stompit publisher's SENDs, with the default config. Imports the gateway and stomp test helpers and node:test.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { RawStomp, header, readBody, stompitConnect, waitFor, type StompitClient, type StompitMessage } from '../helpers/stomp-clients.ts';

const N = 30_000;
/** 1 KiB bodies: 30 MB in all, well past socket buffers and the connection's write bound. */
const PAD = ':' + 'x'.repeat(1000);
const seqOf = (body: string): number => Number(body.slice(0, body.indexOf(':')));

/** Sends `n` SENDs `<i>` with a receipt each, at most `window` receipts outstanding; resolves once every RECEIPT arrived. */
async function sendAll(pub: StompitClient, destination: string, n: number, window = 500): Promise<void> {
  for (let i = 0; i < n; i += window) {
    const batch: Promise<void>[] = [];
    for (let k = i; k < Math.min(n, i + window); k++) {
      batch.push(
        new Promise<void>((resolve) => {
          const w = pub.send({ destination, 'content-type': 'text/plain' }, { onReceipt: () => resolve() });
          w.write(String(k) + PAD);
          w.end();
        }),
      );
    }
    await Promise.all(batch);
  }
}

function assertAll(bodies: string[], n: number): void {
  const seen = new Set(bodies.map(seqOf));
  assert.equal(seen.size, n, `received ${seen.size} distinct of ${n}`);
  const firsts: number[] = [];
  const once = new Set<number>();
  for (const b of bodies) {
    const v = seqOf(b);
    if (!once.has(v)) {
      once.add(v);
      firsts.push(v);
    }
  }
  for (let i = 0; i < firsts.length; i++) if (firsts[i] !== i) assert.fail(`out of order at ${i}: ${firsts[i]}`);
}

describe('stomp: slow topic subscribers lose nothing (default config)', () => {
  const gateways: TestGateway[] = [];
  const closers: (() => void)[] = [];
  after(async () => {
    for (const c of closers) c();
    for (const g of gateways) await g.close();
  });

  test(`ack:auto subscriber that stops reading gets all ${N} receipted SENDs`, { timeout: 240_000 }, async () => {
    const g = await startGateway();
    gateways.push(g);
    const sub = await RawStomp.connect(g.stompPort);
    closers.push(() => sub.close());
    await sub.withReceipt('SUBSCRIBE', { id: 'a', destination: '/topic/cur.auto', ack: 'auto' });
    sub.socket.pause(); // a reader that stops reading: the gateway's socket buffer fills
    const pub = await stompitConnect(g.stompPort);
    closers.push(() => pub.destroy());
    await sendAll(pub, '/topic/cur.auto', N);
    assert.ok(g.gateway.broker.stats.behindEntered >= 1, 'the subscription fell behind instead of dropping');
    sub.socket.resume();
    await sub.until(() => sub.frames.filter((f) => f.command === 'MESSAGE').length >= N, 180_000, `all ${N} MESSAGEs`);
    const msgs = sub.frames.filter((f) => f.command === 'MESSAGE');
    assertAll(msgs.map((f) => f.body.toString()), N);
    assert.equal(header(msgs[0]!, 'ack'), undefined, 'ack:auto MESSAGEs carry no ack header');
    assert.equal(g.gateway.broker.stats.dropped, 0);
  });

  test(`ack:client-individual subscriber that holds its ACKs gets all ${N}`, { timeout: 240_000 }, async () => {
    const g = await startGateway();
    gateways.push(g);
    const sub = await stompitConnect(g.stompPort);
    closers.push(() => sub.destroy());
    const got: string[] = [];
    const held: StompitMessage[] = [];
    let holding = true;
    sub.subscribe({ destination: '/topic/cur.ci', ack: 'client-individual' }, (err, msg) => {
      if (err) return;
      void readBody(msg).then((b) => {
        got.push(b);
        if (holding) held.push(msg);
        else sub.ack(msg);
      });
    });
    await new Promise((r) => setTimeout(r, 200)); // SUBSCRIBE is in before the first SEND
    const pub = await stompitConnect(g.stompPort);
    closers.push(() => pub.destroy());
    await sendAll(pub, '/topic/cur.ci', N);
    assert.ok(got.length < N, 'the window held the subscriber back');
    assert.ok(g.gateway.broker.stats.behindEntered >= 1, 'the subscription fell behind instead of dropping');
    holding = false;
    for (const m of held.splice(0)) sub.ack(m);
    await waitFor(() => got.length >= N, 180_000, `all ${N} (have ${got.length})`);
    assertAll(got, N);
    assert.equal(g.gateway.broker.stats.dropped, 0);
  });
});
