// The NATS JetStream storage backend (issue 11): openNatsBackend(opts) -> a ClusterBackend shared by every gateway node on the same NATS. Imports ./nats/* and core persistence types.
//
// What is where (docs/CLUSTER.md has the full picture):
// - log: stream `<prefix>_log_p<N>` per partition, subjects `<prefix>.log.p<N>.<topic tokens>` (nats/log.ts,
//   record framing in nats/codec.ts); offset = stream sequence - 1; partitionFor = src/log's FNV-1a, as the local log.
// - state (sessions, cursors, group offsets, retained, QoS 2 receipts): KV bucket `<prefix>_state` (nats/state.ts),
//   keys encoded reversibly into the KV alphabet (nats/codec.ts).
// - cluster signals: core NATS `<prefix>.signal.<subject>` (nats/signals.ts).
// Readiness: isReady() / onReadyChange() follow the NATS connection; while it is down, append / put / delete reject
// at once with PERSIST_FAILED and /readyz fails. The client reconnects forever; service resumes by itself.
import { hostname } from 'node:os';
import type { ClusterBackend, ClusterPort } from '../core/persistence.ts';
import { NatsLink, type LinkEvents } from './nats/link.ts';
import { NatsLog } from './nats/log.ts';
import { NatsState } from './nats/state.ts';
import { NatsSignals } from './nats/signals.ts';

export interface NatsBackendOptions {
  /** NATS URLs (nats://host:port, tls://host:port). */
  servers: string[];
  /** This node's name, unique in the cluster and stable across restarts; '' = the host name. */
  nodeId?: string;
  /** Stream, bucket and subject prefix: [A-Za-z0-9_-]. Default 'iotgw'. */
  prefix?: string;
  /** Log partitions (fixed for the life of the data, like the local log's). */
  partitions: number;
  /** JetStream replicas of every stream and the bucket (1 for a single server; 3 for a three-server cluster). */
  replicas: number;
  /** Record age limit, ms; -1 = keep forever. Default -1. */
  retentionMs?: number;
  /** Bytes kept per partition; -1 = no limit. Default -1. */
  retentionBytes?: number;
  /** Largest framed record a stream accepts; -1 = the server's max_payload. Default -1. */
  maxRecordBytes?: number;
  username?: string;
  password?: string;
  token?: string;
  /** NATS .creds file (JWT + nkey seed). */
  credsFile?: string;
  /** PEM file paths for the NATS connection. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** Request and publish-ack timeout, ms. Default 5000. */
  timeoutMs?: number;
  /** Where connection changes are reported (pino child in the gateway). */
  events?: LinkEvents;
}

/** The NATS backend: a ClusterBackend plus readiness of its connection. */
export interface NatsBackend extends ClusterBackend {
  readonly log: NatsLog;
  readonly state: NatsState;
  /** Connected to NATS (writes are accepted). */
  isReady(): boolean;
  /** Called with false when NATS becomes unreachable and with true when it is back. Returns the unsubscribe function. */
  onReadyChange(listener: (ready: boolean) => void): () => void;
}

const silent: LinkEvents = { info() {}, warn() {} };

export function defaultNodeId(): string {
  return hostname().replace(/[^A-Za-z0-9_-]/g, '-') || 'node';
}

export async function openNatsBackend(opts: NatsBackendOptions): Promise<NatsBackend> {
  const prefix = opts.prefix ?? 'iotgw';
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) throw new Error(`cluster.prefix must be [A-Za-z0-9_-]+, got ${JSON.stringify(prefix)}`);
  if (opts.servers.length === 0) throw new Error('cluster.servers: at least one NATS URL is needed');
  const nodeId = opts.nodeId || defaultNodeId();
  const events = opts.events ?? silent;
  const link = await NatsLink.open({
    servers: opts.servers,
    name: `iot-gateway ${nodeId}`,
    ...(opts.username !== undefined ? { username: opts.username } : {}),
    ...(opts.password !== undefined ? { password: opts.password } : {}),
    ...(opts.token ? { token: opts.token } : {}),
    ...(opts.credsFile ? { credsFile: opts.credsFile } : {}),
    ...(opts.tls ? { tls: opts.tls } : {}),
    timeoutMs: opts.timeoutMs ?? 5000,
  }, events);
  let log: NatsLog | undefined;
  let state: NatsState | undefined;
  try {
    log = await NatsLog.open(link, {
      prefix,
      partitions: opts.partitions,
      replicas: opts.replicas,
      retentionMs: opts.retentionMs ?? -1,
      retentionBytes: opts.retentionBytes ?? -1,
      maxRecordBytes: opts.maxRecordBytes ?? -1,
    }, events);
    state = await NatsState.open(link, { prefix, replicas: opts.replicas }, events);
  } catch (err) {
    await log?.close().catch(() => undefined);
    await link.close();
    throw err;
  }
  const signals = new NatsSignals(link, prefix, nodeId);
  const st = state;
  const cluster: ClusterPort = {
    nodeId,
    watch: (p, fn) => st.watch(p, fn),
    versionOf: (k) => st.versionOf(k),
    putIfVersion: (k, v, version) => st.putIfVersion(k, v, version),
    signal: (s, d) => signals.signal(s, d),
    onSignal: (s, fn) => signals.onSignal(s, fn),
  };
  let closing: Promise<void> | undefined;
  const l = log;
  return {
    log: l,
    state: st,
    cluster,
    isReady: () => link.ready,
    onReadyChange: (fn) => link.onReady(fn),
    close(): Promise<void> {
      closing ??= (async () => {
        signals.close();
        await st.close();
        await l.close();
        await link.close();
      })();
      return closing;
    },
  };
}
