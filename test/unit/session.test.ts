// Unit tests for the session state machine (src/core/session.ts). Imports the session, message and router types and node:test only.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Session, type DeliveryRequest, type DropReason, type Outbound, type SessionLimits } from '../../src/core/session.ts';
import type { Message, QoS } from '../../src/core/message.ts';
import type { SubscriptionOptions } from '../../src/core/router.ts';
import { GatewayError } from '../../src/core/errors.ts';

function limits(over: Partial<SessionLimits> = {}): SessionLimits {
  return { maxInflight: 10, maxQueued: 100, maxQueuedBytes: 1 << 20, dropPolicy: 'drop-oldest', queueQos0: false, ...over };
}

function msg(name: string, opts: { bytes?: number; expiresAt?: number } = {}): Message {
  return {
    topic: `t/${name}`,
    payload: Buffer.alloc(opts.bytes ?? 1, 0x61),
    qos: 2,
    retain: false,
    properties: {},
    createdAt: 0,
    expiresAt: opts.expiresAt ?? 0,
    senderId: 'pub',
  };
}

function req(m: Message, qos: QoS, subscriptionIds: readonly number[] = []): DeliveryRequest {
  return { msg: m, qos, retain: false, subscriptionIds };
}

/** Compact view of outbound packets: 'P<id>:<topic>[:dup]' / 'R<id>'. */
function show(out: readonly Outbound[]): string[] {
  return out.map((o) => (o.type === 'pubrel' ? `R${o.packetId}` : `P${o.packetId}:${o.msg.topic}${o.dup ? ':dup' : ''}`));
}

function online(l: Partial<SessionLimits> = {}): Session {
  const s = new Session('c1', limits(l));
  assert.deepEqual(s.attach(limits(l), 0), []);
  return s;
}

function recordDrops(s: Session): [DropReason, string][] {
  const seen: [DropReason, string][] = [];
  s.onDrop = (reason, m) => seen.push([reason, m.topic]);
  return seen;
}

describe('session: outbound QoS 1', () => {
  it('sends up to the window, queues the rest, PUBACK frees a slot and releases the next in order', () => {
    const s = online({ maxInflight: 2 });
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => msg(n));
    const outA = s.deliver(req(a, 1, [7]), 0);
    assert.equal(outA.length, 1);
    assert.deepEqual(outA[0], { type: 'publish', packetId: 1, msg: a, qos: 1, dup: false, retain: false, subscriptionIds: [7] });
    assert.equal(outA[0]!.type === 'publish' && outA[0]!.msg, a, 'the Message reference is kept, not copied');
    assert.deepEqual(show(s.deliver(req(b, 1), 0)), ['P2:t/b']);
    assert.deepEqual(show(s.deliver(req(c, 1), 0)), []);
    assert.deepEqual(show(s.deliver(req(d, 1), 0)), []);
    assert.equal(s.inflightCount, 2);
    assert.equal(s.queuedCount, 2);
    assert.deepEqual(show(s.onPuback(1, 0)), ['P3:t/c']);
    assert.deepEqual(show(s.onPuback(1, 0)), [], 'a second PUBACK for the same id is unknown');
    assert.deepEqual(show(s.onPuback(999, 0)), []);
    assert.deepEqual(show(s.onPuback(3, 0)), ['P4:t/d']);
    assert.equal(s.queuedCount, 0);
    assert.equal(s.inflightCount, 2);
    assert.deepEqual(s.drops, { 'queue-full': 0, expired: 0, 'offline-qos0': 0 });
  });

  it('sends QoS 0 at once with packet id 0 even when the window is full, without using a slot', () => {
    const s = online({ maxInflight: 1 });
    assert.deepEqual(show(s.deliver(req(msg('a'), 1), 0)), ['P1:t/a']);
    const out = s.deliver(req(msg('z'), 0), 0);
    assert.deepEqual(show(out), ['P0:t/z']);
    assert.equal(out[0]!.type === 'publish' && out[0]!.qos, 0);
    assert.equal(s.inflightCount, 1);
    assert.equal(s.isKnownOutbound(0), false);
  });

  it('drops a message that is already expired instead of sending it', () => {
    const s = online();
    const drops = recordDrops(s);
    assert.deepEqual(s.deliver(req(msg('old', { expiresAt: 100 }), 1), 100), []);
    assert.deepEqual(drops, [['expired', 't/old']]);
    assert.equal(s.inflightCount + s.queuedCount, 0);
  });
});

