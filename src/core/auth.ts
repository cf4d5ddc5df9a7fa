// Who may connect and what they may touch: the hooks every adapter calls, and GatewayAuth, the policy built from the password file, the ACL and the anonymous rule. Imports core only.
//
// Contract of the hooks (every protocol and transport goes through them):
// - authenticate: true = accept; false = bad user name or password (MQTT 0x86 / CONNACK 4, STOMP ERROR);
//   'not-authorized' = this client may not connect at all (anonymous refused: MQTT 0x87 / CONNACK 5, STOMP ERROR).
//   It may set who.username (tls.useIdentityAsUsername) and who.role.
// - authorizePublish(topic name), authorizeSubscribe(filter, `$share/<g>/` allowed), authorizeRead(topic name,
//   checked for every delivery: a wildcard subscription only ever delivers readable topics).
import { timingSafeEqual } from 'node:crypto';
import { maySubscribe, rulesFor, check, type Acl, type CompiledRule } from './acl.ts';
import { verifyPassword, type PasswordDb } from './password.ts';
import { parseShared } from './topic.ts';

export interface ClientIdentity {
  clientId: string;
  username?: string;
  protocol: 'mqtt' | 'stomp';
  remoteAddress?: string;
  /** The local address the connection reached (a loopback one lets anonymous clients in by default). */
  localAddress?: string;
  /** The CN of a TLS client certificate the handshake verified against tls.ca. */
  certificateCN?: string;
  /** 'internal': the gateway's own subscribers (STOMP queues); 'admin': logged in with http.adminToken (the dashboard). */
  role?: 'internal' | 'admin';
}

export type AuthResult = boolean | 'not-authorized';

export interface AuthHooks {
  /** CONNECT / STOMP CONNECT. */
  authenticate(who: ClientIdentity, password: Buffer | undefined): AuthResult | Promise<AuthResult>;
  authorizePublish(who: ClientIdentity, topic: string): boolean;
  authorizeSubscribe(who: ClientIdentity, filter: string): boolean;
  /** Every delivery of `topic` to `who` (live, retained, replayed). */
  authorizeRead(who: ClientIdentity, topic: string): boolean;
}

export const ALLOW_ALL: AuthHooks = {
  authenticate: () => true,
  authorizePublish: () => true,
  authorizeSubscribe: () => true,
  authorizeRead: () => true,
};

/** The username the dashboard (or any tool holding http.adminToken) logs in with; the password is the token. */
export const ADMIN_USERNAME = '$admin';
/** Readable only where the ACL grants it (without an ACL file: the admin, and loopback clients while no admin token is set). */
export const SYS_CLIENTS_TOPIC = '$SYS/gateway/clients';

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** `$SYS` and everything under it: clients never publish there [gateway rule, as Mosquitto]. */
export function isSysTopic(topic: string): boolean {
  return topic === '$SYS' || topic.startsWith('$SYS/');
}

export interface AuthCounters {
  /** CONNECT refusals: wrong or unknown user/password. */
  badCredentials: number;
  /** CONNECT refusals: anonymous not allowed here. */
  notAuthorized: number;
  publishDenied: number;
  subscribeDenied: number;
}

export interface BackoffOptions {
  /** Failures from one address answered at once before the delay starts. */
  free: number;
  /** Delay after the first counted failure, doubled per further failure, ms. */
  baseMs: number;
  maxMs: number;
  /** A quiet address is forgotten after this, ms. */
  forgetMs: number;
  /** Addresses remembered at most (oldest forgotten first). */
  maxAddresses: number;
}

/** Read decisions remembered per identity. */
const READ_CACHE_TOPICS = 1024;

export const DEFAULT_BACKOFF: BackoffOptions = { free: 2, baseMs: 200, maxMs: 10_000, forgetMs: 10 * 60_000, maxAddresses: 10_000 };

export interface AuthSettings {
  /** undefined = no password file: usernames are not checked (Mosquitto without password_file). */
  passwords?: PasswordDb;
  acl?: Acl;
  /** 'loopback' (default): anonymous clients only on a loopback address; true: everywhere; false: never. */
  allowAnonymous: boolean | 'loopback';
  /** The verified client certificate's CN becomes the username (no password asked). */
  useIdentityAsUsername: boolean;
  /** '' = no admin login. */
  adminToken: string;
}

/** The gateway's policy. settings can be swapped at run time (SIGHUP reload); connections stay. */
export class GatewayAuth implements AuthHooks {
  readonly counters: AuthCounters = { badCredentials: 0, notAuthorized: 0, publishDenied: 0, subscribeDenied: 0 };
  private settings: AuthSettings;
  private generation = 0;
  /** Per identity: its expanded rules and the read decisions of its last topics (deliveries repeat topics). */
  private readonly ruleCache = new WeakMap<ClientIdentity, { gen: number; rules: CompiledRule[]; reads: Map<string, boolean> }>();
  private readonly failures = new Map<string, { count: number; last: number }>();

  constructor(
    settings: AuthSettings,
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
    private readonly now: () => number = Date.now,
  ) {
    this.settings = settings;
  }

