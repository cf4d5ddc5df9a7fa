// HTTP sink options: the shape of one `bridges.http` entry, its defaults, and the checks config validation runs on it (messages name the bad key). Imports core topic rules only.
//
// Contract: checkHttpSinks(list, maxTopicLevels) returns the first problem as { key, detail } with key like
// `bridges.http[2].batch.maxBytes`, or undefined; httpSinkOptions(entry) fills defaults into a checked entry.
// Keys of an entry (defaults in DEFAULTS below):
//   name             [A-Za-z0-9_-]+, unique; also names the sink's cursor (consumer group `\u0000bridge-http-<name>`)
//   url              http:// or https:// URL the batches are POSTed to
//   filter           MQTT topic filter of the messages sent (default '#')
//   format           'json' ({"messages":[...]}) | 'ndjson' (one message per line)
//   payloadEncoding  'base64' | 'text' | 'auto' (text when the payload is valid UTF-8, else base64)
//   headers          extra request headers { name: value }
//   bearerToken      sent as `Authorization: Bearer <token>`; or tokenFile (a file holding it, read at start)
//   batch            { maxMessages, maxBytes (request body bytes), lingerMs }
//   timeoutMs        one request, connect to response
//   retry            { initialMs, maxMs }: exponential backoff with jitter between attempts, forever
//   deadLetterTopic  where 4xx batches go; '' = `$dlq/http/<name>`
//   from             where a NEW sink (no committed position yet) starts: 'first' | 'last' | 'next'
//   tls              { ca (PEM file path, ''= system CAs), rejectUnauthorized } for https URLs
import { topicMatches, topicNameProblem, validateTopicFilter } from '../../core/topic.ts';

export type SinkFormat = 'json' | 'ndjson';
export type PayloadEncoding = 'base64' | 'text' | 'auto';
export type SinkStart = 'first' | 'last' | 'next';

export interface HttpSinkOptions {
  name: string;
  url: string;
  filter: string;
  format: SinkFormat;
  payloadEncoding: PayloadEncoding;
  headers: Record<string, string>;
  bearerToken: string;
  tokenFile: string;
  batch: { maxMessages: number; maxBytes: number; lingerMs: number };
  timeoutMs: number;
  retry: { initialMs: number; maxMs: number };
  deadLetterTopic: string;
  from: SinkStart;
  tls: { ca: string; rejectUnauthorized: boolean };
}

export const HTTP_DLQ_PREFIX = '$dlq/http/';

/** The consumer group holding a sink's committed position; U+0000 cannot appear in a client's `$group/` name. */
export function sinkGroupName(name: string): string {
  return `\u0000bridge-http-${name}`;
}

export const DEFAULTS = {
  filter: '#',
  format: 'json' as SinkFormat,
  payloadEncoding: 'auto' as PayloadEncoding,
  batch: { maxMessages: 100, maxBytes: 1024 * 1024, lingerMs: 50 },
  timeoutMs: 10_000,
  retry: { initialMs: 200, maxMs: 30_000 },
  from: 'next' as SinkStart,
};

/** Inclusive bounds of the numeric keys. */
export const BOUNDS = {
  'batch.maxMessages': [1, 100_000],
  'batch.maxBytes': [1024, 256 * 1024 * 1024],
  'batch.lingerMs': [0, 60_000],
  timeoutMs: [100, 600_000],
  'retry.initialMs': [1, 600_000],
  'retry.maxMs': [1, 3_600_000],
} as const;

const KEYS = new Set(['name', 'url', 'filter', 'format', 'payloadEncoding', 'headers', 'bearerToken', 'tokenFile', 'batch', 'timeoutMs', 'retry', 'deadLetterTopic', 'from', 'tls']);
const SUB_KEYS: Record<string, Set<string>> = {
  batch: new Set(['maxMessages', 'maxBytes', 'lingerMs']),
  retry: new Set(['initialMs', 'maxMs']),
  tls: new Set(['ca', 'rejectUnauthorized']),
};
/** RFC 9110 token characters of a header name. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Set by the sink itself; configuring them would break the body or the token. */
const RESERVED_HEADERS = new Set(['content-length', 'content-type', 'transfer-encoding', 'host', 'connection']);

