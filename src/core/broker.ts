// The one publish path and session registry every protocol adapter calls. Imports core modules only (no sockets, no log).
import type { Logger } from 'pino';
import { ALLOW_ALL, type AuthHooks, type ClientIdentity } from './auth.ts';
import { gatewayError, type ErrorCode } from './errors.ts';
import { isExpired, type Message, type QoS } from './message.ts';
import type { DurableStore } from './durable.ts';
import type { PendingWork } from './backpressure.ts';
import type { InboundQos2 } from './persistence.ts';
import { RetainedStore } from './retained.ts';
import { Router, type ShareStrategy, type SubscriptionOptions, type Delivery } from './router.ts';
import { Session, type DeliveryRequest, type DropReason, type Outbound, type SessionLimits } from './session.ts';
import { parseShared } from './topic.ts';
import { ShareBacklog } from './share-backlog.ts';
import { follow, type Follower, type FollowOptions, type StartPoint, type Visitor } from './consumer.ts';
import { LogSubscriptions, type LogSubscriptionsOptions } from './log-subscriptions.ts';
import { QueueRegistry } from './queue-registry.ts';
import { CatchUpReader, NO_MAX_LAG, type CatchUpTarget, type MaxLag, type SkipReason } from './catch-up.ts';
import { sendHeld, type FlowHold } from './flow-hold.ts';
import type { RestoredSession } from './durable.ts';
import { ClusterNode, type ClusterOptions } from './cluster/node.ts';

/** The adapter side of a connected session. */
export interface SessionLink {
  readonly identity: ClientIdentity;
  /** Write PUBLISH / PUBREL items to the client, in order. */
  send(out: readonly Outbound[]): void;
  /** Server-initiated close (takeover, administrative action, shutdown). */
  close(code: ErrorCode): void;
}

export interface Will {
  msg: Message;
  /** Seconds to wait after an abnormal close before publishing (v5 Will Delay Interval). */
  delay: number;
}

/**
 * Session keyspaces. A client session's key is its client id. A gateway-internal session (a STOMP
 * subscription `stomp-<connection>/<n>` or durable `stomp/<client-id>/<id>`) is keyed INTERNAL_KEY + its name: U+0000 cannot occur in any client id (MQTT forbids it in every
 * string [MQTT-1.5.4-2]; the MQTT adapter refuses it and connect() refuses a client key starting
 * with it), so no client id on any protocol can name, take over or wipe an internal session.
 */
export const INTERNAL_KEY = '\u0000';

/** How a session id reads in logs, metrics and the dashboard: `internal:<name>` for the internal keyspace. */
export function displaySessionId(id: string): string {
  return id.charCodeAt(0) === 0 ? `internal:${id.slice(1)}` : id;
}

/** Session images written before the internal keyspace existed: ids the STOMP adapter made, taken back as internal. */
function isLegacyInternalId(id: string): boolean {
  return id.startsWith('stomp/') || /^stomp-[0-9a-f]{16}\//.test(id);
}

/** A session with its current connection; the router's subscriber object. */
export interface SessionEntry {
  /** Unique key in the broker (client id, or INTERNAL_KEY + name). */
  readonly id: string;
  /** The name its owner connected with (client id, or the internal session's name). */
  readonly name: string;
  readonly internal: boolean;
  readonly session: Session;
  link: SessionLink | undefined;
  will: Will | undefined;
  willTimer: NodeJS.Timeout | undefined;
  expiryTimer: NodeJS.Timeout | undefined;
  /** Epoch ms the connection went away (0 while connected). */
  detachedAt: number;
  /** Who last connected to this session (ACL checks while it is offline); unset on sessions restored from disk. */
  identity?: ClientIdentity;
  /** The latest state write for this session (key/value writes complete in order, so it covers the earlier ones). */
  lastSave?: Promise<void>;
  /** Session.version when the cursor record was last written. */
  savedVersion?: number;
  /** Sum of the routed watermarks when the cursor record was last written (an idle session re-saves after it moved far). */
  savedRouted?: number;
  /** Reads the log for this session while it is behind (persistence on); created on first need. */
  reader?: CatchUpReader;
  /** This session's plain subscriptions alone, to match log records while behind; dropped on every (un)subscribe. */
  matcher?: Router<SessionEntry>;
  /** Outbound items waiting for a durable QoS 2 flow record (./flow-hold.ts; Broker.outbound). */
  held?: FlowHold<SessionLink>;
}

/** Lag of one subscriber: log records between its cursor and the routed watermark, plus its buffered messages. */
export interface LagEntry {
  id: string;
  kind: 'session' | 'group';
  lag: number;
  behind: boolean;
}

export interface BrokerOptions {
  shareStrategy: ShareStrategy;
  persistence?: DurableStore;
  /** Limits for sessions rebuilt from storage until their client reconnects. */
  restoreLimits?: SessionLimits;
  auth?: AuthHooks;
  logger: Logger;
  /** Called on every counted drop (metrics). */
  onDrop?: (reason: DropReason, msg: Message) => void;
  /** `sessions.maxLag`: how far a behind session or `$share` group may fall before skipping ahead (default: no bound). */
  maxLag?: MaxLag;
  /** Inbound backpressure: bytes handed to the log and not yet settled (./backpressure.ts). */
  pending?: PendingWork;
  /**
   * A backend shared by several nodes (persistence.ts ClusterBackend): routing, retained, session ownership and
   * `$share` groups across nodes (./cluster/node.ts). Needs `persistence` over that backend. Unset: one node.
   */
  cluster?: ClusterOptions;
}

/** How a subscriber answered an outbound delivery (Broker.settleOutbound). */
export type OutboundSettle = 'puback' | 'pubrec' | 'pubrec-error' | 'pubcomp' | 'requeue';

export interface ConnectRequest {
  clientId: string;
  /** Gateway-internal session (its own keyspace, see INTERNAL_KEY): the STOMP adapter's topic subscriptions. Default false. */
  internal?: boolean;
  cleanStart: boolean;
  /** Seconds; 0 ends the session with the connection, 0xFFFFFFFF never. */
  expiryInterval: number;
  limits: SessionLimits;
  link: SessionLink;
  will?: Will;
}

export interface BrokerStats {
  /** Messages dropped by a session's limits or expiry (by reason: the onDrop hook). */
  dropped: number;
  /** Times a session or `$share` group fell behind the live stream and switched to reading the log. */
  behindEntered: number;
  /** Log records a behind subscriber could not read because retention had deleted them. */
  retentionSkipped: number;
  /** Log records a behind subscriber skipped under the `sessions.maxLag` policy. */
  maxLagSkipped: number;
}

