// `$share` groups across nodes: which nodes have members of a group (`gm/` keys), and the deterministic choice of the one node that delivers each message to the group. Imports core message, persistence and membership types, ../hash.ts and ./node-sets.ts.
//
// Every node routes every record (sequencer.ts), and its router picks one LOCAL member per group. So that a
// group gets one delivery across the cluster, each node delivers a record to a group only when it is the
// chosen node: the candidates are the live nodes (membership.ts) that have members of the group (`gm/<group
// key>U+0000<nodeId>`, written while a node has at least one member, deleted when it has none; this node counts
// itself from its own router, before its key is visible), sorted by id; the choice is candidates[h mod n] with
//   round-robin: h = partition * 31 + offset of the record (consecutive records rotate over the nodes);
//   sticky:      h = FNV-1a(topic) (a topic stays on one node, and the node's own sticky choice keeps it on one member);
//   QoS 0 not in the log: h = FNV-1a(topic) xor createdAt (every node sees the same message fields).
// Every node computes the same answer from the same view without talking per message. Views differ only
// while membership changes (a node joins or leaves a group, starts, or dies and is not yet declared dead):
// then a record may go to two members, or to none (see docs/CLUSTER.md, failure table).
import { fnv1a } from '../hash.ts';
import type { Logger } from 'pino';
import type { Message } from '../message.ts';
import type { ClusterPort, StatePort } from '../persistence.ts';
import type { Membership } from './membership.ts';
import { NodeSets, SEP, splitNodeKey } from './node-sets.ts';

const PREFIX = 'gm/';


/** The node among `candidates` (sorted, at least one) that delivers `msg` to its group (the rule above). */
export function chooseNode(candidates: readonly string[], msg: Message, sticky: boolean): string {
  const ref = msg.ref;
  const h = sticky ? fnv1a(msg.topic) : ref ? ref.partition * 31 + ref.offset : (fnv1a(msg.topic) ^ msg.createdAt) >>> 0;
  return candidates[h % candidates.length]!;
}

export class ShareAssigner {
  /** Called when this node gains its first member of group `key` (true) or loses its last (false). */
  onLocalChange: ((key: string, has: boolean) => void) | undefined;
  /** Group key -> nodes that said they have members. */
  private readonly nodesOf = new NodeSets(PREFIX);
  /** Groups this node has written its key for. */
  private readonly mine = new Set<string>();
  private stopWatch: (() => void) | undefined;

  constructor(
    private readonly port: ClusterPort,
    private readonly state: StatePort,
    private readonly membership: Membership,
    private readonly sticky: boolean,
    /** Whether this node's router has a member of the group now. */
    private readonly hasLocalMembers: (key: string) => boolean,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopWatch = this.port.watch(PREFIX, (k, v) => { this.nodesOf.apply(k, v !== undefined); });
    const me = this.port.nodeId;
    for (const [k] of this.state.entries(PREFIX)) {
      const split = splitNodeKey(PREFIX, k);
      if (split && split[1] === me && !this.mine.has(split[0])) {
        // Left by an earlier run of this node (killed) for a group it has no member of now: a live node listed
        // without members would be chosen for records nobody then delivers.
        this.state.delete(k).catch((err: unknown) => this.logger.warn({ err, group: split[0] }, 'stale shared group membership not deleted'));
        continue;
      }
      this.nodesOf.apply(k, true);
    }
  }

  stop(): void {
    this.stopWatch?.();
  }

  /** The group's local membership may have changed (subscribe, unsubscribe, session gone or moved): keep `gm/` in step. */
  update(key: string): void {
    const has = this.hasLocalMembers(key);
    const k = `${PREFIX}${key}${SEP}${this.port.nodeId}`;
    if (has && !this.mine.has(key)) {
      this.mine.add(key);
      this.state.put(k, Buffer.from('1')).catch((err: unknown) => this.logger.warn({ err, group: key }, 'shared group membership not written'));
      this.onLocalChange?.(key, true);
    } else if (!has && this.mine.has(key)) {
      this.mine.delete(key);
      this.state.delete(k).catch((err: unknown) => this.logger.warn({ err, group: key }, 'shared group membership not deleted'));
      this.onLocalChange?.(key, false);
    }
  }

  /** Groups this node has members of (its `gm/` keys). */
  localGroups(): IterableIterator<string> {
    return this.mine.values();
  }

  /** The live nodes with members of group `key` now, sorted (this node when it has local members). */
  liveCandidates(key: string): string[] {
    return this.nodesOf.candidates(key, this.port.nodeId, this.hasLocalMembers(key), (n) => this.membership.isLive(n));
  }

  /** Whether this node delivers `msg` to group `key` (the caller has a local member for it). */
  delivers(key: string, msg: Message): boolean {
    const me = this.port.nodeId;
    const known = this.nodesOf.get(key);
    if (known === undefined || (known.size === 1 && known.has(me))) return true;
    const candidates = this.nodesOf.candidates(key, me, true, (n) => this.membership.isLive(n));
    return candidates.length === 1 || chooseNode(candidates, msg, this.sticky) === me;
  }
}
