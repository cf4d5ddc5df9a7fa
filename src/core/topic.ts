// Topic name / topic filter validation, `$share` parsing and the reference matcher. Imports only types from ./errors.ts.
//
// Test vectors (MQTT 5 section 4.7, 4.8.2):
//   valid filters:   `sport/tennis/player1/#`, `sport/#`, `#`, `+`, `+/tennis/#`, `sport/+/player1`, `/+`, `+/+`,
//                    `$share/g/sport/#`
//   invalid filters: `sport/tennis#`, `sport/tennis/#/ranking`, `sport+`, `$share/g`, `$share//a`, `$share/g/`,
//                    `$share/g+/a`, `` (empty)
//   valid but never matching a `$`-topic: `#`, `+/monitor/Clients` (use `$SYS/#`, `$SYS/monitor/+`).
//   names: `sport/tennis`, `/`, `a//b` are valid; ``, `a/+`, `a/#`, `a\u0000b` are not.

import type { ErrorCode } from './errors.ts';

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
const DOLLAR = 0x24;
const NUL = 0x00;
const REPLACEMENT = 0xfffd;
const MAX_UTF8_BYTES = 65535;
const SHARE_PREFIX = '$share/';

/** The ceiling of `mqtt.maxTopicLevels` (config range 1..1024); the configured value is what validators are given. */
export const MAX_TOPIC_LEVELS_CEILING = 1024;
/** `mqtt.maxTopicLevels` by default: every topic-shaped input (MQTT, STOMP, replay, config) uses the configured value. */
export const DEFAULT_MAX_TOPIC_LEVELS = 32;

/**
 * Scans s[start, end) once, without allocating. Returns the number of levels, or -1 when a rule is broken.
 * `filter` false: no `+`/`#` at all [MQTT-3.3.2-2]. `filter` true: `+` alone in its level, `#` alone in the last level.
 * Always: no U+0000 [MQTT-1.5.4-2], no U+FFFD (decoder's mark for ill-formed UTF-8) and no unpaired surrogate
 * [MQTT-1.5.4-1], at most 65535 UTF-8 bytes for the whole string (checked by the caller via `bytes`).
 */
function scan(s: string, start: number, end: number, filter: boolean, bytes: { n: number }): number {
  let levels = 1;
  let levelStart = start;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      n += 1;
      if (c === SLASH) {
        levels++;
        levelStart = i + 1;
      } else if (c === PLUS) {
        // [MQTT-4.7.1-2] `+` must occupy an entire level.
        if (!filter || i !== levelStart || (i + 1 < end && s.charCodeAt(i + 1) !== SLASH)) return -1;
      } else if (c === HASH) {
        // [MQTT-4.7.1-1] `#` must be alone in its level and be the last character.
        if (!filter || i !== levelStart || i + 1 !== end) return -1;
      } else if (c === NUL) {
        return -1; // [MQTT-1.5.4-2]
      }
    } else if (c < 0x800) {
      n += 2;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < end ? s.charCodeAt(i + 1) : 0;
      if (d < 0xdc00 || d > 0xdfff) return -1; // unpaired high surrogate [MQTT-1.5.4-1]
      n += 4;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return -1; // unpaired low surrogate [MQTT-1.5.4-1]
    } else if (c === REPLACEMENT) {
      return -1; // the wire bytes were not valid UTF-8 [MQTT-1.5.4-1]
    } else {
      n += 3;
    }
  }
  bytes.n += n;
  return levels;
}

/** undefined when valid. Rules: non-empty [MQTT-4.7.3-1], no wildcards in names [MQTT-3.3.2-2], no U+0000 [MQTT-1.5.4-2], no U+FFFD (our sign that the wire bytes were not valid UTF-8 [MQTT-1.5.4-1]), at most 65535 bytes UTF-8, at most maxLevels levels. Returns 'TOPIC_NAME_INVALID'. */
export function validateTopicName(topic: string, maxLevels: number): ErrorCode | undefined {
  if (topic.length === 0) return 'TOPIC_NAME_INVALID'; // [MQTT-4.7.3-1]
  const bytes = { n: 0 };
  const levels = scan(topic, 0, topic.length, false, bytes);
  if (levels < 0 || levels > maxLevels || bytes.n > MAX_UTF8_BYTES) return 'TOPIC_NAME_INVALID';
  return undefined;
}