export interface SinkProblem { key: string; detail: string }

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The first problem of the `bridges.http` list, or undefined when every entry is valid. */
export function checkHttpSinks(list: readonly unknown[], maxTopicLevels: number): SinkProblem | undefined {
  const names = new Set<string>();
  for (let i = 0; i < list.length; i++) {
    const bad = checkEntry(list[i], `bridges.http[${i}]`, maxTopicLevels);
    if (bad) return bad;
    const name = (list[i] as { name: string }).name;
    if (names.has(name)) return { key: `bridges.http[${i}].name`, detail: `${JSON.stringify(name)} is used by an earlier sink; names must be unique` };
    names.add(name);
  }
  return undefined;
}

function checkEntry(e: unknown, at: string, levels: number): SinkProblem | undefined {
  if (!isObject(e)) return { key: at, detail: `must be an object { name, url, filter, ... }, got ${JSON.stringify(e)}` };
  for (const k of Object.keys(e)) if (!KEYS.has(k)) return { key: `${at}.${k}`, detail: `unknown key (known: ${[...KEYS].join(', ')})` };
  for (const [sub, keys] of Object.entries(SUB_KEYS)) {
    const v = e[sub];
    if (v === undefined) continue;
    if (!isObject(v)) return { key: `${at}.${sub}`, detail: `must be an object, got ${JSON.stringify(v)}` };
    for (const k of Object.keys(v)) if (!keys.has(k)) return { key: `${at}.${sub}.${k}`, detail: `unknown key (known: ${[...keys].join(', ')})` };
  }
  const str = (k: string, v: unknown): SinkProblem | undefined => (v === undefined || typeof v === 'string' ? undefined : { key: `${at}.${k}`, detail: `must be a string, got ${JSON.stringify(v)}` });
  if (typeof e.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(e.name)) {
    return { key: `${at}.name`, detail: `must be 1 to 64 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(e.name)}` };
  }
  if (typeof e.url !== 'string') return { key: `${at}.url`, detail: `must be an http:// or https:// URL, got ${JSON.stringify(e.url)}` };
  let url: URL;
  try {
    url = new URL(e.url);
  } catch {
    return { key: `${at}.url`, detail: `not a valid URL: ${JSON.stringify(e.url)}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { key: `${at}.url`, detail: `must use http:// or https://, got ${JSON.stringify(url.protocol)}` };
  if (url.username || url.password) return { key: `${at}.url`, detail: 'must not carry credentials; use bearerToken or headers' };
  for (const k of ['filter', 'bearerToken', 'tokenFile', 'deadLetterTopic'] as const) {
    const bad = str(k, e[k]);
    if (bad) return bad;
  }
  const filter = (e.filter as string | undefined) ?? DEFAULTS.filter;
  if (validateTopicFilter(filter, levels) !== undefined || filter.startsWith('$share/')) {
    return { key: `${at}.filter`, detail: `${JSON.stringify(filter)} is not a valid topic filter (MQTT rules, at most ${levels} levels, no $share/)` };
  }
  const oneOf = (k: string, allowed: readonly string[]): SinkProblem | undefined =>
    e[k] === undefined || allowed.includes(e[k] as string) ? undefined : { key: `${at}.${k}`, detail: `must be one of ${allowed.join(', ')}, got ${JSON.stringify(e[k])}` };
  const choice = oneOf('format', ['json', 'ndjson']) ?? oneOf('payloadEncoding', ['base64', 'text', 'auto']) ?? oneOf('from', ['first', 'last', 'next']);
  if (choice) return choice;
  if (e.headers !== undefined) {
    if (!isObject(e.headers)) return { key: `${at}.headers`, detail: `must be an object { "Header-Name": "value" }, got ${JSON.stringify(e.headers)}` };
    for (const [h, v] of Object.entries(e.headers)) {
      if (!HEADER_NAME.test(h)) return { key: `${at}.headers`, detail: `${JSON.stringify(h)} is not a valid header name` };
      if (RESERVED_HEADERS.has(h.toLowerCase())) return { key: `${at}.headers.${h}`, detail: 'is set by the sink and cannot be configured' };
      if (typeof v !== 'string' || /[\r\n\u0000]/.test(v)) return { key: `${at}.headers.${h}`, detail: 'must be a string without CR, LF or NUL' };
      if (h.toLowerCase() === 'authorization' && (e.bearerToken || e.tokenFile)) return { key: `${at}.headers.${h}`, detail: 'conflicts with bearerToken / tokenFile; set one of them' };
    }
  }
  if (e.bearerToken && e.tokenFile) return { key: `${at}.tokenFile`, detail: 'set bearerToken or tokenFile, not both' };
  if (typeof e.bearerToken === 'string' && /[\r\n\u0000]/.test(e.bearerToken)) return { key: `${at}.bearerToken`, detail: 'must not contain CR, LF or NUL' };
  const num = (path: keyof typeof BOUNDS): SinkProblem | undefined => {
    const [sub, leaf] = path.includes('.') ? path.split('.') : [undefined, path];
    const holder = sub ? (e[sub] as Record<string, unknown> | undefined) : e;
    const v = holder?.[leaf!];
    if (v === undefined) return undefined;
    const [min, max] = BOUNDS[path];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) return { key: `${at}.${path}`, detail: `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}` };
    return undefined;
  };
  for (const k of Object.keys(BOUNDS) as (keyof typeof BOUNDS)[]) {
    const bad = num(k);
    if (bad) return bad;
  }
  const retry = { ...DEFAULTS.retry, ...(e.retry as object | undefined) };
  if (retry.maxMs < retry.initialMs) return { key: `${at}.retry.maxMs`, detail: `must be at least retry.initialMs (${retry.initialMs})` };
  const tls = e.tls as Record<string, unknown> | undefined;
  if (tls?.ca !== undefined && typeof tls.ca !== 'string') return { key: `${at}.tls.ca`, detail: 'must be a PEM file path' };
  if (tls?.rejectUnauthorized !== undefined && typeof tls.rejectUnauthorized !== 'boolean') return { key: `${at}.tls.rejectUnauthorized`, detail: 'must be true or false' };
  if (tls && url.protocol !== 'https:' && (tls.ca || tls.rejectUnauthorized === false)) return { key: `${at}.tls`, detail: 'applies to https:// URLs only' };
  const dlq = (e.deadLetterTopic as string | undefined) || `${HTTP_DLQ_PREFIX}${e.name}`;
  const dlqBad = topicNameProblem(dlq, levels);
  if (dlqBad) return { key: `${at}.deadLetterTopic`, detail: `dead-letter topic ${dlqBad}` };
  // A sink reading its own dead letters would send them again on the next 4xx, forever.
  if (topicMatches(filter, dlq)) return { key: `${at}.deadLetterTopic`, detail: `${JSON.stringify(dlq)} matches the sink's own filter ${JSON.stringify(filter)}` };
  return undefined;
}

/** A checked entry with every default filled in. */
export function httpSinkOptions(raw: unknown): HttpSinkOptions {
  const e = raw as Partial<HttpSinkOptions> & { name: string; url: string };
  return {
    name: e.name,
    url: e.url,
    filter: e.filter ?? DEFAULTS.filter,
    format: e.format ?? DEFAULTS.format,
    payloadEncoding: e.payloadEncoding ?? DEFAULTS.payloadEncoding,
    headers: { ...e.headers },
    bearerToken: e.bearerToken ?? '',
    tokenFile: e.tokenFile ?? '',
    batch: { ...DEFAULTS.batch, ...e.batch },
    timeoutMs: e.timeoutMs ?? DEFAULTS.timeoutMs,
    retry: { ...DEFAULTS.retry, ...e.retry },
    deadLetterTopic: e.deadLetterTopic || `${HTTP_DLQ_PREFIX}${e.name}`,
    from: e.from ?? DEFAULTS.from,
    tls: { ca: e.tls?.ca ?? '', rejectUnauthorized: e.tls?.rejectUnauthorized ?? true },
  };
}
