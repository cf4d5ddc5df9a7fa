// The one string hash of the core (FNV-1a, 32 bit, over UTF-16 code units) and rendezvous choice built on it. Imports nothing.
//
// Stable across runs and processes: sticky `$share` choices, key-shared queue consumers and every cluster choice
// (which node delivers, leases, adopts) must come out the same on every node. (src/log hashes UTF-8 bytes for its
// partitions and keeps its own.)

export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Rendezvous hashing: the node among `nodes` with the highest fnv1a(key U+0000 node), ties to the smaller id; undefined when none. */
export function rendezvous(key: string, nodes: readonly string[]): string | undefined {
  let best: string | undefined;
  let top = -1;
  for (const n of nodes) {
    const h = fnv1a(`${key}\u0000${n}`);
    if (h > top || (h === top && best !== undefined && n < best)) {
      top = h;
      best = n;
    }
  }
  return best;
}
