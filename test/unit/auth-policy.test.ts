// Unit: GatewayAuth decisions - anonymous rule by listener address, password file, admin token, TLS identity, $SYS rules, per-address backoff, reload. Imports src/core.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_USERNAME, GatewayAuth, type AuthSettings, type ClientIdentity } from '../../src/core/auth.ts';
import { parseAcl } from '../../src/core/acl.ts';
import { hashPassword } from '../../src/core/password.ts';

const passwords = new Map([['alice', hashPassword('alice-pw')]]);
const base: AuthSettings = { allowAnonymous: 'loopback', useIdentityAsUsername: false, adminToken: '' };
const who = (o: Partial<ClientIdentity> = {}): ClientIdentity => ({ clientId: 'c', protocol: 'mqtt', remoteAddress: '10.0.0.9', localAddress: '127.0.0.1', ...o });
const pw = (s: string): Buffer => Buffer.from(s);
const NO_BACKOFF = { free: 1000, baseMs: 0, maxMs: 0, forgetMs: 1, maxAddresses: 10 };

test('allowAnonymous loopback (default): anonymous on 127.0.0.1 / ::1 only; true everywhere; false never', async () => {
  const a = new GatewayAuth(base, NO_BACKOFF);
  assert.equal(await a.authenticate(who({ localAddress: '127.0.0.1' }), undefined), true);
  assert.equal(await a.authenticate(who({ localAddress: '::ffff:127.0.0.1' }), undefined), true);
  assert.equal(await a.authenticate(who({ localAddress: '::1' }), undefined), true);
  assert.equal(await a.authenticate(who({ localAddress: '192.168.1.5' }), undefined), 'not-authorized');
  a.update({ ...base, allowAnonymous: true });
  assert.equal(await a.authenticate(who({ localAddress: '192.168.1.5' }), undefined), true);
  a.update({ ...base, allowAnonymous: false });
  assert.equal(await a.authenticate(who({ localAddress: '127.0.0.1' }), undefined), 'not-authorized');
  assert.equal(a.counters.notAuthorized, 2);
});

test('password file: right password accepted, wrong or unknown user refused as bad credentials', async () => {
  const a = new GatewayAuth({ ...base, passwords }, NO_BACKOFF);
  assert.equal(await a.authenticate(who({ username: 'alice' }), pw('alice-pw')), true);
  assert.equal(await a.authenticate(who({ username: 'alice' }), pw('nope')), false);
  assert.equal(await a.authenticate(who({ username: 'alice' }), undefined), false);
  assert.equal(await a.authenticate(who({ username: 'mallory' }), pw('alice-pw')), false);
  assert.equal(a.counters.badCredentials, 3);
});

test('admin login: $admin with http.adminToken gets the admin role (reads everything, never writes $SYS); without a token it is refused', async () => {
  const a = new GatewayAuth({ ...base, adminToken: 'a-token-of-16-chars' }, NO_BACKOFF);
  const w = who({ username: ADMIN_USERNAME });
  assert.equal(await a.authenticate(w, pw('wrong-token-of-16ch')), false);
  assert.equal(await a.authenticate(w, pw('a-token-of-16-chars')), true);
  assert.equal(w.role, 'admin');
  assert.equal(a.authorizeRead(w, '$SYS/gateway/clients'), true);
  assert.equal(a.authorizePublish(w, '$SYS/broker/uptime'), false);
  const off = new GatewayAuth(base, NO_BACKOFF);
  assert.equal(await off.authenticate(who({ username: ADMIN_USERNAME }), pw('')), false);
});

test('tls.useIdentityAsUsername: a verified certificate CN replaces the username; no password needed', async () => {
  const a = new GatewayAuth({ ...base, passwords, allowAnonymous: false, useIdentityAsUsername: true }, NO_BACKOFF);
  const w = who({ username: 'claimed', certificateCN: 'device-7' });
  assert.equal(await a.authenticate(w, undefined), true);
  assert.equal(w.username, 'device-7');
  assert.equal(await a.authenticate(who({ username: 'claimed' }), undefined), false, 'no certificate: the password file decides');
});

test('a verified client certificate is not anonymous: accepted from a remote address with allowAnonymous loopback', async () => {
  const a = new GatewayAuth(base, NO_BACKOFF);
  assert.equal(await a.authenticate(who({ localAddress: '192.168.1.5', certificateCN: 'dev' }), undefined), true);
  assert.equal(await a.authenticate(who({ localAddress: '192.168.1.5' }), undefined), 'not-authorized');
});

