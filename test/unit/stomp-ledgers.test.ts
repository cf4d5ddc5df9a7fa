// Unit tests of a STOMP connection's pure ledgers: pending ACKs (cumulative / individual, QoS 0 bound) and transactions. Imports protocols/stomp/pending-acks.ts, transactions.ts and src/core/errors.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PendingAcks, type AckedSubscription } from '../../protocols/stomp/pending-acks.ts';
import { Transactions } from '../../protocols/stomp/transactions.ts';
import { GatewayError } from '../../src/core/errors.ts';

const client: AckedSubscription = { ackMode: 'client' };
const other: AckedSubscription = { ackMode: 'client' };
const individual: AckedSubscription = { ackMode: 'client-individual' };
const tokens = (ps: { token: number | undefined }[] | undefined) => ps?.map((p) => p.token);

test('ack:client is cumulative over its own subscription only, in send order', () => {
  const p = new PendingAcks<AckedSubscription>(100);
  p.add('1', client, 11);
  p.add('2', other, 21);
  p.add('3', client, undefined);
  p.add('4', client, 14);
  p.add('5', client, 15);
  assert.deepEqual(tokens(p.settle('4')), [11, undefined, 14]);
  assert.equal(p.size, 2);
  assert.equal(p.tokenlessCount, 0);
  assert.equal(p.settle('1'), undefined, 'already settled');
  assert.deepEqual(tokens(p.settle('2')), [21]);
});

test('client-individual settles exactly the one message', () => {
  const p = new PendingAcks<AckedSubscription>(100);
  p.add('1', individual, 1);
  p.add('2', individual, 2);
  assert.deepEqual(tokens(p.settle('2')), [2]);
  assert.deepEqual(tokens(p.settle('1')), [1]);
  assert.equal(p.settle('9'), undefined);
});

test('QoS 0 entries are bounded: past the maximum the oldest tokenless one is forgotten, tokened ones kept', () => {
  const p = new PendingAcks<AckedSubscription>(2);
  p.add('1', individual, undefined);
  p.add('2', individual, 7);
  p.add('3', individual, undefined);
  p.add('4', individual, undefined);
  assert.equal(p.tokenlessCount, 2);
  assert.equal(p.settle('1'), undefined, 'forgotten');
  assert.deepEqual(tokens(p.settle('2')), [7]);
});

test('a subscription that ends drops its entries; clear drops all', () => {
  const p = new PendingAcks<AckedSubscription>(10);
  p.add('1', client, undefined);
  p.add('2', other, 2);
  p.dropSubscription(client);
  assert.equal(p.size, 1);
  assert.equal(p.tokenlessCount, 0);
  p.clear();
  assert.equal(p.size, 0);
});

const code = (c: string) => (e: unknown) => e instanceof GatewayError && e.code === c;

test('transactions: begin once, buffer in order, commit returns the actions and ends it; abort discards', () => {
  const t = new Transactions<string>(2, 3);
  t.begin('a');
  assert.throws(() => t.begin('a'), code('PROTOCOL_ERROR'));
  const tx = t.get('a');
  t.add(tx, 's1');
  t.add(tx, 's2');
  assert.deepEqual(t.commit('a'), ['s1', 's2']);
  assert.throws(() => t.get('a'), code('PROTOCOL_ERROR'));
  assert.throws(() => t.commit('a'), code('PROTOCOL_ERROR'));
  t.begin('b');
  t.abort('b');
  assert.throws(() => t.abort('b'), code('PROTOCOL_ERROR'));
  assert.equal(t.size, 0);
});

test('transactions: open count and frames per transaction are limited', () => {
  const t = new Transactions<number>(2, 2);
  t.begin('a');
  t.begin('b');
  assert.throws(() => t.begin('c'), code('QUOTA_EXCEEDED'));
  const a = t.get('a');
  t.add(a, 1);
  t.add(a, 2);
  assert.throws(() => t.add(a, 3), code('STOMP_LIMIT_EXCEEDED'));
  t.clear();
  assert.equal(t.size, 0);
});
