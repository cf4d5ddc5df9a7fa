// E2E regressions over raw sockets against a real gateway process: packets that once stopped the process, logged at error level or got a corrupt reply. Imports the process helper, the raw MQTT client and node:test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type mqttPacket from 'mqtt-packet';
import { GatewayProcess, type RunningGateway } from '../helpers/gateway-process.ts';
import { RawClient, uniqueId } from '../helpers/mqtt-clients.ts';

describe('mqtt crash regressions (child process)', () => {
  const proc = new GatewayProcess({ flush: 'interval' });
  let gw: RunningGateway;
  const raws: RawClient[] = [];

  before(async () => {
    gw = await proc.start();
  });
  after(async () => {
    for (const r of raws) r.destroy();
    await proc.dispose();
  });

  const connect = async (v: 4 | 5, clean = true): Promise<RawClient> => {
    const r = await RawClient.connect(gw.port, { protocolVersion: v, clientId: uniqueId('crash'), clean });
    raws.push(r);
    return r;
  };

  /** The process is up, still serves a fresh client, and logged nothing at error level or above. */
  async function stillHealthy(): Promise<void> {
    assert.equal(gw.child.exitCode, null, `gateway exited:\n${gw.lines.slice(-20).join('\n')}`);
    assert.equal(gw.child.signalCode, null);
    const probe = await connect(4);
    probe.send({ cmd: 'pingreq' });
    await probe.next('pingresp');
    probe.destroy();
    const errors = gw.lines.filter((l) => /"level":(50|60)/.test(l));
    assert.deepEqual(errors, [], 'no error-level log line');
  }

  test('SUBSCRIBE without a topic filter (82 02 00 01) on a persistent session closes only that connection', async () => {
    const r = await connect(4, false);
    r.write([0x82, 0x02, 0x00, 0x01]);
    await r.waitClosed(3000);
    assert.ok(!r.packets.some((p) => p.cmd === 'suback'), 'no SUBACK for an empty SUBSCRIBE');
    await stillHealthy();
  });

  test('v5 SUBSCRIBE without a topic filter on a persistent session: DISCONNECT 0x82', async () => {
    const r = await connect(5, false);
    r.write([0x82, 0x03, 0x00, 0x01, 0x00]);
    await r.waitClosed(3000);
    const d = r.packets.find((p) => p.cmd === 'disconnect') as mqttPacket.IDisconnectPacket | undefined;
    assert.equal(d?.reasonCode, 0x82);
    await stillHealthy();
  });

  test('v3.1.1 PUBREL without a packet id (62 00) closes the connection without an error-level line', async () => {
    const r = await connect(4);
    r.write([0x62, 0x00]);
    await r.waitClosed(3000);
    assert.ok(!r.packets.some((p) => p.cmd === 'pubcomp'), 'no PUBCOMP');
    await stillHealthy();
  });

  test('v5 PUBREL without a packet id: DISCONNECT 0x81 and close, never a corrupt PUBCOMP (70 04)', async () => {
    const r = await connect(5);
    const bytes: Buffer[] = [];
    (r as unknown as { socket: import('node:net').Socket }).socket.on('data', (d: Buffer) => bytes.push(d));
    r.write([0x62, 0x00]);
    await r.waitClosed(3000);
    const got = Buffer.concat(bytes);
    assert.equal(got.indexOf(Buffer.from([0x70, 0x04])), -1, `no PUBCOMP header; got ${got.toString('hex')}`);
    const d = r.packets.find((p) => p.cmd === 'disconnect') as mqttPacket.IDisconnectPacket | undefined;
    assert.equal(d?.reasonCode, 0x81);
    await stillHealthy();
  });

  test('v5 UNSUBSCRIBE with zero filters: DISCONNECT 0x82 (protocol error), not 0x83', async () => {
    const r = await connect(5);
    r.write([0xa2, 0x03, 0x00, 0x01, 0x00]);
    await r.waitClosed(3000);
    const d = r.packets.find((p) => p.cmd === 'disconnect') as mqttPacket.IDisconnectPacket | undefined;
    assert.equal(d?.reasonCode, 0x82);
    await stillHealthy();
  });

  // Fuzz seed 11, mqtt case 284013 (the million-case run): mqtt-packet reads a packet id cut short as -1, which passed
  // the "missing packet identifier" check; the message was routed and its PUBACK / PUBREC encoding threw (an error line).
  for (const [qos, b0] of [[1, 0x32], [2, 0x34]] as const) {
    test(`v5 QoS ${qos} PUBLISH cut short in its packet id (1 of 2 bytes): DISCONNECT 0x81, not routed, no error line`, async () => {
      const topic = `crash/short-id/${qos}`;
      const sub = await connect(5);
      sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
      await sub.next('suback');
      const r = await connect(5);
      // Topic length, topic, then 1 of the 2 packet-id bytes.
      const t = Buffer.from(topic);
      r.write(Buffer.concat([Buffer.from([b0, 2 + t.length + 1, 0x00, t.length]), t, Buffer.from([0x00])]));
      await r.waitClosed(3000);
      assert.ok(!r.packets.some((p) => p.cmd === 'puback' || p.cmd === 'pubrec'), 'no PUBACK / PUBREC for a PUBLISH without a packet id');
      const d = r.packets.find((p) => p.cmd === 'disconnect') as mqttPacket.IDisconnectPacket | undefined;
      assert.equal(d?.reasonCode, 0x81);
      // The subscriber's first message on the topic is the sentinel published after: the malformed one was not routed.
      sub.send({ cmd: 'publish', topic, payload: Buffer.from('sentinel'), qos: 0, retain: false, dup: false });
      const first = await sub.next('publish', 3000);
      assert.equal(first.payload.toString(), 'sentinel');
      await stillHealthy();
    });
  }

  test('acks with packet id 0 are malformed too', async () => {
    const r = await connect(5);
    r.write([0x40, 0x02, 0x00, 0x00]);
    await r.waitClosed(3000);
    const d = r.packets.find((p) => p.cmd === 'disconnect') as mqttPacket.IDisconnectPacket | undefined;
    assert.equal(d?.reasonCode, 0x81);
    await stillHealthy();
  });
});
