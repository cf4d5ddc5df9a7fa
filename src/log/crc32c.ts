// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven (slicing-by-4). Imports nothing.
// Check value: crc32c("123456789") = 0xE3069283.

const TABLES: Uint32Array[] = (() => {
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t0[n] = c >>> 0;
  }
  const tables = [t0];
  for (let s = 1; s < 4; s++) {
    const prev = tables[s - 1]!;
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) t[n] = (prev[n]! >>> 8) ^ t0[prev[n]! & 0xff]!;
    tables.push(t);
  }
  return tables;
})();
const [T0, T1, T2, T3] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array];

/** CRC-32C of buf[start, end). Pass a previous result as `crc` to continue a running checksum. */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length, crc = 0): number {
  let c = ~crc >>> 0;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    c ^= buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    c = T3[c & 0xff]! ^ T2[(c >>> 8) & 0xff]! ^ T1[(c >>> 16) & 0xff]! ^ T0[c >>> 24]!;
  }
  for (; i < end; i++) c = T0[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
