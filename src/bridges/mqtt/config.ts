// `bridges.mqtt` entries: the structured form, Mosquitto `topic` lines and whole pasted Mosquitto `connection` blocks, parsed and validated into one shape. Imports core topic rules and errors only (config/schema.ts calls it, so it stays pure).
//
// Accepted forms of one entry of `bridges.mqtt` (docs/BRIDGES.md):
//   { name, url, clientId, username, password, protocolVersion, keepalive, cleanSession, localUsername,
//     maxInflight, reconnectMinMs, reconnectMaxMs, outgoingRetain, tls: { ca, cert, key, rejectUnauthorized },
//     topics: [ { pattern, direction, qos, localPrefix, remotePrefix } | "topic <pattern> [dir [qos [lp [rp]]]]" ] }
//   "connection <name>\naddress host[:port]\ntopic ...\n..."   (a Mosquitto bridge block, as mosquitto.conf writes it)
// Topic rules follow Mosquitto (mosquitto.conf(5) `topic`): direction defaults to out, qos to 0; `""` is an empty
// token; the local filter is local-prefix + pattern, the remote filter remote-prefix + pattern; an empty pattern
// needs a prefix and makes the prefixes whole topics. Every problem throws BridgeConfigProblem naming the key
// (`bridges.mqtt[1].topics[0].qos`, or `bridges.mqtt[0]` line 4 for a pasted block).
import { hostname } from 'node:os';
import { GatewayError } from '../../core/errors.ts';
import { MAX_TOPIC_LEVELS_CEILING, validateTopicFilter } from '../../core/topic.ts';

export type Direction = 'out' | 'in' | 'both';
export type BridgeQos = 0 | 1 | 2;

export interface TopicRule {
  pattern: string;
  direction: Direction;
  qos: BridgeQos;
  localPrefix: string;
  remotePrefix: string;
  /** localPrefix + pattern: what this rule reads from the gateway's log (out) or writes (in). */
  localFilter: string;
  /** remotePrefix + pattern: what the bridge subscribes to on the remote (in) or publishes under (out). */
  remoteFilter: string;
}

export interface MqttBridgeTls {
  /** PEM file paths ('' = none). */
  ca: string;
  cert: string;
  key: string;
  rejectUnauthorized: boolean;
}

export interface MqttBridgeConfig {
  name: string;
  /** mqtt:// mqtts:// ws:// wss:// */
  url: string;
  clientId: string;
  username: string | undefined;
  password: string | undefined;
  /** MQTT protocol level: 4 = 3.1.1, 5 = 5.0. */
  protocolVersion: 4 | 5;
  /** Seconds. */
  keepalive: number;
  cleanSession: boolean;
  /** The username the bridge acts as inside the gateway (ACL); default `bridge:<name>`. */
  localUsername: string;
  maxInflight: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** false: outbound messages go out with RETAIN 0 (Mosquitto's bridge_outgoing_retain). */
  outgoingRetain: boolean;
  tls: MqttBridgeTls;
  topics: TopicRule[];
  /** Mosquitto block keys accepted and ignored (logged once at start). */
  ignored: string[];
}

/** A bad `bridges.mqtt` value; `key` is the dotted config key to fix. */
export class BridgeConfigProblem extends GatewayError {
  constructor(
    readonly key: string,
    readonly detail: string,
  ) {
    super('CONFIG_INVALID', `${key}: ${detail}`);
    this.name = 'BridgeConfigProblem';
  }
}

export const BRIDGE_NAME = /^[A-Za-z0-9_-]+$/;

const DIRECTIONS = new Set<string>(['out', 'in', 'both']);
const STRUCTURED_KEYS = new Set([
  'name', 'url', 'clientId', 'username', 'password', 'protocolVersion', 'keepalive', 'cleanSession', 'localUsername',
  'maxInflight', 'reconnectMinMs', 'reconnectMaxMs', 'outgoingRetain', 'tls', 'topics',
]);
const TLS_KEYS = new Set(['ca', 'cert', 'key', 'rejectUnauthorized']);
const RULE_KEYS = new Set(['pattern', 'direction', 'qos', 'localPrefix', 'remotePrefix']);
/** Mosquitto bridge options that have no meaning here (or are this bridge's behaviour anyway): accepted, ignored, logged. */
const MOSQUITTO_IGNORED = new Set([
  'notifications', 'notifications_local_only', 'notification_topic', 'start_type', 'idle_timeout', 'threshold', 'round_robin',
  'try_private', 'bridge_attempt_unsubscribe', 'bridge_max_packet_size', 'bridge_tls_version', 'bridge_require_ocsp',
  'bridge_alpn', 'bridge_bind_address', 'local_clientid', 'local_password', 'local_cleansession', 'bridge_capath',
]);

/** Splits a config line into tokens; `"..."` is one token (`""` the empty one), as Mosquitto reads `topic` lines. */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (const m of line.matchAll(re)) out.push(m[1] ?? m[2]!);
  return out;
}

