// Golden-row tests for the streaming STOMP parser: every row fed whole, byte by byte and in seeded random splits. Imports protocols/stomp only.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StompParser, StompParseError, type StompLimits, type StompParseErrorCode } from '../../protocols/stomp/parser.ts';
import { header, type StompFrame, type StompVersion } from '../../protocols/stomp/frame.ts';
import { prng as rng } from '../helpers/prng.ts';

const LIMITS: StompLimits = { maxFrameBytes: 4096, maxHeaders: 8, maxHeaderBytes: 64, maxBodyBytes: 1024 };


type Feed = { label: string; chunks: (bytes: Buffer) => Buffer[] };

/** Each split is copied into its own Buffer, as separate socket reads would be. */
function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(Buffer.from(bytes.subarray(from, c)));
    from = c;
  }
  return out;
}

const SEEDS = [1, 2, 3, 42, 1234];
const FEEDS: Feed[] = [
  { label: 'whole', chunks: (b) => [b] },
  { label: 'byte by byte', chunks: (b) => splitAt(b, Array.from({ length: Math.max(0, b.length - 1) }, (_, i) => i + 1)) },
  ...SEEDS.map((seed): Feed => ({
    label: `random splits seed ${seed}`,
    chunks: (b) => {
      const r = rng(seed);
      const cuts: number[] = [];
      for (let i = 1; i < b.length && cuts.length < 10_000; i++) if (r() < 0.3) cuts.push(i);
      return splitAt(b, cuts);
    },
  })),
];

interface Parsed { frames: StompFrame[]; heartbeats: number }

function parseChunks(chunks: Buffer[], version: StompVersion, limits: StompLimits = LIMITS): Parsed {
  const p = new StompParser(limits, version);
  const frames: StompFrame[] = [];
  let heartbeats = 0;
  for (const c of chunks) p.push(c, (f) => frames.push(f), () => heartbeats++);
  return { frames, heartbeats };
}

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
type Expect = { command: string; headers: [string, string][]; body?: string | Buffer };
const norm = (e: Expect): StompFrame => ({
  command: e.command,
  headers: e.headers,
  body: e.body === undefined ? Buffer.alloc(0) : typeof e.body === 'string' ? b(e.body) : e.body,
});
/** Compares frames as plain data (a zero-copy body is a subarray; compare bytes only). */
const plain = (f: StompFrame) => ({ command: f.command, headers: f.headers, body: [...f.body] });

interface GoodRow { name: string; version: StompVersion; bytes: Buffer; frames: Expect[]; heartbeats?: number }

const BIN = Buffer.from([0x00, 0x01, 0xff, 0x00, 0x0a, 0x0d, 0x00]);

