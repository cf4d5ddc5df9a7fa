// E2E: a real gateway process is SIGKILLed at a seeded random point while STOMP SENDs with receipts flow to a /queue and to a topic with a durable subscriber; after restart every receipted message arrives. Imports the process and stomp test helpers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayProcess, type FlushMode, stompPort } from '../helpers/gateway-process.ts';
import { RawStomp, header } from '../helpers/stomp-clients.ts';
import { prng } from '../helpers/prng.ts';


/** Reads MESSAGEs (acknowledging each) until none arrives for quietMs; bounded by max. */
async function collect(c: RawStomp, quietMs: number, max: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < max; i++) {
    let f;
    try {
      f = await c.next(undefined, quietMs);
    } catch {
      break;
    }
    if (f.command !== 'MESSAGE') continue;
    out.push(f.body.toString());
    c.send('ACK', { id: header(f, 'ack') as string });
  }
  return out;
}

const WINDOW = 16;

async function iteration(seed: number, flush: FlushMode): Promise<void> {
  const rnd = prng(seed);
  const killAfter = 50 + Math.floor(rnd() * 250);
  const gp = new GatewayProcess({ flush, extra: { stomp: { queues: ['crashq'] } } });
  try {
    let run = await gp.start();
    let port = await stompPort(run);
    // A durable subscriber that is away for the whole publish.
    const d = await RawStomp.connect(port, { 'client-id': 'crash-sub' });
    await d.withReceipt('SUBSCRIBE', { id: 'dur', destination: '/topic/crash/t', durable: 'true', ack: 'client-individual' });
    await d.withReceipt('DISCONNECT', {});
    await new Promise((r) => setTimeout(r, 1200)); // the session image is written (and re-imaged once a second)

    const pub = await RawStomp.connect(port);
    const receipted = { q: new Set<string>(), t: new Set<string>() };
    const sentBody = new Map<string, { kind: 'q' | 't'; body: string }>();
    let inflight = 0;
    let killed = false;
    for (let i = 0; !killed && i < 100_000; i++) {
      const kind = i % 2 === 0 ? 'q' : 't';
      const body = `${kind}-${i}`;
      const rid = `r${i}`;
      sentBody.set(rid, { kind, body });
      pub.send('SEND', { destination: kind === 'q' ? '/queue/crashq' : '/topic/crash/t', receipt: rid }, body);
      inflight++;
      while (inflight >= WINDOW || (killed === false && receipted.q.size + receipted.t.size >= killAfter)) {
        if (receipted.q.size + receipted.t.size >= killAfter) {
          await gp.kill9();
          killed = true;
          break;
        }
        const f = await pub.next(undefined, 5000);
        assert.equal(f.command, 'RECEIPT', f.body.toString());
        const s = sentBody.get(header(f, 'receipt-id') as string);
        assert.ok(s, 'a receipt for a SEND we made');
        receipted[s.kind].add(s.body);
        inflight--;
      }
    }
    // Receipts already read off the socket before the kill count too.
    for (const f of pub.frames) {
      const s = f.command === 'RECEIPT' ? sentBody.get(header(f, 'receipt-id') as string) : undefined;
      if (s) receipted[s.kind].add(s.body);
    }
    pub.close();
    assert.ok(killed && receipted.q.size + receipted.t.size >= killAfter, 'killed after the chosen number of receipts');

    run = await gp.start();
    port = await stompPort(run);
    const q = await RawStomp.connect(port);
    await q.withReceipt('SUBSCRIBE', { id: 'q', destination: '/queue/crashq', ack: 'client-individual', 'prefetch-count': '500' });
    const gotQ = new Set(await collect(q, 500, 100_000));
    const t = await RawStomp.connect(port, { 'client-id': 'crash-sub' });
    await t.withReceipt('SUBSCRIBE', { id: 'dur', destination: '/topic/crash/t', durable: 'true', ack: 'client-individual', 'prefetch-count': '500' });
    const gotT = new Set(await collect(t, 500, 100_000));
    q.close();
    t.close();
    const lostQ = [...receipted.q].filter((b) => !gotQ.has(b));
    const lostT = [...receipted.t].filter((b) => !gotT.has(b));
    const why = `seed ${seed} flush ${flush} kill after ${killAfter}: receipted q=${receipted.q.size} t=${receipted.t.size}, got q=${gotQ.size} t=${gotT.size}`;
    assert.deepEqual(lostQ, [], `queue lost receipted SENDs: ${why}`);
    assert.deepEqual(lostT, [], `durable subscriber lost receipted SENDs: ${why}`);
  } finally {
    await gp.dispose();
  }
}

describe('stomp: SIGKILL loses no receipted SEND', () => {
  for (const [seed, flush] of [
    [4101, 'interval'],
    [4102, 'always'],
  ] as const) {
    it(`seed ${seed}, flush ${flush}: every receipted SEND to a /queue and to a durable subscriber arrives after restart`, async () => {
      await iteration(seed, flush);
    });
  }
});