/**
 * Counts by QoS (array index = QoS). `in` by publisher: 'gateway' = senderId '' (the gateway itself, e.g. $SYS),
 * 'mqtt' = a sender that has a session here (MQTT client ids), 'stomp' = any other sender (STOMP connection ids).
 * `out` counts live deliveries handed to a connected link, by the link's protocol.
 */
export interface QosStats {
  in: { mqtt: number[]; stomp: number[]; gateway: number[] };
  out: { mqtt: number[]; stomp: number[] };
}

const NEVER = 0xffffffff;
/** An unchanged session's cursor record is re-written once the log moved this many records past it (bounds the restart scan). */
const IDLE_RESAVE_RECORDS = 10_000;

export class Broker {
  readonly router: Router<SessionEntry>;
  readonly retained = new RetainedStore();
  readonly auth: AuthHooks;
  readonly stats: BrokerStats = { dropped: 0, behindEntered: 0, retentionSkipped: 0, maxLagSkipped: 0 };
  readonly qosStats: QosStats = { in: { mqtt: [0, 0, 0], stomp: [0, 0, 0], gateway: [0, 0, 0] }, out: { mqtt: [0, 0, 0], stomp: [0, 0, 0] } };
  private readonly entries = new Map<string, SessionEntry>();
  /** Inbound QoS 2 durable writes in flight, per session and packet id (holdQos2). */
  private readonly qos2Writes = new WeakMap<SessionEntry, Map<number, Promise<void>>>();
  /** `$share` groups with a log cursor (behind); undefined when persistence is off. */
  private readonly groups: ShareBacklog | undefined;
  private readonly persistence: DurableStore | undefined;
  private readonly restoreLimits: SessionLimits | undefined;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;
  private readonly onDropHook: BrokerOptions['onDrop'];
  private readonly maxLag: MaxLag;
  readonly pending: PendingWork | undefined;
  private closed = false;
  /** This broker's part in a cluster (undefined: a single node, and none of the cluster code runs). */
  readonly cluster: ClusterNode | undefined;

  constructor(opts: BrokerOptions) {
    // `$share`: prefer connected members with room in their read-ahead buffer.
    this.router = new Router<SessionEntry>({ shareStrategy: opts.shareStrategy, isAvailable: (e) => e.link !== undefined && e.session.hasRoom() });
    this.persistence = opts.persistence;
    this.restoreLimits = opts.restoreLimits;
    if (this.persistence) {
      // Connected persistent sessions change with every ack: re-image them once a second.
      this.snapshotTimer = setInterval(() => this.saveConnectedSessions(), 1000);
      this.snapshotTimer.unref();
    }
    this.auth = opts.auth ?? ALLOW_ALL;
    this.logger = opts.logger;
    this.onDropHook = opts.onDrop;
    this.maxLag = opts.maxLag ?? NO_MAX_LAG;
    const store = this.persistence;
    if (store) {
      const broker = this;
      this.groups = new ShareBacklog({
        store,
        router: this.router,
        logger: this.logger,
        maxLag: this.maxLag,
        isClosed: () => broker.closed,
        sendTo: (e, out) => broker.sendTo(e, out),
        mayRead: (e, topic) => broker.mayRead(e, topic),
        skipped: (id, partition, from, to, reason) => broker.countSkipped(id, partition, from, to, reason),
        behindEntered: () => void broker.stats.behindEntered++,
        delivers: (key, msg) => broker.cluster === undefined || broker.cluster.deliversShare(key, msg),
      });
    }
    this.pending = opts.pending;
    if (opts.cluster && store) {
      const broker = this;
      this.cluster = new ClusterNode(
        opts.cluster,
        {
          store,
          retained: this.retained,
          routeLive: (msg) => broker.routeLive(msg),
          release: (key) => broker.release(key),
          adopted: (key) => broker.adoptSession(key),
          hasShareMembers: (key) => broker.router.sharedMembers(key).length !== 0,
          shareProgress: (key) => broker.shareProgress(key),
          recoverShare: (key, from, end, accept, done) => broker.groups!.recover(key, from, end, accept, done),
          load: () => ({ connected: broker.connectedCount, sessions: broker.sessionCount }),
        },
        this.logger.child({ component: 'cluster' }),
        opts.shareStrategy === 'sticky',
      );
    }
  }

  get sessionCount(): number {
    return this.entries.size;
  }

