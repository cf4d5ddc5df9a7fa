// The config engine: from a schema made with config/define.ts, derives defaults, the key list with GATEWAY_* names, and a validator whose errors name the bad key and its source. Imports ajv only.
//
// Sources are layers merged in order (file < environment < flags). Each layer is validated on its own before the
// merge, so a value that a later layer overrides must still be valid; the cross-key rules run on the merged result.
// Objects merge key by key; a list or a scalar replaces. Unknown keys are errors that suggest the nearest valid key.
import { Ajv, type ErrorObject } from 'ajv';

/** A JSON Schema node as config/define.ts makes them (only the fields read here). */
export interface SchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  enum?: string[];
  items?: SchemaNode;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
}

export interface ConfigKey {
  /** Dotted path, e.g. `persistence.flushIntervalMs`. */
  path: string;
  schema: SchemaNode;
  /** `GATEWAY_PERSISTENCE_FLUSH_INTERVAL_MS`. */
  env: string;
}

export interface ConfigLayer {
  /** Where the values came from: a file path, `environment`, `command line`; '' when unnamed. */
  source: string;
  values: unknown;
  /** Per dotted key, a finer origin (the variable or flag that set it). */
  origins?: ReadonlyMap<string, string>;
}

export class ConfigError extends Error {
  constructor(readonly key: string, detail: string, readonly source = '') {
    super(`config: ${key}: ${detail}${source ? ` (from ${source})` : ''}`);
    this.name = 'ConfigError';
  }
}

