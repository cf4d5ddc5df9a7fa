// The one publish path and session registry every protocol adapter calls. Imports core modules only (no sockets, no log).
import type { Logger } from 'pino';
import { ALLOW_ALL, type AuthHooks, type ClientIdentity } from './auth.ts';
import type { ErrorCode } from './errors.ts';
import { isExpired, type Message, type QoS } from './message.ts';
import type { DurableStore } from './durable.ts';
import type { PendingWork } from './backpressure.ts';
import { RetainedStore } from './retained.ts';
import { Router, type ShareStrategy, type SubscriptionOptions, type Delivery } from './router.ts';
import { Session, type DropReason, type Outbound, type SessionLimits } from './session.ts';
import { parseShared } from './topic.ts';

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

/** A session with its current connection; the router's subscriber object. */
export interface SessionEntry {
  readonly id: string;
  readonly session: Session;
  link: SessionLink | undefined;
  will: Will | undefined;
  willTimer: NodeJS.Timeout | undefined;
  expiryTimer: NodeJS.Timeout | undefined;
  /** Epoch ms the connection went away (0 while connected). */
  detachedAt: number;
  /** Who last connected to this session (ACL checks while it is offline); unset on sessions restored from disk. */
  identity?: ClientIdentity;
  /** Set on sessions rebuilt at start: per partition, the first log offset replay must route to them. */
  replayFrom?: number[];
  /** The latest session image write (key/value writes complete in order, so it covers the earlier ones). */
  lastSave?: Promise<void>;
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
  /** Inbound backpressure: bytes handed to the log and not yet settled (./backpressure.ts). */
  pending?: PendingWork;
}

export interface ConnectRequest {
  clientId: string;
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

export class Broker {
  readonly router: Router<SessionEntry>;
  readonly retained = new RetainedStore();
  readonly auth: AuthHooks;
  readonly stats: BrokerStats = { dropped: 0 };
  readonly qosStats: QosStats = { in: { mqtt: [0, 0, 0], stomp: [0, 0, 0], gateway: [0, 0, 0] }, out: { mqtt: [0, 0, 0], stomp: [0, 0, 0] } };
  private readonly entries = new Map<string, SessionEntry>();
  private readonly persistence: DurableStore | undefined;
  private readonly restoreLimits: SessionLimits | undefined;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;
  private readonly onDropHook: BrokerOptions['onDrop'];
  readonly pending: PendingWork | undefined;
  private closed = false;

