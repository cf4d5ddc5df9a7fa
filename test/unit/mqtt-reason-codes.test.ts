// Table tests of the MQTT error mapping: each packet kind, each version, against the registry. Imports protocols/mqtt/reason-codes.ts and src/core/errors.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERRORS, GatewayError, type ErrorCode } from '../../src/core/errors.ts';
import {
  connackRefusal,
  disconnectReason,
  errorCodeOf,
  refusedPublishAck,
  subackFailure,
  unstoredPublishAck,
  unsubackCode,
  v3ReturnCode,
  willTopicRefusal,
} from '../../protocols/mqtt/reason-codes.ts';

const CODES = Object.keys(ERRORS) as ErrorCode[];

test('CONNACK refusal: v5 carries the registry reason code, v3.1 / 3.1.1 the table 3.1 return code', () => {
  const table: [ErrorCode, number, number][] = [
    ['UNSUPPORTED_PROTOCOL_VERSION', 0x84, 0x01],
    ['CLIENT_ID_INVALID', 0x85, 0x02],
    ['BAD_CREDENTIALS', 0x86, 0x04],
    ['NOT_AUTHORIZED', 0x87, 0x05],
    ['SERVER_BUSY', 0x89, 0x03],
    ['QUOTA_EXCEEDED', 0x97, 0x03],
    ['CONNECTION_RATE_EXCEEDED', 0x9f, 0x03],
    ['IMPLEMENTATION_SPECIFIC', 0x83, 0x03],
  ];
  for (const [code, v5, v3] of table) {
    assert.deepEqual(connackRefusal(code, 5), { reasonCode: v5 }, code);
    assert.deepEqual(connackRefusal(code, 4), { returnCode: v3 }, code);
    assert.deepEqual(connackRefusal(code, 3), { returnCode: v3 }, code);
  }
  // A raw MQTT 5 reason code (0x8c Bad authentication method has no registry entry) maps the same way.
  assert.deepEqual(connackRefusal(0x8c, 5), { reasonCode: 0x8c });
  assert.deepEqual(connackRefusal(0x8c, 4), { returnCode: 0x05 });
  assert.equal(v3ReturnCode(0x00), 0x00);
});

test('will topic refusal: v5 0x90, v3 0x85 (return code 0x02)', () => {
  assert.equal(willTopicRefusal(5), 0x90);
  assert.equal(willTopicRefusal(4), 0x85);
  assert.equal(v3ReturnCode(willTopicRefusal(3)), 0x02);
});

test('SUBACK failure: v5 the error reason code, v3 0x80 for every code [MQTT-3.9.3-2]', () => {
  for (const code of CODES) {
    assert.equal(subackFailure(code, 5), ERRORS[code].mqtt, code);
    assert.equal(subackFailure(code, 4), 0x80, code);
    assert.equal(subackFailure(code, 3), 0x80, code);
  }
  assert.equal(subackFailure('TOPIC_FILTER_INVALID', 5), 0x8f);
  assert.equal(subackFailure('QUOTA_EXCEEDED', 5), 0x97);
  assert.equal(subackFailure('NOT_AUTHORIZED', 5), 0x87);
});

test('UNSUBACK: 0x00 success, 0x11 no subscription existed', () => {
  assert.equal(unsubackCode(true), 0x00);
  assert.equal(unsubackCode(false), 0x11);
});

test('refused PUBLISH ack: v5 the reason code, v3 success (acknowledged and dropped)', () => {
  for (const code of ['NOT_AUTHORIZED', 'QUOTA_EXCEEDED', 'PAYLOAD_FORMAT_INVALID', 'IMPLEMENTATION_SPECIFIC'] as const) {
    assert.equal(refusedPublishAck(code, 5), ERRORS[code].mqtt);
    assert.ok(refusedPublishAck(code, 5) >= 0x80, 'an error reason code');
    assert.equal(refusedPublishAck(code, 4), 0);
    assert.equal(refusedPublishAck(code, 3), 0);
  }
});

test('unstored PUBLISH ack: v5 0x80, v3 none (close, never acknowledge)', () => {
  assert.equal(unstoredPublishAck(5), 0x80);
  assert.equal(unstoredPublishAck(4), undefined);
  assert.equal(unstoredPublishAck(3), undefined);
});

test('server DISCONNECT: v5 carries the reason code [MQTT-3.14.2-1], v3 has no server DISCONNECT', () => {
  for (const code of CODES) {
    assert.equal(disconnectReason(code, 5), ERRORS[code].mqtt, code);
    assert.equal(disconnectReason(code, 4), undefined, code);
  }
  assert.equal(disconnectReason('SESSION_TAKEN_OVER', 5), 0x8e);
  assert.equal(disconnectReason('KEEPALIVE_TIMEOUT', 5), 0x8d);
});

test('errorCodeOf: a GatewayError keeps its code, anything else is IMPLEMENTATION_SPECIFIC and unexpected', () => {
  assert.deepEqual(errorCodeOf(new GatewayError('TOPIC_ALIAS_INVALID', 'alias 9')), { code: 'TOPIC_ALIAS_INVALID', detail: 'topic alias invalid: alias 9', unexpected: false });
  assert.deepEqual(errorCodeOf(new Error('boom')), { code: 'IMPLEMENTATION_SPECIFIC', detail: 'internal error', unexpected: true });
  assert.deepEqual(errorCodeOf('a string'), { code: 'IMPLEMENTATION_SPECIFIC', detail: 'internal error', unexpected: true });
});