const GOOD: GoodRow[] = [
  { name: 'SEND with body, no content-length', version: '1.2', bytes: b('SEND\ndestination:/queue/a\n\nhello\0'),
    frames: [{ command: 'SEND', headers: [['destination', '/queue/a']], body: 'hello' }] },
  { name: 'frame without headers or body', version: '1.2', bytes: b('DISCONNECT\n\n\0'),
    frames: [{ command: 'DISCONNECT', headers: [] }] },
  { name: 'EOL inside a NUL-terminated body', version: '1.2', bytes: b('SEND\ndestination:/q\n\na\nb\r\n\0'),
    frames: [{ command: 'SEND', headers: [['destination', '/q']], body: 'a\nb\r\n' }] },
  { name: 'CR LF line ends (1.2)', version: '1.2', bytes: b('SEND\r\ndestination:/q\r\nreceipt:7\r\n\r\nhi\0\r\n'),
    frames: [{ command: 'SEND', headers: [['destination', '/q'], ['receipt', '7']], body: 'hi' }], heartbeats: 1 },
  { name: 'CR LF line ends accepted in 1.0 too', version: '1.0', bytes: b('SEND\r\ndestination:/q\r\n\r\n\0'),
    frames: [{ command: 'SEND', headers: [['destination', '/q']] }] },
  { name: 'heart-beat EOLs before, between and after frames', version: '1.2',
    bytes: b('\n\r\nSEND\ndestination:/a\n\n1\0\n\n\r\nSEND\ndestination:/b\n\n2\0\n'),
    frames: [{ command: 'SEND', headers: [['destination', '/a']], body: '1' }, { command: 'SEND', headers: [['destination', '/b']], body: '2' }],
    heartbeats: 6 },
  { name: 'back-to-back frames with no EOL between', version: '1.1', bytes: b('ACK\nid:1\n\n\0NACK\nid:2\n\n\0'),
    frames: [{ command: 'ACK', headers: [['id', '1']] }, { command: 'NACK', headers: [['id', '2']] }] },
  { name: 'binary body with NULs via content-length', version: '1.2',
    bytes: Buffer.concat([b('MESSAGE\ncontent-length:7\nsubscription:0\n\n'), BIN, b('\0')]),
    frames: [{ command: 'MESSAGE', headers: [['content-length', '7'], ['subscription', '0']], body: BIN }] },
  { name: 'content-length:0', version: '1.2', bytes: b('SEND\ncontent-length:0\n\n\0'),
    frames: [{ command: 'SEND', headers: [['content-length', '0']] }] },
  { name: 'repeated content-length: the first wins', version: '1.2', bytes: b('SEND\ncontent-length:3\ncontent-length:1\n\na\0c\0'),
    frames: [{ command: 'SEND', headers: [['content-length', '3'], ['content-length', '1']], body: 'a\0c' }] },
  { name: 'repeated headers kept in wire order', version: '1.2', bytes: b('MESSAGE\nfoo:1\nbar:x\nfoo:2\n\n\0'),
    frames: [{ command: 'MESSAGE', headers: [['foo', '1'], ['bar', 'x'], ['foo', '2']] }] },
  { name: '1.2 unescapes \\r \\n \\c \\\\ in names and values', version: '1.2', bytes: b('MESSAGE\nfoo\\cbar:a\\nb\\\\c\\rd\\c\n\n\0'),
    frames: [{ command: 'MESSAGE', headers: [['foo:bar', 'a\nb\\c\rd:']] }] },
  { name: '1.1 unescapes \\n \\c \\\\', version: '1.1', bytes: b('MESSAGE\nk\\c:v\\n\\\\\n\n\0'),
    frames: [{ command: 'MESSAGE', headers: [['k:', 'v\n\\']] }] },
  { name: '1.0 does not unescape', version: '1.0', bytes: b('SEND\ndestination:/q/a\\nb\\t\n\n\0'),
    frames: [{ command: 'SEND', headers: [['destination', '/q/a\\nb\\t']] }] },
  { name: '1.0 keeps a bare CR inside a header value', version: '1.0', bytes: b('SEND\nx:a\rb\n\n\0'),
    frames: [{ command: 'SEND', headers: [['x', 'a\rb']] }] },
  { name: 'CONNECT is never unescaped, even in 1.2', version: '1.2', bytes: b('CONNECT\naccept-version:1.2\nhost:a\\b\npasscode:p\\c\n\n\0'),
    frames: [{ command: 'CONNECT', headers: [['accept-version', '1.2'], ['host', 'a\\b'], ['passcode', 'p\\c']] }] },
  { name: 'STOMP and CONNECTED are never unescaped', version: '1.1', bytes: b('STOMP\nlogin:a\\t\n\n\0CONNECTED\nserver:x\\y\n\n\0'),
    frames: [{ command: 'STOMP', headers: [['login', 'a\\t']] }, { command: 'CONNECTED', headers: [['server', 'x\\y']] }] },
  { name: 'a value may contain ":" after the first', version: '1.2', bytes: b('SEND\ndestination:/topic/a:b:c\n\n\0'),
    frames: [{ command: 'SEND', headers: [['destination', '/topic/a:b:c']] }] },
  { name: 'empty header value', version: '1.2', bytes: b('SEND\nreceipt:\n\n\0'),
    frames: [{ command: 'SEND', headers: [['receipt', '']] }] },
  { name: 'UTF-8 header text and body', version: '1.2', bytes: b('SEND\ndestination:/topic/température/°C\nπ:λ\n\nnaïve ✓\0'),
    frames: [{ command: 'SEND', headers: [['destination', '/topic/température/°C'], ['π', 'λ']], body: 'naïve ✓' }] },
  { name: 'header line exactly maxHeaderBytes long', version: '1.2', bytes: b(`SEND\nx:${'v'.repeat(62)}\r\n\n\0`),
    frames: [{ command: 'SEND', headers: [['x', 'v'.repeat(62)]] }] },
  { name: 'exactly maxHeaders headers and maxBodyBytes body', version: '1.2',
    bytes: b(`SEND\n${Array.from({ length: 8 }, (_, i) => `h${i}:${i}\n`).join('')}\n${'z'.repeat(1024)}\0`),
    frames: [{ command: 'SEND', headers: Array.from({ length: 8 }, (_, i): [string, string] => [`h${i}`, `${i}`]), body: 'z'.repeat(1024) }] },
];