describe('session: outbound QoS 2', () => {
  it('PUBREC -> PUBREL -> PUBCOMP, the slot is held until PUBCOMP', () => {
    const s = online({ maxInflight: 1 });
    assert.deepEqual(show(s.deliver(req(msg('a'), 2), 0)), ['P1:t/a']);
    assert.deepEqual(show(s.deliver(req(msg('b'), 2), 0)), [], 'window of 1 is full');
    assert.deepEqual(s.onPuback(1, 0), [], 'PUBACK is not an answer to a QoS 2 PUBLISH');
    assert.deepEqual(s.onPubrec(1, 0), [{ type: 'pubrel', packetId: 1 }]);
    assert.equal(s.inflightCount, 1);
    assert.equal(s.isKnownOutbound(1), true);
    assert.deepEqual(s.onPubrec(1, 0), [{ type: 'pubrel', packetId: 1 }], 'a repeated PUBREC gets the PUBREL again');
    assert.equal(s.queuedCount, 1, 'after PUBREC the slot is still held');
    assert.deepEqual(show(s.onPubcomp(1, 0)), ['P2:t/b']);
    assert.equal(s.isKnownOutbound(1), false);
    assert.deepEqual(s.onPubcomp(1, 0), [], 'PUBCOMP for a finished id is unknown');
  });

  it('unknown PUBREC returns nothing and isKnownOutbound says so', () => {
    const s = online();
    assert.deepEqual(s.onPubrec(42, 0), []);
    assert.equal(s.isKnownOutbound(42), false);
    assert.deepEqual(s.onPubcomp(42, 0), []);
  });

  it('a PUBREC with an error reason ends the flow without PUBREL and frees the slot', () => {
    const s = online({ maxInflight: 1 });
    s.deliver(req(msg('a'), 2), 0);
    s.deliver(req(msg('b'), 1), 0);
    assert.deepEqual(show(s.onPubrecError(1, 0)), ['P2:t/b']);
    assert.equal(s.isKnownOutbound(1), false);
    assert.deepEqual(s.onPubrecError(2, 0), [], 'id 2 is QoS 1');
  });
});

describe('session: inbound QoS 2', () => {
  it('routes the first PUBLISH, not a duplicate awaiting PUBREL; PUBREL forgets the id', () => {
    const s = new Session('c1', limits());
    assert.equal(s.receiveQos2(5), true);
    assert.equal(s.receiveQos2(5), false);
    assert.equal(s.receiveQos2(6), true);
    assert.equal(s.inboundQos2Count, 2);
    assert.equal(s.release(5), true);
    assert.equal(s.release(5), false, 'unknown PUBREL -> PUBCOMP 0x92');
    assert.equal(s.inboundQos2Count, 1);
    assert.equal(s.receiveQos2(5), true, 'after PUBREL the id is new again');
  });
});

describe('session: packet ids', () => {
  it('wraps 65535 -> 1, never 0, skipping ids still held', () => {
    const s = online({ maxInflight: 3 });
    assert.deepEqual(show(s.deliver(req(msg('held1'), 1), 0)), ['P1:t/held1']);
    assert.deepEqual(show(s.deliver(req(msg('held2'), 2), 0)), ['P2:t/held2']);
    s.onPubrec(2, 0); // held in the 'pubrel' state
    const m = msg('x');
    let last = 0;
    for (let expect = 3; expect <= 0xffff; expect++) {
      const out = s.deliver(req(m, 1), 0);
      assert.equal(out.length, 1);
      const id = out[0]!.packetId;
      if (id !== expect) assert.fail(`expected id ${expect}, got ${id}`);
      s.onPuback(id, 0);
      last = id;
    }
    assert.equal(last, 0xffff);
    assert.deepEqual(show(s.deliver(req(msg('y'), 1), 0)), ['P3:t/y'], 'wrapped past the held 1 and 2');
    s.onPuback(1, 0);
    assert.deepEqual(show(s.deliver(req(msg('z'), 1), 0)), ['P4:t/z']);
    s.onPubcomp(2, 0);
    s.onPuback(3, 0);
    s.onPuback(4, 0);
    // And from a restored cursor at the top of the range with held ids on both sides of the wrap.
    const r = Session.restore(
      {
        id: 'c2', expiryInterval: 0, subscriptions: [], queue: [], inboundQos2: [], nextPacketId: 0xfffe,
        inflight: [
          { packetId: 0xffff, state: 'publish', req: req(msg('h1'), 1) },
          { packetId: 1, state: 'pubrel', req: req(msg('h2'), 2) },
        ],
      },
      limits({ maxInflight: 5 }),
    );
    r.attach(limits({ maxInflight: 5 }), 0);
    const ids = [0, 1, 2].map(() => r.deliver(req(m, 2), 0)[0]!.packetId);
    assert.deepEqual(ids, [0xfffe, 2, 3]);
  });
});

