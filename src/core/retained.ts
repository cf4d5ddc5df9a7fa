// In-memory retained-message store: last message per topic, matched by filter through a topic trie. Imports ./message.ts and ./topic.ts.
//
// Concurrency contract: single-threaded, synchronous. Persistence is the broker's job (a compacted log);
// this store is the index it rebuilds on start by calling `set` for each stored message.
// Topics given to `set` must already be valid names (validateTopicName); filters given to `match` valid filters.

import { isExpired, type Message } from './message.ts';
import { hasWildcard } from './topic.ts';

const DOLLAR = 0x24;

/** The gateway's own status topics do not count against the retained limits. */
function isSys(topic: string): boolean {
  return topic.startsWith('$SYS/');
}

function retainedBytes(m: Message): number {
  return m.payload.length + m.topic.length;
}

class RNode {
  readonly parent: RNode | undefined;
  readonly key: string;
  children: Map<string, RNode> | undefined;
  msg: Message | undefined;
  constructor(parent: RNode | undefined, key: string) {
    this.parent = parent;
    this.key = key;
  }
}

export class RetainedStore {
  /** Exact lookup by topic; also the source of `size` and `values()`. */
  private readonly byTopic = new Map<string, Message>();
  /** One node per topic level; a node holds the message whose topic ends there. */
  private readonly root = new RNode(undefined, '');
  /** Sum of retainedBytes() and count of the stored messages, `$SYS/` (the gateway's own) excluded. */
  private heldBytes = 0;
  private clientCount = 0;
  /** Limits checked by admits() (0 = unlimited); set() itself never refuses (restore must load everything). */
  private maxCount = 0;
  private maxBytes = 0;

  setLimits(maxCount: number, maxBytes: number): void {
    this.maxCount = maxCount;
    this.maxBytes = maxBytes;
  }

  /** Bytes held: payloads plus topics (UTF-16 length as a cheap, stable measure). */
  get bytes(): number {
    return this.heldBytes;
  }

  /**
   * Would storing a retained message on `topic` with `payloadBytes` stay within the limits? undefined = yes.
   * A delete (empty payload) always may; replacing a topic is checked on bytes only; a new topic on count and bytes.
   */
  admits(topic: string, payloadBytes: number): 'retained-count' | 'retained-bytes' | undefined {
    if (payloadBytes === 0) return undefined;
    const old = this.byTopic.get(topic);
    if (old === undefined && this.maxCount > 0 && this.clientCount >= this.maxCount) return 'retained-count';
    const delta = payloadBytes + topic.length - (old ? retainedBytes(old) : 0);
    if (this.maxBytes > 0 && delta > 0 && this.heldBytes + delta > this.maxBytes) return 'retained-bytes';
    return undefined;
  }

  /** Store or replace; an empty payload deletes [MQTT-3.3.1-10], [MQTT-3.3.1-11]. Returns 'set' | 'deleted' | 'none'. */
  set(msg: Message): 'set' | 'deleted' | 'none' {
    if (msg.payload.length === 0) return this.delete(msg.topic) ? 'deleted' : 'none';
    // [MQTT-3.3.1-5] replaces any existing retained message for this topic.
    const old = this.byTopic.get(msg.topic);
    if (!isSys(msg.topic)) {
      if (old) this.heldBytes -= retainedBytes(old);
      else this.clientCount++;
      this.heldBytes += retainedBytes(msg);
    }
    this.byTopic.set(msg.topic, msg);
    let node = this.root;
    for (const level of msg.topic.split('/')) {
      node.children ??= new Map();
      let next = node.children.get(level);
      if (next === undefined) {
        next = new RNode(node, level);
        node.children.set(level, next);
      }
      node = next;
    }
    node.msg = msg;
    return 'set';
  }

  get(topic: string): Message | undefined {
    return this.byTopic.get(topic);
  }

  delete(topic: string): boolean {
    const old = this.byTopic.get(topic);
    if (!old) return false;
    this.byTopic.delete(topic);
    if (!isSys(topic)) {
      this.heldBytes -= retainedBytes(old);
      this.clientCount--;
    }
    let node: RNode | undefined = this.root;
    for (const level of topic.split('/')) {
      node = node.children?.get(level);
      if (node === undefined) return true; // unreachable while byTopic and the trie agree
    }
    node.msg = undefined;
    this.prune(node);
    return true;
  }

  /**
   * Retained messages whose topic matches a (non-shared) filter, `$` rule included. Expired messages (isExpired from message.ts) are dropped and not returned.
   * A `$share/...` filter returns nothing: retained messages go only to new non-shared subscriptions [MQTT-3.3.1-6] (v5 wording).
   * A filter without wildcards is one Map lookup; a wildcard filter walks only the trie branches it can match.
   */
  match(filter: string, now: number): Message[] {
    if (filter.startsWith('$share/')) return [];
    const found: Message[] = [];
    if (!hasWildcard(filter)) {
      const msg = this.byTopic.get(filter);
      if (msg !== undefined) found.push(msg);
    } else {
      this.walk(this.root, filter.split('/'), 0, found);
    }
    // Drop expired ones from the store as we meet them [MQTT-3.3.2-5].
    let kept = 0;
    for (let i = 0; i < found.length; i++) {
      const msg = found[i];
      if (isExpired(msg, now)) this.delete(msg.topic);
      else found[kept++] = msg;
    }
    found.length = kept;
    return found;
  }

  get size(): number {
    return this.byTopic.size;
  }

  values(): IterableIterator<Message> {
    return this.byTopic.values();
  }

  private walk(node: RNode, f: string[], i: number, found: Message[]): void {
    if (i === f.length) {
      if (node.msg !== undefined) found.push(node.msg);
      return;
    }
    const level = f[i];
    if (level === '#') {
      if (node.msg !== undefined && i > 0) found.push(node.msg); // `sport/#` matches `sport`
      this.collect(node, i === 0, found);
      return;
    }
    const children = node.children;
    if (children === undefined) return;
    if (level === '+') {
      for (const child of children.values()) {
        // [MQTT-4.7.2-1] a first-level wildcard does not match topics starting with `$`.
        if (i === 0 && child.key.charCodeAt(0) === DOLLAR) continue;
        this.walk(child, f, i + 1, found);
      }
      return;
    }
    const child = children.get(level);
    if (child !== undefined) this.walk(child, f, i + 1, found);
  }

  /** Every message strictly below `node` (iterative, so deep topics cannot overflow the stack). */
  private collect(node: RNode, skipDollar: boolean, found: Message[]): void {
    const stack: RNode[] = [];
    if (node.children !== undefined) {
      for (const child of node.children.values()) {
        if (skipDollar && child.key.charCodeAt(0) === DOLLAR) continue; // [MQTT-4.7.2-1]
        stack.push(child);
      }
    }
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n.msg !== undefined) found.push(n.msg);
      if (n.children !== undefined) for (const c of n.children.values()) stack.push(c);
    }
  }

  private prune(start: RNode): void {
    let node = start;
    while (node.parent !== undefined && node.msg === undefined && node.children === undefined) {
      const parent: RNode = node.parent;
      parent.children!.delete(node.key);
      if (parent.children!.size === 0) parent.children = undefined;
      node = parent;
    }
  }
}