for (const row of GOOD) {
  for (const feed of FEEDS) {
    test(`parse ${row.name} (${feed.label})`, () => {
      const got = parseChunks(feed.chunks(row.bytes), row.version);
      assert.deepStrictEqual(got.frames.map(plain), row.frames.map(norm).map(plain));
      assert.equal(got.heartbeats, row.heartbeats ?? 0);
    });
  }
}

interface BadRow { name: string; version: StompVersion; bytes: Buffer; code: StompParseErrorCode; limits?: Partial<StompLimits> }

const BAD: BadRow[] = [
  { name: 'missing NUL after content-length bytes', version: '1.2', bytes: b('SEND\ncontent-length:3\n\nabcd\0'), code: 'STOMP_FRAME_INVALID' },
  { name: 'undefined escape \\t (1.2)', version: '1.2', bytes: b('SEND\nfoo:a\\tb\n\n\0'), code: 'STOMP_FRAME_INVALID' },
  { name: 'undefined escape \\t in a name (1.1)', version: '1.1', bytes: b('SEND\nf\\too:a\n\n\0'), code: 'STOMP_FRAME_INVALID' },
  { name: '\\r is undefined in 1.1', version: '1.1', bytes: b('SEND\nfoo:a\\rb\n\n\0'), code: 'STOMP_FRAME_INVALID' },
  { name: 'trailing backslash', version: '1.2', bytes: b('SEND\nfoo:ab\\\n\n\0'), code: 'STOMP_FRAME_INVALID' },
  { name: 'header without colon', version: '1.2', bytes: b('SEND\ndestination\n\n\0'), code: 'STOMP_FRAME_INVALID' },
  { name: 'empty header name', version: '1.2', bytes: b('SEND\n:v\n\n\0'), code: 'STOMP_FRAME_INVALID' },
  { name: 'bare CR in a 1.2 header', version: '1.2', bytes: b('SEND\nx:a\rb\n\n\0'), code: 'STOMP_FRAME_INVALID' },
  { name: 'header not UTF-8', version: '1.2', bytes: Buffer.concat([b('SEND\nx:'), Buffer.from([0xc3, 0x28]), b('\n\n\0')]), code: 'STOMP_FRAME_INVALID' },
  { name: 'lowercase command', version: '1.2', bytes: b('send\n\n\0'), code: 'STOMP_FRAME_INVALID' },
  { name: 'command with a space', version: '1.2', bytes: b('GET / HTTP/1.1\r\n\r\n'), code: 'STOMP_FRAME_INVALID' },
  { name: 'CR inside the command', version: '1.2', bytes: b('SE\rND\n\n\0'), code: 'STOMP_FRAME_INVALID' },
  { name: 'CR without LF between frames', version: '1.2', bytes: b('\rSEND\n\n\0'), code: 'STOMP_FRAME_INVALID' },
  { name: 'NUL where a command should start', version: '1.2', bytes: b('\0'), code: 'STOMP_FRAME_INVALID' },
  { name: 'non-numeric content-length', version: '1.2', bytes: b('SEND\ncontent-length:12a\n\n\0'), code: 'STOMP_FRAME_INVALID' },
  { name: 'negative content-length', version: '1.2', bytes: b('SEND\ncontent-length:-1\n\n\0'), code: 'STOMP_FRAME_INVALID' },
  { name: 'empty content-length', version: '1.2', bytes: b('SEND\ncontent-length:\n\n\0'), code: 'STOMP_FRAME_INVALID' },
  { name: 'padded content-length', version: '1.2', bytes: b('SEND\ncontent-length: 1\n\nx\0'), code: 'STOMP_FRAME_INVALID' },
  { name: 'too many headers', version: '1.2', bytes: b('SEND\na:1\nb:2\nc:3\n\n\0'), code: 'STOMP_LIMIT_EXCEEDED', limits: { maxHeaders: 2 } },
  { name: 'oversized header line', version: '1.2', bytes: b(`SEND\nx:${'v'.repeat(63)}\n\n\0`), code: 'STOMP_LIMIT_EXCEEDED' },
  { name: 'oversized command line', version: '1.2', bytes: b(`${'A'.repeat(65)}\n\n\0`), code: 'STOMP_LIMIT_EXCEEDED' },
  { name: 'oversized body via content-length', version: '1.2', bytes: b(`SEND\ncontent-length:1025\n\n${'x'.repeat(1025)}\0`), code: 'STOMP_LIMIT_EXCEEDED' },
  { name: 'absurd content-length', version: '1.2', bytes: b('SEND\ncontent-length:99999999999999999999999\n\n\0'), code: 'STOMP_LIMIT_EXCEEDED' },
  { name: 'oversized body without content-length', version: '1.2', bytes: b(`SEND\n\n${'x'.repeat(1025)}\0`), code: 'STOMP_LIMIT_EXCEEDED' },
  { name: 'oversized frame', version: '1.2', bytes: b(`SEND\nh:${'v'.repeat(40)}\n\n${'x'.repeat(60)}\0`), code: 'STOMP_LIMIT_EXCEEDED', limits: { maxFrameBytes: 100 } },
  { name: 'oversized frame via content-length', version: '1.2', bytes: b(`SEND\ncontent-length:90\n\n${'x'.repeat(90)}\0`), code: 'STOMP_LIMIT_EXCEEDED', limits: { maxFrameBytes: 100 } },
  { name: 'error after a good frame', version: '1.2', bytes: b('SEND\n\nok\0\nSEND\nbad\n\n\0'), code: 'STOMP_FRAME_INVALID' },
];