describe('session: reconnect', () => {
  it('resends unacknowledged PUBLISHes with dup and original ids, then the queue in order', () => {
    const s = online({ maxInflight: 2 });
    for (const n of ['m1', 'm2', 'm3', 'm4']) s.deliver(req(msg(n), 1), 0);
    s.detach();
    assert.equal(s.connected, false);
    assert.deepEqual(s.deliver(req(msg('m5'), 2), 0), [], 'offline: queued');
    assert.deepEqual(s.onPuback(7, 0), []);
    const out = s.attach(limits({ maxInflight: 5 }), 0);
    assert.equal(s.connected, true);
    assert.deepEqual(show(out), ['P1:t/m1:dup', 'P2:t/m2:dup', 'P3:t/m3', 'P4:t/m4', 'P5:t/m5']);
    assert.equal(s.queuedCount, 0);
    assert.equal(s.inflightCount, 5);
  });

  it('after PUBREC only the PUBREL is resent, in PUBREC order, after the PUBLISH resends', () => {
    const s = online();
    s.deliver(req(msg('q2a'), 2), 0); // 1
    s.deliver(req(msg('q2b'), 2), 0); // 2
    s.deliver(req(msg('q1'), 1), 0); // 3
    s.onPubrec(2, 0);
    s.onPubrec(1, 0);
    s.detach();
    assert.deepEqual(show(s.attach(limits(), 0)), ['P3:t/q1:dup', 'R2', 'R1']);
    assert.deepEqual(s.onPubcomp(2, 0), []);
    assert.deepEqual(s.onPubcomp(1, 0), []);
    assert.deepEqual(s.onPuback(3, 0), []);
    assert.equal(s.inflightCount, 0);
  });

  it('drops expired messages from the queue on attach but resends expired in-flight ones', () => {
    const s = online({ maxInflight: 1 });
    const drops = recordDrops(s);
    s.deliver(req(msg('sent', { expiresAt: 1000 }), 1), 0);
    s.deliver(req(msg('queued-expiring', { expiresAt: 1000 }), 1), 0);
    s.deliver(req(msg('queued-forever'), 1), 0);
    s.detach();
    s.deliver(req(msg('offline-expiring', { expiresAt: 3000 }), 2), 500);
    assert.equal(s.queuedCount, 3);
    const out = s.attach(limits({ maxInflight: 3 }), 2000);
    assert.deepEqual(show(out), ['P1:t/sent:dup', 'P2:t/queued-forever', 'P3:t/offline-expiring']);
    assert.deepEqual(drops, [['expired', 't/queued-expiring']]);
    assert.equal(s.drops.expired, 1);
    assert.equal(s.queuedCount, 0);
    assert.equal(s.queuedBytes, 0);
  });

  it('a smaller receive maximum on reattach limits resends and new sends to the new window', () => {
    const s = online({ maxInflight: 4 });
    for (const [n, q] of [['a', 1], ['b', 1], ['c', 1], ['d', 2]] as const) s.deliver(req(msg(n), q), 0);
    s.onPubrec(4, 0);
    s.detach();
    s.deliver(req(msg('e'), 1), 0);
    const small = limits({ maxInflight: 2 });
    // PUBREL 4 holds one slot, so one PUBLISH is resent now.
    assert.deepEqual(show(s.attach(small, 0)), ['P1:t/a:dup', 'R4']);
    assert.equal(s.inflightCount, 4);
    assert.deepEqual(s.deliver(req(msg('f'), 1), 0), [], 'queued behind pending resends and the queue');
    assert.deepEqual(show(s.deliver(req(msg('g'), 0), 0)), ['P0:t/g'], 'QoS 0 still goes straight out');
    assert.deepEqual(show(s.onPuback(1, 0)), ['P2:t/b:dup']);
    assert.deepEqual(show(s.onPubcomp(4, 0)), ['P3:t/c:dup']);
    assert.deepEqual(show(s.onPuback(2, 0)), ['P5:t/e']);
    assert.deepEqual(show(s.onPuback(3, 0)), ['P6:t/f']);
    assert.equal(s.inflightCount, 2);
    assert.equal(s.queuedCount, 0);
  });

  it('a PUBACK for an id still waiting for its resend frees it', () => {
    const s = online({ maxInflight: 3 });
    for (const n of ['a', 'b', 'c']) s.deliver(req(msg(n), 1), 0);
    s.detach();
    assert.deepEqual(show(s.attach(limits({ maxInflight: 1 }), 0)), ['P1:t/a:dup']);
    assert.deepEqual(s.onPuback(2, 0), []);
    assert.deepEqual(show(s.onPuback(1, 0)), ['P3:t/c:dup']);
    assert.equal(s.inflightCount, 1);
  });
});

