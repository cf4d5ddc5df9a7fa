// Test helper: starts a gateway in-process on ephemeral ports with a temp data dir, and stops it. Imports the server and config.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { resolveConfig, type GatewayConfig } from '../../config/schema.ts';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/server/gateway.ts';

export interface TestGateway {
  gateway: Gateway;
  config: GatewayConfig;
  mqttPort: number;
  mqttUrl: string;
  httpPort: number;
  stompPort: number;
  /** Set when the overrides configure tls.cert / tls.key. */
  mqttTlsPort?: number;
  stompTlsPort?: number;
  httpTlsPort?: number;
  dataDir: string;
  close(): Promise<void>;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Set GATEWAY_TEST_LOG=debug to see the gateway's logs while a suite runs. */
export async function startGateway(overrides: DeepPartial<GatewayConfig> = {}, dataDir?: string, gatewayOptions?: GatewayOptions): Promise<TestGateway> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'gw-test-'));
  const raw = structuredClone(overrides) as Record<string, Record<string, unknown>>;
  raw.mqtt = { host: '127.0.0.1', port: 0, ...(raw.mqtt ?? {}) };
  raw.stomp = { host: '127.0.0.1', port: 0, ...(raw.stomp ?? {}) };
  raw.http = { host: '127.0.0.1', port: 0, ...(raw.http ?? {}) };
  const config = resolveConfig({ ...raw, dataDir: dir });
  const log = pino({ level: process.env.GATEWAY_TEST_LOG ?? 'silent' });
  const gateway = createGateway(config, log, gatewayOptions);
  const ports = await gateway.start();
  return {
    gateway,
    config,
    mqttPort: ports.mqtt,
    mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
    httpPort: ports.http,
    stompPort: ports.stomp,
    mqttTlsPort: ports.mqttTls,
    stompTlsPort: ports.stompTls,
    httpTlsPort: ports.httpTls,
    dataDir: dir,
    async close() {
      await gateway.close();
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
