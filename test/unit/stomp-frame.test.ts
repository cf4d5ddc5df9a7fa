// Golden-row tests for the STOMP serializer and header escaping: encode, parse-back and mirror, plus a cross-check with @stomp/stompjs. Imports protocols/stomp and @stomp/stompjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Parser as StompJsParser, FrameImpl } from '@stomp/stompjs';
import { encodeFrame, header, HEARTBEAT, type StompFrame, type StompVersion } from '../../protocols/stomp/frame.ts';
import { escapeHeaderText, escapeModeFor, unescapeHeaderText, type EscapeMode } from '../../protocols/stomp/escape.ts';
import { StompParser, type StompLimits } from '../../protocols/stomp/parser.ts';
import { GatewayError } from '../../src/core/errors.ts';

const LIMITS: StompLimits = { maxFrameBytes: 1 << 16, maxHeaders: 64, maxHeaderBytes: 1024, maxBodyBytes: 1 << 15 };
const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const frame = (command: string, headers: [string, string][] = [], body: Buffer | string = ''): StompFrame => ({
  command, headers, body: typeof body === 'string' ? b(body) : body,
});
const plain = (f: StompFrame) => ({ command: f.command, headers: f.headers, body: [...f.body] });

function parseOne(bytes: Buffer, version: StompVersion): StompFrame {
  const frames: StompFrame[] = [];
  new StompParser(LIMITS, version).push(bytes, (f) => frames.push(f));
  assert.equal(frames.length, 1);
  return frames[0];
}

const BIN = Buffer.from([0x00, 0xff, 0x0a, 0x00, 0x0d, 0x3a, 0x5c]);

interface EncodeRow {
  name: string;
  version: StompVersion;
  frame: StompFrame;
  bytes: Buffer;
  /** what parsing `bytes` yields when it differs from `frame` (content-length added or fixed) */
  parsed?: StompFrame;
}

const ENCODE: EncodeRow[] = [
  { name: '1.2 escapes \\ LF CR and ":" in names and values', version: '1.2',
    frame: frame('SEND', [['destination', '/q'], ['a:b', 'x\ny\\z\r:']]),
    bytes: b('SEND\ndestination:/q\na\\cb:x\\ny\\\\z\\r\\c\n\n\0') },
  { name: '1.1 escapes \\ LF and ":"', version: '1.1',
    frame: frame('MESSAGE', [['k', 'a:b\nc\\']]),
    bytes: b('MESSAGE\nk:a\\cb\\nc\\\\\n\n\0') },
  { name: '1.0 writes headers verbatim', version: '1.0',
    frame: frame('SEND', [['destination', '/q/a:b\\c']]),
    bytes: b('SEND\ndestination:/q/a:b\\c\n\n\0') },
  { name: 'CONNECT is never escaped (1.2)', version: '1.2',
    frame: frame('CONNECT', [['accept-version', '1.0,1.1,1.2'], ['host', 'a\\b'], ['passcode', 'p:w']]),
    bytes: b('CONNECT\naccept-version:1.0,1.1,1.2\nhost:a\\b\npasscode:p:w\n\n\0') },
  { name: 'CONNECTED is never escaped (1.2)', version: '1.2',
    frame: frame('CONNECTED', [['version', '1.2'], ['server', 'gw/1:x\\y'], ['heart-beat', '0,0']]),
    bytes: b('CONNECTED\nversion:1.2\nserver:gw/1:x\\y\nheart-beat:0,0\n\n\0') },
  { name: 'binary body with NUL gets content-length appended', version: '1.2',
    frame: frame('MESSAGE', [['subscription', '0'], ['message-id', '7']], BIN),
    bytes: Buffer.concat([b('MESSAGE\nsubscription:0\nmessage-id:7\ncontent-length:7\n\n'), BIN, b('\0')]),
    parsed: frame('MESSAGE', [['subscription', '0'], ['message-id', '7'], ['content-length', '7']], BIN) },
  { name: 'ERROR with a text body gets content-length (UTF-8 bytes, not chars)', version: '1.0',
    frame: frame('ERROR', [['message', 'malformed frame']], 'bad ✓'),
    bytes: b('ERROR\nmessage:malformed frame\ncontent-length:7\n\nbad ✓\0'),
    parsed: frame('ERROR', [['message', 'malformed frame'], ['content-length', '7']], 'bad ✓') },
  { name: 'a wrong content-length is corrected in place and repeats dropped', version: '1.2',
    frame: frame('SEND', [['content-length', '99'], ['x', '1'], ['content-length', '3']], 'abc'),
    bytes: b('SEND\ncontent-length:3\nx:1\n\nabc\0'),
    parsed: frame('SEND', [['content-length', '3'], ['x', '1']], 'abc') },
  { name: 'an empty body keeps a caller content-length as 0', version: '1.2',
    frame: frame('SEND', [['content-length', '5']]),
    bytes: b('SEND\ncontent-length:0\n\n\0'),
    parsed: frame('SEND', [['content-length', '0']]) },
  { name: 'an empty body gets no content-length', version: '1.2',
    frame: frame('RECEIPT', [['receipt-id', '77']]),
    bytes: b('RECEIPT\nreceipt-id:77\n\n\0') },
  { name: 'no headers, no body', version: '1.1', frame: frame('DISCONNECT'), bytes: b('DISCONNECT\n\n\0') },
  { name: 'repeated headers written in order', version: '1.2',
    frame: frame('MESSAGE', [['foo', '1'], ['foo', '2']]),
    bytes: b('MESSAGE\nfoo:1\nfoo:2\n\n\0') },
  { name: 'UTF-8 header text', version: '1.2',
    frame: frame('SEND', [['destination', '/topic/température'], ['π', 'λ']]),
    bytes: b('SEND\ndestination:/topic/température\nπ:λ\n\n\0') },
];

