// Unit tests for the pure CONNECT decision: client ids, wills, session expiry, keepalive and limits per version. Imports protocols/mqtt/connect.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnectPacket } from 'mqtt-packet';
import { connackProperties, decideConnect, v3ReturnCode, type ConnectDecision } from '../../protocols/mqtt/connect.ts';
import type { MqttOptions } from '../../protocols/mqtt/options.ts';
import { GatewayError } from '../../src/core/errors.ts';

const OPTS: MqttOptions = {
  maxPacketSize: 1 << 20,
  receiveMaximum: 100,
  maxInflight: 50,
  topicAliasMaximum: 10,
  maxKeepalive: 0,
  maxTopicLevels: 8,
  maxClientIdLength: 32,
  maxSessionExpiry: 3600,
  connectTimeoutMs: 1000,
  session: { maxQueued: 10, maxQueuedBytes: 1000, dropPolicy: 'drop-oldest', queueQos0: false },
  maxWriteBuffer: 1 << 20,
};

const connect = (over: Partial<IConnectPacket>): IConnectPacket => ({ cmd: 'connect', clientId: 'c1', protocolVersion: 4, clean: true, keepalive: 30, ...over });
const decide = (over: Partial<IConnectPacket>, opts: Partial<MqttOptions> = {}): ConnectDecision =>
  decideConnect(connect(over), { ...OPTS, ...opts }, 1000, () => 'auto-1');
const accepted = (d: ConnectDecision): Extract<ConnectDecision, { kind: 'accept' }> => {
  assert.equal(d.kind, 'accept', JSON.stringify(d));
  return d as Extract<ConnectDecision, { kind: 'accept' }>;
};

const refusals: [string, Partial<IConnectPacket>, number, number][] = [
  ['v3.1 empty client id', { protocolVersion: 3, clientId: '' }, 0x85, 0x02],
  ['v3.1.1 empty client id without clean session [MQTT-3.1.3-8]', { clientId: '', clean: false }, 0x85, 0x02],
  ['client id longer than the limit', { clientId: 'x'.repeat(33) }, 0x85, 0x02],
  ['client id with U+0000', { clientId: 'a\u0000b' }, 0x85, 0x02],
  ['v5 will topic with a wildcard', { protocolVersion: 5, will: { topic: 'a/#', payload: Buffer.from('x') } }, 0x90, 0x03],
  ['v3.1.1 will topic with a wildcard', { will: { topic: 'a/+', payload: Buffer.from('x') } }, 0x85, 0x02],
  ['v5 authentication method', { protocolVersion: 5, properties: { authenticationMethod: 'SCRAM' } }, 0x8c, 0x05],
];
for (const [name, over, code, v3] of refusals) {
  test(`refused: ${name}`, () => {
    const d = decide(over);
    assert.equal(d.kind, 'refuse');
    if (d.kind === 'refuse') {
      assert.equal(d.code, code);
      assert.equal(v3ReturnCode(d.code), v3);
    }
  });
}

test('v5 Receive Maximum or Maximum Packet Size of 0 is a protocol error (no CONNACK)', () => {
  assert.throws(() => decide({ protocolVersion: 5, properties: { receiveMaximum: 0 } }), (e: unknown) => e instanceof GatewayError && e.code === 'PROTOCOL_ERROR');
  assert.throws(() => decide({ protocolVersion: 5, properties: { maximumPacketSize: 0 } }), (e: unknown) => e instanceof GatewayError && e.code === 'PROTOCOL_ERROR');
});

test('empty client id: v3.1.1 with clean session and v5 get one; only v5 is told [MQTT-3.1.3-6], [MQTT-3.2.2-16]', () => {
  const v4 = accepted(decide({ clientId: '' }));
  assert.equal(v4.clientId, 'auto-1');
  const v5 = accepted(decide({ protocolVersion: 5, clientId: '' }));
  assert.equal(connackProperties(v5, OPTS).assignedClientIdentifier, 'auto-1');
  assert.equal(connackProperties(accepted(decide({ protocolVersion: 5 })), OPTS).assignedClientIdentifier, undefined);
});

test('session expiry: v3 clean session 0 / persistent never, capped by maxSessionExpiry; v5 as asked, capped and reported', () => {
  assert.equal(accepted(decide({ clean: true })).expiry, 0);
  assert.equal(accepted(decide({ clean: false })).expiry, 3600);
  const v5 = accepted(decide({ protocolVersion: 5, properties: { sessionExpiryInterval: 7200 } }));
  assert.equal(v5.expiry, 3600);
  assert.equal(connackProperties(v5, OPTS).sessionExpiryInterval, 3600, 'a changed expiry is reported in CONNACK');
  const asked = accepted(decide({ protocolVersion: 5, properties: { sessionExpiryInterval: 60 } }));
  assert.equal(asked.expiry, 60);
  assert.equal(connackProperties(asked, OPTS).sessionExpiryInterval, undefined, 'an unchanged expiry is not repeated');
});

test('keepalive: the server cap overrides 0 and larger values; only v5 is told (Server Keep Alive)', () => {
  assert.equal(accepted(decide({ keepalive: 0 })).keepalive, 0, 'no cap: 0 stays 0');
  const v4 = accepted(decide({ keepalive: 600 }, { maxKeepalive: 60 }));
  assert.equal(v4.keepalive, 60);
  assert.equal(v4.serverKeepAlive, undefined);
  const v5 = accepted(decide({ protocolVersion: 5, keepalive: 0 }, { maxKeepalive: 60 }));
  assert.equal(v5.serverKeepAlive, 60);
  assert.equal(connackProperties(v5, OPTS).serverKeepAlive, 60);
});

test('limits: the outbound window is min(client Receive Maximum, server maxInflight); v5 packet size and alias maximum are kept', () => {
  assert.equal(accepted(decide({})).maxInflight, 50);
  const v5 = accepted(decide({ protocolVersion: 5, properties: { receiveMaximum: 5, maximumPacketSize: 512, topicAliasMaximum: 3 } }));
  assert.equal(v5.maxInflight, 5);
  assert.equal(v5.clientMaxPacket, 512);
  assert.equal(v5.clientTopicAliasMax, 3);
});

test('the will becomes a message from this client with its delay and absolute expiry', () => {
  const d = accepted(
    decide({
      protocolVersion: 5,
      will: { topic: 'dev/gone', payload: Buffer.from('bye'), qos: 1, retain: true, properties: { willDelayInterval: 5, messageExpiryInterval: 10, contentType: 'text/plain' } },
    }),
  );
  assert.equal(d.will?.delay, 5);
  assert.equal(d.will?.msg.topic, 'dev/gone');
  assert.equal(d.will?.msg.senderId, 'c1');
  assert.equal(d.will?.msg.qos, 1);
  assert.equal(d.will?.msg.retain, true);
  assert.equal(d.will?.msg.expiresAt, 1000 + 10_000);
  assert.equal(d.will?.msg.properties.contentType, 'text/plain');
});