  /** Swaps the password database, ACL and flags; takes effect for the next check of every connection. */
  update(settings: AuthSettings): void {
    this.settings = settings;
    this.generation++;
  }

  get current(): Readonly<AuthSettings> {
    return this.settings;
  }

  authenticate(who: ClientIdentity, password: Buffer | undefined): Promise<AuthResult> {
    const delay = this.delayFor(who.remoteAddress);
    const run = (): Promise<AuthResult> =>
      this.decide(who, password).then((r) => {
        if (r === true) this.failures.delete(who.remoteAddress ?? '');
        else {
          this.noteFailure(who.remoteAddress);
          if (r === false) this.counters.badCredentials++;
          else this.counters.notAuthorized++;
        }
        return r;
      });
    if (delay <= 0) return run();
    return new Promise((resolve) => setTimeout(resolve, delay)).then(run);
  }

  private async decide(who: ClientIdentity, password: Buffer | undefined): Promise<AuthResult> {
    const s = this.settings;
    if (s.useIdentityAsUsername && who.certificateCN !== undefined) {
      // The certificate is the credential (Mosquitto's use_identity_as_username): the CONNECT's username is replaced.
      who.username = who.certificateCN;
      return true;
    }
    if (who.username === ADMIN_USERNAME) {
      if (s.adminToken === '' || !password) return false;
      const want = Buffer.from(s.adminToken, 'utf8');
      if (password.length !== want.length || !timingSafeEqual(password, want)) return false;
      who.role = 'admin';
      return true;
    }
    if (who.username === undefined || s.passwords === undefined) {
      // Anonymous, or no password file (then a username is taken as given, as Mosquitto does).
      if (s.allowAnonymous === true) return true;
      // A client certificate tls.ca verified is a credential: such a client is not anonymous (its ACL is still by username).
      if (who.certificateCN !== undefined) return true;
      if (s.allowAnonymous === 'loopback' && isLoopback(who.localAddress)) return true;
      return 'not-authorized';
    }
    const stored = s.passwords.get(who.username);
    if (stored === undefined || !password) return false;
    return verifyPassword(stored, password);
  }

  /** How long to hold the next attempt from `address`: 0 for the first `free` failures, then doubling. */
  delayFor(address: string | undefined): number {
    const f = this.failures.get(address ?? '');
    if (!f) return 0;
    const b = this.backoff;
    if (this.now() - f.last > b.forgetMs) {
      this.failures.delete(address ?? '');
      return 0;
    }
    if (f.count < b.free) return 0;
    const want = Math.min(b.maxMs, b.baseMs * 2 ** Math.min(30, f.count - b.free));
    return Math.max(0, f.last + want - this.now());
  }

  private noteFailure(address: string | undefined): void {
    const key = address ?? '';
    const f = this.failures.get(key);
    if (f) {
      this.failures.delete(key); // re-insert: the Map's order is least recently failed first
      f.count++;
      f.last = this.now();
      this.failures.set(key, f);
      return;
    }
    if (this.failures.size >= this.backoff.maxAddresses) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    this.failures.set(key, { count: 1, last: this.now() });
  }

  private cached(who: ClientIdentity, acl: Acl): { rules: CompiledRule[]; reads: Map<string, boolean> } {
    const hit = this.ruleCache.get(who);
    if (hit && hit.gen === this.generation) return hit;
    const fresh = { gen: this.generation, rules: rulesFor(acl, who), reads: new Map<string, boolean>() };
    this.ruleCache.set(who, fresh);
    return fresh;
  }

  private rules(who: ClientIdentity, acl: Acl): CompiledRule[] {
    return this.cached(who, acl).rules;
  }

  authorizePublish(who: ClientIdentity, topic: string): boolean {
    let ok: boolean;
    if (isSysTopic(topic)) ok = false; // never, whatever the ACL says
    else if (who.role) ok = true;
    else {
      const acl = this.settings.acl;
      ok = !acl || check(this.rules(who, acl), topic, 'write');
    }
    if (!ok) this.counters.publishDenied++;
    return ok;
  }

  authorizeSubscribe(who: ClientIdentity, filter: string): boolean {
    const inner = parseShared(filter)?.filter ?? filter;
    const acl = this.settings.acl;
    const ok = who.role !== undefined || !acl || maySubscribe(acl, who, inner);
    if (!ok) this.counters.subscribeDenied++;
    return ok;
  }

  authorizeRead(who: ClientIdentity, topic: string): boolean {
    if (who.role) return true;
    const acl = this.settings.acl;
    // Without an ACL, the client list is for the admin once there is an admin token, else for loopback clients (the local dashboard).
    if (!acl) return topic === SYS_CLIENTS_TOPIC ? this.settings.adminToken === '' && isLoopback(who.localAddress) : true;
    const c = this.cached(who, acl);
    let ok = c.reads.get(topic);
    if (ok === undefined) {
      ok = check(c.rules, topic, 'read');
      if (c.reads.size >= READ_CACHE_TOPICS) c.reads.clear(); // bounded: a client reading many topics just recomputes
      c.reads.set(topic, ok);
    }
    return ok;
  }
}
