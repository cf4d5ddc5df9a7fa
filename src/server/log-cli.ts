// `iot-gateway log inspect|dump` (also `npm run log -- ...`): looks into a gateway's durable log and consumer offsets from the shell. Imports src/log (open), src/core consumer files, node builtins.
//
// Usage:
//   log inspect --data-dir DIR
//   log dump --data-dir DIR --topic FILTER [--from first|last|next|offset=N|timestamp=T] [--max N]
// DIR is the gateway's dataDir: the log is `DIR/log` (its `meta.json` gives the partition count), the key/value
// state `DIR/state` (consumer offsets under `g/<group>/<partition>`). T is epoch ms or an ISO-8601 date.
// Output, one item per line (stable, `key=value`, strings JSON-quoted):
//   inspect: `log dir=".." partitions=N records=N bytes=N`
//            `partition=P start=S end=E records=N bytes=B segments=K` then `  segment base=O bytes=B` per segment
//            `group=".." partition=P committed=C|- end=E lag=L` per group and partition (or `groups=0`)
//   dump:    `partition=P offset=O time=ISO qos=Q topic=".." payload="utf-8 text"|hex:..` then `records=N` (to stderr)
// Opening: no file is written beyond what open-recovery does (a torn log tail or KV tail is cut, as at gateway start);
// retention and flush timers are off. Run it against a stopped gateway: a running one may be mid-append.
// Exit codes: 0 done, 2 usage or missing/bad data dir, 1 any other failure.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openKeyValueStore, openLog, type KeyValueStore, type PartitionedLog } from '../log/index.ts';
import { checkFilter, replay, type StartPoint } from '../core/consumer.ts';
import { ConsumerGroup, listCommitted } from '../core/consumer-group.ts';

const USAGE = `usage:
  log inspect --data-dir DIR
  log dump --data-dir DIR --topic FILTER [--from first|last|next|offset=N|timestamp=T] [--max N]`;

const HELP = `Run against a stopped gateway's data dir (dataDir; default ./data).
  inspect   partitions, segments, offsets, sizes and consumer-group lag, one item per line
  dump      the records whose topic matches FILTER ("#" = all), one per line; --from where to start
            (default first; T is epoch ms or an ISO-8601 date), --max how many at most
Exit codes: 0 done, 2 usage or missing/bad data dir, 1 any other failure.`;

/** A usage or data-dir problem: exit code 2, message without a stack. */
class UsageError extends Error {}

export interface CliIO {
  out(line: string): void | Promise<void>;
  err(line: string): void;
}

interface Args { command: string; dataDir: string; topic?: string; from: StartPoint; max?: number }

export function parseFrom(s: string): StartPoint {
  if (s === 'first' || s === 'last' || s === 'next') return s;
  if (s.startsWith('offset=')) {
    const n = Number(s.slice(7));
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--from offset=N needs a non-negative integer, got ${JSON.stringify(s)}`);
    return { offset: n };
  }
  if (s.startsWith('timestamp=')) {
    const v = s.slice(10);
    const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
    if (!Number.isFinite(n)) throw new UsageError(`--from timestamp=T needs epoch ms or an ISO-8601 date, got ${JSON.stringify(v)}`);
    return { timestamp: n };
  }
  throw new UsageError(`--from must be first, last, next, offset=N or timestamp=T, got ${JSON.stringify(s)}`);
}

function parseArgs(argv: readonly string[]): Args {
  const [command, ...rest] = argv;
  if (command !== 'inspect' && command !== 'dump') throw new UsageError(command ? `unknown command ${JSON.stringify(command)}` : 'missing command');
  const opts = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(a)}`);
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const value = eq > 0 ? a.slice(eq + 1) : rest[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (!['data-dir', 'topic', 'from', 'max'].includes(name)) throw new UsageError(`unknown option --${name}`);
    opts.set(name, value);
  }
  const dataDir = opts.get('data-dir');
  if (!dataDir) throw new UsageError('--data-dir is required');
  const args: Args = { command, dataDir: resolve(dataDir), from: parseFrom(opts.get('from') ?? 'first') };
  if (command === 'dump') {
    args.topic = opts.get('topic');
    if (!args.topic) throw new UsageError('dump needs --topic FILTER (use "#" for everything)');
    try {
      checkFilter(args.topic);
    } catch (e) {
      throw new UsageError(`--topic: ${(e as Error).message}`);
    }
  } else if (opts.has('topic') || opts.has('from') || opts.has('max')) {
    throw new UsageError('inspect takes only --data-dir');
  }
  const max = opts.get('max');
  if (max !== undefined) {
    const n = Number(max);
    if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`--max needs a positive integer, got ${JSON.stringify(max)}`);
    args.max = n;
  }
  return args;
}

