// HTTP sink benchmark: the throughput of one `bridges.http` sink draining a backlog from the log to a local HTTP server (messages/s, batches/s) for a message count and batch config. Imports node builtins, mqtt and the gateway-process test helper.
//
// Usage: node --import tsx loadtest/http-sink-bench.ts [--messages 20000] [--bytes 100] [--format json|ndjson]
//          [--max-messages 500] [--max-bytes 1048576] [--linger-ms 5] [--json]
// How: the gateway runs as a child process (src/server/cli.ts) with one sink to a node:http server in this
// process. The server answers 503 while N QoS 1 messages are published (the sink retries, so the whole backlog
// waits in the log), then 200: the clock runs from that switch to the request that completes N messages.
// The server parses every body (JSON) or counts lines (NDJSON), so its cost is in the figure too; both share the
// machine. Exported: runHttpSinkBench(options) for loadtest/bridge-bench.ts. Exit 2 on a bad argument.
import type { BridgeBenchLane } from './bridge-bench.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { GatewayProcess } from '../test/helpers/gateway-process.ts';

export interface HttpSinkBenchOptions {
  messages: number;
  /** Payload bytes per message. */
  bytes: number;
  format: 'json' | 'ndjson';
  batch: { maxMessages: number; maxBytes: number; lingerMs: number };
  /** Bound on the drain, ms (default 120 s). */
  timeoutMs?: number;
}

export interface HttpSinkBenchResult {
  messages: number;
  bytes: number;
  format: 'json' | 'ndjson';
  batch: HttpSinkBenchOptions['batch'];
  /** Switch to 200 -> the request completing `messages`. */
  elapsedMs: number;
  messagesPerSecond: number;
  batchesPerSecond: number;
  /** 2xx requests during the drain. */
  batches: number;
  avgBatch: number;
  /** Request body bytes per second. */
  bodyBytesPerSecond: number;
  /** Messages delivered more than once (should be 0 without a crash). */
  duplicates: number;
}

/**
 * The HTTP sink as a row of the bridge benchmark (./bridge-bench.ts): a backlog of `messages` drained to a local
 * server in JSON batches of up to 500. It times the drain, not publish-to-arrival, so it has no ratio.
 */
export function httpSinkLane(bytes: number): BridgeBenchLane {
  return {
    name: 'gateway -> HTTP sink (backlog drain, JSON batches <= 500)',
    async measure(messages) {
      const r = await runHttpSinkBench({ messages, bytes, format: 'json', batch: { maxMessages: 500, maxBytes: 1 << 20, lingerMs: 50 } });
      return { delivered: messages, seconds: r.elapsedMs / 1000 };
    },
  };
}

export async function runHttpSinkBench(o: HttpSinkBenchOptions): Promise<HttpSinkBenchResult> {
  let accepting = false;
  let delivered = 0;
  let batches = 0;
  let bodyBytes = 0;
  let doneAt = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((r) => (finish = r));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!accepting) {
        res.writeHead(503, { 'retry-after': '0' }).end();
        return;
      }
      const body = Buffer.concat(chunks);
      let n = 0;
      if (o.format === 'ndjson') for (const b of body) n += b === 0x0a ? 1 : 0;
      else n = (JSON.parse(body.toString('utf8')) as { messages: unknown[] }).messages.length;
      delivered += n;
      batches++;
      bodyBytes += body.length;
      res.writeHead(200).end();
      if (delivered >= o.messages && doneAt === 0) {
        doneAt = performance.now();
        finish();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bench`;
  const proc = new GatewayProcess({
    flush: 'interval',
    startTimeoutMs: 60_000, // a busy machine starts tsx slowly
    extra: {
      bridges: { http: [{ name: 'bench', url, filter: 'bench/#', format: o.format, payloadEncoding: 'text', batch: o.batch, retry: { initialMs: 5, maxMs: 20 } }] },
    },
  });
  try {
    const run = await proc.start();
    const client = await mqtt.connectAsync(run.url, { clientId: 'http-sink-bench', reconnectPeriod: 0 });
    const payload = Buffer.alloc(o.bytes, 0x61);
    for (let i = 0; i < o.messages; i += 1000) {
      const acks: Promise<unknown>[] = [];
      for (let j = i; j < Math.min(o.messages, i + 1000); j++) acks.push(client.publishAsync(`bench/${j % 16}`, payload, { qos: 1 }));
      await Promise.all(acks);
    }
    await client.endAsync();
    const t0 = performance.now();
    accepting = true;
    const timeout = o.timeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      finished,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`drain not done after ${timeout} ms (${delivered}/${o.messages})`)), timeout))),
    ]).finally(() => clearTimeout(timer));
    const elapsedMs = doneAt - t0;
    const s = elapsedMs / 1000;
    return {
      messages: o.messages, bytes: o.bytes, format: o.format, batch: o.batch,
      elapsedMs: Math.round(elapsedMs),
      messagesPerSecond: Math.round(o.messages / s),
      batchesPerSecond: Math.round(batches / s),
      batches,
      avgBatch: Math.round((delivered / batches) * 10) / 10,
      bodyBytesPerSecond: Math.round(bodyBytes / s),
      duplicates: delivered - o.messages,
    };
  } finally {
    await proc.dispose();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

const HELP = `usage: node --import tsx loadtest/http-sink-bench.ts [options]
  --messages N       QoS 1 messages in the backlog (default 20000)
  --bytes N          payload bytes per message (default 100)
  --format F         json | ndjson (default json)
  --max-messages N   batch.maxMessages (default 500)
  --max-bytes N      batch.maxBytes (default 1048576)
  --linger-ms N      batch.lingerMs (default 5)
  --json             print one JSON line only`;

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      options: {
        messages: { type: 'string' }, bytes: { type: 'string' }, format: { type: 'string' }, 'max-messages': { type: 'string' },
        'max-bytes': { type: 'string' }, 'linger-ms': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${HELP}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const int = (k: string, d: number, min: number): number => {
    const v = values[k];
    if (v === undefined) return d;
    if (typeof v !== 'string' || !/^\d+$/.test(v) || Number(v) < min) {
      process.stderr.write(`--${k} needs an integer >= ${min}, got ${JSON.stringify(v)}\n`);
      process.exit(2);
    }
    return Number(v);
  };
  const format = values.format ?? 'json';
  if (format !== 'json' && format !== 'ndjson') {
    process.stderr.write(`--format needs json or ndjson, got ${JSON.stringify(format)}\n`);
    process.exit(2);
  }
  const r = await runHttpSinkBench({
    messages: int('messages', 20_000, 1),
    bytes: int('bytes', 100, 0),
    format,
    batch: { maxMessages: int('max-messages', 500, 1), maxBytes: int('max-bytes', 1024 * 1024, 1024), lingerMs: int('linger-ms', 5, 0) },
  });
  if (!values.json) {
    process.stdout.write(`http sink: ${r.messages} x ${r.bytes} B, ${r.format}, batch <= ${r.batch.maxMessages} msgs / ${r.batch.maxBytes} B, linger ${r.batch.lingerMs} ms\n`);
    process.stdout.write(`  ${r.messagesPerSecond} messages/s, ${r.batchesPerSecond} batches/s (avg ${r.avgBatch} per batch), ${(r.bodyBytesPerSecond / 1e6).toFixed(1)} MB/s of body, ${r.elapsedMs} ms, duplicates ${r.duplicates}\n`);
  }
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
