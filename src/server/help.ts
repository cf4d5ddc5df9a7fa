// The text of `iot-gateway --help`: subcommands, every flag with its key, variable and default from config/schema.ts, and where the full reference is. Imports the schema, flags and subcommands.
import { join } from 'node:path';
import { CONFIG_KEYS } from '../../config/schema.ts';
import { KEY_FLAGS, OTHER_FLAGS } from './flags.ts';
import { PACKAGE_ROOT } from './package-root.ts';
import { SUBCOMMANDS } from './subcommands.ts';

/** `s` padded to column n, or on its own line when longer. */
const pad = (s: string, n: number): string => (s.length >= n - 1 ? `${s}\n  ${' '.repeat(n)}` : s.padEnd(n));

export function helpText(version: string): string {
  const lines = [
    `iot-gateway ${version}: MQTT 3.1/3.1.1/5 and STOMP 1.0-1.2 over TCP, TLS and WebSocket, one durable log`,
    '',
    'Usage:',
    `  ${pad('iot-gateway [options]', 36)}start the gateway`,
    ...Object.entries(SUBCOMMANDS).map(([, c]) => `  ${pad(`iot-gateway ${c.usage}`, 36)}${c.summary}`),
    `  ${pad('iot-gateway help | --help | -h', 36)}this text`,
    `  ${pad('iot-gateway version | --version | -V', 36)}the version`,
    '',
    'Options:',
  ];
  const width = 24;
  const other = (flag: string, arg: string, meaning: string): void => {
    const short = flag === 'help' ? '-h, ' : flag === 'version' ? '-V, ' : '';
    lines.push(`  ${pad(`${short}--${flag}${arg ? ` ${arg}` : ''}`, width)}${meaning}`);
  };
  for (const [flag, arg, meaning] of OTHER_FLAGS.filter(([f]) => f === 'config' || f === 'set')) other(flag, arg, meaning);
  for (const [flag, path] of KEY_FLAGS) {
    const key = CONFIG_KEYS.find((k) => k.path === path)!;
    const arg = key.schema.type === 'integer' ? 'N' : key.schema.enum ? key.schema.enum.join('|') : key.path === 'dataDir' ? 'DIR' : 'FILE';
    const def = JSON.stringify(key.schema.default);
    lines.push(`  ${pad(`--${flag} ${arg.length > 12 ? 'X' : arg}`, width)}${key.schema.description ?? ''}`);
    lines.push(`  ${' '.repeat(width)}${arg.length > 12 ? `X: ${arg}; ` : ''}key ${key.path}, env ${key.env}, default ${def}`);
  }
  for (const [flag, arg, meaning] of OTHER_FLAGS.filter(([f]) => f !== 'config' && f !== 'set')) other(flag, arg, meaning);
  lines.push(
    '',
    'Configuration: every key can be set in the --config file, as an environment variable GATEWAY_<KEY>',
    '(dots become _, camelCase becomes SNAKE_CASE: GATEWAY_MQTT_PORT, GATEWAY_DATA_DIR, GATEWAY_PERSISTENCE_FLUSH)',
    'or with a flag / --set. Precedence: file < environment < flags; every source is validated, even a value',
    'that a later one overrides.',
    `Every key, its type, default and meaning: docs/CONFIG.md (${join(PACKAGE_ROOT, 'docs', 'CONFIG.md')}).`,
  );
  return lines.join('\n');
}
