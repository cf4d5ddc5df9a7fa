// Subscription router: a topic trie with `+`/`#`, plain and `$share` subscriptions, collapse of overlaps. Imports ./topic.ts, ./hash.ts and types from ./message.ts.
//
// Concurrency contract: single-threaded, synchronous; `match` may be re-entered from its `out` callback.
// Filters given to `subscribe`/`unsubscribe` must already be valid (validateTopicFilter); the router does not re-check.
//
// Trie shape: one node per filter level. A node keeps its literal children in a Map, and its `+` and `#`
// children in fields. Subscriptions hang on the node of their last level: plain ones in an array (fast
// iteration; removal by swap using Sub.index, found through the per-subscriber Map), shared ones in a Map by group name. A `#` node holds
// subscriptions only; it matches its parent level too (`sport/#` matches `sport`).

import type { QoS } from './message.ts';
import { parseShared } from './topic.ts';
import { fnv1a } from './hash.ts';

export interface SubscriptionOptions {
  qos: QoS;
  noLocal: boolean;            // [MQTT-3.8.3-3]; on `$share` it is a Protocol Error in v5 [MQTT-3.8.3-4], the adapter rejects that; the router just applies noLocal as given
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionId?: number;     // v5 Subscription Identifier, 1..268435455
}

/**
 * One delivery decision. Read-only: the router hands out the same object for the same subscription on
 * every match (no allocation on the hot path), so a receiver must never write to it.
 */
export interface Delivery<S> {
  readonly subscriber: S;
  readonly qos: QoS;                     // the subscription's maximum QoS (max over the collapsed plain subscriptions); the broker takes min with the message QoS
  readonly retainAsPublished: boolean;   // true if any collapsed subscription had it
  readonly subscriptionIds: number[];    // all subscription ids of the collapsed subscriptions [MQTT-3.3.4-4]; empty array when none (a frozen shared constant, do not mutate)
  readonly shared: boolean;
  /** For a shared subscription: its full filter `$share/<group>/<filter>` (the group's key). */
  readonly shareKey?: string;
}

export type ShareStrategy = 'round-robin' | 'sticky';

export interface RouterOptions<S> {
  shareStrategy: ShareStrategy;
  /** Shared groups prefer members for which this is true (connected); if none is, any member is chosen. Default: always true. */
  isAvailable?: (s: S) => boolean;
}

const NO_IDS: number[] = Object.freeze([]) as unknown as number[];
const DOLLAR = 0x24;

/** Per subscriber: every subscription it holds (keyed by full filter) and scratch fields for collapsing. */
interface SubscriberState<S> {
  subscriber: S;
  subs: Map<string, Sub<S>>;
  /** Plain (non-shared) subscriptions; when 1, no overlap is possible and no collapse is needed. */
  plainCount: number;
  /** Collapse scratch: the match epoch this state was first seen in, and what was gathered. */
  mark: number;
  first: Sub<S> | undefined;
  merged: { qos: QoS; retainAsPublished: boolean; ids: number[] } | undefined;
}

interface Sub<S> {
  state: SubscriberState<S>;
  filter: string;              // full filter as given, including any `$share/<group>/` prefix
  options: SubscriptionOptions;
  node: Node<S>;
  group: Group<S> | undefined; // set for shared subscriptions
  index: number;               // position in node.plainList or group.members
  delivery: Delivery<S>;       // precomputed, replaced (never mutated) when options change
}

interface Group<S> {
  name: string;
  /** Sorted by subscriber id, so sticky selection is stable for a given member set. */
  members: Sub<S>[];
  next: number;                // round-robin cursor
}

class Node<S> {
  readonly parent: Node<S> | undefined;
  readonly key: string;        // level text in the parent ('+' / '#' for wildcard children)
  children: Map<string, Node<S>> | undefined;
  plus: Node<S> | undefined;
  hash: Node<S> | undefined;
  /** Plain subscriptions, at most one per subscriber (a full filter names one node); Sub.index is the slot. */
  plainList: Sub<S>[] = [];
  shared: Map<string, Group<S>> | undefined;
  constructor(parent: Node<S> | undefined, key: string) {
    this.parent = parent;
    this.key = key;
  }
  isEmpty(): boolean {
    return this.plainList.length === 0 && this.shared === undefined && this.children === undefined
      && this.plus === undefined && this.hash === undefined;
  }
}

/** Reusable per-call buffers; a re-entrant `match` gets fresh ones. */
interface Scratch<S> {
  nodes: Node<S>[];
  out: Delivery<S>[];
  pending: SubscriberState<S>[];
}

