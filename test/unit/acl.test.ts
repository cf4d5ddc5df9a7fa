// Unit: Mosquitto ACL files - parsing, and mayRead / mayWrite / maySubscribe as tables. Imports src/core/acl.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AclParseError, covers, intersects, mayRead, maySubscribe, mayWrite, parseAcl } from '../../src/core/acl.ts';

const ACL = parseAcl(`
# anonymous clients: public/# read only
topic read public/#

user alice
topic readwrite alice/#
topic read sensors/#
topic deny sensors/secret
topic write cmd/+/set
topic $SYS/gateway/clients

user bob
topic sensors/bob/#
topic read $queue/jobs

# patterns: every user, wherever they stand
pattern readwrite users/%u/#
pattern read clients/%c
pattern deny sensors/%u/private
`);

const anon = { clientId: 'a1' };
const alice = { username: 'alice', clientId: 'c-alice' };
const bob = { username: 'bob', clientId: 'c-bob' };
const carol = { username: 'carol', clientId: 'c+carol' };

test('parse: rules before any user line are the anonymous list; user lists; patterns kept apart', () => {
  assert.deepEqual(ACL.anonymous, [{ access: 'read', filter: 'public/#' }]);
  assert.equal(ACL.users.get('alice')!.length, 5);
  assert.deepEqual(ACL.users.get('bob')![0], { access: 'readwrite', filter: 'sensors/bob/#' }, 'access defaults to readwrite');
  assert.equal(ACL.patterns.length, 3);
});

test('parse: a bad line names its number', () => {
  assert.throws(() => parseAcl('topic read a\nfrobnicate x\n'), (e: unknown) => e instanceof AclParseError && e.line === 2);
  assert.throws(() => parseAcl('topic\n'), AclParseError);
});

const reads: [string, { username?: string; clientId: string }, string, boolean][] = [
  ['anonymous reads public', anon, 'public/news', true],
  ['anonymous does not read sensors', anon, 'sensors/1/temp', false],
  ['anonymous gets no user patterns (%u)', anon, 'users/undefined/x', false],
  ['alice reads sensors', alice, 'sensors/1/temp', true],
  ['alice: deny beats read', alice, 'sensors/secret', false],
  ['alice reads her tree', alice, 'alice/x/y', true],
  ['alice: write-only is not read', alice, 'cmd/lamp/set', false],
  ['alice reads $SYS/gateway/clients (granted)', alice, '$SYS/gateway/clients', true],
  ['bob does not read $SYS/gateway/clients', bob, '$SYS/gateway/clients', false],
  ['bob reads his sensors', bob, 'sensors/bob/t', true],
  ['bob: pattern deny sensors/%u/private beats his readwrite', bob, 'sensors/bob/private', false],
  ['bob reads $queue/jobs', bob, '$queue/jobs', true],
  ['pattern %u for bob', bob, 'users/bob/inbox', true],
  ['pattern %u is not someone else', bob, 'users/alice/inbox', false],
  ['pattern %c', alice, 'clients/c-alice', true],
  ['unknown user: patterns only', { username: 'zed', clientId: 'z' }, 'users/zed/a', true],
  ['unknown user: no anonymous rules', { username: 'zed', clientId: 'z' }, 'public/news', false],
  ['a client id with + does not expand %c', carol, 'clients/c+carol', false],
];
for (const [name, who, topic, want] of reads) {
  test(`mayRead: ${name}`, () => assert.equal(mayRead(ACL, who, topic), want));
}

const writes: [string, { username?: string; clientId: string }, string, boolean][] = [
  ['anonymous cannot write public', anon, 'public/news', false],
  ['alice writes cmd/+/set', alice, 'cmd/lamp/set', true],
  ['alice: read-only sensors are not writable', alice, 'sensors/1/temp', false],
  ['alice writes her tree', alice, 'alice/x', true],
  ['bob writes his sensors', bob, 'sensors/bob/t', true],
  ['bob: read-only queue', bob, '$queue/jobs', false],
  ['bob writes users/bob via pattern', bob, 'users/bob/x', true],
];
for (const [name, who, topic, want] of writes) {
  test(`mayWrite: ${name}`, () => assert.equal(mayWrite(ACL, who, topic), want));
}

const subs: [string, { username?: string; clientId: string }, string, boolean][] = [
  ['alice # : some readable topics -> granted (deliveries filtered)', alice, '#', true],
  ['anonymous # : public/# readable -> granted', anon, '#', true],
  ['anonymous sensors/# : nothing readable -> refused', anon, 'sensors/#', false],
  ['alice sensors/secret : covered by deny -> refused', alice, 'sensors/secret', false],
  ['alice sensors/+ : deny covers only part -> granted', alice, 'sensors/+', true],
  ['alice $SYS/# : gateway/clients readable -> granted', alice, '$SYS/#', true],
  ['bob $SYS/# : nothing readable -> refused', bob, '$SYS/#', false],
  ['bob # does not reach $SYS rules, but reaches sensors/bob', bob, '#', true],
  ['bob +/bob/# intersects sensors/bob/#', bob, '+/bob/#', true],
  ['bob sensors/bob/private : pattern deny -> refused', bob, 'sensors/bob/private', false],
  ['alice cmd/# : write-only -> refused', alice, 'cmd/#', false],
];
for (const [name, who, filter, want] of subs) {
  test(`maySubscribe: ${name}`, () => assert.equal(maySubscribe(ACL, who, filter), want));
}

const inter: [string, string, boolean][] = [
  ['#', 'a/b', true],
  ['#', '$SYS/x', false],
  ['+/x', '$SYS/x', false],
  ['$SYS/#', '$SYS/gateway/clients', true],
  ['a/+/c', 'a/b/+', true],
  ['a/+/c', 'a/b/d', false],
  ['a/#', 'a', true],
  ['a/b', 'a/b/c', false],
  ['a/+', 'a/b/c', false],
];
for (const [a, b, want] of inter) {
  test(`intersects(${a}, ${b}) = ${want}`, () => {
    assert.equal(intersects(a, b), want);
    assert.equal(intersects(b, a), want, 'symmetric');
  });
}

const cov: [string, string, boolean][] = [
  ['#', 'a/b', true],
  ['#', '$SYS/x', false],
  ['a/#', 'a', true],
  ['a/+', 'a/b', true],
  ['a/+', 'a/#', false],
  ['a/b', 'a/+', false],
  ['a/+/c', 'a/+/c', true],
];
for (const [o, i, want] of cov) {
  test(`covers(${o}, ${i}) = ${want}`, () => assert.equal(covers(o, i), want));
}