  get connectedCount(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.link) n++;
    return n;
  }

  sessions(): IterableIterator<SessionEntry> {
    return this.entries.values();
  }

  /**
   * The durable log; undefined when persistence is off. A storage handle, for src/server (metrics, view, admin)
   * and core modules only: adapters call the operations below (hasLog, follow, logSubscriptions, queues).
   */
  get log(): DurableStore['log'] | undefined {
    return this.persistence?.log;
  }

  /**
   * The key/value state store (consumer-group offsets live under `g/`); undefined when persistence is off.
   * A storage handle, for src/server and core modules only (see `log`).
   */
  get state(): DurableStore['state'] | undefined {
    return this.persistence?.state;
  }

  /** Whether there is a durable log to read (persistence on): `$log`, `$group`, `$queue`, `x-stream-offset` need it. */
  get hasLog(): boolean {
    return this.persistence !== undefined;
  }

  /**
   * Reads the durable log from `from` and keeps following it (consumer.ts follow): `visit` gets every stored
   * message matching `filter`, in per-partition order, its promise awaited before the next (backpressure); a
   * caught-up follower sleeps until an append. Undefined when persistence is off. Throws GatewayError
   * TOPIC_FILTER_INVALID for a bad filter.
   */
  follow(filter: string, from: StartPoint, visit: Visitor, options?: FollowOptions): Follower | undefined {
    const log = this.persistence?.log;
    return log ? follow(log, filter, from, visit, options) : undefined;
  }

  /**
   * The log-backed subscriptions (`$log/`, `$group/`, `$queue/`) of one connection, over this broker's log,
   * offset store and queues. Undefined when persistence is off.
   */
  logSubscriptions(opts: Omit<LogSubscriptionsOptions, 'log' | 'store' | 'queues'>): LogSubscriptions | undefined {
    const p = this.persistence;
    if (!p) return undefined;
    return new LogSubscriptions({ ...opts, log: p.log, store: p.state, queues: QueueRegistry.for(this) });
  }

  /** The broker's queues and mode-based consumer groups (queue-registry.ts); undefined when persistence is off. */
  get queues(): QueueRegistry | undefined {
    return QueueRegistry.for(this);
  }

  /** An internal session by name (`stomp/<client-id>/<id>`, `stomp-<hex>/<n>`). */
  getInternalSession(name: string): SessionEntry | undefined {
    return this.entries.get(INTERNAL_KEY + name);
  }

  /** A client session by client id (never an internal one). */
  getSession(clientId: string): SessionEntry | undefined {
    return clientId.charCodeAt(0) === 0 ? undefined : this.entries.get(clientId);
  }

  /**
   * In a cluster, call before connect() and wait: claims the session for this node (the node serving it
   * closes it with 0x8E and hands it over), then loads it from the shared store, or deletes it there on clean
   * start. Undefined on a single node (connect() right away). Rejects when the claim cannot be made.
   */
  prepareConnect(clientId: string, cleanStart: boolean, internal = false): Promise<void> | undefined {
    const c = this.cluster;
    if (c === undefined) return undefined;
    // Per-connection internal sessions (STOMP `stomp-<hex>/<n>`) exist on one node only.
    if (internal && !clientId.startsWith('stomp/')) return undefined;
    return this.claimSession(c, internal ? INTERNAL_KEY + clientId : clientId, cleanStart);
  }

  private async claimSession(c: ClusterNode, key: string, cleanStart: boolean): Promise<void> {
    const p = this.persistence!;
    const claim = await c.claim(key);
    const local = this.entries.get(key);
    if (local && claim.previous?.node === c.nodeId) return; // served here already
    if (local && !local.link) this.unload(local); // a copy from before another node served it: stale
    if (this.entries.has(key)) return; // connected here meanwhile
    if (cleanStart) {
      await p.deleteSession(key);
      return;
    }
    await this.loadClaimed(c, key, claim.handedOver);
  }

  /** Loads session `key`, just claimed or adopted by this node, from the store, offline; undefined when nothing is stored, or it connected here or the broker closed meanwhile. */
  private async loadClaimed(c: ClusterNode, key: string, handedOver: boolean): Promise<SessionEntry | undefined> {
    const p = this.persistence!;
    const r = await p.loadSession(key, (k, why) => this.logger.error({ key: displaySessionId(k), why }, 'stored session state unreadable, skipped'));
    if (!r || this.entries.has(key) || this.closed) return undefined;
    // Records below the session's stored position were routed to it on its old node: route past them here first.
    await c.reached(r.watermarks);
    if (this.entries.has(key) || this.closed) return undefined;
    const entry = this.install(r, Date.now());
    if (!handedOver) {
      // The old node died: receipts of inbound QoS 2 publishes it appended but did not record are in the log.
      await p.scanReceipts(r.watermarks, (_id, packetId) => entry.session.receiveQos2(packetId), { sessionId: key, keepWatermarks: true });
    }
    return entry;
  }

  /** This node adopted session `key` from a dead node (cluster/orphans.ts): its connection ended with that node, so the will and expiry run here as after a crash. */
  private async adoptSession(key: string): Promise<void> {
    const c = this.cluster!;
    if (this.entries.has(key) || this.closed) return;
    const entry = await this.loadClaimed(c, key, false);
    if (entry) {
      this.afterCrash(entry, Date.now());
      this.logger.info({ session: displaySessionId(key) }, 'session of a dead node adopted');
    } else if (!this.entries.has(key) && !this.closed) {
      c.ended(key); // nothing stored (a clean session): its owner record goes
    }
  }

  /** Another node took session `key` over: close it (0x8E), write its state, then drop it from memory here (not from the store). */
  private async release(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry) return;
    const link = entry.link;
    if (link) {
      entry.link = undefined;
      entry.session.detach();
      entry.detachedAt = Date.now();
      link.close('SESSION_TAKEN_OVER');
    }
    // The client resumed elsewhere: its will is not published [MQTT-3.1.3-9]; expiry runs on the new node.
    entry.will = undefined;
    await this.cluster?.inboundSettled(key);
    if (this.entries.get(key) !== entry || entry.link) return;
    // Save and unload in one turn: records routed after this cursor was taken are read by the new node.
    this.saveSession(entry);
    this.unload(entry);
    await entry.lastSave;
  }

  /** Drops a session from memory only (its store keys stay): another node serves it now. */
  private unload(entry: SessionEntry): void {
    if (entry.expiryTimer) clearTimeout(entry.expiryTimer);
    if (entry.willTimer) clearTimeout(entry.willTimer);
    entry.expiryTimer = entry.willTimer = undefined;
    this.router.unsubscribeAll(entry.id);
    entry.matcher = undefined;
    if (this.entries.get(entry.id) === entry) this.entries.delete(entry.id);
    this.sharesChanged(entry);
  }

  /** `$share` filters of this session changed membership here: keep the cluster's group membership in step. */
  private sharesChanged(entry: SessionEntry): void {
    const c = this.cluster;
    if (c === undefined) return;
    for (const f of entry.session.subscriptions.keys()) if (parseShared(f)) c.shareChanged(f);
  }

  /**
   * Binds a connection to its session: takes over a connected client id [MQTT-3.1.4-3], discards the
   * old session on clean start [MQTT-3.1.2-4], or resumes it [MQTT-3.1.2-5]. `resend` is what must go
   * out right after CONNACK (unacknowledged PUBLISHes with DUP, PUBRELs, then the queue).
   */
  connect(req: ConnectRequest, now = Date.now()): { entry: SessionEntry; sessionPresent: boolean; resend: Outbound[] } {
    const internal = req.internal === true;
    if (!internal && req.clientId.charCodeAt(0) === 0) throw gatewayError('CLIENT_ID_INVALID', 'a client id may not start with U+0000');
    const key = internal ? INTERNAL_KEY + req.clientId : req.clientId;
    let entry = this.entries.get(key);
    if (entry?.link) {
      const old = entry.link;
      entry.link = undefined;
      entry.session.detach();
      old.close('SESSION_TAKEN_OVER');
      // The old connection's will: published now unless a delay is pending and the session resumes [MQTT-3.1.3-9].
      if (entry.will && (entry.will.delay === 0 || req.cleanStart)) this.publishWill(entry);
    }
    if (entry) {
      if (entry.willTimer) {
        clearTimeout(entry.willTimer);
        entry.willTimer = undefined;
      }
      // A will still pending at this point belongs to a session being resumed before its delay ran out [MQTT-3.1.3-9].
      if (entry.will && req.cleanStart) this.publishWill(entry);
      entry.will = undefined;
      if (entry.expiryTimer) {
        clearTimeout(entry.expiryTimer);
        entry.expiryTimer = undefined;
      }
    }
    let sessionPresent = false;
    let resend: Outbound[] = [];
    if (entry && req.cleanStart) {
      this.discard(entry);
      entry = undefined;
    }
    if (entry) {
      sessionPresent = true;
      entry.link = req.link;
      resend = entry.session.attach(req.limits, now);
    } else {
      const session = new Session(key, req.limits);
      entry = { id: key, name: req.clientId, internal, session, link: req.link, will: undefined, willTimer: undefined, expiryTimer: undefined, detachedAt: 0 };
      this.wire(entry);
      this.entries.set(key, entry);
      session.attach(req.limits, now);
    }
    entry.session.expiryInterval = req.expiryInterval;
    entry.identity = req.link.identity;
    entry.held = undefined; // a hold belongs to the connection that started it
    entry.will = req.will;
    entry.detachedAt = 0;
    this.saveSession(entry);
    // A resumed session that is behind reads its backlog once the resend is out (the reader starts on a later turn).
    const resumed = entry;
    if (resumed.session.behind || (this.groups?.size ?? 0) !== 0) queueMicrotask(() => this.onRoom(resumed));
    return { entry, sessionPresent, resend };
  }

  /**
   * The connection behind `link` ended. `publishWill` is false after a normal DISCONNECT (0x00)
   * [MQTT-3.1.2-10] and true for every abnormal close or DISCONNECT 0x04.
   */
  disconnect(entry: SessionEntry, link: SessionLink, publishWill: boolean): void {
    if (entry.link !== link) return; // already taken over
    entry.link = undefined;
    entry.session.detach();
    entry.detachedAt = Date.now();
    const expiry = entry.session.expiryInterval;
    if (entry.will) {
      if (!publishWill) entry.will = undefined;
      else if (entry.will.delay === 0 || expiry === 0) this.publishWill(entry);
      else {
        const delayMs = Math.min(entry.will.delay, expiry) * 1000;
        entry.willTimer = setTimeout(() => {
          entry.willTimer = undefined;
          this.publishWill(entry);
        }, delayMs);
        entry.willTimer.unref();
      }
    }
    if (expiry === 0) this.endSession(entry);
    else {
      this.saveSession(entry);
      this.scheduleExpiry(entry, expiry * 1000);
    }
  }

  /**
   * Administrative disconnect of a connected session: unbinds it as after an abnormal close (the will is
   * published [MQTT-3.1.2-8], a persistent session stays), then closes the link with `code` (MQTT 5:
   * DISCONNECT 0x98). False when no connection holds that session id.
   */
  kick(clientId: string, code: ErrorCode = 'ADMINISTRATIVE_ACTION'): boolean {
    const entry = this.entries.get(clientId);
    const link = entry?.link;
    if (!entry || !link) return false;
    this.disconnect(entry, link, true);
    link.close(code);
    return true;
  }

  private scheduleExpiry(entry: SessionEntry, ms: number): void {
    if (entry.session.expiryInterval === NEVER) return;
    entry.expiryTimer = setTimeout(() => this.endSession(entry), Math.max(0, ms));
    entry.expiryTimer.unref();
  }

  /** Hooks a session to the broker: drop counting and, with a log, behind mode and its catch-up reader. */
  private wire(entry: SessionEntry): void {
    const s = entry.session;
    s.onDrop = (reason, msg) => this.countDrop(reason, msg);
    const p = this.persistence;
    if (!p) return; // no log: the buffer is the queue, bounded with its drop policy
    s.logPosition = () => p.watermarks();
    s.onBehind = () => {
      this.stats.behindEntered++;
      this.kickReader(entry);
    };
    s.onRoom = () => this.onRoom(entry);
  }

  /** The session's buffer drained (or it connected): its own reader and every behind `$share` group may continue. */
  private onRoom(entry: SessionEntry): void {
    if (entry.session.behind) this.kickReader(entry);
    this.groups?.kickAll();
  }

  private kickReader(entry: SessionEntry): void {
    const p = this.persistence;
    if (!p || !entry.session.behind || !entry.link || this.closed) return;
    entry.reader ??= new CatchUpReader(p, this.sessionTarget(entry), (err) => this.logger.error({ err, clientId: displaySessionId(entry.id) }, 'catch-up read failed'), this.maxLag);
    entry.reader.kick();
  }

  private sessionTarget(entry: SessionEntry): CatchUpTarget {
    const s = entry.session;
    return {
      cursor: () => s.cursor,
      active: () => entry.link !== undefined && !this.closed && this.entries.get(entry.id) === entry,
      canTake: () => s.hasRoom(),
      offer: (msg) => this.offerToSession(entry, msg),
      advance: (partition, offset) => s.advance(partition, offset),
      requestRoom: () => {
        s.wantRoom = true;
      },
      caughtUp: () => s.leaveBehind(),
      skipped: (partition, from, to, reason) => this.countSkipped(displaySessionId(entry.id), partition, from, to, reason),
    };
  }

  /**
   * Cluster `$share` progress of group `key` here (cluster/share-recovery.ts): per partition, the routed
   * watermark lowered to the group's cursor while it is behind and to every `$share` delivery its members here
   * hold unacknowledged. Every record below it that this node delivered to the group was acknowledged.
   */
  private shareProgress(key: string): number[] {
    const p = this.persistence!;
    const pos = p.watermarks();
    const c = this.groups?.cursorOf(key);
    if (c) for (let i = 0; i < pos.length; i++) if ((c[i] ?? 0) < pos[i]!) pos[i] = c[i] ?? 0;
    for (const d of this.router.sharedMembers(key)) d.subscriber.session.lowerToShared(pos);
    return pos;
  }

  /** ACL at delivery: a wildcard subscriber gets only the topics it may read (offline sessions: its last identity). */
  private mayRead(entry: SessionEntry, topic: string): boolean {
    const who = entry.link?.identity ?? entry.identity;
    return !who || this.auth.authorizeRead(who, topic);
  }

  /** A log record for a behind session: the same rules as live routing (collapse, no-local, QoS min, ids, retain-as-published, expiry), plain subscriptions only. */
  private offerToSession(entry: SessionEntry, msg: Message): void {
    const now = Date.now();
    if (isExpired(msg, now) || !this.mayRead(entry, msg.topic)) return;
    let m = entry.matcher;
    if (m === undefined) {
      m = new Router<SessionEntry>({ shareStrategy: 'round-robin' });
      for (const [filter, options] of entry.session.subscriptions) if (!parseShared(filter)) m.subscribe(entry, filter, options);
      entry.matcher = m;
    }
    m.match(msg.topic, msg.senderId, (d) => {
      const qos = (msg.qos < d.qos ? msg.qos : d.qos) as QoS;
      this.sendTo(entry, entry.session.feed({ msg, qos, retain: d.retainAsPublished && msg.retain, subscriptionIds: d.subscriptionIds }, now));
    });
  }

  private countSkipped(id: string, partition: number, from: number, to: number, reason: SkipReason): void {
    if (reason === 'retention') {
      this.stats.retentionSkipped += to - from;
      this.logger.warn({ subscriber: id, partition, from, to }, 'log records deleted by retention before this subscriber read them');
    } else {
      this.stats.maxLagSkipped += to - from;
      this.logger.info({ subscriber: id, partition, from, to }, 'subscriber skipped ahead under sessions.maxLag');
    }
  }

  /** Hands outbound items to the session's link (when connected), counting by QoS. */
  private sendTo(entry: SessionEntry, out: Outbound[]): void {
    if (out.length === 0) return;
    const link = entry.link;
    if (!link) return;
    const byQos = this.qosStats.out[link.identity.protocol];
    for (const o of out) if (o.type === 'publish') byQos[o.qos]!++;
    this.outbound(entry, out);
  }

  /**
   * Hands outbound PUBLISH / PUBREL items to the session's connection, in order. A new QoS 2 PUBLISH or a PUBREL
   * of a persistent session waits until its in-flight record is durable (saveFlows), and what follows queues
   * behind it, so a kill -9 cannot make the restored session deliver it again as new [MQTT-4.3.3-10]
   * (./flow-hold.ts). Adapters send what settleOutbound and connect return through here too.
   */
  outbound(entry: SessionEntry, out: readonly Outbound[]): void {
    if (out.length === 0 || !entry.link) return;
    const persistent = this.persistence !== undefined && entry.session.expiryInterval !== 0;
    if (!persistent && entry.held === undefined) return entry.link.send(out);
    sendHeld(entry, out, persistent, () => this.saveFlows(entry), (err) => this.logger.error({ err, clientId: displaySessionId(entry.id) }, 'held outbound items not sent'));
  }

  /**
   * Lag per session and per behind `$share` group: log records between the cursor and the routed
   * watermark (records, before filtering) plus messages waiting in the read-ahead buffer.
   */
  lag(): LagEntry[] {
    const p = this.persistence;
    const behindBy = (c: readonly number[] | undefined): number => {
      if (!c || !p) return 0;
      let n = 0;
      for (let i = 0; i < p.partitions; i++) n += Math.max(0, p.routed(i) - (c[i] ?? 0));
      return n;
    };
    const out: LagEntry[] = [];
    for (const e of this.entries.values()) {
      const c = e.session.cursor;
      out.push({ id: displaySessionId(e.id), kind: 'session', lag: behindBy(c) + e.session.queuedCount, behind: c !== undefined });
    }
    if (this.groups) for (const l of this.groups.lag(behindBy)) out.push(l);
    return out;
  }

  /** Total lag, how many subscribers are behind, and the `top` largest lags (bounded, for metrics and the dashboard). */
  lagSummary(top = 10): { total: number; behind: number; top: LagEntry[] } {
    const all = this.lag();
    let total = 0;
    let behind = 0;
    const best: LagEntry[] = [];
    for (const l of all) {
      total += l.lag;
      if (l.behind) behind++;
      if (l.lag === 0 || top <= 0) continue;
      if (best.length < top) best.push(l);
      else if (l.lag > best[best.length - 1]!.lag) best[best.length - 1] = l;
      else continue;
      best.sort((a, b) => b.lag - a.lag);
    }
    return { total, behind, top: best };
  }

  /** Writes meta and cursor (persistent sessions only: connect, disconnect, restore, shutdown). Failures fail /readyz (DurableStore.onStateError). */
  private saveSession(entry: SessionEntry): void {
    const p = this.persistence;
    if (!p || entry.session.expiryInterval === 0) return;
    this.track(entry, p.saveSessionMeta(entry.id, entry.session.expiryInterval, entry.detachedAt, entry.will));
    this.saveCursor(entry);
  }

  /** Writes the bounded cursor / in-flight record (see durable.ts). */
  private saveCursor(entry: SessionEntry): void {
    const p = this.persistence;
    if (!p || entry.session.expiryInterval === 0) return;
    entry.savedVersion = entry.session.version;
    entry.savedRouted = this.routedSum();
    this.track(entry, p.saveCursor(entry.session.snapshot(), entry.session.cursor));
  }

  private routedSum(): number {
    const p = this.persistence;
    let n = 0;
    if (p) for (let i = 0; i < p.partitions; i++) n += p.routed(i);
    return n;
  }

  private track(entry: SessionEntry, saved: Promise<void>): void {
    entry.lastSave = saved;
    saved.catch((err: unknown) => this.logger.debug({ err, clientId: displaySessionId(entry.id) }, 'session state not saved'));
  }

  /**
   * Outbound QoS 2 exactly-once across a crash: before a new QoS 2 PUBLISH or a PUBREL goes out, outbound()
   * writes the session's in-flight record (packet id -> log ref, state) and waits for it. After a kill -9 the
   * restored session resends that PUBLISH with DUP and the same id (the client, still holding the id, does not
   * deliver it again [MQTT-4.3.3-10]) or that PUBREL, instead of reading the message from the log as new.
   * Undefined when the session is not persistent (it does not survive a crash anyway) or persistence is off.
   */
  saveFlows(entry: SessionEntry): Promise<void> | undefined {
    if (!this.persistence || entry.session.expiryInterval === 0) return undefined;
    this.saveCursor(entry);
    return entry.lastSave;
  }

  /**
   * Resolves once the session's latest image (e.g. the one a SUBSCRIBE just wrote) is durable;
   * undefined when the session is not persistent. Adapters hold SUBACK / RECEIPT on it.
   */
  sessionSaved(entry: SessionEntry): Promise<void> | undefined {
    return entry.lastSave;
  }

  /** Once a second: cursor records of persistent sessions whose flows, buffer or cursor changed (or whose stored position fell far behind an idle log). */
  private saveConnectedSessions(): void {
    const routed = this.routedSum();
    for (const e of this.entries.values()) {
      if (e.session.expiryInterval === 0 || !(e.link || e.session.behind)) continue;
      if (e.session.version !== e.savedVersion || routed - (e.savedRouted ?? 0) > IDLE_RESAVE_RECORDS) this.saveCursor(e);
    }
    this.groups?.saveCursors();
    this.saveRoutedMark(routed);
  }

  /** Sum of the watermarks in the last `m/routed` write. */
  private markedRouted = -1;

  private saveRoutedMark(routed: number): void {
    const p = this.persistence;
    if (!p || routed === this.markedRouted) return;
    this.markedRouted = routed;
    p.saveRoutedMark().catch((err: unknown) => this.logger.debug({ err }, 'routed mark not saved'));
  }

  /** Session expired or ended: publish a pending will [MQTT-3.1.3-9], drop subscriptions and state. */
  private endSession(entry: SessionEntry): void {
    if (this.entries.get(entry.id) !== entry || entry.link) return;
    if (entry.willTimer) clearTimeout(entry.willTimer);
    if (entry.will) this.publishWill(entry);
    this.discard(entry);
  }

  private discard(entry: SessionEntry): void {
    if (entry.expiryTimer) clearTimeout(entry.expiryTimer);
    if (entry.willTimer) clearTimeout(entry.willTimer);
    this.router.unsubscribeAll(entry.id);
    this.sharesChanged(entry);
    entry.session.clear();
    entry.matcher = undefined;
    this.entries.delete(entry.id);
    this.cluster?.ended(entry.id);
    this.persistence?.deleteSession(entry.id).catch((err: unknown) => this.logger.error({ err, clientId: entry.id }, 'session image not deleted'));
  }

  private publishWill(entry: SessionEntry): void {
    const will = entry.will;
    entry.will = undefined;
    entry.willTimer = undefined;
    if (!will || this.closed) return;
    const p = this.publish(will.msg);
    if (p) p.catch((err: unknown) => this.logger.warn({ err, clientId: entry.id }, 'will message could not be published'));
  }

  /**
   * The one publish path: persist (when the persistence wants it) -> retain -> route -> enqueue.
   * Returns undefined when it completed synchronously, or a promise that resolves once the message
   * is durable and routed; acknowledge the publisher only then.
   */
  publish(msg: Message, inboundQos2?: InboundQos2): Promise<void> | undefined {
    // '' and internal senders (U+0000 first: a bridge's inbound messages) are the gateway's own.
    const origin = msg.senderId === '' || msg.senderId.charCodeAt(0) === 0 ? this.qosStats.in.gateway : this.entries.has(msg.senderId) ? this.qosStats.in.mqtt : this.qosStats.in.stomp;
    origin[msg.qos]!++;
    const p = this.persistence;
    const c = this.cluster;
    if (p && p.wants(msg)) {
      const size = this.pending?.add(msg) ?? 0; // backpressure hook: settled below on both paths
      const partition = c?.appending(msg.topic) ?? 0;
      const done = p.append(msg, inboundQos2).then((ref) => {
        this.pending?.done(size);
        msg.ref = ref;
        let retained: Promise<void> | undefined;
        if (c) {
          // Cluster: the sequencer routes it in offset order among other nodes' records (cluster/sequencer.ts).
          retained = this.retain(msg);
          c.appended(msg);
        } else {
          // Route and advance the watermark in the same turn the append resolves (appends resolve in
          // offset order per partition), so a session image never skips a message still being routed.
          // The watermark moves first: a session that falls behind while this message is routed gets a
          // cursor AT it (below the watermark), so its catch-up reader reads it.
          p.markRouted(ref);
          retained = this.route(msg);
        }
        const receipt = inboundQos2 ? p.recordQos2(inboundQos2, ref, msg.createdAt) : undefined;
        return receipt && retained ? Promise.all([receipt, retained]).then(() => undefined) : (receipt ?? retained);
      }, (err: unknown) => {
        this.pending?.done(size);
        c?.failed(partition);
        throw err;
      });
      if (c && inboundQos2) c.trackInbound(inboundQos2.sessionId, done);
      return done;
    }
    const stored = this.route(msg);
    c?.forward(msg);
    return stored;
  }

  /**
   * Gateway-internal status messages ($SYS): kept in the in-memory retained store (when retain is set) and routed live;
   * never written to the log or the state store, and not counted in `qosStats.in`.
   */
  publishTransient(msg: Message): void {
    if (msg.retain) this.retained.set(msg);
    this.routeLive(msg);
  }

  /** PUBREL of an inbound QoS 2 message: forget the id; resolves once that is durable (then PUBCOMP). */
  releaseQos2(entry: SessionEntry, packetId: number): { known: boolean; done: Promise<void> | undefined } {
    const known = entry.session.release(packetId);
    const done = known && entry.session.expiryInterval !== 0 ? this.persistence?.releaseQos2(entry.id, packetId) : undefined;
    return { known, done };
  }

  /**
   * An inbound QoS 2 PUBLISH [MQTT-4.3.3-9..11]: true = first time (publish it), false = a duplicate awaiting
   * PUBREL (PUBREC again, do not publish again). The adapter bounds the count by its Receive Maximum first.
   */
  receiveQos2(entry: SessionEntry, packetId: number): boolean {
    return entry.session.receiveQos2(packetId);
  }

  /** Whether `packetId` is in use by an outbound QoS 1/2 flow of this session (v5 PUBREC / PUBREL 0x92 otherwise). */
  isKnownOutbound(entry: SessionEntry, packetId: number): boolean {
    return entry.session.isKnownOutbound(packetId);
  }

  /** The session's expiry interval in seconds (0 = ends with its connection). */
  sessionExpiry(entry: SessionEntry): number {
    return entry.session.expiryInterval;
  }

  /**
   * The durable write (`publish`'s promise) of an inbound QoS 2 PUBLISH is in flight under `packetId`. A copy
   * of it that arrives meanwhile (DUP after a reconnect while the write is stalled, e.g. a NATS failover)
   * waits for that write (`qos2InFlight`) rather than getting PUBREC at once: if the write then fails, no
   * PUBREC may have gone out for a message that is not stored.
   */
  holdQos2(entry: SessionEntry, packetId: number, done: Promise<void>): void {
    let held = this.qos2Writes.get(entry);
    if (!held) this.qos2Writes.set(entry, (held = new Map()));
    const map = held;
    map.set(packetId, done);
    const clear = (): void => { if (map.get(packetId) === done) map.delete(packetId); };
    done.then(clear, clear);
  }

  /** The in-flight durable write of the inbound QoS 2 PUBLISH `packetId` of this session, if any (see holdQos2). */
  qos2InFlight(entry: SessionEntry, packetId: number): Promise<void> | undefined {
    return this.qos2Writes.get(entry)?.get(packetId);
  }

  /** An inbound QoS 2 id whose PUBLISH was refused or not made durable: forget it (no receipt was stored, nothing to undo). */
  forgetQos2(entry: SessionEntry, packetId: number): void {
    entry.session.release(packetId);
  }

  /**
   * The subscriber answered an outbound delivery: `puback` (MQTT PUBACK, STOMP ACK), `pubrec` / `pubrec-error`
   * (reason < / >= 0x80), `pubcomp`, or `requeue` (STOMP NACK: the message goes out again first, under a new id).
   * Returns what now fits the window, for the adapter to send. Unknown ids -> [].
   */
  settleOutbound(entry: SessionEntry, packetId: number, how: OutboundSettle, now = Date.now()): Outbound[] {
    const s = entry.session;
    switch (how) {
      case 'puback': return s.onPuback(packetId, now);
      case 'pubrec': return s.onPubrec(packetId, now);
      case 'pubrec-error': return s.onPubrecError(packetId, now);
      case 'pubcomp': return s.onPubcomp(packetId, now);
      case 'requeue': return s.requeue(packetId, now);
    }
  }

  /** The message still awaiting an ack under `packetId` (an adapter counts its redeliveries), or undefined. */
  unackedMessage(entry: SessionEntry, packetId: number): Message | undefined {
    return entry.session.unackedMessage(packetId);
  }

  /** Session expiry changed after connect (MQTT 5 DISCONNECT [MQTT-3.14.2-2]; a STOMP durable subscription forgotten = 0). Stored at disconnect. */
  setSessionExpiry(entry: SessionEntry, seconds: number): void {
    entry.session.expiryInterval = seconds;
  }

  /** A session's current filters, read-only. */
  subscriptionsOf(entry: SessionEntry): ReadonlyMap<string, SubscriptionOptions> {
    return entry.session.subscriptions;
  }

  /** Retain (and store the retained change), then route. Returns the retained write when there is one. */
  private route(msg: Message): Promise<void> | undefined {
    const stored = this.retain(msg);
    this.routeLive(msg);
    return stored;
  }

  /** The retained store change a message makes, and its write (undefined when none). */
  private retain(msg: Message): Promise<void> | undefined {
    if (msg.retain && this.retained.set(msg) !== 'none') return this.persistence?.saveRetained(msg);
    return undefined;
  }

  private routeLive(msg: Message): void {
    const now = Date.now();
    if (isExpired(msg, now)) return;
    const logged = msg.ref !== undefined && this.persistence !== undefined;
    // One delivery per group across the cluster: only the chosen node delivers (cluster/shares.ts); the router
    // skips the other groups before it picks a member, so the local round robin turns only on records delivered here.
    const c = this.cluster;
    const takes = c === undefined ? undefined : (key: string): boolean => c.deliversShare(key, msg);
    this.router.match(msg.topic, msg.senderId, (d: Delivery<SessionEntry>) => {
      const entry = d.subscriber;
      // ACL at delivery: a wildcard subscriber gets only the topics it may read (offline sessions: its last identity).
      if (!this.mayRead(entry, msg.topic)) return;
      const qos = (msg.qos < d.qos ? msg.qos : d.qos) as QoS;
      // Live messages carry RETAIN 0 unless the subscription asked for retain-as-published [MQTT-3.3.1-12], [MQTT-3.3.1-13].
      const req: DeliveryRequest = { msg, qos, retain: d.retainAsPublished && msg.retain, subscriptionIds: d.subscriptionIds };
      if (d.shareKey !== undefined) {
        req.shared = true;
        if (logged) {
          if (this.groups?.isBehind(d.shareKey)) return; // the group's reader delivers it, in order
          if (!entry.session.canAccept(req)) {
            this.groups?.fallBehind(d.shareKey, msg);
            return;
          }
        }
      }
      // A behind session skips log-backed plain deliveries here (Session.deliver); its reader delivers them.
      this.sendTo(entry, entry.session.deliver(req, now));
    }, takes);
  }

  /**
   * Adds or replaces a subscription. Returns the retained messages to deliver after the SUBACK,
   * per Retain Handling [MQTT-3.3.1-9], [MQTT-3.8.4-?]; none for shared subscriptions.
   */
  subscribe(entry: SessionEntry, filter: string, options: SubscriptionOptions, now = Date.now()): Message[] {
    const { existed } = this.router.subscribe(entry, filter, options);
    entry.session.subscriptions.set(filter, options);
    entry.matcher = undefined;
    // One key per filter: a SUBSCRIBE writes O(its filters), never the session's whole state.
    const p = this.persistence;
    if (p && entry.session.expiryInterval !== 0) this.track(entry, p.saveFilter(entry.id, filter, options));
    if (parseShared(filter)) {
      this.cluster?.shareChanged(filter);
      return [];
    }
    if (options.retainHandling === 2 || (options.retainHandling === 1 && existed)) return [];
    return this.retained.match(filter, now);
  }

  /** Queues retained messages for one subscription (RETAIN 1 on each [MQTT-3.3.1-9]) and sends what fits the window. */
  deliverRetained(entry: SessionEntry, msgs: readonly Message[], options: SubscriptionOptions, now = Date.now()): void {
    const ids = options.subscriptionId ? [options.subscriptionId] : [];
    const out: Outbound[] = [];
    const who = entry.link?.identity ?? entry.identity;
    for (const msg of msgs) {
      if (who && !this.auth.authorizeRead(who, msg.topic)) continue; // retained messages pass the same ACL
      const qos = (msg.qos < options.qos ? msg.qos : options.qos) as QoS;
      for (const o of entry.session.deliver({ msg, qos, retain: true, subscriptionIds: ids, retained: true }, now)) out.push(o);
    }
    this.outbound(entry, out);
  }

  unsubscribe(entry: SessionEntry, filter: string): boolean {
    entry.session.subscriptions.delete(filter);
    entry.matcher = undefined;
    const existed = this.router.unsubscribe(entry.id, filter);
    if (this.cluster && parseShared(filter)) this.cluster.shareChanged(filter);
    const p = this.persistence;
    if (p && entry.session.expiryInterval !== 0) this.track(entry, p.deleteFilter(entry.id, filter));
    return existed;
  }

  /**
   * Rebuilds state from storage before any listener opens: retained messages, persistent sessions
   * (subscriptions, in-flight and buffered refs, wills, remaining expiry). Nothing is replayed into
   * memory: a session whose stored watermarks are below the log's end starts behind at them and reads
   * its backlog lazily once its client is back (`$share` groups: from the lowest watermark of their
   * members, or their stored cursor if lower). Inbound QoS 2 receipts a crash cut off are restored
   * from a header-only scan of the log tail.
   */
  async restore(now = Date.now()): Promise<{ retained: number; sessions: number; replayed: number }> {
    const p = this.persistence;
    if (!p) return { retained: 0, sessions: 0, replayed: 0 };
    for (const m of p.loadRetained((key, why) => this.logger.error({ key, why }, 'stored retained message unreadable, skipped'))) this.retained.set(m);
    const c = this.cluster;
    // A cluster node restores only the sessions it owns; another node's are loaded when their client connects here.
    const restored = await p.loadSessions((key, why) => this.logger.error({ key: displaySessionId(key), why }, 'stored session state unreadable, skipped'), c && ((id) => c.ownsAtStart(id)));
    const from: number[] = [];
    const groupFrom = new Map<string, number[]>();
    const lower = (into: number[], w: readonly number[]): void => {
      for (let i = 0; i < p.partitions; i++) into[i] = Math.min(into[i] ?? Infinity, w[i] ?? p.routed(i));
    };
    for (const [key, cursor] of p.loadGroupCursors()) lower(groupFrom.get(key) ?? groupFrom.set(key, []).get(key)!, cursor);
    for (const r of restored) {
      const storedId = r.snapshot.id;
      if (storedId.charCodeAt(0) !== 0 && isLegacyInternalId(storedId)) {
        // Written before the internal keyspace: move it there (the old image is replaced by the new key's).
        r.snapshot.id = INTERNAL_KEY + storedId;
        p.deleteSession(storedId).catch((err: unknown) => this.logger.warn({ err, clientId: storedId }, 'legacy session image not deleted'));
      }
      const entry = this.install(r, now);
      for (const filter of entry.session.subscriptions.keys()) {
        if (parseShared(filter)) lower(groupFrom.get(filter) ?? groupFrom.set(filter, []).get(filter)!, r.watermarks);
      }
      lower(from, r.watermarks);
    }
    for (const [key, cursor] of groupFrom) {
      if (this.router.sharedMembers(key).length === 0) continue;
      if (cursor.some((c, i) => c < p.routed(i))) this.groups?.start(key, cursor);
    }
    // A receipt a crash cut off belongs to a record at or above both the stored routed mark (written after
    // every receipt below it) and the publisher's own stored position: scan only from the higher of the two.
    const mark = p.loadRoutedMark();
    const scanFrom = Array.from({ length: p.partitions }, (_, i) => Math.min(p.routed(i), Math.max(from[i] ?? p.routed(i), mark?.[i] ?? 0)));
    const replayed = await p.scanReceipts(scanFrom, (sessionId, packetId) => this.entries.get(sessionId)?.session.receiveQos2(packetId));
    for (const e of this.entries.values()) this.afterCrash(e, now);
    // Routing other nodes' records starts at the watermarks the receipt scan left (the log's end now).
    c?.start();
    return { retained: this.retained.size, sessions: restored.length, replayed };
  }

  /** A restored session whose connection ended in a crash (of this node, or of the dead node it was adopted from): pending will and expiry run as after an abnormal close; saved. */
  private afterCrash(e: SessionEntry, now: number): void {
    if (e.will) {
      const delayMs = Math.min(e.will.delay, e.session.expiryInterval) * 1000;
      e.willTimer = setTimeout(() => this.publishWill(e), delayMs);
      e.willTimer.unref();
    }
    this.scheduleExpiry(e, e.session.expiryInterval * 1000 - (now - e.detachedAt));
    this.saveSession(e);
  }

  /** A stored session into memory, offline: subscribed in the router, behind at its stored position when the log moved past it. */
  private install(r: RestoredSession, now: number): SessionEntry {
    const p = this.persistence!;
    const session = Session.restore(r.snapshot, this.restoreLimits!);
    const internal = session.id.charCodeAt(0) === 0;
    const entry: SessionEntry = {
      id: session.id,
      name: internal ? session.id.slice(1) : session.id,
      internal,
      session,
      link: undefined,
      will: r.will,
      willTimer: undefined,
      expiryTimer: undefined,
      detachedAt: r.detachedAt || now,
    };
    this.wire(entry);
    this.entries.set(entry.id, entry);
    for (const [filter, options] of session.subscriptions) this.router.subscribe(entry, filter, options);
    this.sharesChanged(entry);
    const w = r.watermarks;
    let behind = false;
    for (let i = 0; i < p.partitions; i++) if ((w[i] ?? p.routed(i)) < p.routed(i)) behind = true;
    if (behind) session.goBehind(Array.from({ length: p.partitions }, (_, i) => w[i] ?? p.routed(i)));
    return entry;
  }

  private countDrop(reason: DropReason, msg: Message): void {
    this.stats.dropped++;
    this.onDropHook?.(reason, msg);
  }

  /** Closes every connection with `code` (shutdown) and stops timers; persistence is closed by its owner. */
  close(code: ErrorCode = 'SERVER_SHUTTING_DOWN'): void {
    this.closed = true;
    this.cluster?.stop();
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    const now = Date.now();
    for (const entry of this.entries.values()) {
      if (entry.willTimer) clearTimeout(entry.willTimer);
      if (entry.expiryTimer) clearTimeout(entry.expiryTimer);
      const link = entry.link;
      if (link) {
        entry.link = undefined;
        entry.session.detach();
        entry.detachedAt = now;
        link.close(code);
      }
      this.saveSession(entry);
    }
    this.groups?.saveCursors();
  }
}
