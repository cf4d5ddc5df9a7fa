// Fuzzer randomness: a small seeded PRNG and the per-case seed, so every case is reproducible from (seed, protocol, index). Imports nothing.

export type Protocol = 'mqtt' | 'stomp';

export interface Rng {
  /** [0, 1) */
  next(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
  chance(p: number): boolean;
}

/** mulberry32: 32-bit state, good enough to spread mutations; not cryptographic. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
    chance: (p) => next() < p,
  };
}

/** FNV-1a over "seed/protocol/index": the seed of one case, independent of every other case. */
export function caseSeed(seed: number, protocol: Protocol, index: number): number {
  let h = 0x811c9dc5;
  for (const ch of `${seed}/${protocol}/${index}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
