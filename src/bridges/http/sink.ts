// One HTTP sink: a durable cursor over the log (a core consumer group) that POSTs batches of matching messages to a URL, retries forever, dead-letters 4xx batches. Imports core and ./ modules, pino types.
//
// Position: the consumer group `\u0000bridge-http-<name>` (src/core/consumer-group.ts), one member, every
// partition; committed offsets `g/<group>/<p>` in the key/value store. The first start commits the `from`
// start point before start() resolves (before the gateway is ready), so a kill before the first delivery does not move a 'next' sink past messages.
// Order: one batch is in flight at a time and a batch is retried until it is settled, so messages of one topic
// (one partition) arrive in log order; a retried batch is the same batch (same messages, same body).
// Settling a batch, then committing each partition's offset past it:
//   2xx                       delivered.
//   4xx except 408 / 429      published (QoS 1, durable) to the dead-letter topic with user properties
//                             x-original-topic, x-bridge, x-http-status, then counted as dead-lettered.
//   anything else             (5xx, 408, 429, network error, timeout) sent again after a backoff (retry.initialMs
//                             doubling to retry.maxMs, jittered; at least a 429/503 Retry-After up to retry.maxMs).
// Commits: the commit of batch k is written while batch k+1 is being sent (one commit in flight, in order);
// a graceful stop waits for it. Delivery is at least once: a crash between a 2xx and its durable commit sends
// that batch (and at most the one after it) again after the restart.
// Messages whose expiry passed while in the log are skipped, counted [MQTT-3.3.2-5].
import type { Logger } from 'pino';
import { ConsumerGroup, type OffsetStorePort } from '../../core/consumer-group.ts';
import { resolveStart, type ConsumerLogPort } from '../../core/consumer.ts';
import { deadLetterMessage, type PublishFn } from '../../core/dead-letter.ts';
import { sleepUntilAppend, appendNotifier } from '../../core/log-notifier.ts';
import { isExpired, type Message } from '../../core/message.ts';
import { backoffMs, SinkClient, type ErrorClass, type PostOutcome } from './client.ts';
import { batchFull, batchSize, contentType, encodeBody, encodeMessage, type EncodedMessage } from './encode.ts';
import { sinkGroupName, type HttpSinkOptions } from './options.ts';

export type SinkState = 'starting' | 'idle' | 'sending' | 'retrying' | 'stopped' | 'failed';
export const SINK_STATES: readonly SinkState[] = ['starting', 'idle', 'sending', 'retrying', 'stopped', 'failed'];

export interface SinkStatus {
  name: string;
  /** Without the query string (displayUrl). */
  url: string;
  filter: string;
  state: SinkState;
  /** Messages the endpoint acknowledged with a 2xx. */
  delivered: number;
  batches: number;
  /** Request body bytes of acknowledged batches. */
  bytes: number;
  /** Requests sent again after a failure. */
  retries: number;
  errors: Record<ErrorClass, number>;
  deadLettered: number;
  expired: number;
  /** Log records (matching the filter or not) between the committed position and the log end, all partitions. */
  lag: number;
  lastError: string;
  /** Epoch ms of the last 2xx, 0 = none yet. */
  lastDeliveryAt: number;
}

export interface SinkDeps {
  log: ConsumerLogPort;
  store: OffsetStorePort;
  /** Broker.publish: the dead letters go through the one publish path (durable, routed, consumable). */
  publish: PublishFn;
  logger: Logger;
  /** Authorization bearer token already read from tokenFile, if any. */
  token?: string;
  /** PEM text of tls.ca, if set. */
  ca?: string;
  random?: () => number;
}

const MEMBER = 'sink';
/** A caught-up sink with only non-matching records read commits its position at most this often. */
const IDLE_COMMIT_MS = 1000;
const FALLBACK_POLL_MS = 100;

interface Pending extends EncodedMessage { msg: Message }

/** The URL without its query (it may hold a key, e.g. `?code=`), for status, logs and the dashboard. */
export function displayUrl(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
}

export class HttpSink {
  readonly name: string;
  private readonly group: ConsumerGroup;
  private readonly client: SinkClient;
  private readonly headers: Record<string, string>;
  private readonly all: number[];
  private readonly abort = new AbortController();
  private readonly log: Logger;
  private stopped = false;
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private readonly counters: Omit<SinkStatus, 'name' | 'url' | 'filter' | 'lag'> = {
    state: 'starting', delivered: 0, batches: 0, bytes: 0, retries: 0, errors: { '5xx': 0, '4xx': 0, network: 0, other: 0 },
    deadLettered: 0, expired: 0, lastError: '', lastDeliveryAt: 0,
  };

