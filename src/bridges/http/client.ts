// The HTTP sink's client: one undici Agent per sink (keep-alive connections, TLS options) and one POST that reports an outcome instead of throwing. Imports undici and node builtins only.
//
// Outcome classes (what the sink does with each, see sink.ts):
//   ok        2xx                                   the position advances
//   reject    4xx other than 408 and 429            the batch goes to the dead-letter topic, then the position advances
//   retry     5xx, 408, 429, 1xx/3xx, network errors, timeouts   the same batch is sent again after a backoff
// `retryAfterMs` carries a Retry-After header (seconds or an HTTP date) of a 429 / 503, when present.
// The response body is discarded (read to the end so the connection is reused; a body over 64 KiB closes it).
import { Agent, request } from 'undici';

export type ErrorClass = '5xx' | '4xx' | 'network' | 'other';

export type PostOutcome =
  | { kind: 'ok'; status: number }
  | { kind: 'reject'; status: number }
  | { kind: 'retry'; status: number; errorClass: ErrorClass; detail: string; retryAfterMs?: number }
  | { kind: 'aborted' };

export interface ClientOptions {
  timeoutMs: number;
  /** PEM text of the CAs to trust for https (undefined = the system's). */
  ca?: string;
  rejectUnauthorized: boolean;
}

export class SinkClient {
  private readonly agent: Agent;

  constructor(private readonly url: string, private readonly opts: ClientOptions) {
    // One batch is in flight per sink at a time, so one connection is enough; a second one covers a reconnect
    // racing a socket the server is closing. Idle connections are kept for 30 s (keep-alive).
    this.agent = new Agent({
      connections: 2,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: { timeout: opts.timeoutMs, rejectUnauthorized: opts.rejectUnauthorized, ...(opts.ca ? { ca: opts.ca } : {}) },
    });
  }

  /** POSTs `body`; never throws. `signal` aborts it (stop): the outcome is then 'aborted'. */
  async post(body: Buffer, headers: Record<string, string>, signal: AbortSignal): Promise<PostOutcome> {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    try {
      const res = await request(this.url, {
        method: 'POST',
        dispatcher: this.agent,
        headers,
        body,
        signal: AbortSignal.any([signal, timeout]),
        headersTimeout: this.opts.timeoutMs,
        bodyTimeout: this.opts.timeoutMs,
      });
      await res.body.dump().catch(() => undefined);
      const status = res.statusCode;
      if (status >= 200 && status < 300) return { kind: 'ok', status };
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { kind: 'reject', status };
      const errorClass: ErrorClass = status >= 500 ? '5xx' : status >= 400 ? '4xx' : 'other';
      const out: PostOutcome = { kind: 'retry', status, errorClass, detail: `HTTP ${status}` };
      const after = retryAfterMs(res.headers['retry-after']);
      if (after !== undefined) out.retryAfterMs = after;
      return out;
    } catch (err) {
      if (signal.aborted) return { kind: 'aborted' };
      const e = err as Error & { code?: string };
      const detail = timeout.aborted ? `timed out after ${this.opts.timeoutMs} ms` : `${e.code ?? e.name}: ${e.message}`;
      return { kind: 'retry', status: 0, errorClass: 'network', detail };
    }
  }

  async close(): Promise<void> {
    await this.agent.destroy().catch(() => undefined);
  }
}

/** Retry-After as milliseconds from now: delta seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(v: string | string[] | undefined, now = Date.now()): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || s.trim() === '') return undefined;
  if (/^\d+$/.test(s.trim())) return Number(s.trim()) * 1000;
  const at = Date.parse(s);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/**
 * Exponential backoff with jitter ("equal jitter"): with c = min(maxMs, initialMs * 2^attempt), a uniform delay in
 * [c/2, c], at least 1 ms. Attempt 0 is the first retry. The half that is not random keeps the delay growing.
 */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.max(1, Math.round(ceiling / 2 + (ceiling / 2) * random()));
}