for (const row of BAD) {
  for (const feed of FEEDS) {
    test(`reject ${row.name} (${feed.label})`, () => {
      const limits = { ...LIMITS, ...row.limits };
      assert.throws(() => parseChunks(feed.chunks(row.bytes), row.version, limits), (err: unknown) => {
        assert.ok(err instanceof StompParseError, `expected StompParseError, got ${String(err)}`);
        assert.equal(err.code, row.code);
        return true;
      });
    });
  }
}

/** Pushes `bytes` and returns the error code thrown, or undefined if none (for early-detection tests). */
function codeOfPush(p: StompParser, bytes: Buffer): string | undefined {
  try {
    p.push(bytes, () => assert.fail('no frame expected'));
    return undefined;
  } catch (err) {
    assert.ok(err instanceof StompParseError);
    return err.code;
  }
}

test('oversized content-length fails when its header line ends, before any body byte', () => {
  const p = new StompParser(LIMITS, '1.2');
  assert.equal(codeOfPush(p, b('SEND\ncontent-length:')), undefined);
  assert.equal(codeOfPush(p, b('1025\n')), 'STOMP_LIMIT_EXCEEDED');
});

test('oversized NUL-terminated body fails at the first byte past the limit, without waiting for NUL', () => {
  const p = new StompParser(LIMITS, '1.2');
  assert.equal(codeOfPush(p, b(`SEND\n\n${'x'.repeat(1024)}`)), undefined);
  assert.equal(codeOfPush(p, b('x')), 'STOMP_LIMIT_EXCEEDED');
});

