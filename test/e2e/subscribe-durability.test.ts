// E2E: a persistent MQTT session's SUBACK and a receipted durable STOMP SUBSCRIBE's RECEIPT wait until the subscription is durable. Imports the test helpers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { RawClient, connectClient, uniqueId } from '../helpers/mqtt-clients.ts';
import { RawStomp } from '../helpers/stomp-clients.ts';

const DELAY_MS = 300;
let gw: TestGateway;
/** Epoch ms at which each slowed state write resolved. */
const stored: number[] = [];

before(async () => {
  gw = await startGateway();
  // Make every key/value write slow, as a loaded disk would: acknowledgements that wait for it show it.
  const state = gw.gateway.broker.state as { put: (k: string, v: Buffer) => Promise<void> };
  const put = state.put.bind(state);
  state.put = (k, v) =>
    put(k, v).then(
      () =>
        new Promise<void>((r) =>
          setTimeout(() => {
            stored.push(Date.now());
            r();
          }, DELAY_MS),
        ),
    );
});

after(async () => {
  await gw.close();
});

test('MQTT: a persistent session gets its SUBACK only after the subscription is stored; a clean session at once', async () => {
  const persistent = await RawClient.connect(gw.mqttPort, { protocolVersion: 4, clientId: uniqueId('dur'), clean: false });
  try {
    const t0 = Date.now();
    persistent.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'sd/a', qos: 1 }] });
    await persistent.next('suback', 3000);
    const waited = Date.now() - t0;
    assert.ok(waited >= DELAY_MS - 20, `SUBACK came ${waited} ms after SUBSCRIBE, before the ${DELAY_MS} ms write`);
    assert.ok(stored.some((t) => t <= Date.now()), 'a session image write completed before the SUBACK');
  } finally {
    persistent.destroy();
  }
  const clean = await connectClient(gw.mqttUrl, { protocolVersion: 4, clean: true });
  try {
    const t1 = Date.now();
    await clean.client.subscribeAsync('sd/b', { qos: 1 });
    assert.ok(Date.now() - t1 < DELAY_MS, 'a clean session has nothing to store and is not held');
  } finally {
    await clean.end();
  }
});

test('STOMP: a receipted durable SUBSCRIBE gets its RECEIPT after the store, still before any MESSAGE', async () => {
  const pub = await connectClient(gw.mqttUrl, { protocolVersion: 4 });
  await pub.client.publishAsync('sd/stomp', 'kept', { qos: 1, retain: true });
  const c = await RawStomp.connect(gw.stompPort, { 'client-id': uniqueId('stompdur') });
  try {
    const t0 = Date.now();
    c.send('SUBSCRIBE', { id: 's1', destination: '/topic/sd/stomp', durable: 'true', ack: 'client-individual', receipt: 'r1' });
    const first = await c.next(undefined, 3000);
    assert.equal(first.command, 'RECEIPT', 'the RECEIPT comes before the retained MESSAGE');
    assert.ok(Date.now() - t0 >= DELAY_MS - 20, `RECEIPT after ${Date.now() - t0} ms, before the ${DELAY_MS} ms write`);
    const second = await c.next('MESSAGE', 3000);
    assert.equal(second.command, 'MESSAGE');
    assert.equal(second.body.toString(), 'kept');
  } finally {
    c.socket.destroy();
    await pub.end();
  }
});