for (const row of ENCODE) {
  test(`encode ${row.name}`, () => {
    assert.deepStrictEqual([...encodeFrame(row.frame, row.version)], [...row.bytes]);
  });
  test(`parse golden bytes of ${row.name}`, () => {
    assert.deepStrictEqual(plain(parseOne(row.bytes, row.version)), plain(row.parsed ?? row.frame));
  });
  test(`mirror ${row.name}: encode(parse(bytes)) gives the same bytes`, () => {
    assert.deepStrictEqual([...encodeFrame(parseOne(row.bytes, row.version), row.version)], [...row.bytes]);
  });
}

interface UnencodableRow { name: string; version: StompVersion; frame: StompFrame }

const UNENCODABLE: UnencodableRow[] = [
  { name: 'LF in a 1.0 value', version: '1.0', frame: frame('MESSAGE', [['k', 'a\nb']]) },
  { name: '":" in a 1.0 name', version: '1.0', frame: frame('MESSAGE', [['a:b', 'v']]) },
  { name: 'CR in a 1.1 value', version: '1.1', frame: frame('MESSAGE', [['k', 'a\rb']]) },
  { name: 'LF in a CONNECTED value (never escaped)', version: '1.2', frame: frame('CONNECTED', [['server', 'a\nb']]) },
  { name: 'empty header name', version: '1.2', frame: frame('SEND', [['', 'v']]) },
  { name: 'lowercase command', version: '1.2', frame: frame('send') },
  { name: 'empty command', version: '1.2', frame: frame('') },
];

for (const row of UNENCODABLE) {
  test(`refuse to encode ${row.name}`, () => {
    assert.throws(() => encodeFrame(row.frame, row.version), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'STOMP_FRAME_INVALID');
      return true;
    });
  });
}

test('HEARTBEAT is a single LF', () => {
  assert.deepStrictEqual([...HEARTBEAT], [0x0a]);
});

test('header() returns the first occurrence or undefined', () => {
  const f = frame('MESSAGE', [['a', '1'], ['b', '2'], ['a', '3']]);
  assert.equal(header(f, 'a'), '1');
  assert.equal(header(f, 'b'), '2');
  assert.equal(header(f, 'c'), undefined);
});

test('escapeModeFor: 1.0 and CONNECT/STOMP/CONNECTED never escape', () => {
  assert.equal(escapeModeFor('1.0', 'SEND'), 'none');
  assert.equal(escapeModeFor('1.1', 'SEND'), '1.1');
  assert.equal(escapeModeFor('1.2', 'MESSAGE'), '1.2');
  for (const c of ['CONNECT', 'STOMP', 'CONNECTED']) assert.equal(escapeModeFor('1.2', c), 'none');
});