/** Partition count from `<logDir>/meta.json` ({"version":1,"partitions":N}, written by src/log/log.ts). */
function readPartitions(dataDir: string, logDir: string): number {
  if (!existsSync(dataDir)) throw new UsageError(`data dir ${dataDir} does not exist`);
  if (!statSync(dataDir).isDirectory()) throw new UsageError(`data dir ${dataDir} is not a directory`);
  const meta = join(logDir, 'meta.json');
  if (!existsSync(meta)) throw new UsageError(`no log in ${dataDir}: ${meta} is missing (is --data-dir the gateway's dataDir?)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(meta, 'utf8'));
  } catch (e) {
    throw new UsageError(`${meta} is not valid JSON: ${(e as Error).message}`);
  }
  const n = (parsed as { partitions?: unknown } | null)?.partitions;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${meta} has no valid partition count`);
  return n;
}

async function openForReading(dataDir: string): Promise<{ log: PartitionedLog; state: KeyValueStore | undefined }> {
  const logDir = join(dataDir, 'log');
  const partitions = readPartitions(dataDir, logDir);
  // Roll and retention settings never act here: nothing is appended and retention is off (-1).
  const log = await openLog({
    dir: logDir, partitions, segmentBytes: 0xffff_ffff, segmentMs: Number.MAX_SAFE_INTEGER, retentionBytes: -1, retentionMs: -1,
    indexIntervalBytes: 4096, flush: { mode: 'never' }, maxRecordBytes: 0x7fff_ffff,
  });
  const stateDir = join(dataDir, 'state');
  // No state yet: do not create one (openKeyValueStore would).
  const state = existsSync(join(stateDir, 'kv.log')) ? await openKeyValueStore(stateDir, { mode: 'never' }) : undefined;
  return { log, state };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Valid UTF-8 prints JSON-quoted; anything else prints as hex:<bytes>. */
export function formatPayload(b: Buffer): string {
  try {
    return JSON.stringify(utf8.decode(b));
  } catch {
    return `hex:${b.toString('hex')}`;
  }
}

async function inspect(log: PartitionedLog, state: KeyValueStore | undefined, dataDir: string, io: CliIO): Promise<void> {
  const stats = log.stats();
  const records = stats.reduce((n, p) => n + (p.endOffset - p.startOffset), 0);
  const bytes = stats.reduce((n, p) => n + p.bytes, 0);
  await io.out(`log dir=${JSON.stringify(join(dataDir, 'log'))} partitions=${log.partitions} records=${records} bytes=${bytes}`);
  for (const p of stats) {
    await io.out(`partition=${p.partition} start=${p.startOffset} end=${p.endOffset} records=${p.endOffset - p.startOffset} bytes=${p.bytes} segments=${p.segments.length}`);
    for (const s of p.segments) await io.out(`  segment base=${s.baseOffset} bytes=${s.bytes}`);
  }
  const groups = state ? [...new Set(listCommitted(state).map((c) => c.group))] : [];
  if (groups.length === 0) await io.out('groups=0');
  for (const name of groups) {
    const g = new ConsumerGroup({ group: name, log, store: state! });
    for (const l of g.lag()) {
      await io.out(`group=${JSON.stringify(name)} partition=${l.partition} committed=${l.committed ?? '-'} end=${l.end} lag=${l.lag}`);
    }
  }
}

async function dump(log: PartitionedLog, args: Args, io: CliIO): Promise<void> {
  const r = await replay(log, args.topic!, args.from, (m) => io.out(
    `partition=${m.ref!.partition} offset=${m.ref!.offset} time=${new Date(m.createdAt).toISOString()} qos=${m.qos} topic=${JSON.stringify(m.topic)} payload=${formatPayload(m.payload)}`,
  ), args.max === undefined ? {} : { limit: args.max });
  io.err(`records=${r.visited} scanned=${r.scanned}`);
}

/** Runs one command; returns the exit code (never throws). */
export async function runLogCli(argv: readonly string[], io: CliIO): Promise<number> {
  let opened: { log: PartitionedLog; state: KeyValueStore | undefined } | undefined;
  try {
    const args = parseArgs(argv);
    opened = await openForReading(args.dataDir);
    if (args.command === 'inspect') await inspect(opened.log, opened.state, args.dataDir, io);
    else await dump(opened.log, args, io);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`log: ${e.message}`);
      io.err(USAGE);
      return 2;
    }
    io.err(`log: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    if (opened) {
      await opened.log.close().catch(() => undefined);
      await opened.state?.close().catch(() => undefined);
    }
  }
}

async function stdoutLine(line: string): Promise<void> {
  if (!process.stdout.write(`${line}\n`)) await once(process.stdout, 'drain');
}

/** `iot-gateway log ...` and `npm run log -- ...`: runs against the real stdout / stderr; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(`${USAGE}\n\n${HELP}\n`);
    return 0;
  }
  // `log dump ... | head` closes the pipe early: stop quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  return runLogCli(argv, { out: stdoutLine, err: (l) => process.stderr.write(`${l}\n`) });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
