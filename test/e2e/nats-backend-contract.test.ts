// Runs the StorageBackend contract (test/contract/backend.contract.ts) against the NATS JetStream backend on a real nats-server -js (single server, replicas 1). Imports the contract, the backend and the cluster helper.
import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { backendContract } from '../contract/backend.contract.ts';
import { openNatsBackend } from '../../src/server/nats-backend.ts';
import { startNatsServers, type NatsCluster } from '../helpers/nats-cluster.ts';

let nats: NatsCluster | undefined;
const root = mkdtempSync(join(tmpdir(), 'nats-contract-'));
before(async () => { nats = await startNatsServers({ count: 1, dir: root }); });
after(async () => { await nats?.stop(); rmSync(root, { recursive: true, force: true }); });

// One dir = one data set: the dir's name becomes the stream / bucket prefix, so reopening the dir reopens the data.
backendContract('NATS JetStream, one server, replicas 1', (dir) => openNatsBackend({
  servers: nats!.urls,
  nodeId: 'contract',
  prefix: `t_${basename(dir).replace(/[^A-Za-z0-9_-]/g, '_')}`,
  partitions: 3,
  replicas: 1,
}));
