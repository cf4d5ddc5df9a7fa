// `$share` groups that fell behind: a group-level log cursor and its catch-up reader, handing records to members with room. Imports core types, ./catch-up.ts, ./topic.ts and ./message.ts.
//
// Contract: a group falls behind when live routing finds no member with room for a log-backed message
// (Broker.routeLive); from then on live routing skips the group (isBehind) and this reader delivers its
// records, round robin over members with room (connected first), each as a `shared` delivery so the
// member's own cursor never covers it. It sleeps while no member has room and is kicked when one drains
// or connects. When its cursor reaches the routed watermark the group is live again and forgotten. A
// group with no members left is forgotten too (as live routing drops messages for an empty group).
// While behind, its cursor is stored (`sg/<key>`, once a second and at shutdown) for restore.
import type { Logger } from 'pino';
import { CatchUpReader, type CatchUpSource, type CatchUpTarget, type MaxLag, type SkipReason } from './catch-up.ts';
import type { DurableStore } from './durable.ts';
import { isExpired, type Message, type QoS } from './message.ts';
import type { Delivery, Router } from './router.ts';
import type { Outbound } from './session.ts';
import { parseShared, topicMatches } from './topic.ts';
import type { LagEntry, SessionEntry } from './broker.ts';

interface ShareGroupState {
  /** Full filter `$share/<group>/<filter>`. */
  readonly key: string;
  readonly filter: string;
  cursor: number[] | undefined;
  reader: CatchUpReader | undefined;
  /** Round-robin position over members with room. */
  next: number;
}

/** What the broker lends the group readers. */
export interface ShareBacklogHost {
  readonly store: DurableStore;
  readonly router: Router<SessionEntry>;
  readonly logger: Logger;
  readonly maxLag: MaxLag;
  isClosed(): boolean;
  sendTo(entry: SessionEntry, out: Outbound[]): void;
  /** ACL at delivery (as live routing checks it). */
  mayRead(entry: SessionEntry, topic: string): boolean;
  skipped(id: string, partition: number, from: number, to: number, reason: SkipReason): void;
  behindEntered(): void;
  /** Whether this node delivers `msg` to group `key` (a cluster splits each group's records over its nodes; one node: always). */
  delivers(key: string, msg: Message): boolean;
}

/** A running recovery read (ShareBacklog.recover): cancel it, or wake it (after a read error, or when members came back). */
export interface RecoveryHandle {
  cancel(): void;
  kick(): void;
}

/** A recovery read (see ShareBacklog.recover). */
interface Recovery {
  g: ShareGroupState;
  cancelled: boolean;
}

export class ShareBacklog {
  private readonly groups = new Map<string, ShareGroupState>();
  private readonly recoveries = new Set<Recovery>();

  constructor(private readonly host: ShareBacklogHost) {}

  get size(): number {
    return this.groups.size;
  }

  isBehind(key: string): boolean {
    return this.groups.get(key)?.cursor !== undefined;
  }

  /** No member of group `key` had room for `msg` (log-backed): the group reads the log from it on. */
  fallBehind(key: string, msg: Message): void {
    const cursor = this.host.store.watermarks();
    cursor[msg.ref!.partition] = msg.ref!.offset;
    this.host.behindEntered();
    this.start(key, cursor);
  }

  /** Restore: the group starts behind at `cursor`. */
  start(key: string, cursor: number[]): void {
    const shared = parseShared(key);
    if (!shared) return;
    let g = this.groups.get(key);
    if (g === undefined) {
      g = { key, filter: shared.filter, cursor: undefined, reader: undefined, next: 0 };
      this.groups.set(key, g);
    }
    g.cursor = cursor;
    this.kick(g);
  }

  /** A member drained or connected: every behind group (and every recovery read) may continue. */
  kickAll(): void {
    for (const g of this.groups.values()) this.kick(g);
    for (const r of this.recoveries) if (!this.host.isClosed()) r.g.reader?.kick();
  }

  /** The group's log cursor while it is behind (a copy), else undefined. */
  cursorOf(key: string): number[] | undefined {
    const c = this.groups.get(key)?.cursor;
    return c ? [...c] : undefined;
  }

