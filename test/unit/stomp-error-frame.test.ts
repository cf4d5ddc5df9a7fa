// Table tests of the STOMP ERROR frame built from a registry code, and its encoding per version. Imports protocols/stomp/error-frame.ts, ./frame.ts and src/core/errors.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERRORS, type ErrorCode } from '../../src/core/errors.ts';
import { bareErrorFrame, encodeErrorFrame, errorFrame, versionsHeader } from '../../protocols/stomp/error-frame.ts';
import { encodeFrame } from '../../protocols/stomp/frame.ts';

test('every code: message header is the registry text, body the detail, content-type text/plain', () => {
  for (const code of Object.keys(ERRORS) as ErrorCode[]) {
    const f = errorFrame(code, `detail of ${code}`);
    assert.equal(f.command, 'ERROR');
    assert.deepEqual(f.headers, [['message', ERRORS[code].text], ['content-type', 'text/plain']]);
    assert.equal(f.body.toString('utf8'), `detail of ${code}`);
  }
});

test('receipt-id is added when the failing frame asked for a receipt; extra headers go after message', () => {
  const f = errorFrame('UNSUPPORTED_PROTOCOL_VERSION', 'supported versions are 1.2,1.1,1.0', 'r-7', [versionsHeader(['1.2', '1.1', '1.0'])]);
  assert.deepEqual(f.headers, [
    ['message', 'unsupported protocol version'],
    ['version', '1.2,1.1,1.0'],
    ['content-type', 'text/plain'],
    ['receipt-id', 'r-7'],
  ]);
});

test('encoded: a 1.2 ERROR carries the text and an exact content-length', () => {
  const wire = encodeFrame(errorFrame('NOT_AUTHORIZED', 'SEND to /topic/x'), '1.2').toString('utf8');
  assert.equal(wire, 'ERROR\nmessage:not authorized\ncontent-type:text/plain\ncontent-length:16\n\nSEND to /topic/x\u0000');
});

test('bare ERROR: message only, empty body (the fallback when the detail cannot be encoded)', () => {
  const f = bareErrorFrame('STOMP_FRAME_INVALID');
  assert.deepEqual(f.headers, [['message', 'malformed frame']]);
  assert.equal(f.body.length, 0);
  assert.equal(encodeFrame(f, '1.0').toString('utf8'), 'ERROR\nmessage:malformed frame\n\n\u0000');
});

test('encodeErrorFrame: the full frame when the version can carry it, else the bare one (a newline in a 1.0 receipt-id)', () => {
  assert.equal(
    encodeErrorFrame('NOT_AUTHORIZED', 'no', '1.2', 'r:1').toString('utf8'),
    'ERROR\nmessage:not authorized\ncontent-type:text/plain\nreceipt-id:r\\c1\ncontent-length:2\n\nno\u0000',
  );
  assert.equal(encodeErrorFrame('NOT_AUTHORIZED', 'no', '1.0', 'r\n1').toString('utf8'), 'ERROR\nmessage:not authorized\n\n\u0000');
});
