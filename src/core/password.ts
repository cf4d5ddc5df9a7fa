// Mosquitto password files: parse `user:hash` lines, verify `$6$` / `$7$` hashes, make `$7$` hashes. Imports node:crypto only.
//
// Format (as mosquitto_passwd writes it, one user a line, `#` comments and blank lines ignored):
//   user:$6$<salt base64>$<sha512(password || salt) base64>                (mosquitto_passwd -H sha512, Mosquitto <= 1.6)
//   user:$7$<iterations>$<salt base64>$<pbkdf2-hmac-sha512(password, salt, iterations, 64) base64>   (default since 2.0)
// Salts are 12 random bytes; Mosquitto 2.0 writes 101 iterations. A line whose hash is in neither form
// (e.g. a plain-text password file not yet converted with `mosquitto_passwd -U`) never verifies.
import { createHash, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export type PasswordDb = ReadonlyMap<string, string>;

/** Iterations `$7$` hashes are written with (Mosquitto 2.0's value is 101; more is slower to brute-force). */
export const DEFAULT_ITERATIONS = 101;
const SALT_BYTES = 12;
const HASH_BYTES = 64;
/** Largest iteration count accepted from a file: a hostile file must not stall every CONNECT. */
const MAX_ITERATIONS = 10_000_000;

export interface ParsedPasswordFile {
  users: Map<string, string>;
  /** 1-based numbers of lines that are neither comments nor `user:hash` (reported, skipped). */
  badLines: number[];
}

/** Parses a password file's text. The username is everything before the first `:` on the line. */
export function parsePasswordFile(text: string): ParsedPasswordFile {
  const users = new Map<string, string>();
  const badLines: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      badLines.push(i + 1);
      continue;
    }
    users.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return { users, badLines };
}

/** Serialises users back into the file format (order kept). */
export function formatPasswordFile(users: ReadonlyMap<string, string>): string {
  let out = '';
  for (const [u, h] of users) out += `${u}:${h}\n`;
  return out;
}

interface Parsed {
  kind: 6 | 7;
  iterations: number;
  salt: Buffer;
  hash: Buffer;
}

function parseHash(stored: string): Parsed | undefined {
  const p = stored.split('$');
  // '' , '6', salt, hash  |  '', '7', iterations, salt, hash
  if (p[0] !== '') return undefined;
  if (p[1] === '6' && p.length === 4) return { kind: 6, iterations: 0, salt: Buffer.from(p[2]!, 'base64'), hash: Buffer.from(p[3]!, 'base64') };
  if (p[1] === '7' && p.length === 5 && /^\d{1,8}$/.test(p[2]!)) {
    const iterations = Number(p[2]);
    if (iterations < 1 || iterations > MAX_ITERATIONS) return undefined;
    return { kind: 7, iterations, salt: Buffer.from(p[3]!, 'base64'), hash: Buffer.from(p[4]!, 'base64') };
  }
  return undefined;
}

function same(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
}

/** True when `password` matches a stored `$6$` / `$7$` hash; false for any other stored form. */
export async function verifyPassword(stored: string, password: Buffer): Promise<boolean> {
  const h = parseHash(stored);
  if (!h) return false;
  if (h.kind === 6) return same(createHash('sha512').update(password).update(h.salt).digest(), h.hash);
  const derived = await new Promise<Buffer>((resolve, reject) =>
    pbkdf2(password, h.salt, h.iterations, h.hash.length || HASH_BYTES, 'sha512', (err, key) => (err ? reject(err) : resolve(key))),
  );
  return same(derived, h.hash);
}

/** A `$7$` PBKDF2-SHA512 hash as Mosquitto 2 writes it (12-byte random salt, 64-byte key). */
export function hashPassword(password: string, iterations = DEFAULT_ITERATIONS, salt: Buffer = randomBytes(SALT_BYTES)): string {
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, HASH_BYTES, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** True when the stored value is a hash this module can verify. */
export function isKnownHash(stored: string): boolean {
  return parseHash(stored) !== undefined;
}
