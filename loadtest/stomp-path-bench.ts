// STOMP connection-path benchmark: CPU per message of SEND -> broker -> MESSAGE through two real StompConnections in one process (no sockets, no persistence), optionally A/B against another StompConnection module. Imports the broker, the stomp connection and codec, and the option helper.
//
// Usage: node --import tsx loadtest/stomp-path-bench.ts [--n 30000] [--rounds 5] [--modes auto,receipt,ci] [--baseline FILE]
//   auto     SEND without receipt -> SUBSCRIBE ack:auto
//   receipt  SEND with a receipt on every frame -> ack:auto
//   ci       SEND with receipt -> ack:client-individual, prefetch-count 1000, ACK each
// Each round pushes n SEND frames (64-byte bodies) in reads of 100 frames into the publisher's stream and
// waits until the subscriber's connection wrote n MESSAGEs; the figure is process CPU (user + system) for
// the round, the median of --rounds. --baseline loads a second StompConnection (e.g. an older
// protocols/stomp/connection.ts copied next to the current one) and alternates rounds, printing new/old.
// The figures include the publisher and the broker's routing; on a shared machine compare ratios, not times.
import { Duplex } from 'node:stream';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Broker } from '../src/core/broker.ts';
import { encodeFrame } from '../protocols/stomp/frame.ts';
import { StompConnection, type StompCounters } from '../protocols/stomp/connection.ts';
import { stompOptions } from '../src/server/protocol-options.ts';
import { answerHelp } from './help.ts';

answerHelp(`usage: node --import tsx loadtest/stomp-path-bench.ts [options]
  --n N            messages per round (default 30000)
  --rounds N       rounds per mode and connection class (default 5)
  --modes LIST     auto, receipt, ci (default all)
  --baseline FILE  a module exporting another StompConnection, alternated with the current one`);

const { values } = parseArgs({ options: { n: { type: 'string' }, rounds: { type: 'string' }, modes: { type: 'string' }, baseline: { type: 'string' } } });
const N = Number(values.n ?? 30_000);
const ROUNDS = Number(values.rounds ?? 5);
if (!Number.isInteger(N) || N < 100 || !Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('--n must be an integer >= 100, --rounds >= 1');
type Mode = 'auto' | 'receipt' | 'ci';
const MODES = (values.modes ?? 'auto,receipt,ci').split(',') as Mode[];
for (const m of MODES) if (!['auto', 'receipt', 'ci'].includes(m)) throw new Error(`unknown mode ${m}`);

type ConnectionClass = typeof StompConnection;
const log = pino({ level: 'silent' });
const BATCH = 100;
const frame = (command: string, h: Record<string, string>, body = ''): Buffer => encodeFrame({ command, headers: Object.entries(h), body: Buffer.from(body) }, '1.2');
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const sink = (): Duplex => new Duplex({ read() {}, write: (_c, _e, cb) => cb() });

/** One round: CPU ms for n messages. */
async function round(Conn: ConnectionClass, mode: Mode, n: number): Promise<number> {
  const broker = new Broker({ shareStrategy: 'round-robin', logger: log });
  const counters: StompCounters = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, slowConsumerDrops: 0, errors: 0 };
  const opts = stompOptions();
  const subS = sink();
  const pubS = sink();
  const sub = new Conn(subS, broker, undefined, opts, log, counters, () => {});
  const pub = new Conn(pubS, broker, undefined, opts, log, counters, () => {});
  subS.push(frame('CONNECT', { 'accept-version': '1.2' }));
  pubS.push(frame('CONNECT', { 'accept-version': '1.2' }));
  await turn();
  subS.push(frame('SUBSCRIBE', { id: 's', destination: '/topic/bench', ack: mode === 'ci' ? 'client-individual' : 'auto', 'prefetch-count': '1000' }));
  await turn();
  const sends: Buffer[] = [];
  for (let i = 0; i < BATCH; i++) sends.push(frame('SEND', mode === 'auto' ? { destination: '/topic/bench' } : { destination: '/topic/bench', receipt: `r${i}` }, 'x'.repeat(64)));
  const chunk = Buffer.concat(sends);
  let acked = 0;
  const ackAll = (): void => {
    if (mode !== 'ci') return;
    const acks: Buffer[] = [];
    while (acked < counters.messagesOut) acks.push(frame('ACK', { id: String(++acked) })); // message ids count from 1 per connection
    if (acks.length !== 0) subS.push(Buffer.concat(acks));
  };
  const c0 = process.cpuUsage();
  for (let sent = 0; sent < n; sent += BATCH) {
    pubS.push(chunk);
    await turn();
    ackAll();
    await turn();
  }
  for (let i = 0; i < 10_000 && counters.messagesOut < n; i++) {
    ackAll();
    await turn();
  }
  const c = process.cpuUsage(c0);
  if (counters.messagesOut < n || counters.errors !== 0) throw new Error(`${mode}: ${counters.messagesOut} of ${n} delivered, ${counters.errors} errors`);
  sub.close('SERVER_SHUTTING_DOWN');
  pub.close('SERVER_SHUTTING_DOWN');
  await turn();
  return (c.user + c.system) / 1000;
}

const median = (a: number[]): number => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const baseline: ConnectionClass | undefined = values.baseline ? ((await import(resolve(values.baseline))) as { StompConnection: ConnectionClass }).StompConnection : undefined;
for (const mode of MODES) {
  const cur: number[] = [];
  const old: number[] = [];
  await round(StompConnection, mode, Math.min(N, 5000)); // warm-up
  if (baseline) await round(baseline, mode, Math.min(N, 5000));
  for (let r = 0; r < ROUNDS; r++) {
    if (baseline) old.push(await round(baseline, mode, N));
    cur.push(await round(StompConnection, mode, N));
  }
  const us = (ms: number): string => ((ms * 1000) / N).toFixed(2);
  let line = `${mode}: ${us(median(cur))} us CPU per message (median of ${ROUNDS} rounds of ${N})`;
  if (baseline) line += `; baseline ${us(median(old))} us; ratio current/baseline ${(median(cur) / median(old)).toFixed(3)}`;
  console.log(line);
}
process.exit(0);
