// Unit tests for src/core/router.ts: matching, collapse, noLocal, $share strategies, removal, and a seeded cross-check against topicMatches. Imports node:test, node:assert and ../../src/core/{router,topic}.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, type Delivery, type SubscriptionOptions, type RouterOptions } from '../../src/core/router.ts';
import { topicMatches, parseShared } from '../../src/core/topic.ts';
import { prng } from '../helpers/prng.ts';

interface Sess { readonly id: string; online?: boolean }

const sess = (id: string, online = true): Sess => ({ id, online });
const opts = (o: Partial<SubscriptionOptions> = {}): SubscriptionOptions =>
  ({ qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0, ...o });

function collect(r: Router<Sess>, topic: string, sender = 'pub'): Delivery<Sess>[] {
  const got: Delivery<Sess>[] = [];
  r.match(topic, sender, (d) => got.push(d));
  return got;
}
const ids = (ds: Delivery<Sess>[]): string[] => ds.map((d) => d.subscriber.id).sort();
const rr = (o: Partial<RouterOptions<Sess>> = {}): Router<Sess> => new Router<Sess>({ shareStrategy: 'round-robin', ...o });

test('plain matching with + and # and the $ rule', () => {
  const r = rr();
  r.subscribe(sess('a'), 'sport/tennis/+', opts());
  r.subscribe(sess('b'), 'sport/#', opts());
  r.subscribe(sess('c'), '#', opts());
  r.subscribe(sess('d'), '+/+', opts());
  r.subscribe(sess('e'), '$SYS/#', opts());
  r.subscribe(sess('f'), 'sport/+', opts());
  assert.deepEqual(ids(collect(r, 'sport/tennis/player1')), ['a', 'b', 'c']);
  assert.deepEqual(ids(collect(r, 'sport')), ['b', 'c']);          // sport/# matches sport; sport/+ does not
  assert.deepEqual(ids(collect(r, 'sport/')), ['b', 'c', 'd', 'f']); // + matches the empty level
  assert.deepEqual(ids(collect(r, '/finance')), ['c', 'd']);
  assert.deepEqual(ids(collect(r, '$SYS/broker')), ['e']);           // [MQTT-4.7.2-1]
  assert.deepEqual(ids(collect(r, 'other/x/y')), ['c']);
  assert.equal(r.size, 6);
});

test('overlapping subscriptions of one subscriber collapse: max QoS, all ids, retainAsPublished if any', () => {
  const r = rr();
  const a = sess('a');
  r.subscribe(a, 'x/+', opts({ qos: 0, subscriptionId: 7 }));
  r.subscribe(a, 'x/#', opts({ qos: 2, subscriptionId: 3 }));
  r.subscribe(a, 'x/y', opts({ qos: 1, retainAsPublished: true }));
  r.subscribe(sess('b'), 'x/y', opts({ qos: 1, subscriptionId: 9 }));
  const got = collect(r, 'x/y');
  assert.equal(got.length, 2);
  const da = got.find((d) => d.subscriber.id === 'a')!;
  assert.equal(da.qos, 2);
  assert.deepEqual(da.subscriptionIds, [3, 7]);
  assert.equal(da.retainAsPublished, true);
  assert.equal(da.shared, false);
  const db = got.find((d) => d.subscriber.id === 'b')!;
  assert.deepEqual(db.subscriptionIds, [9]);
  assert.equal(db.qos, 1);
  // Only x/# matches x: no collapse, the single subscription's values.
  const one = collect(r, 'x');
  assert.equal(one.length, 1);
  assert.deepEqual(one[0].subscriptionIds, [3]);
  assert.equal(one[0].retainAsPublished, false);
});

test('collapse with no subscription ids gives an empty, frozen ids array', () => {
  const r = rr();
  const a = sess('a');
  r.subscribe(a, 'x/+', opts());
  r.subscribe(a, 'x/#', opts({ qos: 1 }));
  const got = collect(r, 'x/y');
  assert.equal(got.length, 1);
  assert.equal(got[0].qos, 1);
  assert.deepEqual(got[0].subscriptionIds, []);
  assert.throws(() => got[0].subscriptionIds.push(1));
});

