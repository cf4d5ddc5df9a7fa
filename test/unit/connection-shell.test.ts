// Unit tests of the shared connection shell over an in-memory Duplex (no sockets): closing once, timers, corked writes, write-buffer levels, error mapping, pacing. Imports protocols/connection-shell.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import pino from 'pino';
import { ConnectionShell, Pacer } from '../../protocols/connection-shell.ts';
import { GatewayError, type ErrorCode } from '../../src/core/errors.ts';
import type { Guards } from '../../src/core/limits.ts';

const log = pino({ level: 'silent' });

/** A Duplex whose writes are collected and never drain by themselves (highWaterMark 1 byte). */
function memoryStream(): { stream: Duplex; written: Buffer[]; writes: () => number } {
  const written: Buffer[] = [];
  let calls = 0;
  const stream = new Duplex({
    read() {},
    writev(chunks, cb) {
      calls++;
      for (const c of chunks) written.push(c.chunk as Buffer);
      cb();
    },
    write(chunk: Buffer, _enc, cb) {
      calls++;
      written.push(chunk);
      cb();
    },
  });
  return { stream, written, writes: () => calls };
}

function shell(stream: Duplex, maxWriteBuffer = 100) {
  const seen = { data: [] as Buffer[], fails: [] as [ErrorCode, string][], releases: 0 };
  const counters = { bytesIn: 0, bytesOut: 0 };
  const io = new ConnectionShell(
    stream,
    'test',
    log,
    counters,
    maxWriteBuffer,
    {
      data: (c) => {
        if (c.toString() === 'throw-coded') throw new GatewayError('TOPIC_NAME_INVALID', 'x');
        if (c.toString() === 'throw-other') throw new Error('bug');
        seen.data.push(c);
      },
      fail: (code, detail) => seen.fails.push([code, detail]),
      release: () => seen.releases++,
    },
    () => ({ id: 't' }),
  );
  return { io, seen, counters };
}

test('reads are counted and handed on; a thrown error becomes one fail with the mapped code', () => {
  const { stream } = memoryStream();
  const { seen, counters } = shell(stream);
  stream.emit('data', Buffer.from('abc'));
  stream.emit('data', Buffer.from('throw-coded'));
  stream.emit('data', Buffer.from('throw-other'));
  assert.equal(seen.data.length, 1);
  assert.equal(counters.bytesIn, 3 + 11 + 11);
  assert.deepEqual(seen.fails, [
    ['TOPIC_NAME_INVALID', 'topic name invalid: x'],
    ['IMPLEMENTATION_SPECIFIC', 'internal error'],
  ]);
});

test('destroy ends the stream and releases once; the stream close after it does not release again; reads after are ignored', async () => {
  const { stream } = memoryStream();
  const { io, seen } = shell(stream);
  assert.equal(io.destroy(), true);
  assert.equal(io.destroy(), false);
  assert.equal(io.closed, true);
  assert.equal(stream.writableEnded, true);
  stream.emit('data', Buffer.from('late'));
  stream.destroy();
  await new Promise((r) => stream.once('close', r));
  assert.equal(seen.releases, 1);
  assert.equal(seen.data.length, 0);
});

test('a close from the stream releases once and clears every timer', async () => {
  const { stream } = memoryStream();
  const { io, seen } = shell(stream);
  let fired = 0;
  io.timeout(() => fired++, 5);
  io.interval(() => fired++, 5);
  assert.equal(io.timerCount, 2);
  stream.destroy();
  await new Promise((r) => stream.once('close', r));
  assert.equal(seen.releases, 1);
  assert.equal(io.timerCount, 0);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(fired, 0);
});

test('writes in one tick leave corked together, are counted, and stop once the stream ended', async () => {
  const { stream, written, writes } = memoryStream();
  const { io, counters } = shell(stream);
  io.write(Buffer.from('a'));
  io.write(Buffer.from('bc'));
  await new Promise((r) => setImmediate(r));
  assert.equal(Buffer.concat(written).toString(), 'abc');
  assert.equal(writes(), 1, 'one writev for the tick');
  assert.equal(counters.bytesOut, 3);
  io.destroy();
  io.write(Buffer.from('zz'));
  assert.equal(counters.bytesOut, 3);
});

test('write-buffer levels: over maxWriteBuffer, canWrite under half, whenWritable waits for drain or close', async () => {
  let release: (() => void) | undefined;
  const stream = new Duplex({
    read() {},
    highWaterMark: 1,
    write(_c, _e, cb) {
      release = cb; // held until the test lets it go
    },
  });
  const { io } = shell(stream, 10);
  assert.equal(io.canWrite(), true);
  assert.equal(io.whenWritable(), undefined);
  io.write(Buffer.alloc(4));
  io.write(Buffer.alloc(8));
  await new Promise((r) => setImmediate(r));
  assert.ok(stream.writableLength > 10, `buffered ${stream.writableLength}`);
  assert.equal(io.overWriteBuffer, true);
  assert.equal(io.canWrite(), false);
  const w = io.whenWritable();
  assert.ok(w);
  let done = false;
  void w.then(() => (done = true));
  while (release && !done) {
    const r = release;
    release = undefined;
    r();
    await new Promise((x) => setImmediate(x));
  }
  assert.equal(done, true);
  assert.equal(io.canWrite(), true);
});

test('pacer: over the rate the stream pauses, later units wait in order and are handled on resume', async () => {
  const { stream } = memoryStream();
  const { io } = shell(stream);
  const refused: string[] = [];
  const guards = {
    client: { maxPublishRate: 10, maxPublishBytesRate: 0 },
    counters: { ratePauses: 0, refused: (what: string) => refused.push(what) },
  } as unknown as Guards;
  const handled: number[] = [];
  let resumed = 0;
  const pacer = new Pacer<number>(io, guards, (n) => (handled.push(n), true), () => resumed++);
  for (let i = 0; i < 30 && !pacer.holding; i++) pacer.charge(1);
  assert.equal(pacer.holding, true, 'paused within 30 publishes at 10/s');
  assert.equal(stream.isPaused(), true);
  pacer.deferred!.push(7, 8);
  const t0 = Date.now();
  while (pacer.holding && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(handled, [7, 8]);
  assert.equal(resumed, 1);
  assert.equal(stream.isPaused(), false);
  assert.deepEqual(refused, ['publish-rate']);
});