/** `mqtt.maxPacketSize` -> `GATEWAY_MQTT_MAX_PACKET_SIZE`: dots become _, camelCase becomes SNAKE_CASE. */
export function envName(path: string): string {
  return `GATEWAY_${path.split('.').map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isSection = (n: SchemaNode): boolean => n.type === 'object' && n.properties !== undefined && !('default' in n);

/** Applies a dotted-key value onto a raw config object (creating sections on the way). */
export function setDotted(raw: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node = raw;
  for (const p of parts.slice(0, -1)) {
    if (!isPlainObject(node[p])) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

/** A JSON copy of the schema without `required` (every layer is partial) and without typebox's symbol keys. */
function partial(n: SchemaNode): SchemaNode {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(n)) {
    if (k === 'required') continue;
    if (k === 'properties') out[k] = Object.fromEntries(Object.entries(v as Record<string, SchemaNode>).map(([p, s]) => [p, partial(s)]));
    else if ((k === 'items' || k === 'additionalProperties') && isPlainObject(v)) out[k] = partial(v as SchemaNode);
    else out[k] = v;
  }
  return out as SchemaNode;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The candidate closest to `word` (case-insensitive edit distance), if it is close enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 4)) ? best : undefined;
}

/** Human wording of what a leaf accepts. */
export function describeType(n: SchemaNode): string {
  if (n.enum) return `one of ${n.enum.join(', ')}`;
  switch (n.type) {
    case 'integer': {
      const max = n.maximum === Number.MAX_SAFE_INTEGER ? undefined : n.maximum;
      if (n.minimum !== undefined && max !== undefined) return `an integer from ${n.minimum} to ${max}`;
      return n.minimum !== undefined ? `an integer >= ${n.minimum}` : 'an integer';
    }
    case 'number': return 'a number';
    case 'boolean': return 'true or false';
    case 'string': return n.minLength ? 'a non-empty string' : 'a string';
    case 'array': return n.items?.type === 'string' ? 'a list of non-empty strings' : 'a list';
    default: {
      const alts = (n as { anyOf?: { type?: string; const?: unknown }[] }).anyOf;
      if (alts) return alts.map((a) => (a.const !== undefined ? JSON.stringify(a.const) : a.type === 'boolean' ? 'true, false' : (a.type ?? '?'))).join(' or ');
      return 'a value matching its schema';
    }
  }
}

export interface CompiledConfig<T> {
  keys: readonly ConfigKey[];
  defaults(): T;
  resolve(layers: readonly ConfigLayer[]): T;
  /** The nearest valid dotted key to a mistyped one, or undefined. */
  nearest(path: string): string | undefined;
  /** Parses the text of an environment variable or a flag into the key's type; throws ConfigError. */
  parseText(key: ConfigKey, text: string, origin: string): unknown;
}

export function compileConfig<T>(schema: SchemaNode, crossChecks: (config: T) => void): CompiledConfig<T> {
  const keys: ConfigKey[] = [];
  const sections: string[] = [];
  const walk = (n: SchemaNode, prefix: string): void => {
    for (const [name, child] of Object.entries(n.properties ?? {})) {
      const path = prefix ? `${prefix}.${name}` : name;
      if (isSection(child)) {
        sections.push(path);
        walk(child, path);
      } else {
        keys.push({ path, schema: child, env: envName(path) });
      }
    }
  };
  walk(schema, '');
  const envs = new Map<string, string>();
  for (const k of keys) {
    const clash = envs.get(k.env);
    if (clash) throw new Error(`config schema: ${k.path} and ${clash} both map to ${k.env}`);
    envs.set(k.env, k.path);
  }
  const validate = new Ajv({ allErrors: false, strict: true }).compile(partial(schema));

  const defaults = (): T => {
    const out: Record<string, unknown> = {};
    for (const k of keys) setDotted(out, k.path, structuredClone(k.schema.default));
    return out as T;
  };

  const nodeAt = (segments: readonly string[]): { path: string; node: SchemaNode } => {
    let node = schema;
    const taken: string[] = [];
    for (const s of segments) {
      if (!isSection(node)) break;
      const next = node.properties?.[s];
      if (!next) break;
      taken.push(s);
      node = next;
    }
    return { path: taken.join('.') || '(root)', node };
  };

  const nearest = (wrong: string): string | undefined => {
    const lower = wrong.toLowerCase();
    const last = lower.split('.').pop()!;
    const all = [...sections, ...keys.map((k) => k.path)];
    const sameName = all.find((p) => p.toLowerCase().split('.').pop() === last && p.toLowerCase() !== lower);
    return closest(wrong, all) ?? sameName; // sameName: `port` at the root suggests `mqtt.port`
  };

  const toError = (e: ErrorObject, layer: ConfigLayer, value: unknown): ConfigError => {
    const segments = e.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const origin = (key: string): string => layer.origins?.get(key) ?? layer.source;
    if (e.keyword === 'additionalProperties') {
      const extra = String((e.params as { additionalProperty: string }).additionalProperty);
      const key = [...segments, extra].join('.');
      const near = nearest(key);
      return new ConfigError(key, `unknown key${near ? `; did you mean ${near}?` : ''}`, origin(key));
    }
    const { path, node } = nodeAt(segments);
    let got: unknown = value;
    for (const s of path === '(root)' ? [] : path.split('.')) got = isPlainObject(got) ? got[s] : undefined;
    if (isSection(node)) return new ConfigError(path, `must be an object (a section of keys), got ${JSON.stringify(got)}`, origin(path));
    return new ConfigError(path, `must be ${describeType(node)}, got ${JSON.stringify(got)}`, origin(path));
  };

  const merge = (dst: Record<string, unknown>, src: Record<string, unknown>): void => {
    for (const [k, v] of Object.entries(src)) {
      if (isPlainObject(v) && isPlainObject(dst[k])) merge(dst[k] as Record<string, unknown>, v);
      else dst[k] = structuredClone(v);
    }
  };

  const resolve = (layers: readonly ConfigLayer[]): T => {
    const out = defaults() as Record<string, unknown>;
    for (const layer of layers) {
      const values = layer.values ?? {};
      if (!isPlainObject(values)) throw new ConfigError('(root)', `must be an object, got ${JSON.stringify(values)}`, layer.source);
      if (!validate(values)) throw toError(validate.errors![0]!, layer, values);
      merge(out, values);
    }
    crossChecks(out as T);
    return out as T;
  };

  const parseText = (key: ConfigKey, text: string, origin: string): unknown => {
    const n = key.schema;
    const bad = (what: string): ConfigError => new ConfigError(key.path, `must be ${what}, got ${JSON.stringify(text)}`, origin);
    switch (n.type) {
      case 'integer':
        if (!/^-?\d+$/.test(text.trim())) throw bad(describeType(n));
        return Number(text.trim());
      case 'number':
        if (text.trim() === '' || !Number.isFinite(Number(text))) throw bad('a number');
        return Number(text);
      case 'boolean':
        if (/^(true|1|yes|on)$/i.test(text.trim())) return true;
        if (/^(false|0|no|off)$/i.test(text.trim())) return false;
        throw bad('true or false');
      case 'string':
        return text;
      case 'array':
        if (text.trim().startsWith('[')) break;
        return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
    }
    // A union such as true | false | 'loopback': the named string is taken as written.
    const literals = ((n as { anyOf?: { const?: unknown }[] }).anyOf ?? []).map((a) => a.const).filter((c) => typeof c === 'string');
    if (literals.includes(text.trim())) return text.trim();
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw bad(`JSON (${describeType(n)})`);
    }
  };

  return { keys, defaults, resolve, nearest, parseText };
}
