// Mosquitto ACL files: parse, and the pure checks mayRead / mayWrite / maySubscribe. Imports nothing.
//
// File format (Mosquitto's acl_file, read the way Mosquitto 2 reads it):
//   # comment
//   topic [read|write|readwrite|deny] <filter>     access defaults to readwrite
//   user <username>                                the topic lines after it (up to the next `user`) are that user's
//   pattern [read|write|readwrite|deny] <filter>   for every user and client, wherever it stands; %u = username, %c = client id
// Topic lines before the first `user` line apply to clients without a username (anonymous).
// Decision for (identity, topic, access), as Mosquitto: a matching `deny` rule of the client's list or of a
// pattern refuses; otherwise a matching rule granting the access allows; otherwise refused. A pattern whose %u / %c
// would expand to a value containing `+`, `#` or `/` (or to nothing: %u without a username) is skipped, so
// no one widens a pattern by choosing their name.
// SUBSCRIBE (maySubscribe): granted when some topic the filter matches is readable - i.e. the filter
// intersects a read rule - and no deny rule covers the whole filter. Deliveries through a granted wildcard
// are filtered one by one with mayRead.


export type Access = 'read' | 'write' | 'readwrite' | 'deny';

export interface AclRule {
  access: Access;
  filter: string;
}

/** A rule with its filter split into levels once (checks run per delivery). */
export interface CompiledRule extends AclRule {
  levels: readonly string[];
}

export interface Acl {
  /** Rules of clients without a username. */
  readonly anonymous: readonly AclRule[];
  readonly users: ReadonlyMap<string, readonly AclRule[]>;
  /** `pattern` lines, unexpanded. */
  readonly patterns: readonly AclRule[];
}

/** Who asks: the username (undefined = anonymous) and the client id (for %c). */
export interface AclSubject {
  username?: string;
  clientId: string;
}

export class AclParseError extends Error {
  constructor(
    readonly line: number,
    detail: string,
  ) {
    super(`line ${line}: ${detail}`);
    this.name = 'AclParseError';
  }
}

const ACCESS = new Set<string>(['read', 'write', 'readwrite', 'deny']);

/** Parses an ACL file's text; throws AclParseError naming the first bad line. */
export function parseAcl(text: string): Acl {
  const anonymous: AclRule[] = [];
  const users = new Map<string, AclRule[]>();
  const patterns: AclRule[] = [];
  let current = anonymous;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) throw new AclParseError(i + 1, `expected "topic", "user" or "pattern" and an argument, got ${JSON.stringify(line.slice(0, 80))}`);
    const [, keyword, rest] = m as unknown as [string, string, string];
    if (keyword === 'user') {
      const name = rest.trim();
      current = users.get(name) ?? [];
      users.set(name, current);
      continue;
    }
    if (keyword !== 'topic' && keyword !== 'pattern') throw new AclParseError(i + 1, `unknown keyword ${JSON.stringify(keyword)}`);
    // "topic [access] filter": the filter is the rest of the line (it may contain spaces).
    const a = /^(\S+)\s+(.+)$/.exec(rest);
    let access: Access = 'readwrite';
    let filter = rest.trim();
    if (a && ACCESS.has(a[1]!)) {
      access = a[1] as Access;
      filter = a[2]!.trim();
    }
    if (filter === '') throw new AclParseError(i + 1, 'empty topic filter');
    (keyword === 'pattern' ? patterns : current).push({ access, filter });
  }
  return { anonymous, users, patterns };
}

const UNSAFE = /[+#/]/;

/** The rules that apply to a subject: its own list (or the anonymous one), then the expanded patterns. */
export function rulesFor(acl: Acl, who: AclSubject): CompiledRule[] {
  const own = who.username === undefined ? acl.anonymous : (acl.users.get(who.username) ?? []);
  const out: AclRule[] = own.slice();
  for (const p of acl.patterns) {
    let ok = true;
    const filter = p.filter.replace(/%[uc]/g, (t) => {
      const v = t === '%u' ? who.username : who.clientId;
      if (v === undefined || v === '' || UNSAFE.test(v)) ok = false;
      return v ?? '';
    });
    if (ok) out.push({ access: p.access, filter });
  }
  return out.map((r): CompiledRule => ({ access: r.access, filter: r.filter, levels: r.filter.split('/') }));
}

function grants(access: Access, want: 'read' | 'write'): boolean {
  return access === 'readwrite' || access === want;
}

/** Filter levels against topic levels; same rules as topicMatches ([MQTT-4.7.1-2], [MQTT-4.7.2-1]). */
function matchLevels(f: readonly string[], t: readonly string[], dollar: boolean): boolean {
  if (dollar && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Mosquitto's decision for one topic name: deny rules first, then any granting rule. */
export function check(rules: readonly CompiledRule[], topic: string, want: 'read' | 'write'): boolean {
  const t = topic.split('/');
  const dollar = topic.charCodeAt(0) === 36;
  for (const r of rules) if (r.access === 'deny' && matchLevels(r.levels, t, dollar)) return false;
  for (const r of rules) if (grants(r.access, want) && matchLevels(r.levels, t, dollar)) return true;
  return false;
}

export function mayRead(acl: Acl, who: AclSubject, topic: string): boolean {
  return check(rulesFor(acl, who), topic, 'read');
}

export function mayWrite(acl: Acl, who: AclSubject, topic: string): boolean {
  return check(rulesFor(acl, who), topic, 'write');
}

/** SUBSCRIBE: some readable topic can match `filter`, and no deny rule covers all of it. */
export function maySubscribe(acl: Acl, who: AclSubject, filter: string): boolean {
  const rules = rulesFor(acl, who);
  for (const r of rules) if (r.access === 'deny' && covers(r.filter, filter)) return false;
  for (const r of rules) if (grants(r.access, 'read') && intersects(r.filter, filter)) return true;
  return false;
}

const isWild = (level: string): boolean => level === '+' || level === '#';

/**
 * True when some topic name matches both filters. A filter starting with a wildcard matches no topic
 * starting with `$` [MQTT-4.7.2-1], so `#` and `$SYS/#` do not intersect.
 */
export function intersects(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  if ((isWild(x[0]!) && y[0]!.startsWith('$')) || (isWild(y[0]!) && x[0]!.startsWith('$'))) return false;
  let i = 0;
  for (;;) {
    const p = x[i];
    const q = y[i];
    if (p === '#' || q === '#') return true; // the rest of the other filter matches some topic, and `#` takes it (also zero levels)
    if (p === undefined || q === undefined) return p === q;
    if (p !== '+' && q !== '+' && p !== q) return false;
    i++;
  }
}

/** True when every topic `inner` matches is matched by `outer` (a deny rule `outer` shuts all of `inner`). */
export function covers(outer: string, inner: string): boolean {
  const x = outer.split('/');
  const y = inner.split('/');
  // A leading wildcard in `outer` does not reach `$` topics; `inner` may still match some.
  if (isWild(x[0]!) && y[0]!.startsWith('$')) return false;
  let i = 0;
  for (;;) {
    const p = x[i];
    const q = y[i];
    if (p === '#') return true;
    if (p === undefined) return q === undefined;
    if (q === undefined) return false;
    if (q === '#') return false;
    if (p === '+') {
      i++;
      continue;
    }
    if (q === '+' || p !== q) return false;
    i++;
  }
}
