// Unit tests for the MQTT framer and the fast v3/v4 PUBLISH codec, checked against mqtt-packet. Imports the codec files and mqtt-packet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { MqttFramer } from '../../protocols/mqtt/framer.ts';
import { decodePublish, encodeAck, encodePublish, encodePublishShared } from '../../protocols/mqtt/fast-publish.ts';
import { GatewayError } from '../../src/core/errors.ts';

const rows: { name: string; topic: string; payload: Buffer; qos: 0 | 1 | 2; dup: boolean; retain: boolean; id: number }[] = [
  { name: 'qos0 small', topic: 'a/b', payload: Buffer.from('hi'), qos: 0, dup: false, retain: false, id: 0 },
  { name: 'qos1 retained', topic: 'sensors/1/temp', payload: Buffer.from('21.5'), qos: 1, dup: false, retain: true, id: 7 },
  { name: 'qos2 dup', topic: 'x', payload: Buffer.alloc(0), qos: 2, dup: true, retain: false, id: 65535 },
  { name: 'utf8 topic, 2-byte length', topic: 'temp/°C/ü', payload: Buffer.alloc(300, 1), qos: 1, dup: false, retain: false, id: 1 },
  { name: '3-byte remaining length', topic: 't', payload: Buffer.alloc(20000, 2), qos: 0, dup: false, retain: false, id: 0 },
];

for (const r of rows) {
  test(`PUBLISH ${r.name}: our encoding equals mqtt-packet's and decodes back`, () => {
    const ours = encodePublish(r.topic, r.payload, r.qos, r.dup, r.retain, r.id);
    const theirs = mqttPacket.generate({ cmd: 'publish', topic: r.topic, payload: r.payload, qos: r.qos, dup: r.dup, retain: r.retain, messageId: r.id || undefined });
    assert.deepEqual(ours, theirs);
    const d = decodePublish(ours);
    assert.notEqual(typeof d, 'string');
    if (typeof d === 'string') return;
    assert.equal(d.topic, r.topic);
    assert.deepEqual(d.payload, r.payload);
    assert.equal(d.qos, r.qos);
    assert.equal(d.dup, r.dup);
    assert.equal(d.retain, r.retain);
    assert.equal(d.packetId, r.id);
  });
}

test('the shared encoder reuses a QoS 0 encoding and patches packet ids for QoS 1', () => {
  const msg = {};
  const a = encodePublishShared(msg, 't/1', Buffer.from('x'), 0, false, false, 0);
  assert.equal(encodePublishShared(msg, 't/1', Buffer.from('x'), 0, false, false, 0), a);
  const b = encodePublishShared(msg, 't/1', Buffer.from('x'), 1, false, false, 5);
  const c = encodePublishShared(msg, 't/1', Buffer.from('x'), 1, false, false, 6);
  assert.deepEqual(b, encodePublish('t/1', Buffer.from('x'), 1, false, false, 5));
  assert.deepEqual(c, encodePublish('t/1', Buffer.from('x'), 1, false, false, 6));
  assert.notEqual(encodePublishShared({}, 't/1', Buffer.from('y'), 0, false, false, 0), a);
});

const malformed: [string, Buffer][] = [
  ['QoS 3', Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01])],
  ['DUP on QoS 0', Buffer.from([0x38, 0x03, 0x00, 0x01, 0x61])],
  ['topic past the end', Buffer.from([0x30, 0x03, 0x00, 0x09, 0x61])],
  ['invalid UTF-8 topic', Buffer.from([0x30, 0x04, 0x00, 0x02, 0xc3, 0x28])],
  ['packet id 0', Buffer.from([0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x00])],
];
for (const [name, bytes] of malformed) {
  test(`decodePublish rejects: ${name}`, () => assert.equal(typeof decodePublish(bytes), 'string'));
}

test('acks encode as 4 bytes with the packet id', () => {
  assert.deepEqual(encodeAck('puback', 0x1234), Buffer.from([0x40, 2, 0x12, 0x34]));
  assert.deepEqual(encodeAck('pubrel', 1), Buffer.from([0x62, 2, 0, 1]));
});

test('framer yields the same packets whole, byte by byte and split', () => {
  const packets = rows.map((r) => encodePublish(r.topic, r.payload, r.qos, r.dup, r.retain, r.id));
  const stream = Buffer.concat(packets);
  for (const step of [stream.length, 1, 7, 1000]) {
    const f = new MqttFramer(1 << 20);
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i += step) {
      f.push(stream.subarray(i, i + step), (p) => {
        got.push(Buffer.from(p));
        return true;
      });
    }
    assert.deepEqual(got, packets, `step ${step}`);
  }
});

test('framer: 5-byte remaining length is malformed, oversize is refused from the header alone', () => {
  const f = new MqttFramer(1024);
  assert.throws(() => f.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), () => true), (e: unknown) => e instanceof GatewayError && e.code === 'MALFORMED_PACKET');
  const g = new MqttFramer(1024);
  // Only the fixed header of a 2 MB packet arrives: refused before any body is buffered.
  assert.throws(() => g.push(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x01]), () => true), (e: unknown) => e instanceof GatewayError && e.code === 'PACKET_TOO_LARGE');
});
