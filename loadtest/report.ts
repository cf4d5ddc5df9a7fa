// Turns per-round run results into medians, ratios (gateway over Mosquitto, Aedes, NATS) and a markdown/JSON report. Imports ./driver.ts and ./scenarios.ts types, ./driver.ts fmt.
import { fmt, type RunResult } from './driver.ts';
import { DESCRIPTIONS, type ScenarioName } from './scenarios.ts';

export interface RoundRecord {
  scenario: ScenarioName;
  target: string;
  round: number;
  result: RunResult | null;
  error: string | null;
}

export interface TargetSummary {
  target: string;
  rounds: number;
  failedRounds: number;
  msgPerS: number;
  brokerCpuPct: number | null;
  generatorCpuPct: number | null;
  /** Summed over rounds. */
  lost: number;
  duplicates: number;
  outOfOrder: number;
  /** Medians of per-round p50/p99; max over rounds. */
  latencyUs: { p50: number; p99: number; max: number } | null;
  perRoundMsgPerS: number[];
  errors: string[];
}

export interface ScenarioSummary {
  scenario: ScenarioName;
  description: string;
  targets: TargetSummary[];
  /** First target (gateway or --target) divided by each peer: msg/s, or p99 latency for `latency`. */
  ratios: { against: string; metric: 'msg/s' | 'p99 latency'; value: number }[];
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function medianOrNull(xs: (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? null : median(v);
}

export function summarise(records: RoundRecord[], scenario: ScenarioName, targetOrder: string[]): ScenarioSummary {
  const targets: TargetSummary[] = targetOrder.map((target) => {
    const mine = records.filter((r) => r.scenario === scenario && r.target === target);
    const ok = mine.map((r) => r.result).filter((r): r is RunResult => r !== null);
    const lat = ok.map((r) => r.latencyUs).filter((l) => l !== null);
    return {
      target,
      rounds: mine.length,
      failedRounds: mine.length - ok.length,
      msgPerS: median(ok.map((r) => r.msgPerS)),
      brokerCpuPct: medianOrNull(ok.map((r) => r.brokerCpuPct)),
      generatorCpuPct: medianOrNull(ok.map((r) => r.generatorCpuPct)),
      lost: ok.reduce((a, r) => a + r.lost, 0),
      duplicates: ok.reduce((a, r) => a + r.duplicates, 0),
      outOfOrder: ok.reduce((a, r) => a + r.outOfOrder, 0),
      latencyUs: lat.length === 0 ? null : {
        p50: median(lat.map((l) => l.p50)), p99: median(lat.map((l) => l.p99)), max: Math.max(...lat.map((l) => l.max)),
      },
      perRoundMsgPerS: ok.map((r) => r.msgPerS),
      errors: mine.map((r) => r.error).filter((e): e is string => e !== null),
    };
  });
  const ratios: ScenarioSummary['ratios'] = [];
  const first = targets[0];
  if (first !== undefined && (first.target === 'gateway' || first.target === 'target')) {
    for (const peer of targets.slice(1)) {
      if (peer.target === 'forwarder') continue;
      if (scenario === 'latency' && first.latencyUs !== null && peer.latencyUs !== null) {
        ratios.push({ against: peer.target, metric: 'p99 latency', value: first.latencyUs.p99 / peer.latencyUs.p99 });
      } else if (scenario !== 'latency') {
        ratios.push({ against: peer.target, metric: 'msg/s', value: first.msgPerS / peer.msgPerS });
      }
    }
  }
  return { scenario, description: DESCRIPTIONS[scenario], targets, ratios };
}

const pct = (x: number | null): string => (x === null ? 'n/a' : `${x.toFixed(0)}%`);

export function toMarkdown(summaries: ScenarioSummary[], meta: Record<string, string | number>): string {
  const out: string[] = ['# Load test report', ''];
  for (const [k, v] of Object.entries(meta)) out.push(`- ${k}: ${v}`);
  out.push('');
  for (const s of summaries) {
    out.push(`## ${s.scenario}`, '', s.description, '');
    const lat = s.scenario === 'latency';
    out.push(`| target | ${s.scenario === 'fanout' ? 'deliveries/s' : 'msg/s'} | broker CPU | generator CPU | lost | dup | out of order |${lat ? ' p50 us | p99 us | max us |' : ''} rounds (msg/s) |`);
    out.push(`|---|---:|---:|---:|---:|---:|---:|${lat ? '---:|---:|---:|' : ''}---|`);
    for (const t of s.targets) {
      const l = t.latencyUs;
      const latCols = lat ? ` ${l ? l.p50.toFixed(0) : 'n/a'} | ${l ? l.p99.toFixed(0) : 'n/a'} | ${l ? l.max.toFixed(0) : 'n/a'} |` : '';
      const rounds = t.perRoundMsgPerS.map(fmt).join(', ') + (t.failedRounds > 0 ? ` (${t.failedRounds} failed)` : '');
      out.push(`| ${t.target} | ${Number.isNaN(t.msgPerS) ? 'failed' : fmt(t.msgPerS)} | ${pct(t.brokerCpuPct)} | ${pct(t.generatorCpuPct)} | ${t.lost} | ${t.duplicates} | ${t.outOfOrder} |${latCols} ${rounds} |`);
    }
    if (s.ratios.length > 0) {
      out.push('');
      for (const r of s.ratios) out.push(`- ${s.targets[0]!.target}/${r.against} (${r.metric}): ${r.value.toFixed(2)}`);
    }
    const errors = s.targets.flatMap((t) => t.errors.map((e) => `${t.target}: ${e}`));
    if (errors.length > 0) {
      out.push('', 'Errors:');
      for (const e of errors) out.push(`- ${e.split('\n')[0]}`);
    }
    out.push('');
  }
  const peers = [...new Set(summaries.flatMap((s) => s.ratios.map((r) => r.against)))];
  if (peers.length > 0) {
    // One line per scenario, every peer side by side (same run, same alternating rounds).
    const first = summaries.find((s) => s.ratios.length > 0)!.targets[0]!.target;
    out.push('## Ratios', '', `| scenario | ${peers.map((p) => `${first}/${p}`).join(' | ')} |`, `|---|${peers.map(() => '---:|').join('')}`);
    for (const s of summaries) {
      if (s.ratios.length === 0) continue;
      const cell = (p: string): string => {
        const r = s.ratios.find((x) => x.against === p);
        return r === undefined || !Number.isFinite(r.value) ? 'n/a' : `${r.value.toFixed(2)}x`;
      };
      out.push(`| ${s.scenario}${s.scenario === 'latency' ? ' (p99, lower is better)' : ''} | ${peers.map(cell).join(' | ')} |`);
    }
    out.push('');
  }
  out.push('CPU is % of one core over the measure window, from /proc/<pid>/stat utime+stime (200% = both cores).');
  out.push('lost/dup/out of order are summed over all rounds, warm-up included.');
  return out.join('\n') + '\n';
}
