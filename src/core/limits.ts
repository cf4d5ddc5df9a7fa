// Abuse limits shared by every listener: a global byte budget for unfinished packets/frames, token buckets for rates, per-address connection admission and the counters /metrics reads. Imports nothing.
//
// Contracts:
// - ByteBudget: reserve(n) either takes n bytes of the budget and returns true, or takes nothing and returns false;
//   every successful reserve is matched by exactly one release of the same n (the holder keeps its own total).
// - TokenBucket: `take(n)` spends n tokens if the bucket has them; `waitMs(n)` is how long until it would.
//   A bucket refills at `rate` per second up to `burst`; rate 0 means unlimited.
// - ConnectionAdmission: admit(address, now) says whether one more connection from `address` may open
//   (total, per address, per-address rate); every admitted connection is later released exactly once.

/** Why a limit refused something; each is one label of `gateway_limit_refusals_total{limit}`. */
export type LimitName =
  | 'connections'
  | 'connections-per-address'
  | 'connection-rate'
  | 'subscriptions'
  | 'log-subscriptions'
  | 'retained-count'
  | 'retained-bytes'
  | 'queues'
  | 'queue-create'
  | 'unfinished-bytes'
  | 'publish-rate'
  | 'sessions';

/** Why a listener closed a connection on a timer; `gateway_timeouts_total{listener,reason}`. */
export type TimeoutReason = 'connect' | 'idle' | 'tls-handshake' | 'http-headers' | 'http-request';

export class LimitCounters {
  readonly refusals = new Map<LimitName, number>();
  /** key `listener/reason`, e.g. `mqtt/connect`. */
  readonly timeouts = new Map<string, number>();
  /** Times a connection's socket was paused by the publish rate limit. */
  ratePauses = 0;

  refused(limit: LimitName): void {
    this.refusals.set(limit, (this.refusals.get(limit) ?? 0) + 1);
  }

  timedOut(listener: string, reason: TimeoutReason): void {
    const k = `${listener}/${reason}`;
    this.timeouts.set(k, (this.timeouts.get(k) ?? 0) + 1);
  }
}

export class ByteBudget {
  held = 0;

  /** limit 0 = unlimited. */
  constructor(
    readonly limit: number,
    private readonly counters?: LimitCounters,
  ) {}

  reserve(n: number): boolean {
    if (this.limit > 0 && this.held + n > this.limit) {
      this.counters?.refused('unfinished-bytes');
      return false;
    }
    this.held += n;
    return true;
  }

  release(n: number): void {
    this.held -= n;
    if (this.held < 0) this.held = 0;
  }
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  /** rate per second (0 = unlimited); burst = the most that may be spent at once (at least one second's worth). */
  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
      this.last = now;
    }
  }

  /** Spends n tokens (may go negative: a single item larger than the burst passes once the bucket is full). */
  take(n: number, now: number): void {
    if (this.rate <= 0) return;
    this.refill(now);
    this.tokens -= n;
  }

  /** Spends n tokens only if the bucket holds them. */
  tryTake(n: number, now: number): boolean {
    if (this.rate <= 0) return true;
    this.refill(now);
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** True when the bucket is full again (nothing spent recently). */
  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  /** Milliseconds until the bucket is non-negative again (0 = not in debt). */
  debtMs(now: number): number {
    if (this.rate <= 0) return 0;
    this.refill(now);
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }
}

export interface AdmissionLimits {
  /** Open connections in total (all listeners, all transports); 0 = unlimited. */
  maxConnections: number;
  /** Open connections from one source address; 0 = unlimited. */
  maxConnectionsPerAddress: number;
  /** New connections per second from one source address (burst = the same number); 0 = unlimited. */
  connectionRatePerAddress: number;
}

/** Admission control for new connections (shared by every listener of one gateway). */
export class ConnectionAdmission {
  private total = 0;
  private readonly perAddress = new Map<string, number>();
  private readonly rates = new Map<string, TokenBucket>();
  private lastSweep = 0;