function checkPrefix(key: string, prefix: string): void {
  if (/[+#]/.test(prefix)) throw new BridgeConfigProblem(key, `a prefix may not contain + or #, got ${JSON.stringify(prefix)}`);
  if (prefix.includes('\u0000')) throw new BridgeConfigProblem(key, 'a prefix may not contain U+0000');
}

function checkFilter(key: string, filter: string, what: string): void {
  const bad = validateTopicFilter(filter, MAX_TOPIC_LEVELS_CEILING);
  if (bad) throw new BridgeConfigProblem(key, `${what} ${JSON.stringify(filter)} is not a valid topic filter (${bad})`);
  if (filter.startsWith('$share/')) throw new BridgeConfigProblem(key, `${what} ${JSON.stringify(filter)}: shared subscriptions cannot be bridged`);
}

/** Builds a rule; `key` names the entry for errors. */
export function makeRule(key: string, pattern: string, direction: string, qos: number, localPrefix: string, remotePrefix: string): TopicRule {
  if (!DIRECTIONS.has(direction)) throw new BridgeConfigProblem(key, `direction must be out, in or both, got ${JSON.stringify(direction)}`);
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new BridgeConfigProblem(key, `qos must be 0, 1 or 2, got ${JSON.stringify(qos)}`);
  checkPrefix(key, localPrefix);
  checkPrefix(key, remotePrefix);
  if (pattern === '' && localPrefix === '' && remotePrefix === '') throw new BridgeConfigProblem(key, 'an empty pattern needs a local or remote prefix (they are then whole topics)');
  const localFilter = localPrefix + pattern;
  const remoteFilter = remotePrefix + pattern;
  checkFilter(key, localFilter, 'local topic (local prefix + pattern)');
  checkFilter(key, remoteFilter, 'remote topic (remote prefix + pattern)');
  return { pattern, direction: direction as Direction, qos, localPrefix, remotePrefix, localFilter, remoteFilter };
}

/** One Mosquitto `topic` line: `topic <pattern> [out|in|both [qos [local-prefix [remote-prefix]]]]` (the leading `topic` is optional). */
export function parseTopicLine(key: string, line: string): TopicRule {
  const t = tokenize(line.trim());
  if (t[0] === 'topic') t.shift();
  if (t.length === 0) throw new BridgeConfigProblem(key, 'expected "topic <pattern> [out|in|both [qos [local-prefix [remote-prefix]]]]"');
  if (t.length > 5) throw new BridgeConfigProblem(key, `too many fields in ${JSON.stringify(line)} (pattern, direction, qos, local prefix, remote prefix)`);
  const [pattern, direction = 'out', qosText = '0', localPrefix = '', remotePrefix = ''] = t as [string, ...string[]];
  if (!/^[0-2]$/.test(qosText)) throw new BridgeConfigProblem(key, `qos must be 0, 1 or 2, got ${JSON.stringify(qosText)}`);
  return makeRule(key, pattern, direction, Number(qosText), localPrefix, remotePrefix);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(key: string, v: unknown, dflt: string): string;
function str(key: string, v: unknown, dflt: undefined): string | undefined;
function str(key: string, v: unknown, dflt: string | undefined): string | undefined {
  if (v === undefined) return dflt;
  if (typeof v !== 'string') throw new BridgeConfigProblem(key, `must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function int(key: string, v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new BridgeConfigProblem(key, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v;
}

function bool(key: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new BridgeConfigProblem(key, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** 4 | 5 from what a user writes: 4, 5, 3 / '3.1.1' / 'mqttv311' / '4' (3.1.1), '5' / '5.0' / 'mqttv50'. */
export function protocolLevel(key: string, v: unknown): 4 | 5 {
  if (v === undefined) return 4;
  const s = String(v).trim().toLowerCase();
  if (['3', '4', '3.1.1', 'mqttv311', 'v311', '311'].includes(s)) return 4;
  if (['5', '5.0', 'mqttv5', 'mqttv50', 'v5'].includes(s)) return 5;
  throw new BridgeConfigProblem(key, `must be 3.1.1 (4) or 5, got ${JSON.stringify(v)}`);
}

function checkUrl(key: string, url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new BridgeConfigProblem(key, `not a URL: ${JSON.stringify(url)} (mqtt://host:1883, mqtts://, ws://, wss://)`);
  }
  if (!['mqtt:', 'mqtts:', 'ws:', 'wss:', 'tcp:', 'ssl:'].includes(u.protocol)) throw new BridgeConfigProblem(key, `scheme must be mqtt, mqtts, ws or wss, got ${JSON.stringify(u.protocol)}`);
  if (!u.hostname) throw new BridgeConfigProblem(key, `no host in ${JSON.stringify(url)}`);
  return url;
}

function finish(key: string, c: Omit<MqttBridgeConfig, 'ignored'> & { ignored?: string[] }): MqttBridgeConfig {
  if (!BRIDGE_NAME.test(c.name)) throw new BridgeConfigProblem(`${key}.name`, `must match [A-Za-z0-9_-]+, got ${JSON.stringify(c.name)}`);
  if (c.topics.length === 0) throw new BridgeConfigProblem(`${key}.topics`, 'a bridge needs at least one topic rule');
  if (c.clientId === '' || c.clientId.length > 65535 || c.clientId.includes('\u0000')) throw new BridgeConfigProblem(`${key}.clientId`, 'must be a non-empty string without U+0000');
  if (c.reconnectMinMs > c.reconnectMaxMs) throw new BridgeConfigProblem(`${key}.reconnectMinMs`, `must not exceed reconnectMaxMs (${c.reconnectMaxMs})`);
  // Each connection numbers its packets from 1: over a session the remote keeps, a new QoS 2 PUBLISH could reuse an id the
  // remote still holds from the previous connection and be taken for its resend (dropped) [MQTT-4.3.3]. So no outbound QoS 2 there.
  if (!c.cleanSession && c.topics.some((t) => t.direction !== 'in' && t.qos === 2)) {
    throw new BridgeConfigProblem(`${key}.cleanSession`, 'false (a persistent remote session) cannot carry outbound QoS 2 rules: use QoS 1 for out/both rules, or cleanSession: true');
  }
  if ((c.tls.cert === '') !== (c.tls.key === '')) throw new BridgeConfigProblem(`${key}.tls.${c.tls.cert === '' ? 'cert' : 'key'}`, 'tls.cert and tls.key must be set together');
  return { ...c, ignored: c.ignored ?? [] };
}

function defaults(name: string): Omit<MqttBridgeConfig, 'name' | 'url' | 'topics' | 'ignored'> {
  return {
    clientId: `${hostname()}.${name}`,
    username: undefined,
    password: undefined,
    protocolVersion: 4,
    keepalive: 60,
    cleanSession: true,
    localUsername: `bridge:${name}`,
    maxInflight: 100,
    reconnectMinMs: 1000,
    reconnectMaxMs: 60_000,
    outgoingRetain: true,
    tls: { ca: '', cert: '', key: '', rejectUnauthorized: true },
  };
}

/** The structured form. */
export function parseStructured(key: string, v: Record<string, unknown>): MqttBridgeConfig {
  for (const k of Object.keys(v)) if (!STRUCTURED_KEYS.has(k)) throw new BridgeConfigProblem(`${key}.${k}`, `unknown key (known: ${[...STRUCTURED_KEYS].join(', ')})`);
  const name = str(`${key}.name`, v.name, '');
  if (name === '') throw new BridgeConfigProblem(`${key}.name`, 'is required');
  const url = checkUrl(`${key}.url`, str(`${key}.url`, v.url, ''));
  const d = defaults(name);
  const tlsIn = v.tls === undefined ? {} : v.tls;
  if (!isObject(tlsIn)) throw new BridgeConfigProblem(`${key}.tls`, 'must be an object { ca, cert, key, rejectUnauthorized }');
  for (const k of Object.keys(tlsIn)) if (!TLS_KEYS.has(k)) throw new BridgeConfigProblem(`${key}.tls.${k}`, `unknown key (known: ${[...TLS_KEYS].join(', ')})`);
  if (!Array.isArray(v.topics)) throw new BridgeConfigProblem(`${key}.topics`, 'must be a list of topic rules');
  const topics = v.topics.map((t: unknown, i: number): TopicRule => {
    const tk = `${key}.topics[${i}]`;
    if (typeof t === 'string') return parseTopicLine(tk, t);
    if (!isObject(t)) throw new BridgeConfigProblem(tk, 'must be a Mosquitto topic line or { pattern, direction, qos, localPrefix, remotePrefix }');
    for (const k of Object.keys(t)) if (!RULE_KEYS.has(k)) throw new BridgeConfigProblem(`${tk}.${k}`, `unknown key (known: ${[...RULE_KEYS].join(', ')})`);
    const qos = int(`${tk}.qos`, t.qos, 0, 0, 2);
    const dir = str(`${tk}.direction`, t.direction, 'out');
    if (!DIRECTIONS.has(dir)) throw new BridgeConfigProblem(`${tk}.direction`, `must be out, in or both, got ${JSON.stringify(dir)}`);
    return makeRule(tk, str(`${tk}.pattern`, t.pattern, ''), dir, qos, str(`${tk}.localPrefix`, t.localPrefix, ''), str(`${tk}.remotePrefix`, t.remotePrefix, ''));
  });
  return finish(key, {
    name,
    url,
    clientId: str(`${key}.clientId`, v.clientId, d.clientId),
    username: str(`${key}.username`, v.username, undefined),
    password: str(`${key}.password`, v.password, undefined),
    protocolVersion: protocolLevel(`${key}.protocolVersion`, v.protocolVersion),
    keepalive: int(`${key}.keepalive`, v.keepalive, d.keepalive, 0, 65535),
    cleanSession: bool(`${key}.cleanSession`, v.cleanSession, d.cleanSession),
    localUsername: str(`${key}.localUsername`, v.localUsername, d.localUsername),
    maxInflight: int(`${key}.maxInflight`, v.maxInflight, d.maxInflight, 1, 65535),
    reconnectMinMs: int(`${key}.reconnectMinMs`, v.reconnectMinMs, d.reconnectMinMs, 1, 3_600_000),
    reconnectMaxMs: int(`${key}.reconnectMaxMs`, v.reconnectMaxMs, d.reconnectMaxMs, 1, 3_600_000),
    outgoingRetain: bool(`${key}.outgoingRetain`, v.outgoingRetain, d.outgoingRetain),
    tls: {
      ca: str(`${key}.tls.ca`, tlsIn.ca, ''),
      cert: str(`${key}.tls.cert`, tlsIn.cert, ''),
      key: str(`${key}.tls.key`, tlsIn.key, ''),
      rejectUnauthorized: bool(`${key}.tls.rejectUnauthorized`, tlsIn.rejectUnauthorized, true),
    },
    topics,
  });
}

function mosquittoBool(key: string, v: string): boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new BridgeConfigProblem(key, `expected true or false, got ${JSON.stringify(v)}`);
}

/** A pasted Mosquitto bridge block (`connection <name>` first, then its options, one per line; # comments). */
export function parseMosquittoBlock(key: string, text: string): MqttBridgeConfig {
  const lines = text.split(/\r?\n/);
  let name: string | undefined;
  let address: string | undefined;
  let cafile = '';
  let certfile = '';
  let keyfile = '';
  let insecure = false;
  const topics: TopicRule[] = [];
  const ignored: string[] = [];
  const set: Partial<Omit<MqttBridgeConfig, 'tls' | 'topics' | 'ignored'>> = {};
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const lk = `${key} line ${i + 1}`;
    const sp = line.search(/\s/);
    const word = sp < 0 ? line : line.slice(0, sp);
    const rest = sp < 0 ? '' : line.slice(sp + 1).trim();
    const need = (): string => {
      if (rest === '') throw new BridgeConfigProblem(lk, `${word} needs a value`);
      return rest;
    };
    if (name === undefined && word !== 'connection') throw new BridgeConfigProblem(lk, `a Mosquitto bridge block starts with "connection <name>", got ${JSON.stringify(word)}`);
    switch (word) {
      case 'connection':
        if (name !== undefined) throw new BridgeConfigProblem(lk, 'one "connection" per entry (put each bridge in its own entry of bridges.mqtt)');
        name = need();
        break;
      case 'address':
      case 'addresses': {
        const first = need().split(/[\s,]+/)[0]!;
        if (need().split(/[\s,]+/).length > 1) ignored.push(`${word} (only the first address is used)`);
        address = first;
        break;
      }
      case 'remote_clientid':
      case 'clientid':
        set.clientId = need();
        break;
      case 'remote_username':
      case 'username':
        set.username = need();
        break;
      case 'remote_password':
      case 'password':
        set.password = need();
        break;
      case 'local_username':
        set.localUsername = need();
        break;
      case 'topic':
        topics.push(parseTopicLine(lk, line));
        break;
      case 'bridge_protocol_version': {
        const v = need();
        if (v === 'mqttv31') throw new BridgeConfigProblem(lk, 'bridge_protocol_version mqttv31 is not supported: use mqttv311 or mqttv50');
        set.protocolVersion = protocolLevel(lk, v);
        break;
      }
      case 'keepalive_interval':
        if (!/^\d{1,5}$/.test(need()) || Number(rest) > 65535) throw new BridgeConfigProblem(lk, `keepalive_interval must be seconds 0..65535, got ${JSON.stringify(rest)}`);
        set.keepalive = Number(rest);
        break;
      case 'cleansession':
        set.cleanSession = mosquittoBool(lk, need());
        break;
      case 'bridge_outgoing_retain':
        set.outgoingRetain = mosquittoBool(lk, need());
        break;
      case 'restart_timeout': {
        // `restart_timeout <base> <cap>` (backoff with jitter) or `restart_timeout <constant>`, seconds.
        const parts = need().split(/\s+/);
        if (parts.length > 2 || !parts.every((p) => /^\d{1,6}$/.test(p) && Number(p) > 0)) throw new BridgeConfigProblem(lk, `restart_timeout takes one or two positive numbers of seconds, got ${JSON.stringify(rest)}`);
        set.reconnectMinMs = Number(parts[0]) * 1000;
        set.reconnectMaxMs = Number(parts[1] ?? parts[0]) * 1000;
        break;
      }
      case 'bridge_cafile':
        cafile = need();
        break;
      case 'bridge_certfile':
        certfile = need();
        break;
      case 'bridge_keyfile':
        keyfile = need();
        break;
      case 'bridge_insecure':
        insecure = mosquittoBool(lk, need());
        break;
      default:
        if (MOSQUITTO_IGNORED.has(word)) {
          ignored.push(word);
          break;
        }
        throw new BridgeConfigProblem(lk, `unknown Mosquitto bridge option ${JSON.stringify(word)}`);
    }
  }
  if (name === undefined) throw new BridgeConfigProblem(key, 'empty Mosquitto bridge block (expected "connection <name>")');
  if (address === undefined) throw new BridgeConfigProblem(key, `bridge ${name}: no "address host[:port]" line`);
  const tlsOn = cafile !== '';
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(address);
  if (!m) throw new BridgeConfigProblem(key, `bridge ${name}: address must be host[:port], got ${JSON.stringify(address)}`);
  const url = `${tlsOn ? 'mqtts' : 'mqtt'}://${m[1]}:${m[2] ?? (tlsOn ? 8883 : 1883)}`;
  const d = defaults(name);
  return finish(key, {
    ...d,
    ...set,
    name,
    url,
    tls: { ca: cafile, cert: certfile, key: keyfile, rejectUnauthorized: !insecure },
    topics,
    ignored,
  });
}

/**
 * Parses every entry of `bridges.mqtt` (`key` is the config path, 'bridges.mqtt'). Names must be unique.
 * Throws BridgeConfigProblem naming the first bad key.
 */
export function parseMqttBridges(entries: readonly unknown[], key = 'bridges.mqtt'): MqttBridgeConfig[] {
  const out: MqttBridgeConfig[] = [];
  const names = new Set<string>();
  entries.forEach((e, i) => {
    const k = `${key}[${i}]`;
    let c: MqttBridgeConfig;
    if (typeof e === 'string') c = parseMosquittoBlock(k, e);
    else if (isObject(e)) c = parseStructured(k, e);
    else throw new BridgeConfigProblem(k, 'must be an object { name, url, topics, ... } or a pasted Mosquitto "connection" block');
    if (names.has(c.name)) throw new BridgeConfigProblem(`${k}.name`, `bridge name ${JSON.stringify(c.name)} is used twice`);
    names.add(c.name);
    out.push(c);
  });
  return out;
}
