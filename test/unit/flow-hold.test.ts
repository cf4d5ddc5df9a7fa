// Unit tests for the outbound QoS 2 hold (src/core/flow-hold.ts): new QoS 2 flows wait for their durable record, what follows queues behind. Imports the hold and session types.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { needsDurableFlow, sendHeld, type HoldHost } from '../../src/core/flow-hold.ts';
import type { Message, QoS } from '../../src/core/message.ts';
import type { Outbound } from '../../src/core/session.ts';

const msg: Message = { topic: 't', payload: Buffer.from('x'), qos: 2, retain: false, properties: {}, createdAt: 0, expiresAt: 0, senderId: 'p' };
const pub = (packetId: number, qos: QoS, dup = false): Outbound => ({ type: 'publish', packetId, msg, qos, dup, retain: false, subscriptionIds: [] });
const rel = (packetId: number): Outbound => ({ type: 'pubrel', packetId });

class Link {
  readonly got: string[] = [];
  send(out: readonly Outbound[]): void {
    for (const o of out) this.got.push(o.type === 'pubrel' ? `R${o.packetId}` : `P${o.packetId}q${o.qos}`);
  }
}

/** A save that resolves when the test says; counts the writes. */
function saver(): { save: () => Promise<void>; saves: number; settle: () => Promise<void> } {
  const pending: (() => void)[] = [];
  const s = {
    saves: 0,
    save: () => {
      s.saves++;
      return new Promise<void>((r) => pending.push(r));
    },
    settle: async () => {
      pending.shift()?.();
      await new Promise((r) => setImmediate(r));
    },
  };
  return s;
}

const noFail = (err: unknown): void => assert.fail(String(err));

describe('flow hold', () => {
  it('needs a durable record: a new QoS 2 PUBLISH and a PUBREL only', () => {
    assert.equal(needsDurableFlow(pub(1, 2)), true);
    assert.equal(needsDurableFlow(rel(1)), true);
    assert.equal(needsDurableFlow(pub(1, 2, true)), false, 'a retransmission names a flow already stored');
    assert.equal(needsDurableFlow(pub(1, 1)), false);
    assert.equal(needsDurableFlow(pub(0, 0)), false);
  });

  it('QoS 0/1 and non-persistent sessions go at once, without a save', () => {
    const link = new Link();
    const host: HoldHost<Link> = { link };
    const s = saver();
    sendHeld(host, [pub(0, 0), pub(1, 1)], true, s.save, noFail);
    sendHeld(host, [pub(2, 2)], false, s.save, noFail);
    assert.deepEqual(link.got, ['P0q0', 'P1q1', 'P2q2']);
    assert.equal(s.saves, 0);
  });

  it('a new QoS 2 waits for its record; what comes meanwhile queues behind it, in order, under a second record', async () => {
    const link = new Link();
    const host: HoldHost<Link> = { link };
    const s = saver();
    sendHeld(host, [pub(1, 2)], true, s.save, noFail);
    sendHeld(host, [pub(0, 0)], true, s.save, noFail);
    sendHeld(host, [pub(2, 2)], true, s.save, noFail);
    assert.deepEqual(link.got, [], 'nothing overtakes the held QoS 2');
    assert.equal(s.saves, 1);
    await s.settle();
    assert.deepEqual(link.got, ['P1q2'], 'the later QoS 2 needs its own record');
    assert.equal(s.saves, 2);
    await s.settle();
    assert.deepEqual(link.got, ['P1q2', 'P0q0', 'P2q2']);
    assert.equal(host.held, undefined);
  });

  it('a failed record write still delivers (at least once rather than held)', async () => {
    const link = new Link();
    const host: HoldHost<Link> = { link };
    let reject!: (e: Error) => void;
    sendHeld(host, [rel(4)], true, () => new Promise<void>((_r, j) => (reject = j)), noFail);
    reject(new Error('disk'));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(link.got, ['R4']);
  });

  it('a hold belongs to its link: after a takeover the held items are not written to either link', async () => {
    const old = new Link();
    const host: HoldHost<Link> = { link: old };
    const s = saver();
    sendHeld(host, [pub(1, 2)], true, s.save, noFail);
    const fresh = new Link();
    host.link = fresh;
    host.held = undefined; // Broker.connect resets it for the new link
    sendHeld(host, [pub(0, 0)], true, s.save, noFail);
    assert.deepEqual(fresh.got, ['P0q0'], 'the new link is not held by the old one');
    await s.settle();
    assert.deepEqual(old.got, []);
    assert.deepEqual(fresh.got, ['P0q0']);
  });
});
