// JetStream alone, no gateway: does a three-server cluster keep every acknowledged publish of R3 streams when a server is killed -9 under load? Imports node builtins, @nats-io/transport-node, @nats-io/jetstream and scripts/cluster-dev.ts.
//
// Usage: node --import tsx loadtest/jetstream-kill-check.ts --iterations N [--victim leader|client|seeded]
//        [--streams S] [--clients C] [--followers] [--msgid [--dupes]] [--seed X] [--dir DIR]
// S streams `kc<i>` (file storage, replicas 3, subjects `kc<i>.>`), like the gateway's log partitions; C client
// connections, each publishing numbered payloads round robin over the streams with 64 PubAcks outstanding; with
// --followers, a headers-only ordered consumer per stream and client (as each gateway node has); with --msgid, a
// Nats-Msg-Id on every publish and a failed one published again with it (--dupes: every one twice). Every PubAck is
// recorded (stream, sequence -> payload). Per iteration: kill -9 of stream kc0's leader (`leader`, default), of the
// server client 0 is connected to (`client`), or of one from the seed (`seeded`); load on for 3 s (failed publishes
// are not counted); the server started again; wait until every follower is current (one failure at a time); then
// every acknowledged sequence is read back at its leader and must hold its own payload. One line per iteration and
// a summary; exit 1 when an acknowledged sequence lost its payload (missing, or another one in its place).
// docs/CLUSTER.md ("Kill loop") has the runs and why this exists.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager, StorageType, type ConsumerMessages } from '@nats-io/jetstream';
import { startNatsServers, waitForJetStream, waitForReplicasCurrent } from '../scripts/cluster-dev.ts';
import { answerHelp } from './help.ts';
import { prng } from '../test/helpers/prng.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const HELP = `usage: node --import tsx loadtest/jetstream-kill-check.ts [options]
JetStream alone (3 nats-servers, R3 streams, no gateway): kill -9 under publishes, then every acknowledged sequence
must still hold its payload.
  --iterations N      kills (default 10)
  --victim WHO        leader (of stream kc0, default) | client (the server client 0 is connected to) | seeded
  --streams S         streams, like the gateway's log partitions (default 1)
  --clients C         client connections publishing (default 1)
  --followers         a headers-only ordered consumer per stream and client, as each gateway node has
  --msgid             every publish carries a Nats-Msg-Id, and a failed one is published again with it (as the
                      gateway's inbound QoS 2 resends are)
  --dupes             with --msgid: every message is published twice, the second a duplicate JetStream drops
  --replay-old N      with --msgid: after each restart, publish the last N acknowledged messages again with their
                      Nats-Msg-Id (duplicates of records the restarted server stored before it died)
  --seed X            seed for --victim seeded (default 1)
  --dir DIR           parent directory of the servers' files (default: a new temp dir, removed)
exit code: 0 when every acknowledged sequence kept its payload, 1 otherwise, 2 on a harness error.
`;

async function main(): Promise<void> {
  answerHelp(HELP);
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string', default: '10' },
      victim: { type: 'string', default: 'leader' },
      streams: { type: 'string', default: '1' },
      clients: { type: 'string', default: '1' },
      followers: { type: 'boolean', default: false },
      msgid: { type: 'boolean', default: false },
      dupes: { type: 'boolean', default: false },
      'replay-old': { type: 'string', default: '0' },
      seed: { type: 'string', default: '1' },
      dir: { type: 'string' },
    },
  });
  const n = Number(values.iterations);
  const nStreams = Number(values.streams);
  const nClients = Number(values.clients);
  if (!Number.isInteger(n) || n < 1) throw new Error('--iterations must be a positive integer');
  if (!Number.isInteger(nStreams) || nStreams < 1 || nStreams > 16) throw new Error('--streams must be 1..16');
  if (!Number.isInteger(nClients) || nClients < 1 || nClients > 8) throw new Error('--clients must be 1..8');
  if (values.victim !== 'leader' && values.victim !== 'client' && values.victim !== 'seeded') throw new Error('--victim must be leader, client or seeded');
  const rnd = prng(Number(values.seed));
  const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'js-kill-'));
  const cluster = await startNatsServers({ count: 3, dir });
  const conns: NatsConnection[] = [];
  const follows: ConsumerMessages[] = [];
  for (let c = 0; c < nClients; c++) conns.push(await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 200 }));
  const jsm = await jetstreamManager(conns[0]!);
  const names = Array.from({ length: nStreams }, (_, i) => `kc${i}`);
  for (const name of names) await jsm.streams.add({ name, subjects: [`${name}.>`], storage: StorageType.File, num_replicas: 3 });
  if (values.followers) {
    for (const nc of conns) {
      const js = jetstream(nc);
      for (const name of names) {
        const consumer = await js.consumers.get(name, { deliver_policy: DeliverPolicy.New, headers_only: true });
        follows.push(await consumer.consume({ callback: () => undefined }));
      }
    }
  }
  /** `<stream> <seq>` -> payload. */
  const acked = new Map<string, string>();
  let next = 0;
  let failed = 0;
  let stop = false;
  const pump = async (c: number): Promise<void> => {
    const js = jetstream(conns[c]!);
    let retry: { stream: string; body: string } | undefined;
    while (!stop) {
      const i = next++;
      const { stream, body } = retry ?? { stream: names[i % nStreams]!, body: `c${c}m${i}` };
      retry = undefined;
      try {
        const ack = await js.publish(`${stream}.x`, body, { timeout: 2000, ...(values.msgid ? { msgID: body } : {}) });
        if (!ack.duplicate) acked.set(`${ack.stream} ${ack.seq}`, body);
        if (values.msgid && values.dupes) await js.publish(`${stream}.x`, body, { timeout: 2000, msgID: body });
      } catch {
        failed++;
        if (values.msgid) retry = { stream, body };
        await sleep(50);
      }
    }
  };
  let bad = 0;
  try {
    for (let it = 0; it < n; it++) {
      stop = false;
      const workers = conns.flatMap((_, c) => Array.from({ length: 64 }, () => pump(c)));
      await sleep(1500);
      const info = await jsm.streams.info(names[0]!);
      const name = values.victim === 'leader' ? info.cluster?.leader : values.victim === 'client' ? conns[0]!.info?.server_name : cluster.servers[Math.floor(rnd() * 3)]!.name;
      const victim = cluster.servers.find((s) => s.name === name);
      if (!victim) throw new Error(`no ${values.victim} server: ${JSON.stringify(info.cluster)}`);
      const wasLeader = victim.name === info.cluster?.leader;
      await victim.kill9();
      await sleep(3000);
      stop = true;
      await Promise.all(workers);
      await victim.start();
      await waitForJetStream(cluster.servers, 60_000);
      await waitForReplicasCurrent(cluster.servers, 90_000);
      const replay = Number(values['replay-old']);
      if (values.msgid && replay > 0) {
        const js = jetstream(conns[0]!);
        const old = [...acked.entries()].slice(-replay);
        let stored = 0;
        for (let k = 0; k < old.length; k += 64) {
          const acks = await Promise.all(old.slice(k, k + 64).map(([key, body]) => js.publish(`${key.split(' ')[0]!}.x`, body, { timeout: 2000, msgID: body }).catch(() => undefined)));
          for (const a of acks) if (a && !a.duplicate) stored++;
        }
        if (stored > 0) process.stdout.write(`  replay: ${stored} of ${old.length} old messages stored again (not seen as duplicates)\n`);
      }
      const wrong: string[] = [];
      const keys = [...acked.keys()];
      for (let k = 0; k < keys.length; k += 64) {
        const got = await Promise.all(keys.slice(k, k + 64).map(async (key) => {
          const [stream, seq] = key.split(' ') as [string, string];
          const m = await jsm.streams.getMessage(stream, { seq: Number(seq) });
          return [key, m?.string() ?? '(missing)'] as const;
        }));
        for (const [key, body] of got) if (body !== acked.get(key)) wrong.push(`${key}:${acked.get(key)}->${body}`);
      }
      bad += wrong.length;
      process.stdout.write(`iteration ${it + 1}: killed ${victim.name} (${wasLeader ? 'kc0 leader' : 'kc0 follower'}) acked=${acked.size} failed=${failed} wrong=${wrong.length}${wrong.length ? ` ${wrong.slice(0, 6).join(' ')}` : ''}\n`);
      for (const w of wrong) acked.delete(w.slice(0, w.indexOf(':'))); // reported once
    }
  } finally {
    stop = true;
    for (const f of follows) f.stop();
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    await cluster.stop();
    if (values.dir === undefined) rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`summary: iterations=${n} streams=${nStreams} clients=${nClients} followers=${values.followers} msgid=${values.msgid} dupes=${values.dupes} acknowledged=${acked.size + bad} lost-or-replaced=${bad}\n`);
  process.exit(bad === 0 ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(2);
});
