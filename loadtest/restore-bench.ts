// Restore benchmark: N offline persistent sessions with M queued 100-byte QoS 1 messages each, kill -9, restart; measures restart time and RSS, then checks every message reaches every session on reconnect. Imports node builtins, mqtt and the gateway-process test helper.
//
// Usage: node --import tsx loadtest/restore-bench.ts [--sessions 1000] [--messages 100] [--bytes 100] [--topics shared|own]
//   --topics shared: every session subscribes one topic, so M records in the log serve all N sessions
//   --topics own:    session i subscribes rb/<i>, M messages per session (N x M records)
// Targets (issue 8): 1,000 x 100 and 100 x 3,000 restart within 10 s, RSS after restore < 400 MB,
// every message delivered on reconnect. Prints one JSON line; exits 1 when a target is missed.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { GatewayProcess } from '../test/helpers/gateway-process.ts';

export interface RestoreBenchOptions {
  sessions: number;
  messages: number;
  bytes: number;
  topics: 'shared' | 'own';
  /** Sessions connected at a time (subscribe / collect phases). */
  parallel?: number;
  /** Bound on collecting one batch of sessions after the restart. */
  collectMs?: number;
}

export interface RestoreBenchResult {
  sessions: number;
  messages: number;
  bytes: number;
  topics: 'shared' | 'own';
  /** SIGKILL to the `listening` line of the new process (includes process start). */
  restartMs: number;
  recovered: { sessions: number; retained: number; replayed: number };
  rssAfterRestoreMb: number;
  rssAfterDeliveryMb: number;
  /** Sessions that got fewer than `messages` distinct messages. */
  incomplete: number;
  delivered: number;
  ok: boolean;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : -1;
}

/** `onMessage` is attached before CONNECT: messages can arrive in the same read as the CONNACK. */
function connect(url: string, clientId: string, onMessage?: (payload: Buffer) => void, clean = false): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { clientId, clean, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000 });
    if (onMessage) c.on('message', (_t, payload) => onMessage(payload));
    c.once('connect', () => resolve(c));
    c.once('error', reject);
    c.once('close', () => reject(new Error(`closed before CONNACK: ${clientId}`)));
  });
}

async function inBatches(n: number, size: number, run: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < n; i += size) {
    const batch: Promise<void>[] = [];
    for (let k = i; k < Math.min(n, i + size); k++) batch.push(run(k));
    await Promise.all(batch);
  }
}

export async function runRestoreBench(o: RestoreBenchOptions): Promise<RestoreBenchResult> {
  const parallel = o.parallel ?? 50;
  const gp = new GatewayProcess({ flush: 'interval', startTimeoutMs: 60_000 });
  const topicOf = (i: number): string => (o.topics === 'shared' ? 'rb/all' : `rb/${i}`);
  const idOf = (i: number): string => `rb-${i}`;
  try {
    let g = await gp.start();
    await inBatches(o.sessions, parallel, async (i) => {
      const c = await connect(g.url, idOf(i));
      await c.subscribeAsync(topicOf(i), { qos: 1 });
      await c.endAsync();
    });
    const pub = await connect(g.url, 'rb-publisher', undefined, true); // clean: only the N subscribers are persistent
    const pad = 'x'.repeat(Math.max(0, o.bytes - 12));
    const topics = o.topics === 'shared' ? 1 : o.sessions;
    for (let t = 0; t < topics; t++) {
      const topic = o.topics === 'shared' ? 'rb/all' : `rb/${t}`;
      for (let k = 0; k < o.messages; k += 500) {
        const batch: Promise<unknown>[] = [];
        for (let j = k; j < Math.min(o.messages, k + 500); j++) batch.push(pub.publishAsync(topic, `${String(j).padStart(11, '0')}:${pad}`, { qos: 1 }));
        await Promise.all(batch);
      }
    }
    pub.end(true);
    const killedAt = Date.now();
    await gp.kill9();
    g = await gp.start();
    const restartMs = Date.now() - killedAt;
    const rssAfterRestoreMb = rssMb(g.pid);
    let incomplete = 0;
    let delivered = 0;
    await inBatches(o.sessions, parallel, async (i) => {
      const seen = new Set<string>();
      let wake: (() => void) | undefined;
      const c = await connect(g.url, idOf(i), (payload) => {
        seen.add(payload.subarray(0, 11).toString());
        if (seen.size >= o.messages) wake?.();
      });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, o.collectMs ?? 60_000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        if (seen.size >= o.messages) wake();
      });
      delivered += seen.size;
      if (seen.size < o.messages) incomplete++;
      await c.endAsync();
    });
    const rssAfterDeliveryMb = rssMb(g.pid);
    const ok = incomplete === 0 && restartMs <= 10_000 && rssAfterRestoreMb < 400;
    return { sessions: o.sessions, messages: o.messages, bytes: o.bytes, topics: o.topics, restartMs, recovered: g.recovered, rssAfterRestoreMb, rssAfterDeliveryMb, incomplete, delivered, ok };
  } finally {
    await gp.dispose();
  }
}

const USAGE = `usage: node --import tsx loadtest/restore-bench.ts [--sessions 1000] [--messages 100] [--bytes 100] [--topics shared|own]
  N offline persistent sessions with M queued QoS 1 messages each, kill -9, restart: restart time, RSS, delivery.
  Targets: restart <= 10 s, RSS after restore < 400 MB, every message delivered. Exit 1 when missed.
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sessions: { type: 'string', default: '1000' },
      messages: { type: 'string', default: '100' },
      bytes: { type: 'string', default: '100' },
      topics: { type: 'string', default: 'shared' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const r = await runRestoreBench({
    sessions: Number(values.sessions),
    messages: Number(values.messages),
    bytes: Number(values.bytes),
    topics: values.topics === 'own' ? 'own' : 'shared',
  });
  console.log(JSON.stringify(r));
  process.exitCode = r.ok ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