function makeDelivery<S>(subscriber: S, o: SubscriptionOptions, shared: boolean, filter: string): Delivery<S> {
  const ids = o.subscriptionId === undefined ? NO_IDS : (Object.freeze([o.subscriptionId]) as unknown as number[]);
  if (shared) return { subscriber, qos: o.qos, retainAsPublished: o.retainAsPublished, subscriptionIds: ids, shared, shareKey: filter };
  return { subscriber, qos: o.qos, retainAsPublished: o.retainAsPublished, subscriptionIds: ids, shared };
}

export class Router<S extends { readonly id: string }> {
  private readonly root = new Node<S>(undefined, '');
  private readonly bySubscriber = new Map<string, SubscriberState<S>>();
  private readonly strategy: ShareStrategy;
  private readonly isAvailable: ((s: S) => boolean) | undefined;
  private count = 0;
  private epoch = 0;
  private scratch: Scratch<S> | undefined = { nodes: [], out: [], pending: [] };

  constructor(options: RouterOptions<S>) {
    this.strategy = options.shareStrategy;
    this.isAvailable = options.isAvailable;
  }

  /** Number of (subscriber, full filter) pairs. */
  get size(): number {
    return this.count;
  }

  /** `filter` is the full filter, including a `$share/<group>/` prefix. Re-subscribing the same subscriber to the same full filter replaces its options. */
  subscribe(subscriber: S, filter: string, options: SubscriptionOptions): { existed: boolean } {
    const opts: SubscriptionOptions = { ...options };
    let state = this.bySubscriber.get(subscriber.id);
    if (state === undefined) {
      state = { subscriber, subs: new Map(), plainCount: 0, mark: 0, first: undefined, merged: undefined };
      this.bySubscriber.set(subscriber.id, state);
    } else if (state.subscriber !== subscriber) {
      // Same id, new object (e.g. a resumed session): every delivery must carry the newest one.
      state.subscriber = subscriber;
      for (const sub of state.subs.values()) sub.delivery = makeDelivery(subscriber, sub.options, sub.group !== undefined, sub.filter);
    }
    const existing = state.subs.get(filter);
    if (existing !== undefined) {
      existing.options = opts;
      existing.delivery = makeDelivery(subscriber, opts, existing.group !== undefined, filter);
      return { existed: true };
    }
    const shared = parseShared(filter);
    const node = this.insertPath(shared ? shared.filter : filter);
    const sub: Sub<S> = {
      state, filter, options: opts, node, group: undefined, index: 0,
      delivery: makeDelivery(subscriber, opts, shared !== undefined, filter),
    };
    if (shared) {
      node.shared ??= new Map();
      let group = node.shared.get(shared.group);
      if (group === undefined) {
        group = { name: shared.group, members: [], next: 0 };
        node.shared.set(shared.group, group);
      }
      sub.group = group;
      this.addMember(group, sub);
    } else {
      sub.index = node.plainList.length;
      node.plainList.push(sub);
      state.plainCount++;
    }
    state.subs.set(filter, sub);
    this.count++;
    return { existed: false };
  }

  unsubscribe(subscriberId: string, filter: string): boolean {
    const state = this.bySubscriber.get(subscriberId);
    const sub = state?.subs.get(filter);
    if (state === undefined || sub === undefined) return false;
    this.removeSub(sub);
    state.subs.delete(filter);
    if (state.subs.size === 0) this.bySubscriber.delete(subscriberId);
    return true;
  }

  /** Remove every subscription of a subscriber (session ended). Returns how many. */
  unsubscribeAll(subscriberId: string): number {
    const state = this.bySubscriber.get(subscriberId);
    if (state === undefined) return 0;
    const n = state.subs.size;
    for (const sub of state.subs.values()) this.removeSub(sub);
    state.subs.clear();
    this.bySubscriber.delete(subscriberId);
    return n;
  }

  /** The members of the shared group with full filter `$share/<group>/<filter>`, sorted by subscriber id; empty when none. */
  sharedMembers(fullFilter: string): readonly Delivery<S>[] {
    const shared = parseShared(fullFilter);
    if (shared === undefined) return [];
    let node: Node<S> | undefined = this.root;
    for (const level of shared.filter.split('/')) {
      if (node === undefined) return [];
      node = level === '+' ? node.plus : level === '#' ? node.hash : node.children?.get(level);
    }
    const group = node?.shared?.get(shared.group);
    return group === undefined ? [] : group.members.map((m) => m.delivery);
  }

  /** Every subscription, for admin listings and persistence. */
  *entries(): IterableIterator<{ subscriber: S; filter: string; options: SubscriptionOptions }> {
    for (const state of this.bySubscriber.values()) {
      for (const sub of state.subs.values()) {
        yield { subscriber: state.subscriber, filter: sub.filter, options: { ...sub.options } };
      }
    }
  }

