// Runs the ClusterBackend contract (test/contract/cluster.contract.ts) against the NATS backend: two backend instances = two nodes on one real nats-server -js. Imports the contract, the backend and the cluster helper.
import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterContract } from '../contract/cluster.contract.ts';
import { openNatsBackend } from '../../src/server/nats-backend.ts';
import type { ClusterBackend } from '../../src/core/persistence.ts';
import { startNatsServers, type NatsCluster } from '../helpers/nats-cluster.ts';

let nats: NatsCluster | undefined;
const root = mkdtempSync(join(tmpdir(), 'nats-cluster-contract-'));
before(async () => { nats = await startNatsServers({ count: 1, dir: root }); });
after(async () => { await nats?.stop(); rmSync(root, { recursive: true, force: true }); });

let run = 0;
clusterContract('NATS JetStream, one server, replicas 1', async (n) => {
  const prefix = `cc${++run}`; // fresh data per test
  const nodes: ClusterBackend[] = [];
  for (let i = 0; i < n; i++) nodes.push(await openNatsBackend({ servers: nats!.urls, nodeId: `node-${i}`, prefix, partitions: 2, replicas: 1 }));
  return nodes;
});