/** Filters: `#` only last and alone in its level [MQTT-4.7.1-1], `+` alone in its level [MQTT-4.7.1-2], same UTF-8 rules; `$share/<group>/<filter>`: group non-empty, no `+`/`#`/`/` in it, filter non-empty and valid [MQTT-4.8.2-1], [MQTT-4.8.2-2]. Returns 'TOPIC_FILTER_INVALID'. */
export function validateTopicFilter(filter: string, maxLevels: number): ErrorCode | undefined {
  if (filter.length === 0) return 'TOPIC_FILTER_INVALID'; // [MQTT-4.7.3-1]
  const bytes = { n: 0 };
  let start = 0;
  if (filter.startsWith(SHARE_PREFIX)) {
    const slash = filter.indexOf('/', SHARE_PREFIX.length);
    // [MQTT-4.8.2-1] ShareName is at least one character, followed by `/` and a Topic Filter [MQTT-4.8.2-2].
    if (slash <= SHARE_PREFIX.length || slash + 1 >= filter.length) return 'TOPIC_FILTER_INVALID';
    // The group is scanned as a name: no `+`/`#`, same UTF-8 rules; `/` cannot occur by construction.
    if (scan(filter, 0, slash, false, bytes) < 0) return 'TOPIC_FILTER_INVALID';
    bytes.n += 1; // the `/` after the group
    start = slash + 1;
  }
  const levels = scan(filter, start, filter.length, true, bytes);
  if (levels < 0 || levels > maxLevels || bytes.n > MAX_UTF8_BYTES) return 'TOPIC_FILTER_INVALID';
  return undefined;
}

/**
 * A topic-shaped configuration value (a queue name, a dead-letter topic): a valid topic name under the same rules and
 * limits as the wire. Returns a sentence for the config error, or undefined when valid.
 */
export function topicNameProblem(topic: string, maxLevels: number): string | undefined {
  if (validateTopicName(topic, maxLevels) === undefined) return undefined;
  if (topic.length === 0) return 'must not be empty';
  if (/[+#]/.test(topic)) return `${JSON.stringify(topic)} contains a wildcard (+ or #); a topic name may not`;
  if (topic.split('/').length > maxLevels) return `${JSON.stringify(topic)} has more than ${maxLevels} levels (mqtt.maxTopicLevels)`;
  return `${JSON.stringify(topic)} is not a valid topic name (NUL, ill-formed UTF-16 or over 65535 bytes)`;
}

/** `$share/g/a/b` -> { group: 'g', filter: 'a/b' }; not shared -> undefined. Assumes the filter already validated. */
export function parseShared(filter: string): { group: string; filter: string } | undefined {
  if (!filter.startsWith(SHARE_PREFIX)) return undefined;
  const slash = filter.indexOf('/', SHARE_PREFIX.length);
  if (slash < 0) return undefined;
  return { group: filter.slice(SHARE_PREFIX.length, slash), filter: filter.slice(slash + 1) };
}

/** True when the filter (already validated) contains `+` or `#`. */
export function hasWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

/**
 * Reference matcher: does topic name match filter? Topics starting with `$` are not matched by a filter starting with `+` or `#` [MQTT-4.7.2-1]. `sport/#` matches `sport` [MQTT-4.7.1-2 example].
 * A `$share/<group>/` prefix is ignored (the inner filter is matched). Written for clarity, not speed:
 * the Router and RetainedStore are cross-checked against it.
 */
export function topicMatches(filter: string, topic: string): boolean {
  const shared = parseShared(filter);
  const f = (shared ? shared.filter : filter).split('/');
  const t = topic.split('/');
  if (topic.charCodeAt(0) === DOLLAR && (f[0] === '+' || f[0] === '#')) return false; // [MQTT-4.7.2-1]
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true; // matches the parent level and any number of child levels
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}