  constructor(readonly opts: HttpSinkOptions, private readonly deps: SinkDeps) {
    this.name = opts.name;
    this.log = deps.logger.child({ component: 'bridge-http', bridge: opts.name });
    this.group = new ConsumerGroup({ group: sinkGroupName(opts.name), log: deps.log, store: deps.store, filter: opts.filter, reset: opts.from });
    this.client = new SinkClient(opts.url, { timeoutMs: opts.timeoutMs, rejectUnauthorized: opts.tls.rejectUnauthorized, ca: deps.ca });
    this.headers = { ...opts.headers, 'content-type': contentType(opts.format), 'user-agent': 'iot-gateway-http-sink' };
    const token = deps.token ?? opts.bearerToken;
    if (token) this.headers.authorization = `Bearer ${token}`;
    this.all = Array.from({ length: deps.log.partitions }, (_, p) => p);
  }

  /**
   * Makes the start point durable (a new sink: `from` resolved now, in every partition, and committed) and starts
   * the read-send loop. Resolves once the start point is committed, so 'next' means "published after this resolved".
   * An unexpected error in the loop (a log read failing) restarts it from the committed position after a backoff.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.group.join(MEMBER);
    await this.initPositions();
    this.running = this.supervise();
  }

  /** Ends the loop: an in-flight request is aborted and its batch stays uncommitted (sent again at the next start). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.wake?.();
    await this.running;
    this.counters.state = 'stopped';
    await this.client.close();
  }

  status(): SinkStatus {
    let lag = 0;
    try {
      for (const l of this.group.lag()) lag += l.lag;
    } catch {
      lag = -1; // the log is closed (gateway stopping)
    }
    return { name: this.name, url: displayUrl(this.opts.url), filter: this.opts.filter, lag, ...this.counters, errors: { ...this.counters.errors } };
  }

  private async supervise(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      try {
        await this.loop();
        return;
      } catch (err) {
        if (this.stopped) return;
        this.counters.state = 'failed';
        this.counters.lastError = (err as Error).message;
        const ms = backoffMs(attempt++, this.opts.retry.initialMs, this.opts.retry.maxMs, this.deps.random);
        this.log.error({ err: (err as Error).message, retryInMs: ms }, 'http sink failed reading the log; restarting from the committed position');
        await this.pause(ms);
        // Drop the in-memory fetch position: the next loop starts at the committed offsets.
        this.group.leave(MEMBER);
      }
    }
  }

  /** Commits the `from` start point in every partition that has no committed offset yet (a new sink). */
  private async initPositions(): Promise<void> {
    const fresh = this.all.filter((p) => this.group.committed(p) === undefined);
    const starts = await Promise.all(fresh.map((p) => resolveStart(this.deps.log, p, this.opts.from)));
    await Promise.all(fresh.map((p, i) => this.group.commit(MEMBER, p, starts[i]!)));
  }

  private async loop(): Promise<void> {
    const { format, batch: limits, payloadEncoding } = this.opts;
    this.group.join(MEMBER); // again after a failure (supervise left the group to drop its fetch positions)
    const notifier = appendNotifier(this.deps.log);
    let pending: Pending[] = [];
    let pendingBytes = 0;
    let firstAt = 0; // when the oldest pending message was read (linger starts there)
    let lastCommit = Date.now();
    let uncommittedScan = false;
    let committing: Promise<void> = Promise.resolve();
    while (!this.stopped) {
      if (!batchFull(format, pending, pendingBytes, limits.maxMessages, limits.maxBytes)) {
        const seen = notifier?.snapshot(this.all);
        const stats = { scanned: 0 };
        const msgs = await this.group.poll(MEMBER, Math.max(1, limits.maxMessages - pending.length), stats);
        if (this.stopped) break;
        const now = Date.now();
        for (const m of msgs) {
          if (isExpired(m, now)) {
            this.counters.expired++;
            continue;
          }
          const e = encodeMessage(m, payloadEncoding);
          if (pending.length === 0) firstAt = now;
          pending.push({ ...e, msg: m });
          pendingBytes += e.json.length;
        }
        if (pending.length === 0) {
          // Only non-matching (or expired) records, or nothing: move the committed position past them now and then.
          if (stats.scanned > 0) uncommittedScan = true;
          if (uncommittedScan && (stats.scanned === 0 || now - lastCommit >= IDLE_COMMIT_MS)) {
            await committing;
            await this.group.commitPositions(MEMBER);
            lastCommit = now;
            uncommittedScan = false;
          }
          if (stats.scanned > 0) continue;
          this.counters.state = 'idle';
          await this.sleep(seen, undefined);
          continue;
        }
        if (!batchFull(format, pending, pendingBytes, limits.maxMessages, limits.maxBytes)) {
          const left = firstAt + limits.lingerMs - Date.now();
          if (left > 0) {
            if (stats.scanned > 0) continue; // more may be readable at once
            await this.sleep(seen, left);
            continue;
          }
        }
      }
      const n = batchSize(format, pending, limits.maxMessages, limits.maxBytes);
      const batch = pending.slice(0, n);
      pending = pending.slice(n);
      for (const b of batch) pendingBytes -= b.json.length;
      const settled = await this.deliver(batch);
      // The previous batch's commit overlapped this request; one commit in flight at a time keeps them in order.
      await committing;
      if (!settled) break; // stopped: this batch is not committed and is sent again after the next start
      if (pending.length === 0) {
        committing = this.group.commitPositions(MEMBER); // everything read is settled (also skipped records)
        uncommittedScan = false;
      } else {
        // Leftovers are later in their partitions than the batch: commit just past the batch per partition.
        const next = new Map<number, number>();
        for (const b of batch) next.set(b.partition, b.offset + 1);
        committing = Promise.all([...next].map(([p, off]) => this.group.commit(MEMBER, p, off))).then(() => undefined);
      }
      committing.catch(() => undefined); // awaited (and rethrown) before the next commit or at the end
      lastCommit = Date.now();
    }
    await committing;
  }

