// Unit tests for the log record codec and CRC-32C. Imports src/log/codec.ts and src/log/crc32c.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c } from '../../src/log/crc32c.ts';
import { decodeRecord, encodeRecord, encodeRecordInto, recordSize, RECORD_OVERHEAD, ATTR_TOMBSTONE } from '../../src/log/codec.ts';

const rows = [
  { name: 'empty fields', f: { offset: 0, timestamp: 0, key: '', headers: Buffer.alloc(0), value: Buffer.alloc(0), attributes: 0 } },
  { name: 'typical', f: { offset: 42, timestamp: 1_700_000_000_123, key: 'sensors/1/temp', headers: Buffer.from('{"a":1}'), value: Buffer.from('21.5'), attributes: 0 } },
  { name: 'big offset, negative ts, utf8 key, tombstone', f: { offset: 2 ** 40 + 7, timestamp: -5, key: 'é/ü/€', headers: Buffer.from([0, 255]), value: Buffer.alloc(70_000, 9), attributes: ATTR_TOMBSTONE } },
];

describe('crc32c', () => {
  it('matches the standard check value', () => assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283));
  it('is 0 for empty input and continues a running checksum', () => {
    assert.equal(crc32c(Buffer.alloc(0)), 0);
    const b = Buffer.from('123456789');
    assert.equal(crc32c(b, 5, 9, crc32c(b, 0, 5)), 0xe3069283);
  });
  it('agrees with a bit-at-a-time reference at every length 0..40 and start 0..9 (slicing-by-8 tails and alignment)', () => {
    const ref = (buf: Uint8Array, start: number, end: number): number => {
      let c = 0xffffffff;
      for (let i = start; i < end; i++) { c ^= buf[i]!; for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1; }
      return ~c >>> 0;
    };
    const buf = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 97 + 13) & 0xff));
    for (let start = 0; start < 10; start++) {
      for (let len = 0; len <= 40; len++) assert.equal(crc32c(buf, start, start + len), ref(buf, start, start + len), `start ${start} len ${len}`);
    }
  });
});

describe('record codec', () => {
  for (const { name, f } of rows) {
    it(`round trips: ${name}`, () => {
      const b = encodeRecord(f);
      assert.equal(b.length, recordSize(f.key, f.headers, f.value));
      const r = decodeRecord(b);
      assert.ok(r.ok);
      assert.deepEqual({ ...r.record, headers: Buffer.from(r.record.headers), value: Buffer.from(r.record.value) }, { ...f, size: b.length });
    });
  }
  it('encodeRecordInto writes the same bytes as encodeRecord, at any position of a shared buffer', () => {
    const buf = Buffer.alloc(200_000, 0xee);
    let pos = 3;
    for (const { name, f } of rows) {
      const size = recordSize(f.key, f.headers, f.value);
      assert.equal(encodeRecordInto(buf, pos, f, Buffer.byteLength(f.key), size), size);
      assert.deepEqual(buf.subarray(pos, pos + size), encodeRecord(f), name);
      pos += size;
    }
    assert.equal(buf[pos], 0xee, 'nothing written past the last record');
    assert.throws(() => encodeRecordInto(buf, 0, { ...rows[0]!.f, offset: -1 }, 0, RECORD_OVERHEAD), RangeError);
  });
  it('decodes back-to-back records at an offset', () => {
    const a = encodeRecord(rows[1]!.f), c = encodeRecord({ ...rows[1]!.f, offset: 43 });
    const both = Buffer.concat([a, c]);
    const r = decodeRecord(both, a.length);
    assert.ok(r.ok && r.record.offset === 43 && r.record.size === c.length);
  });
  it('detects every single flipped byte after the length field', () => {
    const b = encodeRecord(rows[1]!.f);
    for (let i = 4; i < b.length; i++) {
      const bad = Buffer.from(b);
      bad[i] = bad[i]! ^ 0x01;
      const r = decodeRecord(bad);
      assert.equal(r.ok, false, `byte ${i}`);
    }
  });
  it('reports truncated records as short', () => {
    const b = encodeRecord(rows[1]!.f);
    for (const n of [0, 3, 4, RECORD_OVERHEAD - 1, b.length - 1]) assert.deepEqual(decodeRecord(b.subarray(0, n)), { ok: false, reason: 'short' }, `length ${n}`);
  });
  it('rejects a length too small to be a record and an unknown version', () => {
    const b = encodeRecord(rows[0]!.f);
    const small = Buffer.from(b); small.writeUInt32BE(5, 0);
    assert.deepEqual(decodeRecord(small), { ok: false, reason: 'length' });
    const v2 = Buffer.from(b); v2[8] = 2; v2.writeUInt32BE(crc32c(v2, 8), 4);
    assert.deepEqual(decodeRecord(v2), { ok: false, reason: 'version' });
  });
  it('refuses keys over 65535 bytes and unsafe offsets', () => {
    assert.throws(() => encodeRecord({ ...rows[0]!.f, key: 'x'.repeat(65536) }), /65535/);
    assert.throws(() => encodeRecord({ ...rows[0]!.f, offset: -1 }), RangeError);
  });
});