test('oversized header line fails before its EOL arrives', () => {
  const p = new StompParser(LIMITS, '1.2');
  assert.equal(codeOfPush(p, b(`SEND\nx:${'v'.repeat(62)}\r`)), undefined, 'a trailing CR may still be half of CR LF');
  assert.equal(codeOfPush(p, b('v')), 'STOMP_LIMIT_EXCEEDED');
});

test('frame limit fails mid-line, before any EOL', () => {
  const p = new StompParser({ ...LIMITS, maxFrameBytes: 20 }, '1.2');
  assert.equal(codeOfPush(p, b('SEND\nabcdefghijklmno')), undefined);
  assert.equal(codeOfPush(p, b('p')), 'STOMP_LIMIT_EXCEEDED');
});

test('a non-command byte fails at once', () => {
  assert.equal(codeOfPush(new StompParser(LIMITS), b('G')), undefined);
  assert.equal(codeOfPush(new StompParser(LIMITS), b('{')), 'STOMP_FRAME_INVALID');
});

test('errors are sticky: every later push throws the same error', () => {
  const p = new StompParser(LIMITS, '1.2');
  let first: unknown;
  assert.throws(() => p.push(b('SEND\nnocolon\n'), () => {}), (e: unknown) => ((first = e), true));
  assert.throws(() => p.push(b('SEND\n\n\0'), () => assert.fail('no frame after an error')), (e: unknown) => e === first);
});

test('an exception from onFrame propagates and leaves the parser failed', () => {
  const p = new StompParser(LIMITS, '1.2');
  const boom = new Error('boom');
  assert.throws(() => p.push(b('SEND\n\n\0'), () => { throw boom; }), (e: unknown) => e === boom);
  assert.throws(() => p.push(b('SEND\n\n\0'), () => {}), (e: unknown) => e === boom);
});

test('repeated headers: header() returns the first occurrence', () => {
  const { frames } = parseChunks([b('MESSAGE\nfoo:first\nfoo:second\n\n\0')], '1.2');
  assert.equal(header(frames[0], 'foo'), 'first');
  assert.equal(header(frames[0], 'missing'), undefined);
});

test('setVersion inside onFrame applies to the next frame in the same chunk', () => {
  const bytes = b('CONNECT\naccept-version:1.2\nhost:h\\x\n\n\0SEND\ndestination:/q\\c1\nv:a\\nb\n\n\0');
  for (const feed of FEEDS) {
    const p = new StompParser(LIMITS);
    assert.equal(p.version, '1.0');
    const frames: StompFrame[] = [];
    for (const c of feed.chunks(bytes)) {
      p.push(c, (f) => {
        frames.push(f);
        if (f.command === 'CONNECT') p.setVersion('1.2');
      });
    }
    assert.deepStrictEqual(frames.map((f) => f.headers), [
      [['accept-version', '1.2'], ['host', 'h\\x']],
      [['destination', '/q:1'], ['v', 'a\nb']],
    ], feed.label);
  }
});