test('resubscribe replaces options and reports existed', () => {
  const r = rr();
  const a = sess('a');
  assert.deepEqual(r.subscribe(a, 't', opts({ qos: 0 })), { existed: false });
  assert.deepEqual(r.subscribe(a, 't', opts({ qos: 2, subscriptionId: 5 })), { existed: true });
  assert.equal(r.size, 1);
  const got = collect(r, 't');
  assert.equal(got.length, 1);
  assert.equal(got[0].qos, 2);
  assert.deepEqual(got[0].subscriptionIds, [5]);
  // A new object with the same id replaces the subscriber in deliveries.
  const a2 = sess('a');
  r.subscribe(a2, 'u', opts());
  assert.equal(collect(r, 't')[0].subscriber, a2);
});

test('noLocal skips only the sender and only that subscription', () => {
  const r = rr();
  const a = sess('a');
  r.subscribe(a, 'n/+', opts({ noLocal: true, subscriptionId: 1 }));
  r.subscribe(sess('b'), 'n/+', opts({ noLocal: true }));
  assert.deepEqual(ids(collect(r, 'n/1', 'a')), ['b']);
  assert.deepEqual(ids(collect(r, 'n/1', 'b')), ['a']);
  // An overlapping subscription without noLocal still delivers to the sender, with only its own id.
  r.subscribe(a, 'n/#', opts({ subscriptionId: 2 }));
  const got = collect(r, 'n/1', 'a');
  assert.deepEqual(ids(got), ['a', 'b']);
  assert.deepEqual(got.find((d) => d.subscriber.id === 'a')!.subscriptionIds, [2]);
});

test('shared round-robin: one member per message, every member gets an equal share', () => {
  const r = rr();
  const members = ['m1', 'm2', 'm3', 'm4'].map((id) => sess(id));
  for (const m of members) r.subscribe(m, '$share/g/jobs/+', opts({ qos: 1, subscriptionId: 4 }));
  r.subscribe(sess('plain'), 'jobs/+', opts());
  const counts = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    const got = collect(r, `jobs/${i % 3}`);
    assert.equal(got.length, 2);
    const s = got.filter((d) => d.shared);
    assert.equal(s.length, 1);
    assert.equal(s[0].qos, 1);
    assert.deepEqual(s[0].subscriptionIds, [4]);
    counts.set(s[0].subscriber.id, (counts.get(s[0].subscriber.id) ?? 0) + 1);
  }
  assert.deepEqual([...counts.entries()].sort(), [['m1', 100], ['m2', 100], ['m3', 100], ['m4', 100]]);
});

test('two groups on one filter and one member in two groups each get a delivery', () => {
  const r = rr();
  const a = sess('a');
  r.subscribe(a, '$share/g1/t', opts());
  r.subscribe(a, '$share/g2/t', opts());
  r.subscribe(a, 't', opts());
  const got = collect(r, 't');
  assert.equal(got.length, 3);
  assert.equal(got.filter((d) => d.shared).length, 2);
});

test('sticky: one topic stays on one member; many topics spread over all members', () => {
  const r = new Router<Sess>({ shareStrategy: 'sticky' });
  for (const id of ['s1', 's2', 's3']) r.subscribe(sess(id), '$share/g/dev/+/temp', opts());
  const owner = new Map<string, string>();
  for (let round = 0; round < 5; round++) {
    for (let t = 0; t < 60; t++) {
      const topic = `dev/${t}/temp`;
      const got = collect(r, topic);
      assert.equal(got.length, 1);
      const who = got[0].subscriber.id;
      if (owner.has(topic)) assert.equal(who, owner.get(topic), topic);
      else owner.set(topic, who);
    }
  }
  const perMember = new Map<string, number>();
  for (const who of owner.values()) perMember.set(who, (perMember.get(who) ?? 0) + 1);
  assert.equal(perMember.size, 3);
  for (const n of perMember.values()) assert.ok(n >= 5, `uneven spread ${[...perMember.entries()]}`);
  // Same member set in another router (subscribed in a different order) gives the same assignment.
  const r2 = new Router<Sess>({ shareStrategy: 'sticky' });
  for (const id of ['s3', 's1', 's2']) r2.subscribe(sess(id), '$share/g/dev/+/temp', opts());
  for (const [topic, who] of owner) assert.equal(collect(r2, topic)[0].subscriber.id, who);
});

test('unavailable members are skipped; if none is available, one is still chosen', () => {
  const all = ['u1', 'u2', 'u3'].map((id) => sess(id));
  const isAvailable = (s: Sess): boolean => s.online === true;
  for (const shareStrategy of ['round-robin', 'sticky'] as const) {
    const r = new Router<Sess>({ shareStrategy, isAvailable });
    for (const m of all) {
      m.online = true;
      r.subscribe(m, '$share/g/q', opts());
    }
    all[0].online = false;
    all[2].online = false;
    for (let i = 0; i < 20; i++) assert.deepEqual(ids(collect(r, 'q')), ['u2'], shareStrategy);
    all[1].online = false;
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const got = collect(r, 'q');
      assert.equal(got.length, 1, shareStrategy);
      seen.add(got[0].subscriber.id);
    }
    assert.ok(seen.size >= 1);
  }
});

