// Test helper: several in-process gateways over one in-memory cluster backend (memory-cluster.ts), on ephemeral ports, and a kill that stops a node without saving; clusterSuite sets one up for a describe. Imports node:test, the gateway, client and memory cluster helpers.
import { after, before } from 'node:test';
import { MemoryCluster } from './memory-cluster.ts';
import { ClientPool } from './mqtt-clients.ts';
import type { ClusterBackend } from '../../src/core/persistence.ts';
import { startGateway, type TestGateway } from './gateway.ts';
import type { GatewayConfig } from '../../config/schema.ts';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** A node's backend; `kill` (the memory backend has it) stops it at once, as a kill -9 would. */
export type TestNode = ClusterBackend & { kill?(): void };

export interface ClusterGateway extends TestGateway {
  node: TestNode;
  /** As kill -9: the node's backend stops at once (nothing more written), then its listeners close. */
  kill(): Promise<void>;
}

/** Short timings so that death detection and handoff waits fit in a test (death after 1.5 s: a busy test machine can delay 100 ms timers a lot). */
export const TEST_TIMINGS = { heartbeatMs: 100, deadAfterMs: 1500, handoffTimeoutMs: 1500, adoptAfterDeadMs: 1000 };

export interface TestCluster {
  cluster: MemoryCluster;
  gateways: ClusterGateway[];
  /** Starts one more gateway (node id n<k>, or `nodeId` to start a stopped node again over the shared data). */
  add(nodeId?: string): Promise<ClusterGateway>;
  close(): Promise<void>;
}

/**
 * `count` gateways over one shared backend: the in-memory cluster by default, or the nodes `openNode` gives
 * (e.g. the NATS backend: the same suites then run against it; `partitions` must match its partitions).
 */
export async function startCluster(
  count: number,
  overrides: DeepPartial<GatewayConfig> = {},
  partitions = 4,
  openNode?: (nodeId: string) => Promise<TestNode>,
): Promise<TestCluster> {
  const cluster = new MemoryCluster({ partitions });
  const gateways: ClusterGateway[] = [];
  let n = 0;
  const add = async (nodeId?: string): Promise<ClusterGateway> => {
    const id = nodeId ?? `n${++n}`;
    const node: TestNode = openNode ? await openNode(id) : cluster.node(id);
    const tg = await startGateway({ ...overrides, persistence: { ...(overrides.persistence ?? {}), partitions } } as DeepPartial<GatewayConfig>, undefined, { backend: node, cluster: TEST_TIMINGS });
    const g: ClusterGateway = Object.assign(tg, {
      node,
      async kill() {
        node.kill?.();
        await tg.close().catch(() => undefined);
      },
    });
    gateways.push(g);
    return g;
  };
  for (let i = 0; i < count; i++) await add();
  return {
    cluster,
    gateways,
    add,
    async close() {
      await Promise.all(gateways.map((g) => g.close().catch(() => undefined)));
    },
  };
}

/**
 * Inside a describe: `count` gateways over one cluster started before its tests and closed after them (the pool's
 * clients first). `cluster()` is the running cluster.
 */
export function clusterSuite(count: number, overrides: DeepPartial<GatewayConfig> = {}, partitions = 4): { cluster(): TestCluster; pool: ClientPool } {
  let c: TestCluster | undefined;
  const pool = new ClientPool();
  before(async () => {
    c = await startCluster(count, overrides, partitions);
  });
  after(async () => {
    await pool.closeAll();
    await c?.close();
  });
  return { pool, cluster: () => c! };
}