test('$SYS: never writable, even when the ACL grants it; $SYS/gateway/clients readable only as granted (no ACL: loopback only)', () => {
  const acl = parseAcl('user alice\ntopic readwrite $SYS/#\nuser bob\ntopic read #\n');
  const a = new GatewayAuth({ ...base, acl }, NO_BACKOFF);
  const alice = who({ username: 'alice' });
  const bob = who({ username: 'bob' });
  assert.equal(a.authorizePublish(alice, '$SYS/broker/clients/connected'), false);
  assert.equal(a.authorizeRead(alice, '$SYS/gateway/clients'), true);
  assert.equal(a.authorizeRead(bob, '$SYS/gateway/clients'), false, '# does not reach $SYS');
  const open = new GatewayAuth(base, NO_BACKOFF);
  assert.equal(open.authorizePublish(who(), '$SYS'), false);
  assert.equal(open.authorizePublish(who(), 'plain/topic'), true);
  assert.equal(open.authorizeRead(who({ localAddress: '127.0.0.1' }), '$SYS/gateway/clients'), true);
  assert.equal(open.authorizeRead(who({ localAddress: '10.1.1.1' }), '$SYS/gateway/clients'), false);
  assert.equal(open.authorizeRead(who({ localAddress: '10.1.1.1' }), '$SYS/broker/uptime'), true);
  const withToken = new GatewayAuth({ ...base, adminToken: 'a-token-of-16-chars' }, NO_BACKOFF);
  assert.equal(withToken.authorizeRead(who({ localAddress: '127.0.0.1' }), '$SYS/gateway/clients'), false, 'an admin token makes the list admin-only');
  assert.equal(withToken.authorizeRead(who({ role: 'admin' }), '$SYS/gateway/clients'), true);
  assert.equal(a.counters.publishDenied, 1);
});

test('subscribe: $share/<g>/ is stripped before the ACL; internal subscribers are never filtered', () => {
  const a = new GatewayAuth({ ...base, acl: parseAcl('user u\ntopic read jobs/#\n') }, NO_BACKOFF);
  const u = who({ username: 'u' });
  assert.equal(a.authorizeSubscribe(u, '$share/g/jobs/+'), true);
  assert.equal(a.authorizeSubscribe(u, '$share/g/other/+'), false);
  assert.equal(a.authorizeRead({ clientId: '$queue/x', protocol: 'stomp', role: 'internal' }, '$queue/x'), true);
  assert.equal(a.counters.subscribeDenied, 1);
});

test('reload: a new ACL applies to an existing identity at its next check', () => {
  const a = new GatewayAuth({ ...base, acl: parseAcl('user u\ntopic read a/#\n') }, NO_BACKOFF);
  const u = who({ username: 'u' });
  assert.equal(a.authorizeRead(u, 'a/1'), true);
  a.update({ ...base, acl: parseAcl('user u\ntopic read b/#\n') });
  assert.equal(a.authorizeRead(u, 'a/1'), false);
  assert.equal(a.authorizeRead(u, 'b/1'), true);
});

test('backoff: after `free` failures one address waits base x 2^n (capped); another address does not; a success clears it', async () => {
  let now = 1_000_000;
  const a = new GatewayAuth({ ...base, passwords }, { free: 2, baseMs: 100, maxMs: 1000, forgetMs: 60_000, maxAddresses: 100 }, () => now);
  const bad = who({ username: 'alice', remoteAddress: '10.0.0.1' });
  for (let i = 0; i < 2; i++) assert.equal(await a.authenticate(bad, pw('x')), false);
  assert.equal(a.delayFor('10.0.0.1'), 100);
  now += 50;
  assert.equal(a.delayFor('10.0.0.1'), 50, 'counts from the last failure');
  now += 50;
  assert.equal(await a.authenticate(bad, pw('x')), false);
  assert.equal(a.delayFor('10.0.0.1'), 200, 'doubles');
  for (let i = 0; i < 10; i++) {
    now += 2000;
    await a.authenticate(bad, pw('x'));
  }
  assert.equal(a.delayFor('10.0.0.1'), 1000, 'capped at maxMs');
  assert.equal(a.delayFor('10.0.0.2'), 0, 'per address');
  now += 2000;
  assert.equal(await a.authenticate(who({ username: 'alice', remoteAddress: '10.0.0.1' }), pw('alice-pw')), true);
  assert.equal(a.delayFor('10.0.0.1'), 0, 'cleared by a success');
});

test('backoff delays the answer in real time', async () => {
  const a = new GatewayAuth({ ...base, passwords }, { free: 1, baseMs: 150, maxMs: 1000, forgetMs: 60_000, maxAddresses: 100 });
  const bad = who({ username: 'alice', remoteAddress: '10.0.0.3' });
  await a.authenticate(bad, pw('x'));
  const t0 = Date.now();
  assert.equal(await a.authenticate(bad, pw('x')), false);
  assert.ok(Date.now() - t0 >= 140, `waited ${Date.now() - t0} ms`);
});