test('shared noLocal member is not chosen for its own message', () => {
  const r = rr();
  r.subscribe(sess('a'), '$share/g/t', opts({ noLocal: true }));
  r.subscribe(sess('b'), '$share/g/t', opts());
  for (let i = 0; i < 10; i++) assert.deepEqual(ids(collect(r, 't', 'a')), ['b']);
  r.unsubscribe('b', '$share/g/t');
  assert.deepEqual(collect(r, 't', 'a'), []);
});

test('unsubscribe and unsubscribeAll remove subscriptions and prune the trie', () => {
  const r = rr();
  const a = sess('a');
  const b = sess('b');
  r.subscribe(a, 'p/+', opts());
  r.subscribe(a, 'p/#', opts());
  r.subscribe(a, '$share/g/p/q', opts());
  r.subscribe(b, 'p/q', opts());
  r.subscribe(b, '$share/g/p/q', opts());
  assert.equal(r.size, 5);
  assert.equal(r.unsubscribe('a', 'p/x'), false);
  assert.equal(r.unsubscribe('zz', 'p/+'), false);
  assert.equal(r.unsubscribe('a', 'p/+'), true);
  assert.equal(r.unsubscribe('a', 'p/+'), false);
  assert.equal(r.size, 4);
  assert.equal(collect(r, 'p/q').length, 3); // a via p/#, b plain, one group member
  assert.equal(r.unsubscribeAll('a'), 2);
  assert.equal(r.unsubscribeAll('a'), 0);
  assert.equal(r.size, 2);
  for (let i = 0; i < 5; i++) assert.deepEqual(ids(collect(r, 'p/q')), ['b', 'b']);
  assert.equal(r.unsubscribeAll('b'), 2);
  assert.equal(r.size, 0);
  assert.deepEqual(collect(r, 'p/q'), []);
  assert.deepEqual([...r.entries()], []);
  // The trie is empty again: the root has no children left.
  const root = (r as unknown as { root: { children?: unknown; plus?: unknown; hash?: unknown } }).root;
  assert.equal(root.children, undefined);
  assert.equal(root.plus, undefined);
  assert.equal(root.hash, undefined);
});

test('entries lists every (subscriber, filter, options)', () => {
  const r = rr();
  const a = sess('a');
  r.subscribe(a, 'x', opts({ qos: 1 }));
  r.subscribe(a, '$share/g/y', opts({ qos: 2, subscriptionId: 8 }));
  r.subscribe(sess('b'), 'x', opts());
  const list = [...r.entries()].map((e) => `${e.subscriber.id} ${e.filter} ${e.options.qos} ${e.options.subscriptionId ?? '-'}`).sort();
  assert.deepEqual(list, ['a $share/g/y 2 8', 'a x 1 -', 'b x 0 -']);
});

test('match is re-entrant from its callback', () => {
  const r = rr();
  r.subscribe(sess('a'), 'x/#', opts());
  r.subscribe(sess('a'), 'x/+', opts());
  r.subscribe(sess('b'), 'x/y', opts());
  r.subscribe(sess('b'), 'x/#', opts());
  const outer: string[] = [];
  const inner: string[] = [];
  r.match('x/y', 'pub', (d) => {
    outer.push(d.subscriber.id);
    r.match('x/z', 'pub', (e) => inner.push(e.subscriber.id));
  });
  assert.deepEqual(outer.sort(), ['a', 'b']);
  assert.deepEqual(inner.sort(), ['a', 'a', 'b', 'b']);
});


