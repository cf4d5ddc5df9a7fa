// `npm run fuzz -- [--cases N] [--seed N] [--protocol mqtt|stomp|both] [--concurrency N] [--max-seconds N] [--replay INDEX]`: the long fuzz run (one summary line at the end) or one case replayed alone. Imports ./runner.ts.
import { parseArgs } from 'node:util';
import { replayCase, runFuzz } from './runner.ts';
import type { Protocol } from './rng.ts';

const HELP = `usage: npm run fuzz -- [options]
  --cases N         cases in all, split evenly over the protocols (default 200000: 100000 MQTT + 100000 STOMP)
  --seed N          the run's seed (default 1); a case is (seed, protocol, index)
  --protocol P      mqtt | stomp | both (default both)
  --concurrency N   fuzz connections at once (default 32)
  --max-seconds N   stop starting cases after N seconds, split evenly over the protocols (the summary counts what ran)
  --replay INDEX    run only case INDEX of --protocol (mqtt or stomp) against a fresh gateway and print it
Exit 0 when the gateway stayed up, logged no error-level line, the pairs lost / duplicated / reordered nothing
and RSS came back within 20 MB of its baseline; 1 otherwise. The last stdout line is the summary.`;

const { values } = parseArgs({
  options: {
    cases: { type: 'string' },
    seed: { type: 'string' },
    protocol: { type: 'string' },
    concurrency: { type: 'string' },
    'max-seconds': { type: 'string' },
    replay: { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const int = (v: string | undefined, d: number, name: string): number => {
  if (v === undefined) return d;
  if (!/^\d+$/.test(v)) {
    console.error(`--${name} must be a whole number, got ${JSON.stringify(v)}\n${HELP}`);
    process.exit(2);
  }
  return Number(v);
};
const seed = int(values.seed, 1, 'seed');
const protocolArg = values.protocol ?? 'both';
if (!['mqtt', 'stomp', 'both'].includes(protocolArg)) {
  console.error(`--protocol must be mqtt, stomp or both\n${HELP}`);
  process.exit(2);
}
if (values.replay !== undefined) {
  if (protocolArg === 'both') {
    console.error('--replay needs --protocol mqtt or --protocol stomp');
    process.exit(2);
  }
  const r = await replayCase(seed, protocolArg as Protocol, int(values.replay, 0, 'replay'));
  console.log(r.report);
  process.exit(r.ok ? 0 : 1);
}
const protocols: Protocol[] = protocolArg === 'both' ? ['mqtt', 'stomp'] : [protocolArg as Protocol];
// The "a million cases" is the run's total: `--cases 1000000` is 500,000 MQTT + 500,000 STOMP.
const total = int(values.cases, 200_000, 'cases');
const cases = Math.ceil(total / protocols.length);
const res = await runFuzz({ seed, cases, protocols, concurrency: int(values.concurrency, 32, 'concurrency'), maxSeconds: int(values['max-seconds'], 0, 'max-seconds') || undefined, progressEvery: Math.max(1000, Math.floor(cases / 50)) });
for (const p of res.problems) console.log(`problem: ${p}`);
for (const l of res.errorLines.slice(1)) console.log(`error line: ${l}`); // the first is in its problem line
console.log(res.summary);
process.exit(res.ok ? 0 : 1);
