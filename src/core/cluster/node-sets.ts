// Which nodes hold a key `<prefix><name>U+0000<nodeId>` per name (a `$share` group's `gm/` keys in shares.ts, a queue's `qm/` keys in queue-lease.ts), as the store's watch reports them, and the live candidates among them. Imports nothing.

export const SEP = '\u0000';

/** `<prefix><name>U+0000<nodeId>` -> [name, nodeId]; undefined for a key without the separator. */
export function splitNodeKey(prefix: string, k: string): [string, string] | undefined {
  const cut = k.lastIndexOf(SEP);
  if (cut < prefix.length) return undefined;
  return [k.slice(prefix.length, cut), k.slice(cut + 1)];
}

export class NodeSets {
  private readonly byName = new Map<string, Set<string>>();

  constructor(private readonly prefix: string) {}

  /** Key `k` was written (present) or deleted: records it; returns its name (undefined for a malformed key). */
  apply(k: string, present: boolean): string | undefined {
    const split = splitNodeKey(this.prefix, k);
    if (!split) return undefined;
    const [name, node] = split;
    let set = this.byName.get(name);
    if (present) {
      if (!set) this.byName.set(name, (set = new Set()));
      set.add(node);
    } else if (set) {
      set.delete(node);
      if (set.size === 0) this.byName.delete(name);
    }
    return name;
  }

  /** The nodes holding `name`'s key, live or not. */
  get(name: string): ReadonlySet<string> | undefined {
    return this.byName.get(name);
  }

  /** Sorted: `self` when `withSelf` (it counts itself from its own state, before its key is visible), and every other node holding `name` that `isLive` accepts. */
  candidates(name: string, self: string, withSelf: boolean, isLive: (node: string) => boolean): string[] {
    const out = withSelf ? [self] : [];
    for (const n of this.byName.get(name) ?? []) if (n !== self && isLive(n)) out.push(n);
    return out.sort();
  }
}
