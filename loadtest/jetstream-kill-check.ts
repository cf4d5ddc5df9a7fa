// JetStream alone, no gateway: does a three-server cluster keep every acknowledged publish of an R3 stream when the stream leader is killed -9 under load? Imports node builtins, @nats-io/transport-node, @nats-io/jetstream and scripts/cluster-dev.ts.
//
// Usage: node --import tsx loadtest/jetstream-kill-check.ts --iterations N [--victim leader|client] [--dir DIR]
// One stream `kc` (file storage, replicas 3, subject `kc.>`); one client publishes numbered payloads with 64
// PubAcks outstanding and records every PubAck (sequence -> payload). Per iteration: kill -9 of the stream's
// leader (`--victim leader`, default) or of the server the client is connected to (`client`), load on for 3 s (failed publishes are not counted), the server started again, wait until every follower
// is current (one failure at a time), then every acknowledged sequence is read back at the leader and must hold its
// own payload. Prints one line per iteration and a summary; exit 1 when an acknowledged sequence lost its payload
// (missing, or another payload in its place) - the cluster kill loop's `--kill nats` failures come from here when
// this fails too (docs/CLUSTER.md, "Kill loop").
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { startNatsServers, waitForJetStream, waitForReplicasCurrent } from '../scripts/cluster-dev.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { iterations: { type: 'string', default: '10' }, victim: { type: 'string', default: 'leader' }, dir: { type: 'string' } } });
  if (values.victim !== 'leader' && values.victim !== 'client') throw new Error('--victim must be leader or client');
  const n = Number(values.iterations);
  if (!Number.isInteger(n) || n < 1) throw new Error('--iterations must be a positive integer');
  const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'js-kill-'));
  const cluster = await startNatsServers({ count: 3, dir });
  const nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await jsm.streams.add({ name: 'kc', subjects: ['kc.>'], storage: StorageType.File, num_replicas: 3 });
  const acked = new Map<number, string>();
  let next = 0;
  let failed = 0;
  let stop = false;
  const pump = async (): Promise<void> => {
    while (!stop) {
      const body = `m${next++}`;
      try {
        const ack = await js.publish('kc.x', body, { timeout: 2000 });
        if (!ack.duplicate) acked.set(ack.seq, body);
      } catch {
        failed++;
        await sleep(50);
      }
    }
  };
  let bad = 0;
  try {
    for (let i = 0; i < n; i++) {
      stop = false;
      const workers = Array.from({ length: 64 }, () => pump());
      await sleep(1500);
      const info = await jsm.streams.info('kc');
      const name = values.victim === 'leader' ? info.cluster?.leader : nc.info?.server_name;
      const leader = cluster.servers.find((s) => s.name === name);
      if (!leader) throw new Error(`no ${values.victim} server for kc: ${JSON.stringify(info.cluster)}`);
      const wasLeader = leader.name === info.cluster?.leader;
      await leader.kill9();
      await sleep(3000);
      stop = true;
      await Promise.all(workers);
      await leader.start();
      await waitForJetStream(cluster.servers, 60_000);
      await waitForReplicasCurrent(cluster.servers, 90_000);
      const wrong: string[] = [];
      const seqs = [...acked.keys()];
      for (let k = 0; k < seqs.length; k += 64) {
        const got = await Promise.all(seqs.slice(k, k + 64).map((seq) => jsm.streams.getMessage('kc', { seq }).then((m) => [seq, m?.string() ?? '(missing)'] as const)));
        for (const [seq, body] of got) if (body !== acked.get(seq)) wrong.push(`${seq}:${acked.get(seq)}->${body}`);
      }
      bad += wrong.length;
      process.stdout.write(`iteration ${i + 1}: killed ${leader.name} (${wasLeader ? 'leader' : 'follower'}${values.victim === 'client' ? ', the client\'s server' : ''}) acked=${acked.size} failed=${failed} wrong=${wrong.length}${wrong.length ? ` ${wrong.slice(0, 6).join(' ')}` : ''}\n`);
      for (const w of wrong) acked.delete(Number(w.split(':')[0])); // reported once
    }
  } finally {
    stop = true;
    await nc.close().catch(() => undefined);
    await cluster.stop();
    if (values.dir === undefined) rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`summary: iterations=${n} acknowledged=${acked.size + bad} lost-or-replaced=${bad}\n`);
  process.exit(bad === 0 ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(2);
});