  constructor(
    readonly limits: AdmissionLimits,
    private readonly counters: LimitCounters,
  ) {}

  get open(): number {
    return this.total;
  }

  /** undefined = admitted (call release later); otherwise the limit that refused it. */
  admit(address: string | undefined, now: number): LimitName | undefined {
    const a = address ?? '';
    const l = this.limits;
    let refused: LimitName | undefined;
    if (l.maxConnections > 0 && this.total >= l.maxConnections) refused = 'connections';
    else if (l.maxConnectionsPerAddress > 0 && (this.perAddress.get(a) ?? 0) >= l.maxConnectionsPerAddress) refused = 'connections-per-address';
    else if (l.connectionRatePerAddress > 0) {
      this.sweepRates(now);
      let b = this.rates.get(a);
      if (!b) this.rates.set(a, (b = new TokenBucket(l.connectionRatePerAddress, l.connectionRatePerAddress, now)));
      if (!b.tryTake(1, now)) refused = 'connection-rate';
    }
    if (refused) {
      this.counters.refused(refused);
      return refused;
    }
    this.total++;
    this.perAddress.set(a, (this.perAddress.get(a) ?? 0) + 1);
    return undefined;
  }

  release(address: string | undefined): void {
    const a = address ?? '';
    this.total = Math.max(0, this.total - 1);
    const n = (this.perAddress.get(a) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(a);
    else this.perAddress.set(a, n);
  }

  /** Forgets buckets that are full again, so the map holds only recently active addresses. */
  private sweepRates(now: number): void {
    if (now - this.lastSweep < 10_000) return;
    this.lastSweep = now;
    for (const [a, b] of this.rates) if (b.full(now)) this.rates.delete(a);
  }
}

/** Per-client limits every protocol applies the same way (0 = unlimited). */
export interface ClientLimits {
  /** Topic subscriptions per client (MQTT filters, STOMP SUBSCRIBEs of any kind). */
  maxSubscriptions: number;
  /** `$log/` / `$group/` (MQTT) and `x-stream-offset` (STOMP) subscriptions per connection. */
  maxLogSubscriptions: number;
  /** Inbound PUBLISH / SEND per second per connection; over it the socket is paused, nothing is dropped. */
  maxPublishRate: number;
  /** Inbound payload bytes per second per connection; same enforcement. */
  maxPublishBytesRate: number;
  /** Sessions in total (connected and offline, STOMP durable subscriptions included): past it a new session that
   * would outlive its connection is refused; clean sessions are bounded by the connection limits. */
  maxSessions?: number;
}

/** What one gateway's listeners share to stay bounded under abuse. */
export interface Guards {
  counters: LimitCounters;
  /** Bytes held for unfinished MQTT packets and STOMP frames across all connections. */
  unfinished: ByteBudget;
  admission: ConnectionAdmission;
  client: ClientLimits;
}

/**
 * Paces one connection's inbound publishes: two token buckets (messages, bytes). After a publish, `charge`
 * returns how long the reader should pause (0 = not at all). One second of burst.
 */
export class PublishMeter {
  private readonly msgs: TokenBucket;
  private readonly bytes: TokenBucket;

  constructor(limits: ClientLimits, now: number) {
    this.msgs = new TokenBucket(limits.maxPublishRate, limits.maxPublishRate, now);
    this.bytes = new TokenBucket(limits.maxPublishBytesRate, limits.maxPublishBytesRate, now);
  }

  static wanted(limits: ClientLimits | undefined): boolean {
    return !!limits && (limits.maxPublishRate > 0 || limits.maxPublishBytesRate > 0);
  }

  charge(payloadBytes: number, now: number): number {
    this.msgs.take(1, now);
    this.bytes.take(payloadBytes, now);
    return Math.max(this.msgs.debtMs(now), this.bytes.debtMs(now));
  }
}
