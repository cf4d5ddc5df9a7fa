// Counts unique, duplicated and out-of-order sequence numbers from one publisher at one subscriber. Imports nothing.
//
// A growable bitset remembers every sequence seen, so a repeat is a duplicate (not a reordering)
// and `unique` is exact; "out of order" means a new sequence arrived below the highest seen.
// Lost messages are computed by the caller as (sent - unique) after the run drained.
export class SeqTracker {
  private bits = new Uint8Array(1 << 16);
  private max = -1;
  unique = 0;
  duplicates = 0;
  outOfOrder = 0;

  see(seq: number): void {
    const byte = seq >>> 3;
    if (byte >= this.bits.length) {
      let size = this.bits.length * 2;
      while (size <= byte) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.bits);
      this.bits = next;
    }
    const mask = 1 << (seq & 7);
    if ((this.bits[byte]! & mask) !== 0) {
      this.duplicates++;
      return;
    }
    this.bits[byte]! |= mask;
    this.unique++;
    if (seq < this.max) this.outOfOrder++;
    else this.max = seq;
  }
}
