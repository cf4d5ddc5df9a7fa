// The records each log partition's follower saw last, kept so that reads near the end (other nodes' records being routed here, sessions a little behind) need no round trip to the stream leader. Imports nothing.
//
// Contract: per partition a run of consecutive sequences [first, first + count), filled in sequence order by the
// follower (an ordered consumer delivers every message of the stream once, in order); a message that does not
// follow the run (the consumer was reset) starts a new run. Bounded per partition by maxRecords and maxBytes,
// oldest dropped first. The bytes are copies (a view would keep the client's whole read buffer alive).
interface Run {
  /** Sequence of items[head]. */
  first: number;
  items: Uint8Array[];
  head: number;
  bytes: number;
}

export class TailCache {
  private readonly runs: Run[];

  constructor(partitions: number, private readonly maxRecords = 4096, private readonly maxBytes = 4 * 1024 * 1024) {
    this.runs = Array.from({ length: partitions }, () => ({ first: 0, items: [], head: 0, bytes: 0 }));
  }

  put(p: number, seq: number, data: Uint8Array): void {
    const r = this.runs[p];
    if (!r) return;
    const count = r.items.length - r.head;
    if (count > 0 && seq !== r.first + count) {
      if (seq < r.first + count) return; // seen already
      r.items = [];
      r.head = 0;
      r.bytes = 0;
    }
    if (r.items.length === r.head) r.first = seq;
    const copy = new Uint8Array(data);
    r.items.push(copy);
    r.bytes += copy.byteLength;
    while (r.items.length - r.head > this.maxRecords || (r.bytes > this.maxBytes && r.items.length - r.head > 1)) {
      r.bytes -= r.items[r.head]!.byteLength;
      r.items[r.head] = EMPTY;
      r.head++;
      r.first++;
    }
    if (r.head > 1024 && r.head * 2 > r.items.length) {
      r.items = r.items.slice(r.head);
      r.head = 0;
    }
  }

  /** The payload of sequence `seq` of partition p, if held. */
  get(p: number, seq: number): Uint8Array | undefined {
    const r = this.runs[p];
    if (!r || seq < r.first) return undefined;
    return r.items[r.head + (seq - r.first)];
  }

  /** Bytes held over all partitions. */
  get bytes(): number {
    return this.runs.reduce((n, r) => n + r.bytes, 0);
  }
}

const EMPTY = new Uint8Array(0);