describe('session: queue limits', () => {
  it('drop-oldest evicts the head and counts it; order of the survivors is kept', () => {
    const s = new Session('c1', limits({ maxQueued: 100, dropPolicy: 'drop-oldest' }));
    const drops = recordDrops(s);
    for (let i = 0; i < 1000; i++) s.deliver(req(msg(`m${i}`), 1), 0);
    assert.equal(s.queuedCount, 100);
    assert.equal(s.drops['queue-full'], 900);
    assert.deepEqual(drops[0], ['queue-full', 't/m0']);
    assert.deepEqual(drops[899], ['queue-full', 't/m899']);
    const out = s.attach(limits({ maxInflight: 1000, maxQueued: 100 }), 0);
    assert.deepEqual(
      out.map((o) => (o.type === 'publish' ? o.msg.topic : '')),
      Array.from({ length: 100 }, (_, i) => `t/m${900 + i}`),
    );
  });

  it('drop-newest keeps the queue and drops the new message, counted', () => {
    const s = new Session('c1', limits({ maxQueued: 2, dropPolicy: 'drop-newest' }));
    const drops = recordDrops(s);
    for (const n of ['a', 'b', 'c', 'd']) s.deliver(req(msg(n), 1), 0);
    assert.deepEqual(drops, [['queue-full', 't/c'], ['queue-full', 't/d']]);
    assert.deepEqual(s.drops, { 'queue-full': 2, expired: 0, 'offline-qos0': 0 });
    assert.deepEqual(show(s.attach(limits(), 0)), ['P1:t/a', 'P2:t/b']);
  });

  it('bounds the queue by payload bytes', () => {
    const s = new Session('c1', limits({ maxQueuedBytes: 10, dropPolicy: 'drop-oldest' }));
    const drops = recordDrops(s);
    for (const n of ['a', 'b', 'c']) s.deliver(req(msg(n, { bytes: 4 }), 1), 0);
    assert.equal(s.queuedCount, 2);
    assert.equal(s.queuedBytes, 8);
    assert.deepEqual(drops, [['queue-full', 't/a']]);
    s.deliver(req(msg('huge', { bytes: 11 }), 1), 0);
    assert.deepEqual(drops[1], ['queue-full', 't/huge'], 'bigger than the whole bound: dropped without evicting');
    assert.equal(s.queuedCount, 2);
    s.deliver(req(msg('two', { bytes: 2 }), 1), 0);
    assert.equal(s.queuedBytes, 10);
    assert.equal(s.queuedCount, 3);
    assert.deepEqual(show(s.attach(limits({ maxInflight: 1, maxQueuedBytes: 10 }), 0)), ['P1:t/b']);
    assert.equal(s.queuedBytes, 6);
    s.onPuback(1, 0);
    assert.equal(s.queuedBytes, 2);
  });

  it('drop-newest with a byte bound also drops the new one', () => {
    const s = new Session('c1', limits({ maxQueuedBytes: 5, dropPolicy: 'drop-newest' }));
    s.deliver(req(msg('a', { bytes: 3 }), 1), 0);
    s.deliver(req(msg('b', { bytes: 3 }), 1), 0);
    assert.equal(s.queuedCount, 1);
    assert.equal(s.drops['queue-full'], 1);
  });

  it('QoS 0 offline is dropped (offline-qos0) unless queueQos0; queued QoS 0 goes out with id 0 outside the window', () => {
    const dropping = new Session('c1', limits({ queueQos0: false }));
    const drops = recordDrops(dropping);
    assert.deepEqual(dropping.deliver(req(msg('z'), 0), 0), []);
    assert.deepEqual(drops, [['offline-qos0', 't/z']]);
    assert.equal(dropping.queuedCount, 0);

    const keeping = new Session('c2', limits({ queueQos0: true, maxInflight: 1 }));
    keeping.deliver(req(msg('a'), 1), 0);
    keeping.deliver(req(msg('z'), 0), 0);
    keeping.deliver(req(msg('b'), 1), 0);
    assert.equal(keeping.queuedCount, 3);
    assert.equal(keeping.drops['offline-qos0'], 0);
    assert.deepEqual(show(keeping.attach(limits({ queueQos0: true, maxInflight: 1 }), 0)), ['P1:t/a', 'P0:t/z']);
    assert.deepEqual(show(keeping.onPuback(1, 0)), ['P2:t/b']);
  });
});