  /** Calls `out` once per plain subscriber whose subscriptions match (overlapping plain subscriptions of one subscriber collapse into ONE delivery: max QoS, union of subscription ids) and once per matching shared group (one member: round-robin over members, or `sticky`: a stable member per topic name, e.g. hash(topic) over sorted member ids, so one topic's messages keep their order within the group). Subscriptions with noLocal are skipped when subscriber.id === senderId. */
  match(topic: string, senderId: string, out: (d: Delivery<S>) => void, takesShare?: (shareKey: string) => boolean): void {
    const scratch = this.scratch ?? { nodes: [], out: [], pending: [] };
    this.scratch = undefined;
    const { nodes, out: buf } = scratch;
    try {
      const levels = topic.split('/');
      // [MQTT-4.7.2-1] a `$` topic is not matched by a filter whose first level is `+` or `#`.
      const dollar = topic.charCodeAt(0) === DOLLAR;
      this.walk(this.root, levels, 0, nodes, dollar);
      if (nodes.length > 0) this.decide(topic, senderId, scratch, takesShare);
      // All decisions are made before any callback runs, so a re-entrant match cannot disturb them.
      for (let i = 0; i < buf.length; i++) out(buf[i]);
    } finally {
      nodes.length = 0;
      buf.length = 0;
      scratch.pending.length = 0;
      this.scratch = scratch;
    }
  }

  /** Collects every node whose subscriptions match levels[i..]; no allocation besides array growth. */
  private walk(node: Node<S>, levels: string[], i: number, hits: Node<S>[], skipWild: boolean): void {
    if (node.hash !== undefined && !skipWild) hits.push(node.hash); // `#` also matches the parent level
    if (i === levels.length) {
      if (node.plainList.length > 0 || node.shared !== undefined) hits.push(node);
      return;
    }
    if (node.children !== undefined) {
      const child = node.children.get(levels[i]);
      if (child !== undefined) this.walk(child, levels, i + 1, hits, false);
    }
    if (node.plus !== undefined && !skipWild) this.walk(node.plus, levels, i + 1, hits, false);
  }

  /** `takesShare`: a shared group it refuses gets no delivery and its round-robin cursor does not move (a cluster node delivers only its part of a group, cluster/shares.ts). */
  private decide(topic: string, senderId: string, scratch: Scratch<S>, takesShare?: (shareKey: string) => boolean): void {
    const { nodes, out: buf, pending } = scratch;
    let plainNodes = 0;
    for (let n = 0; n < nodes.length; n++) if (nodes[n].plainList.length > 0) plainNodes++;

    if (plainNodes === 1) {
      // Only one filter matched plainly: each subscriber appears at most once, no collapse needed.
      for (let n = 0; n < nodes.length; n++) {
        const list = nodes[n].plainList;
        for (let k = 0; k < list.length; k++) {
          const sub = list[k];
          if (sub.options.noLocal && sub.state.subscriber.id === senderId) continue; // [MQTT-3.8.3-3]
          buf.push(sub.delivery);
        }
      }
    } else if (plainNodes > 1) {
      const epoch = ++this.epoch;
      for (let n = 0; n < nodes.length; n++) {
        const list = nodes[n].plainList;
        for (let k = 0; k < list.length; k++) {
          const sub = list[k];
          if (sub.options.noLocal && sub.state.subscriber.id === senderId) continue; // [MQTT-3.8.3-3]
          const st = sub.state;
          if (st.plainCount === 1) {
            buf.push(sub.delivery);
          } else if (st.mark !== epoch) {
            st.mark = epoch;
            st.first = sub;
            st.merged = undefined;
            pending.push(st);
          } else {
            this.merge(st, sub);
          }
        }
      }
      for (let p = 0; p < pending.length; p++) {
        const st = pending[p];
        const m = st.merged;
        if (m === undefined) {
          buf.push(st.first!.delivery);
        } else {
          m.ids.sort((a, b) => a - b);
          buf.push({
            subscriber: st.subscriber, qos: m.qos, retainAsPublished: m.retainAsPublished,
            subscriptionIds: m.ids.length === 0 ? NO_IDS : m.ids, shared: false,
          });
        }
        st.first = undefined;
        st.merged = undefined;
      }
    }

    let hash = -1;
    for (let n = 0; n < nodes.length; n++) {
      const groups = nodes[n].shared;
      if (groups === undefined) continue;
      for (const group of groups.values()) {
        const first = group.members[0];
        if (takesShare !== undefined && first !== undefined && !takesShare(first.delivery.shareKey!)) continue;
        if (this.strategy === 'sticky' && hash < 0) hash = fnv1a(topic); // stable across runs: a sticky choice survives restarts
        const chosen = this.choose(group, senderId, hash);
        if (chosen !== undefined) buf.push(chosen.delivery);
      }
    }
  }

