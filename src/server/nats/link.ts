// The NATS connection of the backend: connect with credentials / TLS, reconnect forever, readiness, and fast refusal while disconnected. Imports @nats-io/transport-node, @nats-io/jetstream and the core error registry.
//
// Readiness: connected AND JetStream answering. Connected: from connect / `reconnect` until a `disconnect` status.
// While disconnected every operation is refused at once (refusal()), and operations in flight when the connection
// drops are rejected at that moment (guard()) instead of waiting for their request timeout: they may or may not have
// happened, which the StorageBackend contract allows for a rejected write. JetStream answering: false after an
// operation failed for lack of JetStream (timeout, no responders, 503 "temporarily unavailable": e.g. a stream
// without quorum), true again after any operation succeeds (the log's periodic stream-info probe is one); while
// false, operations are still tried, so the first success restores readiness.
import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { GatewayError } from '../../core/errors.ts';

export interface NatsConnectOptions {
  /** nats:// (or tls://) URLs; the client picks one and fails over to the others. */
  servers: string[];
  /** Connection name the server shows in its monitoring (the node id). */
  name: string;
  username?: string;
  password?: string;
  token?: string;
  /** A NATS .creds file (JWT + nkey seed), for decentralised auth. */
  credsFile?: string;
  /** PEM files: CA to verify the servers, and a client certificate + key when the servers ask for one. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** Request / publish-ack timeout, ms. */
  timeoutMs: number;
}

export interface LinkEvents {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

type Rejecter = (err: Error) => void;

/** An error that says JetStream did not answer (as opposed to a refused write, e.g. a compare-and-set conflict). */
function jetStreamUnavailable(err: Error): boolean {
  // nats.js turns "no responders" on a JetStream publish into JetStreamNotEnabled; API errors carry the HTTP-like status.
  const status = (err as { status?: unknown }).status;
  return err.name === 'TimeoutError' || err.name.startsWith('NoResponders') || err.name === 'JetStreamNotEnabled' || status === 503
    || /timeout|timed out|no responders|not enabled|unavailable|no quorum|offline/i.test(err.message);
}

export class NatsLink {
  private connected = true;
  private jsAnswering = true;
  private lastReady = true;
  private closed = false;
  private readonly inflight = new Set<Rejecter>();
  private readyListeners: ((ready: boolean) => void)[] = [];

  private constructor(readonly nc: NatsConnection, readonly js: JetStreamClient, readonly jsm: JetStreamManager, readonly timeoutMs: number, private readonly events: LinkEvents) {
    void this.follow();
  }

  static async open(o: NatsConnectOptions, events: LinkEvents): Promise<NatsLink> {
    const opts: NodeConnectionOptions = {
      servers: o.servers,
      name: o.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: o.timeoutMs,
      pingInterval: 10_000,
      maxPingOut: 2,
    };
    if (o.username) { opts.user = o.username; opts.pass = o.password ?? ''; }
    if (o.token) opts.token = o.token;
    if (o.credsFile) {
      const creds = await readFile(o.credsFile);
      opts.authenticator = credsAuthenticator(new Uint8Array(creds));
    }
    if (o.tls && (o.tls.ca || o.tls.cert || o.tls.key)) {
      opts.tls = {
        ...(o.tls.ca ? { caFile: o.tls.ca } : {}),
        ...(o.tls.cert ? { certFile: o.tls.cert } : {}),
        ...(o.tls.key ? { keyFile: o.tls.key } : {}),
      };
    }
    const nc = await connect(opts);
    try {
      const jsm = await jetstreamManager(nc, { timeout: o.timeoutMs });
      return new NatsLink(nc, jetstream(nc, { timeout: o.timeoutMs }), jsm, o.timeoutMs, events);
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  private async follow(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') this.setConnected(false, { server: s.server });
      else if (s.type === 'reconnect') this.setConnected(true, { server: s.server });
      else if (s.type === 'error') this.events.warn({ err: s.error.message }, 'nats connection error');
    }
  }

  private setConnected(up: boolean, info: object): void {
    if (this.connected === up || this.closed) return;
    this.connected = up;
    if (up) this.events.info(info, 'nats reconnected: storage writes accepted again');
    else {
      this.events.warn(info, 'nats disconnected: storage writes are refused until it reconnects');
      this.dropInflight(new GatewayError('PERSIST_FAILED', 'NATS connection lost'));
    }
    this.tellReady();
  }

  private setAnswering(ok: boolean, err?: Error): void {
    if (this.jsAnswering === ok || this.closed) return;
    this.jsAnswering = ok;
    if (ok) this.events.info({}, 'nats jetstream answers again');
    else this.events.warn({ err: err?.message }, 'nats jetstream does not answer (no quorum or no JetStream): not ready');
    this.tellReady();
  }

  private tellReady(): void {
    const now = this.ready;
    if (now === this.lastReady) return;
    this.lastReady = now;
    for (const l of this.readyListeners) {
      try { l(now); } catch { /* a listener must not break the link */ }
    }
  }

  private dropInflight(err: Error): void {
    const all = [...this.inflight];
    this.inflight.clear();
    for (const r of all) r(err);
  }

  /** Connected to a NATS server, JetStream answering, and not closed. */
  get ready(): boolean {
    return this.connected && this.jsAnswering && !this.closed;
  }

  /** Called with false when the connection drops and true when it is back. Returns the unsubscribe function. */
  onReady(listener: (ready: boolean) => void): () => void {
    this.readyListeners = [...this.readyListeners, listener];
    return () => { this.readyListeners = this.readyListeners.filter((l) => l !== listener); };
  }

  /** Why a write must be refused now (closed / disconnected), or undefined. */
  refusal(): Error | undefined {
    if (this.closed) return new Error('storage backend is closed');
    if (!this.connected) return new GatewayError('PERSIST_FAILED', 'NATS is unreachable');
    return undefined;
  }

  /** `op` started now; rejected at once if refused, or when the connection drops / closes before it settles. */
  guard<T>(op: () => Promise<T>): Promise<T> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    return new Promise<T>((resolve, reject) => {
      const drop: Rejecter = (err) => reject(err);
      this.inflight.add(drop);
      op().then(
        (v) => { this.inflight.delete(drop); this.setAnswering(true); resolve(v); },
        (e: unknown) => {
          this.inflight.delete(drop);
          const err = e instanceof Error ? e : new Error(String(e));
          if (this.connected && jetStreamUnavailable(err)) this.setAnswering(false, err);
          reject(err);
        },
      );
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dropInflight(new Error('storage backend is closed'));
    this.readyListeners = [];
    // drain() would wait for the server; a plain close is enough (every acknowledged write already has its PubAck).
    await this.nc.close().catch(() => undefined);
  }
}
