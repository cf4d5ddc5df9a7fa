// The gateway's command line: reads --config and flag overrides, validates, starts, shuts down on signals. Imports the server and config.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pino from 'pino';
import YAML from 'yaml';
import { ConfigError, resolveConfig, setDotted, type GatewayConfig } from '../../config/schema.ts';
import { createGateway } from './gateway.ts';

const FLAGS: Record<string, { key: string; int: boolean }> = {
  'mqtt-port': { key: 'mqtt.port', int: true },
  'stomp-port': { key: 'stomp.port', int: true },
  'http-port': { key: 'http.port', int: true },
  'data-dir': { key: 'dataDir', int: false },
  'log-level': { key: 'log.level', int: false },
  'tls-cert': { key: 'tls.cert', int: false },
  'tls-key': { key: 'tls.key', int: false },
  'tls-ca': { key: 'tls.ca', int: false },
  'password-file': { key: 'auth.passwordFile', int: false },
  'acl-file': { key: 'auth.aclFile', int: false },
};

export function loadConfig(argv: string[]): GatewayConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      ...Object.fromEntries(Object.keys(FLAGS).map((f) => [f, { type: 'string' as const }])),
    },
    strict: true,
  });
  let raw: Record<string, unknown> = {};
  if (values.config) {
    const text = readFileSync(values.config, 'utf8');
    const parsed: unknown = values.config.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError('(root)', `${values.config} must hold an object`);
      raw = parsed as Record<string, unknown>;
    }
  }
  for (const [flag, { key, int }] of Object.entries(FLAGS)) {
    const v = (values as Record<string, string | undefined>)[flag];
    if (v === undefined) continue;
    if (int && !/^\d+$/.test(v)) throw new ConfigError(key, `--${flag} must be a whole number, got ${JSON.stringify(v)}`);
    setDotted(raw, key, int ? Number(v) : v);
  }
  return resolveConfig(raw);
}

async function main(): Promise<void> {
  let config: GatewayConfig;
  try {
    config = loadConfig(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const log = pino({ level: config.log.level });
  const gateway = createGateway(config, log);
  try {
    await gateway.start();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    log.fatal({ err }, 'gateway failed to start');
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    gateway.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Password file, ACL file and certificates are read again; connections stay.
  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP' }, 'reloading auth and tls files');
    gateway.reload();
  });
}

void main();