  /**
   * Recovery (cluster/share-recovery.ts): reads group `key`'s records in [from[p], end[p]) of every partition,
   * independently of live routing and of the group's own cursor, and hands those `accept` passes to members
   * here exactly as a behind group's reader does (round robin over members with room, `shared` deliveries,
   * ACL and expiry checked). `done()` once the read reached `end` everywhere. It sleeps while no member has room (kickAll
   * wakes it), while the group has no member here, and after a read error, until kicked.
   */
  recover(key: string, from: readonly number[], end: readonly number[], accept: (msg: Message) => boolean, done: () => void): RecoveryHandle {
    const shared = parseShared(key);
    if (!shared) {
      done();
      return { cancel: () => undefined, kick: () => undefined };
    }
    const store = this.host.store;
    const g: ShareGroupState = { key, filter: shared.filter, cursor: [...from], reader: undefined, next: 0 };
    const r: Recovery = { g, cancelled: false };
    const finish = (): void => {
      this.recoveries.delete(r);
      g.cursor = undefined;
    };
    // The log up to `end` stands in for the routed watermark: the reader's "caught up" is "read to end".
    const src: CatchUpSource = {
      partitions: store.partitions,
      routed: (p) => end[p] ?? 0,
      startOffset: (p) => store.startOffset(p),
      offsetForTime: (p, ts) => store.offsetForTime(p, ts),
      readMessages: (p, at, max) => store.readMessages(p, at, max).then((b) => ({ msgs: b.msgs, routedAtIssue: end[p] ?? 0 })),
    };
    const base = this.target(g, accept);
    const target: CatchUpTarget = {
      ...base,
      cursor: () => (r.cancelled ? undefined : g.cursor),
      active: () => !r.cancelled && !this.host.isClosed() && this.host.router.sharedMembers(key).length !== 0,
      caughtUp: () => {
        finish();
        done();
      },
    };
    this.recoveries.add(r);
    g.reader = new CatchUpReader(src, target, (err) => this.host.logger.error({ err, group: key }, 'shared group recovery read failed'), this.host.maxLag);
    const reader = g.reader;
    reader.kick();
    return {
      cancel: () => {
        r.cancelled = true;
        finish();
      },
      kick: () => {
        if (!r.cancelled && !this.host.isClosed()) reader.kick();
      },
    };
  }

  saveCursors(): void {
    for (const g of this.groups.values()) {
      if (g.cursor) this.host.store.saveGroupCursor(g.key, g.cursor).catch((err: unknown) => this.host.logger.error({ err, group: g.key }, 'shared group cursor not saved'));
    }
  }

  lag(behindBy: (c: readonly number[] | undefined) => number): LagEntry[] {
    const out: LagEntry[] = [];
    for (const g of this.groups.values()) out.push({ id: g.key, kind: 'group', lag: behindBy(g.cursor), behind: g.cursor !== undefined });
    return out;
  }

  private kick(g: ShareGroupState): void {
    if (g.cursor === undefined || this.host.isClosed()) return;
    g.reader ??= new CatchUpReader(this.host.store, this.target(g), (err) => this.host.logger.error({ err, group: g.key }, 'shared group catch-up read failed'), this.host.maxLag);
    g.reader.kick();
  }

  private forget(g: ShareGroupState): void {
    g.cursor = undefined;
    this.groups.delete(g.key);
    this.host.store.deleteGroupCursor(g.key).catch((err: unknown) => this.host.logger.error({ err, group: g.key }, 'shared group cursor not deleted'));
  }

  /** `accept`: which records of the group's filter this node delivers (default: the cluster's choice, host.delivers). */
  private target(g: ShareGroupState, accept?: (msg: Message) => boolean): CatchUpTarget {
    const host = this.host;
    const members = (): readonly Delivery<SessionEntry>[] => host.router.sharedMembers(g.key);
    const withRoom = (): Delivery<SessionEntry> | undefined => {
      const ms = members();
      let offline: Delivery<SessionEntry> | undefined;
      for (let k = 0; k < ms.length; k++) {
        const d = ms[(g.next + k) % ms.length]!;
        if (!d.subscriber.session.hasRoom()) continue;
        if (d.subscriber.link) {
          g.next = (g.next + k + 1) % ms.length;
          return d;
        }
        offline ??= d;
      }
      return offline;
    };
    return {
      cursor: () => g.cursor,
      active: () => {
        if (host.isClosed()) return false;
        if (members().length !== 0) return true;
        this.forget(g);
        return false;
      },
      canTake: () => withRoom() !== undefined,
      offer: (msg) => {
        const now = Date.now();
        if (isExpired(msg, now) || !topicMatches(g.filter, msg.topic) || !(accept ? accept(msg) : host.delivers(g.key, msg))) return;
        const d = withRoom();
        if (d === undefined) return; // canTake was checked just before; defensive
        const e = d.subscriber;
        if (!host.mayRead(e, msg.topic)) return; // as live routing: not delivered to the group
        const qos = (msg.qos < d.qos ? msg.qos : d.qos) as QoS;
        host.sendTo(e, e.session.feed({ msg, qos, retain: d.retainAsPublished && msg.retain, subscriptionIds: d.subscriptionIds, shared: true }, now));
      },
      advance: (partition, offset) => {
        const c = g.cursor;
        if (c && offset >= (c[partition] ?? 0)) c[partition] = offset + 1;
      },
      requestRoom: () => {
        for (const d of members()) d.subscriber.session.wantRoom = true;
      },
      caughtUp: () => this.forget(g),
      skipped: (partition, from, to, reason) => host.skipped(g.key, partition, from, to, reason),
    };
  }
}