  /** [MQTT-3.3.4-2..5] overlapping subscriptions of one client: one message, max QoS, all subscription ids. */
  private merge(st: SubscriberState<S>, sub: Sub<S>): void {
    let m = st.merged;
    if (m === undefined) {
      const f = st.first!.options;
      m = { qos: f.qos, retainAsPublished: f.retainAsPublished, ids: f.subscriptionId === undefined ? [] : [f.subscriptionId] };
      st.merged = m;
    }
    const o = sub.options;
    if (o.qos > m.qos) m.qos = o.qos;
    if (o.retainAsPublished) m.retainAsPublished = true;
    if (o.subscriptionId !== undefined && !m.ids.includes(o.subscriptionId)) m.ids.push(o.subscriptionId);
  }

  /**
   * One member of a shared group. Round-robin: the next member from the cursor that is available and not
   * excluded by noLocal. Sticky: start at hash(topic) mod members (members sorted by id) and probe forward,
   * so a topic stays on one member while the member set and availability stay the same.
   * If no eligible member is available, the first eligible one from the start point is chosen anyway.
   */
  private choose(group: Group<S>, senderId: string, hash: number): Sub<S> | undefined {
    const members = group.members;
    const n = members.length;
    const start = this.strategy === 'sticky' ? hash % n : group.next % n;
    const avail = this.isAvailable;
    let fallback: Sub<S> | undefined;
    let fallbackAt = 0;
    for (let k = 0; k < n; k++) {
      const at = start + k < n ? start + k : start + k - n;
      const sub = members[at];
      if (sub.options.noLocal && sub.state.subscriber.id === senderId) continue;
      if (avail === undefined || avail(sub.state.subscriber)) {
        if (this.strategy === 'round-robin') group.next = at + 1;
        return sub;
      }
      if (fallback === undefined) {
        fallback = sub;
        fallbackAt = at;
      }
    }
    if (fallback !== undefined && this.strategy === 'round-robin') group.next = fallbackAt + 1;
    return fallback;
  }

  private insertPath(filter: string): Node<S> {
    let node = this.root;
    let from = 0;
    for (;;) {
      const slash = filter.indexOf('/', from);
      const level = slash < 0 ? filter.slice(from) : filter.slice(from, slash);
      let next: Node<S> | undefined;
      if (level === '+') {
        next = node.plus ??= new Node(node, '+');
      } else if (level === '#') {
        next = node.hash ??= new Node(node, '#');
      } else {
        node.children ??= new Map();
        next = node.children.get(level);
        if (next === undefined) {
          next = new Node(node, level);
          node.children.set(level, next);
        }
      }
      node = next;
      if (slash < 0) return node;
      from = slash + 1;
    }
  }

  private addMember(group: Group<S>, sub: Sub<S>): void {
    const members = group.members;
    const id = sub.state.subscriber.id;
    let at = members.length;
    while (at > 0 && members[at - 1].state.subscriber.id > id) at--;
    members.splice(at, 0, sub);
    for (let k = at; k < members.length; k++) members[k].index = k;
  }

  /** Detaches a subscription from its node and prunes empty nodes; the caller updates state.subs. */
  private removeSub(sub: Sub<S>): void {
    const node = sub.node;
    const state = sub.state;
    const group = sub.group;
    if (group !== undefined) {
      const members = group.members;
      members.splice(sub.index, 1);
      for (let k = sub.index; k < members.length; k++) members[k].index = k;
      if (group.next > sub.index) group.next--;
      if (members.length === 0) {
        node.shared!.delete(group.name);
        if (node.shared!.size === 0) node.shared = undefined;
      }
    } else {
      const list = node.plainList;
      const last = list.pop()!;
      if (last !== sub) {
        list[sub.index] = last;
        last.index = sub.index;
      }
      state.plainCount--;
    }
    this.count--;
    this.prune(node);
  }

  private prune(start: Node<S>): void {
    let node = start;
    while (node.parent !== undefined && node.isEmpty()) {
      const parent = node.parent;
      if (parent.plus === node) parent.plus = undefined;
      else if (parent.hash === node) parent.hash = undefined;
      else if (parent.children !== undefined && parent.children.get(node.key) === node) {
        parent.children.delete(node.key);
        if (parent.children.size === 0) parent.children = undefined;
      }
      node = parent;
    }
  }
}