  constructor(opts: BrokerOptions) {
    this.router = new Router<SessionEntry>({ shareStrategy: opts.shareStrategy, isAvailable: (e) => e.link !== undefined });
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
    this.pending = opts.pending;
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

  /** The durable log for readers (replay, consumer groups); undefined when persistence is off. */
  get log(): DurableStore['log'] | undefined {
    return this.persistence?.log;
  }

  /** The key/value state store (consumer-group offsets live under `g/`); undefined when persistence is off. */
  get state(): DurableStore['state'] | undefined {
    return this.persistence?.state;
  }

  getSession(clientId: string): SessionEntry | undefined {
    return this.entries.get(clientId);
  }

  /**
   * Binds a connection to its session: takes over a connected client id [MQTT-3.1.4-3], discards the
   * old session on clean start [MQTT-3.1.2-4], or resumes it [MQTT-3.1.2-5]. `resend` is what must go
   * out right after CONNACK (unacknowledged PUBLISHes with DUP, PUBRELs, then the queue).
   */
  connect(req: ConnectRequest, now = Date.now()): { entry: SessionEntry; sessionPresent: boolean; resend: Outbound[] } {
    let entry = this.entries.get(req.clientId);
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
      const session = new Session(req.clientId, req.limits);
      session.onDrop = (reason, msg) => this.countDrop(reason, msg);
      entry = { id: req.clientId, session, link: req.link, will: undefined, willTimer: undefined, expiryTimer: undefined, detachedAt: 0 };
      this.entries.set(req.clientId, entry);
      session.attach(req.limits, now);
    }
    entry.session.expiryInterval = req.expiryInterval;
    entry.identity = req.link.identity;
    entry.will = req.will;
    entry.detachedAt = 0;
    this.saveSession(entry);
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

  /** Writes the session image (persistent sessions only); failures are logged, the next image retries. */
  private saveSession(entry: SessionEntry): void {
    const p = this.persistence;
    if (!p || entry.session.expiryInterval === 0) return;
    const saved = p.saveSession(entry.session.snapshot(), entry.detachedAt, entry.will);
    entry.lastSave = saved;
    saved.catch((err: unknown) => this.logger.error({ err, clientId: entry.id }, 'session image not saved'));
  }

  /**
   * Resolves once the session's latest image (e.g. the one a SUBSCRIBE just wrote) is durable;
   * undefined when the session is not persistent. Adapters hold SUBACK / RECEIPT on it.
   */
  sessionSaved(entry: SessionEntry): Promise<void> | undefined {
    return entry.lastSave;
  }

  private saveConnectedSessions(): void {
    for (const e of this.entries.values()) if (e.link) this.saveSession(e);
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
    entry.session.clear();
    this.entries.delete(entry.id);
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
  publish(msg: Message, inboundQos2?: { sessionId: string; packetId: number }): Promise<void> | undefined {
    const origin = msg.senderId === '' ? this.qosStats.in.gateway : this.entries.has(msg.senderId) ? this.qosStats.in.mqtt : this.qosStats.in.stomp;
    origin[msg.qos]!++;
    const p = this.persistence;
    if (p && p.wants(msg)) {
      const size = this.pending?.add(msg) ?? 0; // backpressure hook: settled below on both paths
      return p.append(msg, inboundQos2).then((ref) => {
        this.pending?.done(size);
        // Route and advance the watermark in the same turn the append resolves (appends resolve in
        // offset order per partition), so a session image never skips a message still being routed.
        msg.ref = ref;
        const retained = this.route(msg);
        p.markRouted(ref);
        const receipt = inboundQos2 ? p.recordQos2(inboundQos2, ref) : undefined;
        return receipt && retained ? Promise.all([receipt, retained]).then(() => undefined) : (receipt ?? retained);
      }, (err: unknown) => {
        this.pending?.done(size);
        throw err;
      });
    }
    return this.route(msg);
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

  /** Retain (and store the retained change), then route. Returns the retained write when there is one. */
  private route(msg: Message): Promise<void> | undefined {
    let stored: Promise<void> | undefined;
    if (msg.retain && this.retained.set(msg) !== 'none') stored = this.persistence?.saveRetained(msg);
    this.routeLive(msg);
    return stored;
  }

  private routeLive(msg: Message): void {
    const now = Date.now();
    if (isExpired(msg, now)) return;
    this.router.match(msg.topic, msg.senderId, (d: Delivery<SessionEntry>) => {
      const entry = d.subscriber;
      // ACL at delivery: a wildcard subscriber gets only the topics it may read (offline sessions: its last identity).
      const who = entry.link?.identity ?? entry.identity;
      if (who && !this.auth.authorizeRead(who, msg.topic)) return;
      const qos = (msg.qos < d.qos ? msg.qos : d.qos) as QoS;
      // Live messages carry RETAIN 0 unless the subscription asked for retain-as-published [MQTT-3.3.1-12], [MQTT-3.3.1-13].
      const out = entry.session.deliver({ msg, qos, retain: d.retainAsPublished && msg.retain, subscriptionIds: d.subscriptionIds }, now);
      if (out.length !== 0) {
        const link = entry.link;
        if (link) {
          const byQos = this.qosStats.out[link.identity.protocol];
          for (const o of out) if (o.type === 'publish') byQos[o.qos]!++;
          link.send(out);
        }
      }
    });
  }

  /**
   * Adds or replaces a subscription. Returns the retained messages to deliver after the SUBACK,
   * per Retain Handling [MQTT-3.3.1-9], [MQTT-3.8.4-?]; none for shared subscriptions.
   */
  subscribe(entry: SessionEntry, filter: string, options: SubscriptionOptions, now = Date.now()): Message[] {
    const { existed } = this.router.subscribe(entry, filter, options);
    entry.session.subscriptions.set(filter, options);
    this.saveSession(entry);
    if (parseShared(filter)) return [];
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
      for (const o of entry.session.deliver({ msg, qos, retain: true, subscriptionIds: ids }, now)) out.push(o);
    }
    if (out.length !== 0) entry.link?.send(out);
  }

  unsubscribe(entry: SessionEntry, filter: string): boolean {
    entry.session.subscriptions.delete(filter);
    const existed = this.router.unsubscribe(entry.id, filter);
    this.saveSession(entry);
    return existed;
  }

  /**
   * Rebuilds state from storage before any listener opens: retained messages, persistent sessions
   * (subscriptions, in-flight and queued refs, wills, remaining expiry), then replays the log tail
   * each session's image had not seen, so nothing acknowledged is lost across a crash.
   */
  async restore(now = Date.now()): Promise<{ retained: number; sessions: number; replayed: number }> {
    const p = this.persistence;
    if (!p) return { retained: 0, sessions: 0, replayed: 0 };
    const limits = this.restoreLimits!;
    for (const m of p.loadRetained()) this.retained.set(m);
    const restored = await p.loadSessions();
    const from: number[] = [];
    for (const r of restored) {
      const session = Session.restore(r.snapshot, limits);
      session.onDrop = (reason, msg) => this.countDrop(reason, msg);
      const entry: SessionEntry = {
        id: session.id,
        session,
        link: undefined,
        will: r.will,
        willTimer: undefined,
        expiryTimer: undefined,
        detachedAt: r.detachedAt || now,
        replayFrom: r.watermarks,
      };
      this.entries.set(entry.id, entry);
      for (const [filter, options] of session.subscriptions) this.router.subscribe(entry, filter, options);
      r.watermarks.forEach((w, i) => (from[i] = Math.min(from[i] ?? w, w)));
    }
    const replayed = await p.replay(from, (msg, unreleased) => {
      if (unreleased) this.entries.get(unreleased.sessionId)?.session.receiveQos2(unreleased.packetId);
      this.router.match(msg.topic, msg.senderId, (d) => {
        const e = d.subscriber;
        const mark = e.replayFrom?.[msg.ref!.partition];
        if (mark === undefined || msg.ref!.offset < mark) return;
        const qos = (msg.qos < d.qos ? msg.qos : d.qos) as QoS;
        e.session.deliver({ msg, qos, retain: d.retainAsPublished && msg.retain, subscriptionIds: d.subscriptionIds }, now);
      });
    });
    for (const e of this.entries.values()) {
      e.replayFrom = undefined;
      // The crash closed every connection: pending wills and expiry run as after an abnormal close.
      if (e.will) {
        const delayMs = Math.min(e.will.delay, e.session.expiryInterval) * 1000;
        e.willTimer = setTimeout(() => this.publishWill(e), delayMs);
        e.willTimer.unref();
      }
      this.scheduleExpiry(e, e.session.expiryInterval * 1000 - (now - e.detachedAt));
      this.saveSession(e);
    }
    return { retained: this.retained.size, sessions: restored.length, replayed };
  }

  private countDrop(reason: DropReason, msg: Message): void {
    this.stats.dropped++;
    this.onDropHook?.(reason, msg);
  }

  /** Closes every connection with `code` (shutdown) and stops timers; persistence is closed by its owner. */
  close(code: ErrorCode = 'SERVER_SHUTTING_DOWN'): void {
    this.closed = true;
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
  }
}