describe('session: snapshot and restore', () => {
  const subOpts: SubscriptionOptions = { qos: 2, noLocal: true, retainAsPublished: false, retainHandling: 1, subscriptionId: 9 };

  function busy(): Session {
    const s = online({ maxInflight: 3 });
    s.expiryInterval = 3600;
    s.subscriptions.set('t/#', subOpts);
    for (let i = 0; i < 10; i++) s.onPuback(s.deliver(req(msg('warm'), 1), 0)[0]!.packetId, 0); // cursor at 11
    s.deliver(req(msg('q1'), 1, [9]), 0); // 11, awaiting PUBACK
    s.deliver(req(msg('q2'), 2), 0); // 12, will await PUBCOMP
    s.onPubrec(12, 0);
    s.deliver(req(msg('q2b'), 2), 0); // 13, awaiting PUBREC
    s.deliver(req(msg('queued'), 1), 0);
    s.receiveQos2(77);
    s.detach();
    return s;
  }

  it('round-trips every flow: ids, states, queue, inbound ids, subscriptions, id cursor', () => {
    const a = busy();
    const snap = a.snapshot();
    assert.deepEqual(snap.inflight.map((e) => [e.packetId, e.state]), [[11, 'publish'], [13, 'publish'], [12, 'pubrel']]);
    assert.equal(snap.nextPacketId, 14);
    assert.equal(snap.queue.length, 1);
    const b = Session.restore(snap, limits({ maxInflight: 3 }));
    assert.deepEqual(b.snapshot(), snap);
    assert.equal(b.id, 'c1');
    assert.equal(b.expiryInterval, 3600);
    assert.deepEqual(b.subscriptions.get('t/#'), subOpts);
    assert.equal(b.connected, false);
    assert.equal(b.receiveQos2(77), false, 'inbound QoS 2 id still awaiting PUBREL');
    assert.equal(b.release(77), true);

    const outA = a.attach(limits({ maxInflight: 4 }), 0);
    const outB = b.attach(limits({ maxInflight: 4 }), 0);
    assert.deepEqual(show(outB), ['P11:t/q1:dup', 'P13:t/q2b:dup', 'R12', 'P14:t/queued']);
    assert.deepEqual(outB, outA);
    assert.deepEqual(b.onPubrec(13, 0), [{ type: 'pubrel', packetId: 13 }]);
    assert.deepEqual(b.onPubcomp(12, 0), []);
    assert.deepEqual(b.onPubcomp(13, 0), []);
    assert.deepEqual(b.onPuback(11, 0), []);
    assert.deepEqual(b.onPuback(14, 0), []);
    assert.equal(b.inflightCount, 0);
  });

  it('applies the new queue limits on restore, counting what no longer fits', () => {
    const snap = busy().snapshot();
    snap.queue.push(req(msg('more'), 1), req(msg('most'), 1));
    const b = Session.restore(snap, limits({ maxQueued: 1, dropPolicy: 'drop-oldest' }));
    assert.equal(b.queuedCount, 1);
    assert.equal(b.drops['queue-full'], 2);
  });

  it('rejects an image with a bad or repeated packet id', () => {
    const base = busy().snapshot();
    const zero = { ...base, inflight: [{ packetId: 0, state: 'publish' as const, req: req(msg('x'), 1) }] };
    assert.throws(() => Session.restore(zero, limits()), (e: unknown) => e instanceof GatewayError && e.code === 'IMPLEMENTATION_SPECIFIC');
    const dup = { ...base, inflight: [...base.inflight, { packetId: 11, state: 'pubrel' as const, req: req(msg('x'), 2) }] };
    assert.throws(() => Session.restore(dup, limits()), GatewayError);
  });
});