test('zero-copy: a body contiguous in one chunk is a view of that chunk; a split body is a copy', () => {
  // Small Buffers share Node's pool, so sharing is observed by writing to the chunk afterwards.
  const chunk = b('SEND\ncontent-length:5\n\nhello\0SEND\n\nworld\0');
  const whole = parseChunks([chunk], '1.2').frames;
  assert.deepStrictEqual(whole.map((f) => f.body.toString()), ['hello', 'world']);
  chunk.write('J', chunk.indexOf('hello'));
  chunk.write('W', chunk.indexOf('world'));
  assert.deepStrictEqual(whole.map((f) => f.body.toString()), ['Jello', 'World'], 'bodies are views of the chunk');

  const again = b('SEND\ncontent-length:5\n\nhello\0SEND\n\nworld\0');
  const parts = splitAt(again, [again.indexOf('llo'), again.indexOf('rld')]);
  const split = parseChunks(parts, '1.2').frames;
  assert.deepStrictEqual(split.map((f) => f.body.toString()), ['hello', 'world']);
  for (const part of parts) part.fill(0x2a);
  assert.deepStrictEqual(split.map((f) => f.body.toString()), ['hello', 'world'], 'split bodies are copies');
});

test('heart-beats only: onHeartbeat per EOL, no frames, and onHeartbeat is optional', () => {
  const got = parseChunks([b('\n\r\n\n')], '1.2');
  assert.deepStrictEqual(got, { frames: [], heartbeats: 3 });
  const p = new StompParser(LIMITS, '1.2');
  const frames: StompFrame[] = [];
  p.push(b('\n\nSEND\n\n\0\n'), (f) => frames.push(f));
  assert.equal(frames.length, 1);
});

test('a long stream of frames in random splits parses identically to whole', () => {
  const one = b('MESSAGE\nsubscription:1\nmessage-id:m\ncontent-length:4\n\n\0\0\0\0\0\nSEND\ndestination:/t\n\nabc\0');
  const stream = Buffer.concat(Array.from({ length: 200 }, () => one));
  const whole = parseChunks([stream], '1.2');
  assert.equal(whole.frames.length, 400);
  assert.equal(whole.heartbeats, 200);
  for (const seed of SEEDS) {
    const r = rng(seed);
    const cuts: number[] = [];
    for (let i = 1; i < stream.length; i += 1 + Math.floor(r() * 50)) cuts.push(i);
    const got = parseChunks(splitAt(stream, cuts), '1.2');
    assert.deepStrictEqual(got.frames.map(plain), whole.frames.map(plain));
    assert.equal(got.heartbeats, whole.heartbeats);
  }
});

test('a split body is assembled in one buffer: exact size with content-length, bounded without', () => {
  const size = 64 * 1024; // above Node's Buffer pool threshold, so the backing store is ours alone
  const limits = { ...LIMITS, maxFrameBytes: 4 * size, maxBodyBytes: 2 * size };
  const body = Buffer.alloc(size, 0x61);
  const withLength = Buffer.concat([b(`SEND\ncontent-length:${size}\n\n`), body, b('\0')]);
  const started = Date.now();
  const exact = parseChunks(splitAt(withLength, Array.from({ length: withLength.length - 1 }, (_, i) => i + 1)), '1.2', limits).frames;
  assert.equal(exact.length, 1);
  assert.ok(exact[0].body.equals(body));
  assert.equal(exact[0].body.buffer.byteLength, size, 'one exact-size copy, not one object per segment');

  const toNul = Buffer.concat([b('SEND\n\n'), body, b('\0')]);
  const grown = parseChunks(splitAt(toNul, Array.from({ length: toNul.length - 1 }, (_, i) => i + 1)), '1.2', limits).frames;
  assert.ok(grown[0].body.equals(body));
  assert.ok(grown[0].body.buffer.byteLength <= limits.maxBodyBytes, 'growth is capped at maxBodyBytes');
  assert.ok(Date.now() - started < 5000, 'byte-by-byte feeding stays linear');
});
