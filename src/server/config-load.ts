// Loads the gateway config from its three sources, file < environment (GATEWAY_*) < command line, each validated. Imports config/schema.ts, config/validate.ts, yaml, node builtins.
//
// File: `--config FILE` (.json is JSON, anything else YAML); a missing or unreadable file and a syntax error name
// the file (and the line). Environment: GATEWAY_<PATH> for every key (config/validate.ts envName); an unknown
// GATEWAY_* variable is a warning with the nearest valid name, not an error, because platforms inject their own
// (Kubernetes adds GATEWAY_PORT, GATEWAY_SERVICE_HOST, ... for a service named "gateway"). GATEWAY_TEST_* is left
// to the test suites.
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { CONFIG_KEYS, parseKeyText, resolveLayers, setDotted, type ConfigLayer, type GatewayConfig } from '../../config/schema.ts';
import { closest } from '../../config/validate.ts';

/** A config file that cannot be read or parsed: exit 2, one line, no stack. */
export class ConfigFileError extends Error {}

export function readConfigFile(file: string): ConfigLayer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigFileError(`config file ${file} does not exist (given by --config)`);
    if (code === 'EISDIR') throw new ConfigFileError(`config file ${file} is a directory; --config needs a YAML or JSON file`);
    throw new ConfigFileError(`cannot read config file ${file}: ${(e as Error).message}`);
  }
  let values: unknown;
  if (file.endsWith('.json')) {
    try {
      values = JSON.parse(text);
    } catch (e) {
      const msg = (e as Error).message;
      const pos = /position (\d+)/.exec(msg);
      let where = '';
      if (pos) {
        const before = text.slice(0, Number(pos[1]));
        const line = before.split('\n').length;
        where = ` at line ${line}, column ${Number(pos[1]) - before.lastIndexOf('\n')}`;
      }
      throw new ConfigFileError(`config file ${file}: JSON syntax error${where}: ${msg}`);
    }
  } else {
    const doc = YAML.parseDocument(text);
    const err = doc.errors[0];
    if (err) {
      const at = err.linePos?.[0];
      throw new ConfigFileError(`config file ${file}: YAML syntax error${at ? ` at line ${at.line}, column ${at.col}` : ''}: ${err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
    }
    values = doc.toJS() as unknown;
  }
  return { source: file, values: values ?? {} };
}

export interface EnvLayer {
  layer: ConfigLayer;
  /** One line per GATEWAY_* variable that names no key. */
  warnings: string[];
}

export function envLayer(env: NodeJS.ProcessEnv): EnvLayer {
  const values: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  const warnings: string[] = [];
  const byEnv = new Map(CONFIG_KEYS.map((k) => [k.env, k]));
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith('GATEWAY_') || name.startsWith('GATEWAY_TEST_') || text === undefined) continue;
    const key = byEnv.get(name);
    if (!key) {
      const near = closest(name, [...byEnv.keys()]);
      warnings.push(`environment variable ${name} names no config key; ignored${near ? ` (did you mean ${near}?)` : ''}`);
      continue;
    }
    setDotted(values, key.path, parseKeyText(key, text, name));
    origins.set(key.path, name);
  }
  return { layer: { source: 'environment', values, origins }, warnings };
}

export interface LoadedConfig {
  config: GatewayConfig;
  warnings: string[];
}

/** file < environment < command line; every source validated before the merge. */
export function loadConfig(configFile: string | undefined, env: NodeJS.ProcessEnv, flags: ConfigLayer): LoadedConfig {
  const layers: ConfigLayer[] = [];
  if (configFile !== undefined) layers.push(readConfigFile(configFile));
  const fromEnv = envLayer(env);
  layers.push(fromEnv.layer, flags);
  return { config: resolveLayers(layers), warnings: fromEnv.warnings };
}
