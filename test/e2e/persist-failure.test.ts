// E2E: when the durable append fails (disk full, I/O error), nothing is acknowledged or routed; v5 gets reason 0x80, v3 a closed connection, STOMP an ERROR instead of a RECEIPT. Imports the test helpers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { RawClient, connectClient, sleep, type TestClient } from '../helpers/mqtt-clients.ts';

let gw: TestGateway;
let sub: TestClient;
const failing = new Error('ENOSPC: no space left on device (injected)');

before(async () => {
  gw = await startGateway();
  sub = await connectClient(gw.mqttUrl, { protocolVersion: 5 });
  await sub.client.subscribeAsync('pf/#', { qos: 1 });
  // The log is healthy at start; from here every append fails, as a full disk would make it.
  const log = gw.gateway.broker.log;
  assert.ok(log, 'persistence must be on for this suite');
  (log as { append: unknown }).append = () => Promise.reject(failing);
});

after(async () => {
  await sub.end();
  await gw.close();
});

test('v5 QoS 1 and QoS 2 publishes get reason 0x80 and are not delivered', async () => {
  const c = await RawClient.connect(gw.mqttPort, { protocolVersion: 5 });
  try {
    c.send({ cmd: 'publish', topic: 'pf/a', payload: Buffer.from('x'), qos: 1, dup: false, retain: false, messageId: 1 });
    const ack = await c.next('puback');
    assert.equal(ack.reasonCode, 0x80, 'PUBACK must carry "unspecified error", never success');
    c.send({ cmd: 'publish', topic: 'pf/b', payload: Buffer.from('y'), qos: 2, dup: false, retain: false, messageId: 2 });
    const rec = await c.next('pubrec');
    assert.equal(rec.reasonCode, 0x80, 'PUBREC must carry "unspecified error"');
    await sleep(200);
    assert.equal(sub.received.length, 0, 'nothing that failed to persist may be routed');
  } finally {
    c.destroy();
  }
});

test('v3.1.1 QoS 1 publish is never acknowledged: the connection closes so the client resends later', async () => {
  const c = await RawClient.connect(gw.mqttPort, { protocolVersion: 4 });
  c.send({ cmd: 'publish', topic: 'pf/c', payload: Buffer.from('z'), qos: 1, dup: false, retain: false, messageId: 3 });
  await c.waitClosed(3000);
  assert.equal(c.packets.filter((p) => p.cmd === 'puback').length, 0, 'no PUBACK for a message that is not durable');
  assert.equal(sub.received.length, 0);
});

test('STOMP SEND with a receipt gets an ERROR, not a RECEIPT', async () => {
  const s = net.connect(gw.stompPort, '127.0.0.1');
  let text = '';
  s.on('data', (d) => (text += d.toString('latin1')));
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  s.write('CONNECT\naccept-version:1.2\nhost:x\n\n\0');
  s.write('SEND\ndestination:/topic/pf/d\nreceipt:r1\n\nhello\0');
  await Promise.race([closed, sleep(3000)]);
  s.destroy();
  assert.match(text, /^CONNECTED/);
  assert.match(text, /\0ERROR\nmessage:message could not be made durable\n/);
  assert.doesNotMatch(text, /RECEIPT/);
  assert.equal(sub.received.length, 0);
});
