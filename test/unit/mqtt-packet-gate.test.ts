// Unit tests of the MQTT dispatch state machine: where each framed packet goes in each connection state. Imports protocols/mqtt/packet-gate.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refuseFirstByte, routePacket } from '../../protocols/mqtt/packet-gate.ts';

const b = (...bytes: number[]) => Buffer.from(bytes);
const CONNECT = b(0x10, 0x00); // only the fixed header matters to the gate
const PUBACK = b(0x40, 0x02, 0x00, 0x07);
const PUBREL = b(0x62, 0x02, 0x01, 0x00);
const PINGREQ = b(0xc0, 0x00);
/** PUBLISH QoS 0 topic "a" payload "x". */
const PUBLISH = b(0x30, 0x04, 0x00, 0x01, 0x61, 0x78);

test('first byte: anything but 0x10 on a fresh connection is refused at once', () => {
  assert.equal(refuseFirstByte('awaiting-connect', 0, b(0x47)), true, "'G' of an HTTP GET");
  assert.equal(refuseFirstByte('awaiting-connect', 0, b(0x11)), true, 'CONNECT with flags [MQTT-2.2.2-2]');
  assert.equal(refuseFirstByte('awaiting-connect', 0, b(0x10)), false);
  assert.equal(refuseFirstByte('awaiting-connect', 3, b(0x47)), false, 'only the very first byte');
  assert.equal(refuseFirstByte('connected', 0, b(0x47)), false);
});

test('awaiting CONNECT: CONNECT is parsed, anything else closes [MQTT-3.1.0-1]', () => {
  assert.deepEqual(routePacket('awaiting-connect', CONNECT, 4), { kind: 'parse' });
  assert.deepEqual(routePacket('awaiting-connect', PINGREQ, 4), { kind: 'not-connect', type: 12 });
  assert.deepEqual(routePacket('awaiting-connect', PUBACK, 4), { kind: 'not-connect', type: 4 });
});

test('authenticating keeps packets; closed drops them', () => {
  for (const p of [CONNECT, PUBACK, PUBLISH]) {
    assert.deepEqual(routePacket('authenticating', p, 5), { kind: 'backlog' });
    assert.deepEqual(routePacket('closed', p, 5), { kind: 'drop' });
  }
});

test('connected: 4-byte acks take the hot path with their packet id; wrong reserved flags are malformed', () => {
  assert.deepEqual(routePacket('connected', PUBACK, 4), { kind: 'ack', cmd: 'puback', packetId: 7 });
  assert.deepEqual(routePacket('connected', b(0x50, 0x02, 0x00, 0x08), 5), { kind: 'ack', cmd: 'pubrec', packetId: 8 });
  assert.deepEqual(routePacket('connected', PUBREL, 4), { kind: 'ack', cmd: 'pubrel', packetId: 256 });
  assert.deepEqual(routePacket('connected', b(0x70, 0x02, 0x00, 0x09), 4), { kind: 'ack', cmd: 'pubcomp', packetId: 9 });
  assert.equal(routePacket('connected', b(0x60, 0x02, 0x00, 0x01), 4).kind, 'malformed', 'PUBREL must have flags 0010');
  assert.equal(routePacket('connected', b(0x42, 0x02, 0x00, 0x01), 4).kind, 'malformed', 'PUBACK must have flags 0000');
  assert.deepEqual(routePacket('connected', b(0x40, 0x03, 0x00, 0x01, 0x10), 5), { kind: 'parse' }, 'a v5 ack with a reason code is parsed');
});

test('connected: v3 PUBLISH takes the fast decoder; v5 PUBLISH is parsed unless its topic is not UTF-8', () => {
  assert.deepEqual(routePacket('connected', PUBLISH, 4), { kind: 'fast-publish' });
  assert.deepEqual(routePacket('connected', PUBLISH, 3), { kind: 'fast-publish' });
  assert.deepEqual(routePacket('connected', b(0x30, 0x05, 0x00, 0x01, 0x61, 0x00, 0x78), 5), { kind: 'parse' });
  assert.equal(routePacket('connected', b(0x30, 0x05, 0x00, 0x01, 0xff, 0x00, 0x78), 5).kind, 'malformed');
  assert.deepEqual(routePacket('connected', PINGREQ, 5), { kind: 'parse' });
});
