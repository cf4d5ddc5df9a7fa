// Runs the StorageBackend and ClusterPort contracts against the in-memory cluster backend (test/helpers/memory-cluster.ts). Imports the contracts and the helper.
import { backendContract } from '../contract/backend.contract.ts';
import { clusterContract } from '../contract/cluster.contract.ts';
import { MemoryCluster, memoryNodeFor } from '../helpers/memory-cluster.ts';

backendContract('in-memory cluster node', async (dir) => memoryNodeFor(dir, 'n1', { partitions: 3 }));
clusterContract('in-memory cluster', async (n) => new MemoryCluster({ partitions: 3 }).open(n));
