// Reads the files behind auth and TLS (password file, ACL file, PEM files) into the core's settings; used at start and on SIGHUP. Imports node:fs, core and config.
import { readFileSync } from 'node:fs';
import { ConfigError, type GatewayConfig } from '../../config/schema.ts';
import { AclParseError, parseAcl } from '../core/acl.ts';
import type { AuthSettings } from '../core/auth.ts';
import { isKnownHash, parsePasswordFile } from '../core/password.ts';
import type { TlsFiles } from '../../protocols/tcp.ts';

function read(key: string, path: string): string | Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(key, `cannot read ${path}: ${(err as Error).message}`);
  }
}

/** What loading found worth a log line (never a password or a hash). */
export interface AuthFileReport {
  users?: number;
  /** Users whose stored value is not a `$6$` / `$7$` hash (they can never log in). */
  unusable?: string[];
  badLines?: number[];
  aclUsers?: number;
  aclPatterns?: number;
}

/** Builds AuthSettings from the config's files; throws ConfigError naming the key of an unreadable or malformed file. */
export function loadAuthSettings(config: GatewayConfig): { settings: AuthSettings; report: AuthFileReport } {
  const a = config.auth;
  const settings: AuthSettings = {
    allowAnonymous: a.allowAnonymous,
    useIdentityAsUsername: config.tls.useIdentityAsUsername,
    adminToken: config.http.adminToken,
  };
  const report: AuthFileReport = {};
  if (a.passwordFile !== '') {
    const parsed = parsePasswordFile(read('auth.passwordFile', a.passwordFile).toString('utf8'));
    settings.passwords = parsed.users;
    report.users = parsed.users.size;
    const unusable = [...parsed.users].filter(([, h]) => !isKnownHash(h)).map(([u]) => u);
    if (unusable.length) report.unusable = unusable;
    if (parsed.badLines.length) report.badLines = parsed.badLines;
  }
  if (a.aclFile !== '') {
    try {
      settings.acl = parseAcl(read('auth.aclFile', a.aclFile).toString('utf8'));
    } catch (err) {
      if (err instanceof AclParseError) throw new ConfigError('auth.aclFile', `${a.aclFile} ${err.message}`);
      throw err;
    }
    report.aclUsers = settings.acl.users.size;
    report.aclPatterns = settings.acl.patterns.length;
  }
  return { settings, report };
}

/** Reads the PEM files named by tls.*; a missing file stops the start naming the key. */
export function loadTlsFiles(config: GatewayConfig): TlsFiles | undefined {
  const t = config.tls;
  if (t.cert === '') return undefined;
  const files: TlsFiles = {
    cert: read('tls.cert', t.cert) as Buffer,
    key: read('tls.key', t.key) as Buffer,
    requireCertificate: t.requireCertificate,
    minVersion: t.minVersion,
    ciphers: t.ciphers,
  };
  if (t.ca !== '') files.ca = read('tls.ca', t.ca) as Buffer;
  return files;
}
