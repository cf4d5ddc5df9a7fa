// Unit test for Router.match's takesShare predicate (src/core/router.ts): a shared group it refuses gets no delivery and its round-robin cursor does not move, so a cluster node that delivers every other record of a group still alternates its own members. Imports node:test, node:assert and ../../src/core/router.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, type Delivery, type SubscriptionOptions } from '../../src/core/router.ts';

interface Sess { readonly id: string }
const opts: SubscriptionOptions = { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 };

test('a refused group: no delivery, cursor unmoved; the accepted records alternate over the members', () => {
  const r = new Router<Sess>({ shareStrategy: 'round-robin' });
  r.subscribe({ id: 'a' }, '$share/g/t', opts);
  r.subscribe({ id: 'b' }, '$share/g/t', opts);
  r.subscribe({ id: 'p' }, 't', opts);
  const got: string[] = [];
  const keys: string[] = [];
  for (let i = 0; i < 8; i++) {
    // This node delivers every other record to the group (as a two-node cluster's round-robin choice does).
    r.match('t', 'pub', (d: Delivery<Sess>) => {
      if (d.shareKey !== undefined) got.push(d.subscriber.id);
    }, (key) => {
      keys.push(key);
      return i % 2 === 0;
    });
  }
  assert.deepEqual(keys, Array(8).fill('$share/g/t'), 'asked once per record with the full share key');
  assert.deepEqual(got, ['a', 'b', 'a', 'b'], 'both members served in turn');
  // Plain subscribers are unaffected by the predicate.
  let plain = 0;
  r.match('t', 'pub', (d) => void (d.shareKey === undefined && plain++), () => false);
  assert.equal(plain, 1);
});