test('cross-check: Router.match agrees with topicMatches on random filters and topics (fixed seed)', () => {
  const rand = prng(20240607);
  const words = ['a', 'b', 'c', '', '$SYS', '$x'];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const randTopic = (): string => {
    const n = 1 + Math.floor(rand() * 4);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(i === 0 ? pick(words) : pick(words.slice(0, 4)));
    const t = parts.join('/');
    return t === '' ? 'a' : t;
  };
  const randFilter = (): string => {
    const n = 1 + Math.floor(rand() * 4);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      const x = rand();
      if (i === n - 1 && x < 0.15) parts.push('#');
      else if (x < 0.4) parts.push('+');
      else parts.push(i === 0 ? pick(words) : pick(words.slice(0, 4)));
    }
    const f = parts.join('/');
    const shared = rand() < 0.2 ? `$share/g${Math.floor(rand() * 2)}/` : '';
    return shared + (f === '' ? 'a' : f);
  };

  const r = rr();
  const subs: { id: string; filter: string; qos: 0 | 1 | 2; sid: number }[] = [];
  for (let i = 0; i < 2000; i++) {
    const id = `s${Math.floor(rand() * 300)}`;
    const filter = randFilter();
    const qos = Math.floor(rand() * 3) as 0 | 1 | 2;
    const sid = 1 + i;
    r.subscribe(sess(id), filter, opts({ qos, subscriptionId: sid }));
    const prev = subs.findIndex((s) => s.id === id && s.filter === filter);
    if (prev >= 0) subs[prev] = { id, filter, qos, sid };
    else subs.push({ id, filter, qos, sid });
  }
  // Remove a fifth again, to exercise pruning and index bookkeeping.
  for (let i = 0; i < 400; i++) {
    const k = Math.floor(rand() * subs.length);
    const s = subs[k];
    assert.equal(r.unsubscribe(s.id, s.filter), true);
    subs.splice(k, 1);
  }
  assert.equal(r.size, subs.length);

  // The reference answer, once per distinct topic (random topics repeat; this keeps the suite fast).
  interface Expected { plain: Map<string, { qos: number; ids: number[] }>; groups: Map<string, Set<string>> }
  const cache = new Map<string, Expected>();
  const expected = (topic: string): Expected => {
    const hit = cache.get(topic);
    if (hit) return hit;
    // Plain: per subscriber, max QoS and all ids. Shared: group+filter -> member ids.
    const plain = new Map<string, { qos: number; ids: number[] }>();
    const groups = new Map<string, Set<string>>();
    for (const s of subs) {
      if (!topicMatches(s.filter, topic)) continue;
      const sh = parseShared(s.filter);
      if (sh) {
        const key = `${sh.group}\u0000${sh.filter}`;
        if (!groups.has(key)) groups.set(key, new Set());
        groups.get(key)!.add(s.id);
      } else {
        const e = plain.get(s.id) ?? { qos: 0, ids: [] };
        e.qos = Math.max(e.qos, s.qos);
        e.ids.push(s.sid);
        plain.set(s.id, e);
      }
    }
    const e = { plain, groups };
    cache.set(topic, e);
    return e;
  };

  let nonEmpty = 0;
  for (let i = 0; i < 3000; i++) {
    const topic = randTopic();
    const { plain, groups } = expected(topic);
    const got = collect(r, topic);
    if (got.length > 0) nonEmpty++;
    const gotPlain = got.filter((d) => !d.shared);
    const gotShared = got.filter((d) => d.shared);
    assert.equal(gotPlain.length, plain.size, `plain count for ${topic}`);
    for (const d of gotPlain) {
      const e = plain.get(d.subscriber.id);
      assert.ok(e, `unexpected ${d.subscriber.id} for ${topic}`);
      assert.equal(d.qos, e.qos);
      assert.equal(d.subscriptionIds.join(), [...e.ids].sort((a, b) => a - b).join());
    }
    assert.equal(gotShared.length, groups.size, `shared count for ${topic}`);
    const allMembers = new Set<string>();
    for (const m of groups.values()) for (const id of m) allMembers.add(id);
    for (const d of gotShared) assert.ok(allMembers.has(d.subscriber.id));
  }
  assert.ok(nonEmpty > 1000, `the generator should produce matching topics (${nonEmpty})`);
  assert.ok(cache.size > 50, `the generator should produce varied topics (${cache.size})`);
});

test('fan-out smoke: 100 subscribers of sensors/+/temp, no duplicate deliveries, reasonable speed', () => {
  const r = rr();
  for (let i = 0; i < 100; i++) r.subscribe(sess(`c${i}`), 'sensors/+/temp', opts({ qos: 1 }));
  for (let i = 0; i < 1000; i++) r.subscribe(sess(`o${i}`), `other/${i}/#`, opts());
  let delivered = 0;
  const started = process.hrtime.bigint();
  const rounds = 20000;
  for (let i = 0; i < rounds; i++) r.match(`sensors/${i & 63}/temp`, 'pub', () => { delivered++; });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(delivered, rounds * 100);
  assert.ok(ms < 5000, `took ${ms} ms`);
});
