// Sparse offset index and time index of one segment, kept in memory; written to disk at checkpoints (active segment, appended), clean close and seal. Imports nothing.
//
// `.index` file: N entries of 8 bytes, big-endian: u32 relative offset (offset - baseOffset), u32 file position of that record.
//   Strictly increasing in both fields; one entry per about indexIntervalBytes of records; position 0 is implied.
// `.timeindex` file: N entries of 12 bytes, big-endian: i64 max timestamp of records [base, base + rel], u32 relative offset rel.
//   Timestamps non-decreasing, rel strictly increasing; the last entry covers the segment's last record.
// Both are derived data: missing or invalid files are rebuilt from the segment by scanning it.

export class OffsetIndex {
  readonly rels: number[] = [];
  readonly positions: number[] = [];

  add(rel: number, position: number): void { this.rels.push(rel); this.positions.push(position); }

  /** File position of the greatest indexed record with relative offset <= rel (0 if none). */
  lookup(rel: number): number {
    let lo = 0, hi = this.rels.length - 1, pos = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.rels[mid]! <= rel) { pos = this.positions[mid]!; lo = mid + 1; } else hi = mid - 1;
    }
    return pos;
  }

  toBuffer(): Buffer {
    const b = Buffer.allocUnsafe(this.rels.length * 8);
    for (let i = 0; i < this.rels.length; i++) { b.writeUInt32BE(this.rels[i]!, i * 8); b.writeUInt32BE(this.positions[i]!, i * 8 + 4); }
    return b;
  }

  /** Parses an index file; undefined when it is not a valid index for a segment of `records` records and `bytes` bytes. */
  static fromBuffer(b: Buffer, records: number, bytes: number): OffsetIndex | undefined {
    if (b.length % 8 !== 0) return undefined;
    const idx = new OffsetIndex();
    let lastRel = -1, lastPos = 0;
    for (let p = 0; p < b.length; p += 8) {
      const rel = b.readUInt32BE(p), pos = b.readUInt32BE(p + 4);
      if (rel <= lastRel || rel >= records || pos <= lastPos || pos >= bytes) return undefined;
      idx.add(rel, pos); lastRel = rel; lastPos = pos;
    }
    return idx;
  }
}

export class TimeIndex {
  readonly timestamps: number[] = [];
  readonly rels: number[] = [];

  /** Max timestamp of the segment, or -Infinity when empty. */
  get maxTimestamp(): number { return this.timestamps.length ? this.timestamps[this.timestamps.length - 1]! : -Infinity; }

  /** Records that records [base, base + rel] have max timestamp maxTs (maxTs must not go down). */
  add(maxTs: number, rel: number): void {
    const n = this.timestamps.length;
    if (n > 0 && this.timestamps[n - 1] === maxTs) { this.rels[n - 1] = rel; return; }
    this.timestamps.push(maxTs); this.rels.push(rel);
  }

  /** Relative offset from which to scan for the first record with timestamp >= ts (every earlier record is older). */
  scanStart(ts: number): number {
    let lo = 0, hi = this.timestamps.length - 1, start = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestamps[mid]! < ts) { start = this.rels[mid]! + 1; lo = mid + 1; } else hi = mid - 1;
    }
    return start;
  }

  toBuffer(): Buffer {
    const b = Buffer.allocUnsafe(this.rels.length * 12);
    for (let i = 0; i < this.rels.length; i++) {
      const ts = this.timestamps[i]!, hi = Math.floor(ts / 0x1_0000_0000);
      b.writeInt32BE(hi, i * 12); b.writeUInt32BE(ts - hi * 0x1_0000_0000, i * 12 + 4); b.writeUInt32BE(this.rels[i]!, i * 12 + 8);
    }
    return b;
  }

  /** Parses a time index file; undefined when invalid for a segment of `records` records (its last entry must cover the last record unless requireCover is false: a checkpoint's prefix). */
  static fromBuffer(b: Buffer, records: number, requireCover = true): TimeIndex | undefined {
    if (b.length % 12 !== 0) return undefined;
    if (requireCover && records > 0 && b.length === 0) return undefined;
    const idx = new TimeIndex();
    let lastTs = -Infinity, lastRel = -1;
    for (let p = 0; p < b.length; p += 12) {
      const ts = b.readInt32BE(p) * 0x1_0000_0000 + b.readUInt32BE(p + 4), rel = b.readUInt32BE(p + 8);
      if (ts < lastTs || rel <= lastRel || rel >= records) return undefined;
      idx.timestamps.push(ts); idx.rels.push(rel); lastTs = ts; lastRel = rel;
    }
    if (requireCover && records > 0 && lastRel !== records - 1) return undefined;
    return idx;
  }
}