  /** Sends one batch until the endpoint settles it (2xx, or a 4xx dead-lettered). False when stopped first. */
  private async deliver(batch: Pending[]): Promise<boolean> {
    const body = encodeBody(this.opts.format, batch);
    let attempt = 0;
    while (!this.stopped) {
      if (this.counters.state !== 'retrying') this.counters.state = 'sending';
      const out: PostOutcome = await this.client.post(body, this.headers, this.abort.signal);
      if (out.kind === 'aborted') return false;
      if (out.kind === 'ok') {
        if (attempt > 0) this.log.info({ status: out.status, attempts: attempt + 1 }, 'http sink delivering again');
        this.counters.delivered += batch.length;
        this.counters.batches++;
        this.counters.bytes += body.length;
        this.counters.lastDeliveryAt = Date.now();
        this.counters.state = 'sending';
        return true;
      }
      if (out.kind === 'reject') {
        this.counters.errors['4xx']++;
        this.counters.lastError = `HTTP ${out.status}`;
        this.log.warn({ status: out.status, messages: batch.length, deadLetterTopic: this.opts.deadLetterTopic }, 'http sink: endpoint rejected a batch (4xx); sending it to the dead-letter topic');
        return this.deadLetter(batch, out.status);
      }
      this.counters.errors[out.errorClass]++;
      this.counters.lastError = out.detail;
      this.counters.retries++;
      this.counters.state = 'retrying';
      let ms = backoffMs(attempt, this.opts.retry.initialMs, this.opts.retry.maxMs, this.deps.random);
      if (out.retryAfterMs !== undefined) ms = Math.max(ms, Math.min(out.retryAfterMs, this.opts.retry.maxMs));
      // One warning when a batch first fails, then debug lines: an endpoint down for hours does not flood the log.
      if (attempt === 0) this.log.warn({ error: out.detail, retryInMs: ms }, 'http sink: delivery failed; retrying with backoff until the endpoint accepts');
      else this.log.debug({ error: out.detail, attempt, retryInMs: ms }, 'http sink: delivery failed again');
      attempt++;
      await this.pause(ms);
    }
    return false;
  }

  /** Publishes every message of the batch to the dead-letter topic; retries (with backoff) until durable. False when stopped first. */
  private async deadLetter(batch: Pending[], status: number): Promise<boolean> {
    let attempt = 0;
    while (!this.stopped) {
      try {
        await Promise.all(batch.map((b) => this.deps.publish(this.deadLetterCopy(b.msg, status))));
        this.counters.deadLettered += batch.length;
        return true;
      } catch (err) {
        const ms = backoffMs(attempt++, this.opts.retry.initialMs, this.opts.retry.maxMs, this.deps.random);
        this.counters.lastError = `dead-letter publish failed: ${(err as Error).message}`;
        this.log.error({ err: (err as Error).message, retryInMs: ms }, 'http sink: dead-letter publish failed; retrying');
        await this.pause(ms);
      }
    }
    return false;
  }

  private deadLetterCopy(msg: Message, status: number): Message {
    const dead = deadLetterMessage(msg, 0, { maxRedeliveries: 0, deadLetterTopic: this.opts.deadLetterTopic });
    const user = { ...dead.properties.userProperties };
    delete user['x-redelivery-count'];
    user['x-bridge'] = `http/${this.name}`;
    user['x-http-status'] = String(status);
    return { ...dead, properties: { ...dead.properties, userProperties: user } };
  }

  /** Until an append to any partition after `seen`, `ms` passes (when given), or stop(). */
  private async sleep(seen: number[] | undefined, ms: number | undefined): Promise<void> {
    if (this.stopped) return;
    const s = sleepUntilAppend(this.deps.log, this.all, seen, ms ?? FALLBACK_POLL_MS);
    const t = ms !== undefined ? setTimeout(s.wake, ms) : undefined;
    this.wake = s.wake;
    try {
      await s.promise;
    } finally {
      if (t) clearTimeout(t);
      this.wake = undefined;
    }
  }

  /** A backoff wait that stop() cuts short. */
  private async pause(ms: number): Promise<void> {
    if (this.stopped) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
  }
}