describe('session: lifecycle and limits', () => {
  it('clear() forgets flows, queue, inbound ids and subscriptions, keeps the drop counters', () => {
    const s = new Session('c1', limits({ maxQueued: 1, dropPolicy: 'drop-newest' }));
    s.subscriptions.set('a', { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 });
    s.deliver(req(msg('a'), 1), 0);
    s.deliver(req(msg('b'), 1), 0);
    s.receiveQos2(3);
    s.clear();
    assert.equal(s.queuedCount + s.queuedBytes + s.inflightCount + s.inboundQos2Count + s.subscriptions.size, 0);
    assert.equal(s.drops['queue-full'], 1);
    assert.deepEqual(show(s.attach(limits(), 0)), []);
    assert.deepEqual(show(s.deliver(req(msg('c'), 1), 0)), ['P1:t/c'], 'ids start again at 1');
  });

  it('rejects a window below 1', () => {
    assert.throws(() => new Session('c1', limits({ maxInflight: 0 })), (e: unknown) => e instanceof GatewayError && e.code === 'CONFIG_INVALID');
    const s = new Session('c1', limits());
    assert.throws(() => s.attach(limits({ maxInflight: 1.5 }), 0), GatewayError);
  });

  it('returns a frozen shared array for "nothing"', () => {
    const s = new Session('c1', limits());
    const none = s.onPuback(1, 0);
    assert.equal(none.length, 0);
    assert.throws(() => none.push({ type: 'pubrel', packetId: 1 }), TypeError);
  });
});

describe('session: requeue (STOMP NACK)', () => {
  it('puts a NACKed QoS 1 message back at the head and resends it under a new id before the queue', () => {
    const s = online({ maxInflight: 1 });
    const [a] = s.deliver(req(msg('a'), 1), 0);
    assert.deepEqual(show([a!]), ['P1:t/a']);
    assert.deepEqual(s.deliver(req(msg('b'), 1), 0), []);
    assert.equal(s.queuedCount, 1);
    assert.equal(s.unackedMessage(1)?.topic, 't/a');
    assert.equal(s.unackedMessage(7), undefined);
    assert.deepEqual(show(s.requeue(1, 0)), ['P2:t/a']);
    assert.equal(s.unackedMessage(1), undefined);
    assert.equal(s.queuedCount, 1);
    assert.deepEqual(show(s.onPuback(2, 0)), ['P3:t/b']);
    assert.equal(s.inflightCount, 1);
  });

  it('keeps the message queued while offline and ignores unknown or QoS 2 ids', () => {
    const s = online({ maxInflight: 2 });
    s.deliver(req(msg('a'), 1), 0);
    s.deliver(req(msg('b'), 2), 0);
    assert.deepEqual(s.requeue(9, 0), []);
    assert.deepEqual(s.requeue(2, 0), []);
    s.detach();
    assert.deepEqual(s.requeue(1, 0), []);
    assert.equal(s.queuedCount, 1);
    assert.equal(s.inflightCount, 1);
    const out = show(s.attach(limits({ maxInflight: 2 }), 0));
    assert.deepEqual(out, ['P2:t/b:dup', 'P3:t/a']);
  });

  it('grows the ring when requeueing in front of a full queue', () => {
    const s = online({ maxInflight: 1 });
    s.deliver(req(msg('x'), 1), 0);
    for (let i = 0; i < 16; i++) s.deliver(req(msg(`q${i}`), 1), 0);
    assert.deepEqual(show(s.requeue(1, 0)), ['P2:t/x']);
    assert.deepEqual(show(s.onPuback(2, 0)), ['P3:t/q0']);
    assert.equal(s.queuedCount, 15);
  });
});

