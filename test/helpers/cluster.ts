// Test helper: several in-process gateways over one in-memory cluster backend (memory-cluster.ts), on ephemeral ports, and a kill that stops a node without saving. Imports the gateway helper and the memory cluster.
import { MemoryCluster, type MemoryNode } from './memory-cluster.ts';
import { startGateway, type TestGateway } from './gateway.ts';
import type { GatewayConfig } from '../../config/schema.ts';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export interface ClusterGateway extends TestGateway {
  node: MemoryNode;
  /** As kill -9: the node's backend stops at once (nothing more written), then its listeners close. */
  kill(): Promise<void>;
}

/** Short timings so that death detection and handoff waits fit in a test (death after 1.5 s: a busy test machine can delay 100 ms timers a lot). */
export const TEST_TIMINGS = { heartbeatMs: 100, deadAfterMs: 1500, handoffTimeoutMs: 1500 };

export interface TestCluster {
  cluster: MemoryCluster;
  gateways: ClusterGateway[];
  /** Starts one more gateway (node id n<k>, or `nodeId` to start a stopped node again over the shared data). */
  add(nodeId?: string): Promise<ClusterGateway>;
  close(): Promise<void>;
}

export async function startCluster(count: number, overrides: DeepPartial<GatewayConfig> = {}, partitions = 4): Promise<TestCluster> {
  const cluster = new MemoryCluster({ partitions });
  const gateways: ClusterGateway[] = [];
  let n = 0;
  const add = async (nodeId?: string): Promise<ClusterGateway> => {
    const node = cluster.node(nodeId ?? `n${++n}`);
    const tg = await startGateway({ ...overrides, persistence: { ...(overrides.persistence ?? {}), partitions } } as DeepPartial<GatewayConfig>, undefined, { backend: node, cluster: TEST_TIMINGS });
    const g: ClusterGateway = Object.assign(tg, {
      node,
      async kill() {
        node.kill();
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
