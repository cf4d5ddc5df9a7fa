// Reads the PEM files of an MQTT bridge's `tls` section, naming the config key of one that cannot be read. Imports node:fs and the bridge config types.
import { readFileSync } from 'node:fs';
import { BridgeConfigProblem, type MqttBridgeConfig } from './config.ts';

export interface BridgeTlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** The configured files (empty paths skipped); throws BridgeConfigProblem naming `<key>.tls.<ca|cert|key>`. */
export function readBridgeTlsFiles(config: MqttBridgeConfig, key: string): BridgeTlsFiles {
  const out: BridgeTlsFiles = {};
  const t = config.tls;
  for (const k of ['ca', 'cert', 'key'] as const) {
    if (t[k] === '') continue;
    try {
      out[k] = readFileSync(t[k]);
    } catch (err) {
      throw new BridgeConfigProblem(`${key}.tls.${k}`, `cannot read ${JSON.stringify(t[k])}: ${(err as Error).message}`);
    }
  }
  return out;
}
