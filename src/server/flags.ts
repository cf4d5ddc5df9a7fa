// The gateway's command-line flags: each names one config key, whose type, meaning and default come from config/schema.ts. Imports the config schema.
//
// To add a flag for a key: one entry below ([flag, dotted key]). Any key without its own flag can still be set
// with `--set key=value`. Values are parsed like GATEWAY_* variables (config/validate.ts parseText).
import { CONFIG_KEYS, ConfigError, nearestKey, parseKeyText, setDotted, type ConfigKey, type ConfigLayer } from '../../config/schema.ts';

export const KEY_FLAGS: readonly (readonly [flag: string, key: string])[] = [
  ['mqtt-port', 'mqtt.port'],
  ['stomp-port', 'stomp.port'],
  ['http-port', 'http.port'],
  ['data-dir', 'dataDir'],
  ['log-level', 'log.level'],
  ['log-format', 'log.format'],
  ['tls-cert', 'tls.cert'],
  ['tls-key', 'tls.key'],
  ['tls-ca', 'tls.ca'],
  ['password-file', 'auth.passwordFile'],
  ['acl-file', 'auth.aclFile'],
];

/** Flags that are not config keys. */
export const OTHER_FLAGS: readonly (readonly [flag: string, arg: string, meaning: string])[] = [
  ['config', 'FILE', 'YAML or JSON config file (any key; see docs/CONFIG.md)'],
  ['set', 'KEY=VALUE', 'set any config key by its dotted name, e.g. --set persistence.flush=always (repeatable)'],
  ['help', '', 'print this help and exit'],
  ['version', '', 'print the version and exit'],
];

export class UsageError extends Error {}

const byPath = new Map(CONFIG_KEYS.map((k) => [k.path, k]));

export function flagKey(flag: string): ConfigKey {
  const path = KEY_FLAGS.find(([f]) => f === flag)?.[1];
  const key = path === undefined ? undefined : byPath.get(path);
  if (!key) throw new Error(`flag --${flag} names no config key`);
  return key;
}

export interface ParsedArgs {
  help: boolean;
  version: boolean;
  configFile?: string;
  /** Config keys set on the command line, validated with the other sources. */
  layer: ConfigLayer;
}

/** Parses `--flag value` / `--flag=value`; throws UsageError for an unknown flag, ConfigError for a bad value. */
export function parseFlags(argv: readonly string[]): ParsedArgs {
  const values: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  const out: ParsedArgs = { help: false, version: false, layer: { source: 'command line', values, origins } };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') { out.help = true; continue; }
    if (arg === '-V' || arg === '--version') { out.version = true; continue; }
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const known = name === 'config' || name === 'set' || KEY_FLAGS.some(([f]) => f === name);
    if (!known) {
      const all = [...KEY_FLAGS.map(([f]) => f), ...OTHER_FLAGS.map(([f]) => f)];
      const near = all.find((f) => f.startsWith(name) || name.startsWith(f));
      throw new UsageError(`unknown option --${name}${near ? `; did you mean --${near}?` : ''}`);
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (name === 'config') {
      out.configFile = value;
    } else if (name === 'set') {
      const at = value.indexOf('=');
      if (at <= 0) throw new UsageError(`--set needs KEY=VALUE, got ${JSON.stringify(value)}`);
      const path = value.slice(0, at);
      const key = byPath.get(path);
      if (!key) {
        const near = nearestKey(path);
        throw new ConfigError(path, `unknown key${near ? `; did you mean ${near}?` : ''}`, '--set');
      }
      setDotted(values, path, parseKeyText(key, value.slice(at + 1), `--set ${path}`));
      origins.set(path, `--set ${path}`);
    } else {
      const key = flagKey(name);
      setDotted(values, key.path, parseKeyText(key, value, `--${name}`));
      origins.set(key.path, `--${name}`);
    }
  }
  return out;
}