test('unescape rejects undefined sequences and a trailing backslash', () => {
  for (const bad of ['\\t', 'a\\', '\\x41', '\\C', '\\N']) {
    assert.equal(unescapeHeaderText(bad, '1.2'), undefined, bad);
    assert.equal(unescapeHeaderText(bad, '1.1'), undefined, bad);
    assert.equal(unescapeHeaderText(bad, 'none'), bad, bad);
  }
  assert.equal(unescapeHeaderText('\\r', '1.1'), undefined);
  assert.equal(unescapeHeaderText('\\r', '1.2'), '\r');
});

test('escape then unescape is the identity for random text (fixed seed)', () => {
  let s = 7;
  const next = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) / (1 << 24);
  const alphabet = ['a', 'Z', '0', ':', '\\', '\n', '\r', 'c', 'n', 'r', 'é', '✓', ' '];
  const modes: EscapeMode[] = ['1.1', '1.2'];
  for (let i = 0; i < 500; i++) {
    let text = '';
    const len = Math.floor(next() * 12);
    for (let j = 0; j < len; j++) text += alphabet[Math.floor(next() * alphabet.length)];
    for (const mode of modes) {
      const wire = escapeHeaderText(text, mode, false);
      if (mode === '1.1' && text.includes('\r')) {
        assert.equal(wire, undefined);
        continue;
      }
      assert.ok(wire !== undefined && !/[\r\n:]/.test(wire), JSON.stringify(wire));
      assert.equal(unescapeHeaderText(wire, mode), text);
    }
  }
});

test('mirror: parse(encode(frame)) === frame for every version', () => {
  const frames = [
    frame('SEND', [['destination', '/topic/a/b'], ['content-type', 'text/plain'], ['content-length', '5']], 'hello'),
    frame('MESSAGE', [['subscription', 's'], ['message-id', '1'], ['destination', '/topic/x'], ['content-length', '7']], BIN),
    frame('ACK', [['id', '12'], ['transaction', 'tx1']]),
    frame('SUBSCRIBE', [['id', '0'], ['destination', '/queue/q'], ['ack', 'client-individual']]),
    frame('ERROR', [['message', 'nope'], ['content-length', '3']], '\0\0\0'),
  ];
  const versions: StompVersion[] = ['1.0', '1.1', '1.2'];
  for (const v of versions) {
    for (const f of frames) assert.deepStrictEqual(plain(parseOne(encodeFrame(f, v), v)), plain(f), `${v} ${f.command}`);
  }
  const escaped = frame('MESSAGE', [['we:ird', 'a\nb\\c:d']]);
  for (const v of ['1.1', '1.2'] as const) assert.deepStrictEqual(plain(parseOne(encodeFrame(escaped, v), v)), plain(escaped), v);
  const withCr = frame('MESSAGE', [['k', 'line1\r\nline2']]);
  assert.deepStrictEqual(plain(parseOne(encodeFrame(withCr, '1.2'), '1.2')), plain(withCr));
});

test('cross-check: @stomp/stompjs parses our 1.2 frames; we parse its frames', () => {
  // stompjs unescapes values only (not names), so names here need no escaping.
  const ours = encodeFrame(frame('MESSAGE', [['destination', '/topic/a:b'], ['note', 'x\ny\\z'], ['dup', '1'], ['dup', '2']], BIN), '1.2');
  const seen: FrameImpl[] = [];
  const sj = new StompJsParser((raw) => seen.push(FrameImpl.fromRawFrame(raw, true)), () => {});
  sj.parseChunk(new Uint8Array(ours).buffer);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].command, 'MESSAGE');
  assert.deepStrictEqual(seen[0].headers, { destination: '/topic/a:b', note: 'x\ny\\z', dup: '1', 'content-length': '7' });
  assert.deepStrictEqual([...seen[0].binaryBody], [...BIN]);

  const theirs = FrameImpl.marshall({ command: 'SEND', headers: { destination: '/queue/q', note: 'a:b\nc' }, binaryBody: new Uint8Array(BIN), escapeHeaderValues: true });
  assert.ok(theirs instanceof ArrayBuffer);
  const got = parseOne(Buffer.from(theirs), '1.2');
  assert.equal(got.command, 'SEND');
  assert.equal(header(got, 'destination'), '/queue/q');
  assert.equal(header(got, 'note'), 'a:b\nc');
  assert.equal(header(got, 'content-length'), '7');
  assert.deepStrictEqual([...got.body], [...BIN]);
});