describe('session: read-ahead and behind mode (the log is the queue)', () => {
  const logged = (name: string, partition: number, offset: number): Message => ({ ...msg(name), ref: { partition, offset } });

  it('a log-backed message that overflows the buffer is not dropped: the session goes behind at that offset', () => {
    const s = online({ maxInflight: 1, maxQueued: 2 });
    const drops = recordDrops(s);
    let routed = [5, 7];
    s.logPosition = () => routed;
    let behindCalls = 0;
    s.onBehind = () => behindCalls++;
    assert.deepEqual(show(s.deliver(req(logged('a', 0, 1), 1), 0)), ['P1:t/a']);
    s.deliver(req(logged('b', 0, 2), 1), 0);
    s.deliver(req(logged('c', 1, 3), 1), 0);
    assert.equal(s.behind, false);
    routed = [5, 8];
    assert.deepEqual(s.deliver(req(logged('d', 1, 7), 1), 0), []);
    assert.equal(s.behind, true);
    assert.equal(behindCalls, 1);
    assert.deepEqual(s.cursor, [5, 7], 'routed watermark elsewhere, the overflowing offset in its own partition');
    assert.deepEqual(drops, [], 'nothing dropped');
    assert.equal(s.queuedCount, 2, 'the buffer keeps what it had');
  });

  it('while behind, live log-backed plain deliveries are skipped; shared ones and ones without a log ref are not', () => {
    const s = online({ maxInflight: 1, maxQueued: 1 });
    s.logPosition = () => [0];
    s.goBehind([0]);
    assert.deepEqual(s.deliver(req(logged('skip', 0, 4), 1), 0), []);
    assert.equal(s.queuedCount, 0, 'the reader will deliver it from the log');
    assert.deepEqual(show(s.deliver({ ...req(logged('grp', 0, 5), 1), shared: true }, 0)), ['P1:t/grp']);
    assert.deepEqual(show(s.deliver(req(msg('q0'), 0), 0)), ['P0:t/q0'], 'QoS 0 without a log ref still goes out live');
  });

  it('without logPosition (persistence off) the old bounded queue and drop policy apply', () => {
    const s = online({ maxInflight: 1, maxQueued: 1 });
    const drops = recordDrops(s);
    s.deliver(req(logged('a', 0, 0), 1), 0);
    s.deliver(req(logged('b', 0, 1), 1), 0);
    s.deliver(req(logged('c', 0, 2), 1), 0);
    assert.equal(s.behind, false);
    assert.deepEqual(drops, [['queue-full', 't/b']]);
  });

  it('feed() takes catch-up messages past the bounds and in order after the buffer; onRoom fires once at half', () => {
    const s = online({ maxInflight: 1, maxQueued: 4 });
    s.logPosition = () => [0];
    s.goBehind([0]);
    assert.deepEqual(show(s.feed(req(logged('a', 0, 0), 1), 0)), ['P1:t/a']);
    for (const n of ['b', 'c', 'd', 'e', 'f']) s.feed(req(logged(n, 0, 1), 1), 0);
    assert.equal(s.queuedCount, 5, 'the reader checks hasRoom; feed itself never drops');
    assert.equal(s.hasRoom(), false);
    let rooms = 0;
    s.onRoom = () => rooms++;
    s.wantRoom = true;
    assert.deepEqual(show(s.onPuback(1, 0)), ['P2:t/b']);
    assert.deepEqual(show(s.onPuback(2, 0)), ['P3:t/c']);
    assert.equal(rooms, 0, 'still above half');
    assert.deepEqual(show(s.onPuback(3, 0)), ['P4:t/d']);
    assert.equal(rooms, 1, '2 of 4 left: room');
    assert.equal(s.wantRoom, false);
    s.onPuback(4, 0);
    assert.equal(rooms, 1, 'fires once per request');
    assert.equal(s.hasRoom(), true);
  });

  it('advance() only moves forward; leaveBehind() returns to live; clear() forgets the cursor', () => {
    const s = online();
    s.goBehind([3, 9]);
    s.advance(0, 5);
    s.advance(0, 2);
    assert.deepEqual(s.cursor, [6, 9]);
    s.leaveBehind();
    assert.equal(s.behind, false);
    assert.equal(s.cursor, undefined);
    s.goBehind([1]);
    s.clear();
    assert.equal(s.behind, false);
  });

  it('canAccept: QoS 0 online and a free window always; otherwise only with room', () => {
    const s = online({ maxInflight: 1, maxQueued: 1 });
    assert.equal(s.canAccept(req(msg('a'), 1)), true);
    s.deliver(req(msg('a'), 1), 0);
    assert.equal(s.canAccept(req(msg('b'), 1)), true, 'window full, buffer has room');
    s.deliver(req(msg('b'), 1), 0);
    assert.equal(s.canAccept(req(msg('c'), 1)), false);
    assert.equal(s.canAccept(req(msg('z'), 0)), true);
  });
});
