// Runs fuzz cases over fresh connections against a real gateway process while a well-behaved MQTT QoS 1 pair and a STOMP receipted pair exchange numbered sequences; checks the process, its error log, the pairs and RSS. Imports the process/client test helpers and ./cases.ts.
//
// Contract: runFuzz() starts its own gateway (test/helpers/gateway-process.ts) and always disposes it. The
// result says ok only if: the process is alive at the end; it logged nothing at error level or above (refusals
// are warn/info); each pair received exactly 1..N in order (no loss, duplicate or reorder) for the N its sender
// had acknowledged (PUBACK / RECEIPT); and RSS, once every fuzz connection has closed, came back within
// rssSlackMb of the baseline taken after a warm-up (FuzzOptions.warmupCases says why). A failing case is replayed
// alone with replayCase().
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { GatewayProcess, type RunningGateway } from '../helpers/gateway-process.ts';
import { connectClient, type TestClient } from '../helpers/mqtt-clients.ts';
import { RawStomp, header } from '../helpers/stomp-clients.ts';
import { makeCase, type FuzzCase } from './cases.ts';
import type { Protocol } from './rng.ts';

export interface FuzzOptions {
  seed: number;
  /** Cases per protocol. */
  cases: number;
  protocols: Protocol[];
  /** Fuzz connections open at once. */
  concurrency?: number;
  /** Allowed RSS growth (MB) over the warmed-up baseline once the fuzz connections closed. */
  rssSlackMb?: number;
  /**
   * Cases per protocol run before the RSS baseline is taken (default 10% of `cases`, at most 20,000). Measured
   * (seed 7, STOMP alone, 2026-11-30): RSS rises about 25 MB over the first 15,000 cases and then stays flat
   * (113-120 MB from case 15,000 to 165,000) while the live V8 heap stays at 25-35 MB: that first rise is JIT code
   * (V8's code space 4.6 -> 8 MB in 6,000 cases), V8's and glibc's working sets under load and the first bounded
   * state, paid once per process, while a leak grows with the number of cases. So the check asks that RSS after
   * the rest of the run is back within rssSlackMb of RSS after the warm-up; the RSS before any case is reported too.
   */
  warmupCases?: number;
  /** Stop starting new cases after this many seconds (the time is split evenly over the protocols' phases); the summary counts the cases run. */
  maxSeconds?: number;
  /** Progress lines on stderr every this many cases (0 = none). */
  progressEvery?: number;
  /** Extra gateway config (merged over the fuzz defaults). */
  extra?: Record<string, unknown>;
}

export interface FuzzResult {
  ok: boolean;
  problems: string[];
  cases: Record<string, number>;
  seconds: number;
  /** RSS before the first case (pairs running) and after the warm-up (the baseline of the check). */
  rssStartMb: number;
  rssBeforeMb: number;
  rssPeakMb: number;
  rssAfterMb: number;
  /** The gateway's own view at the end (from /metrics): V8 heap used and external (Buffer) memory, MB. */
  heapUsedMb: number;
  externalMb: number;
  pairs: { mqtt: { sent: number; received: number }; stomp: { sent: number; received: number } };
  /** Connections the gateway closed before the client did / that the 3 s case timeout cut. */
  closedByGateway: number;
  timedOut: number;
  errorLines: string[];
  summary: string;
}

const PAIR_TOPIC = 'pairs-9c1e/mqtt';
const PAIR_DEST = '/topic/pairs-9c1e/stomp';
const PAIR_RE = /^pair:(\d+)$/;

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function fetchText(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}

/** One unlabelled gauge of a /metrics text, in MB with one decimal ('?' when absent). */
function metricMb(text: string, name: string): string {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? (Number(m[1]) / 1048576).toFixed(1) : '?';
}

/** Diagnostics: with FUZZ_HEAP_SNAPSHOTS=1 (and NODE_OPTIONS=--heapsnapshot-signal=SIGUSR2) the gateway writes a heap snapshot before the first case and after the last. */
async function heapSnapshot(gw: RunningGateway): Promise<void> {
  if (!process.env.FUZZ_HEAP_SNAPSHOTS) return;
  await sleep(Number(process.env.FUZZ_HEAP_SNAPSHOT_DELAY ?? 0));
  gw.child.kill('SIGUSR2');
  await sleep(20_000);
}

/** Resolves / rejects as `p` does, or rejects with `what` after `ms` (a send to a dead gateway may never settle). */
function settleWithin<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sends one case over a fresh connection; resolves when the socket closed (by either side) or after 3 s. */
export function sendCase(port: number, c: FuzzCase): Promise<'closed-by-gateway' | 'closed' | 'timeout'> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let ended = false;
    let serverEnded = false;
    const timer = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, 3000);
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    s.on('end', () => (serverEnded = !ended || serverEnded));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(serverEnded ? 'closed-by-gateway' : 'closed');
    });
    s.on('connect', () => {
      s.setNoDelay(true);
      let i = 0;
      const next = (): void => {
        if (s.destroyed) return;
        if (i < c.chunks.length) {
          s.write(c.chunks[i++]!);
          if (i < c.chunks.length) setImmediate(next);
          else next();
          return;
        }
        ended = true;
        s.end();
      };
      next();
    });
  });
}

function ports(gw: RunningGateway): { mqtt: number; stomp: number; http: number } | undefined {
  const found: Record<string, number> = {};
  for (const l of gw.lines) {
    if (!l.includes('"listening"')) continue;
    try {
      const rec = JSON.parse(l) as { protocol?: string; transport?: string; port?: number };
      if (rec.transport === 'tcp' && rec.protocol && rec.port) found[rec.protocol] = rec.port;
    } catch {
      /* not JSON */
    }
  }
  return found.mqtt && found.stomp && found.http ? { mqtt: found.mqtt, stomp: found.stomp, http: found.http } : undefined;
}

/** The MQTT QoS 1 pair: publishes pair:1, pair:2, ... until stopped; `sent` counts PUBACKed ones. */
class MqttPair {
  sent = 0;
  private running = true;
  private loop: Promise<void> | undefined;
  private constructor(
    readonly pub: TestClient,
    readonly sub: TestClient,
  ) {}

  static async start(url: string): Promise<MqttPair> {
    const sub = await connectClient(url, { protocolVersion: 4, clientId: 'fz-pair-sub', clean: true, reconnectPeriod: 0 });
    await sub.client.subscribeAsync(PAIR_TOPIC, { qos: 1 });
    const pub = await connectClient(url, { protocolVersion: 5, clientId: 'fz-pair-pub', clean: true, reconnectPeriod: 0 });
    const p = new MqttPair(pub, sub);
    p.loop = p.run();
    // Handled here so a failed send does not stop the fuzzer as an unhandled rejection; stop() reports it.
    p.loop.catch(() => undefined);
    return p;
  }

  private async run(): Promise<void> {
    while (this.running) {
      await this.pub.client.publishAsync(PAIR_TOPIC, `pair:${this.sent + 1}`, { qos: 1 });
      this.sent++;
      await sleep(2);
    }
  }

  received(): number[] {
    return this.sub.received.filter((m) => m.topic === PAIR_TOPIC).map((m) => Number(PAIR_RE.exec(m.payload)?.[1] ?? -1));
  }

  async stop(): Promise<string | undefined> {
    this.running = false;
    try {
      await settleWithin(this.loop ?? Promise.resolve(), 15_000, 'the pair sender did not stop (its last send is unanswered: is the gateway gone?)');
    } catch (err) {
      return `mqtt pair publisher failed: ${String(err)}`;
    }
    const end = Date.now() + 10_000;
    while (this.received().length < this.sent && Date.now() < end) await sleep(20);
    await this.pub.end();
    await this.sub.end();
    return undefined;
  }
}

/** The STOMP pair: SEND pair:N with a receipt, one at a time; the receiver ACKs each (client-individual). */
class StompPair {
  sent = 0;
  private running = true;
  private loop: Promise<void> | undefined;
  private acker: NodeJS.Timeout | undefined;
  private seen = 0;
  readonly got: number[] = [];
  private constructor(
    readonly tx: RawStomp,
    readonly rx: RawStomp,
  ) {}

  static async start(port: number): Promise<StompPair> {
    const rx = await RawStomp.connect(port, { 'heart-beat': '0,0' });
    await rx.withReceipt('SUBSCRIBE', { id: 'pair', destination: PAIR_DEST, ack: 'client-individual' });
    const tx = await RawStomp.connect(port, { 'heart-beat': '0,0' });
    const p = new StompPair(tx, rx);
    p.acker = setInterval(() => p.ackNew(), 10);
    p.loop = p.run();
    // Handled here so a failed send does not stop the fuzzer as an unhandled rejection; stop() reports it.
    p.loop.catch(() => undefined);
    return p;
  }

  private ackNew(): void {
    const frames = this.rx.frames;
    for (; this.seen < frames.length; this.seen++) {
      const f = frames[this.seen]!;
      if (f.command !== 'MESSAGE') continue;
      this.got.push(Number(PAIR_RE.exec(f.body.toString())?.[1] ?? -1));
      const ack = header(f, 'ack');
      if (ack) this.rx.send('ACK', { id: ack });
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      await this.tx.withReceipt('SEND', { destination: PAIR_DEST }, `pair:${this.sent + 1}`);
      this.sent++;
      await sleep(2);
    }
  }

  async stop(): Promise<string | undefined> {
    this.running = false;
    try {
      await settleWithin(this.loop ?? Promise.resolve(), 15_000, 'the pair sender did not stop (its last send is unanswered: is the gateway gone?)');
    } catch (err) {
      return `stomp pair sender failed: ${String(err)}`;
    }
    const end = Date.now() + 10_000;
    while (this.got.length < this.sent && Date.now() < end) {
      this.ackNew();
      await sleep(20);
    }
    this.ackNew();
    clearInterval(this.acker);
    this.tx.close();
    this.rx.close();
    return undefined;
  }
}

function checkSequence(name: string, got: number[], sent: number): string | undefined {
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== i + 1) return `${name} pair: position ${i} holds ${got[i]} (expected ${i + 1}): lost, duplicated or reordered`;
  }
  if (got.length < sent) return `${name} pair: ${got.length} received of ${sent} acknowledged`;
  return undefined;
}

/**
 * Starts the gateway process with V8's heap kept tight: young generation 1 MB per semi-space, old generation 96 MB.
 * Under allocation pressure V8 grows the young generation to 3 x 16 MB and the old generation with uncollected
 * garbage, and gives both back only on idle GCs, which by itself adds tens of MB of RSS that is no leak (measured:
 * seed 1, 6,000 MQTT cases: RSS +49 MB without the caps while the heap after a forced full GC stayed at 23 MB; seed 7,
 * 100,000 + 100,000 cases: RSS +209 MB, heap used 149 MB without the old-space cap, while in-process runs with forced
 * GCs show the live heap flat at 16 MB after 45,000 STOMP cases). With the caps, what RSS still gains is memory the
 * gateway holds; live data far above 96 MB would stop the process, which the run reports.
 */
async function startWithSmallYoungGeneration(proc: GatewayProcess): Promise<RunningGateway> {
  const saved = { NODE_OPTIONS: process.env.NODE_OPTIONS, MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ };
  process.env.NODE_OPTIONS = `${saved.NODE_OPTIONS ?? ''} --max-semi-space-size=1 --max-old-space-size=96`.trim();
  // glibc raises its mmap threshold after large blocks are freed (up to 32 MB), so the 64 KB - 1 MB buffers of
  // unfinished packets end up in the brk heap and their pages are not returned; a fixed threshold keeps them mmapped.
  process.env.MALLOC_MMAP_THRESHOLD_ = '131072';
  try {
    return await proc.start();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/**
 * Fuzz config: the per-address connection rate is off (one address opens every case); the state mutated names can
 * create is bounded by smaller limits than the defaults (queues created by clients, retained topics, sessions, messages
 * queued for an offline session), so what the RSS check sees is leaks, not the legitimate state of 1,000 queues or of
 * 200 offline sessions holding 10,000 messages each; every other limit keeps its default.
 */
export function fuzzProcess(extra: Record<string, unknown> = {}): GatewayProcess {
  return new GatewayProcess({
    flush: 'interval',
    // Starting the CLI through tsx takes 15 s and more when the machine's 2 cores run other suites too.
    startTimeoutMs: 60_000,
    extra: {
      limits: { connectionRatePerAddress: 0, maxRetainedMessages: 1000, maxSessions: 200 },
      stomp: { maxCreatedQueues: 100 },
      sessions: { maxQueued: 10 },
      sys: { intervalMs: 0 },
      ...extra,
    },
  });
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzResult> {
  const concurrency = o.concurrency ?? 32;
  const slack = o.rssSlackMb ?? 20;
  const proc = fuzzProcess(o.extra);
  const problems: string[] = [];
  const errorLines: string[] = [];
  const counts: Record<string, number> = {};
  let closedByGateway = 0;
  let timedOut = 0;
  const t0 = Date.now();
  let rssStart = 0;
  let rssBefore = 0;
  const warmup = Math.min(o.cases, o.warmupCases ?? Math.min(20_000, Math.ceil(o.cases / 10)));
  let held = '';
  let rssPeak = 0;
  let rssAfter = 0;
  /** The machine's 1-minute load average at each progress line (the figures' context: 2 cores shared with other jobs). */
  const load = { min: Infinity, max: 0 };
  let heapUsed = 0;
  let external = 0;
  let mqttPair: MqttPair | undefined;
  let stompPair: StompPair | undefined;
  const inFlight = new Set<string>();
  try {
    const gw = await startWithSmallYoungGeneration(proc);
    let p = ports(gw);
    for (let i = 0; !p && i < 250; i++) {
      await sleep(20);
      p = ports(gw);
    }
    if (!p) throw new Error('gateway did not print its STOMP / HTTP ports');
    // Every stdout line is checked for error level (the helper keeps only the first 10,000).
    // gw.lines keeps only the first 10,000 lines; the last ones (and all of stderr) are kept here for a report of an exit.
    let buf = '';
    const last: string[] = [];
    const keep = (line: string): void => {
      last.push(line);
      if (last.length > 30) last.shift();
    };
    gw.child.stderr!.on('data', (chunk: string) => keep(`stderr: ${String(chunk).trimEnd()}`));
    gw.child.stdout!.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        keep(line);
        if (/"level":(50|60)/.test(line) && errorLines.length < 20) errorLines.push(`${line} (in flight: ${[...inFlight].join(' ')})`);
      }
    });
    await heapSnapshot(gw);
    mqttPair = await MqttPair.start(gw.url);
    stompPair = await StompPair.start(p.stomp);
    await sleep(300);
    rssStart = rssMb(gw.pid);
    const next: Record<string, number> = {};
    /** Runs `protocol`'s cases from where it stopped up to index `to` (exclusive); false when the gateway exited. */
    const runUpTo = async (protocol: Protocol, to: number, until = Infinity): Promise<boolean> => {
      counts[protocol] ??= 0;
      next[protocol] ??= 0;
      const port = protocol === 'mqtt' ? p.mqtt : p.stomp;
      const worker = async (): Promise<void> => {
        while (next[protocol]! < to && Date.now() < until && gw.child.exitCode === null && gw.child.signalCode === null) {
          const index = next[protocol]!++;
          const key = `${protocol}:${index}`;
          inFlight.add(key);
          const outcome = await sendCase(port, makeCase(o.seed, protocol, index));
          inFlight.delete(key);
          if (outcome === 'closed-by-gateway') closedByGateway++;
          else if (outcome === 'timeout') timedOut++;
          counts[protocol]!++;
          if (o.progressEvery && counts[protocol]! % o.progressEvery === 0) {
            const rss = rssMb(gw.pid);
            rssPeak = Math.max(rssPeak, rss);
            const l1 = os.loadavg()[0]!;
            load.min = Math.min(load.min, l1);
            load.max = Math.max(load.max, l1);
            const line = `[fuzz] ${protocol} ${counts[protocol]}/${o.cases} rss ${rss.toFixed(0)} MB ${((Date.now() - t0) / 1000).toFixed(0)} s load ${l1.toFixed(1)}`;
            void fetchText(p.http, '/metrics')
              .then((m) => `${line} heap_used ${metricMb(m, 'nodejs_heap_size_used_bytes')} MB external ${metricMb(m, 'nodejs_external_memory_bytes')} MB`)
              .catch(() => line)
              .then((l) => process.stderr.write(`${l}\n`));
          }
          if ((counts[protocol]! & 255) === 0) rssPeak = Math.max(rssPeak, rssMb(gw.pid));
        }
      };
      await Promise.all(Array.from({ length: concurrency }, () => worker()));
      if (gw.child.exitCode === null && gw.child.signalCode === null) return true;
      problems.push(`gateway exited (code ${gw.child.exitCode}, signal ${gw.child.signalCode}) during ${protocol} cases; in flight: ${[...inFlight].join(' ')}\n${last.join('\n')}`);
      return false;
    };
    // Warm-up, then the baseline (see warmupCases): the first cases of every protocol, so the RSS the check starts
    // from already holds the JIT code, V8's working heap and the allocator's arenas of both phases.
    let up = true;
    for (const protocol of o.protocols) if (up) up = await runUpTo(protocol, warmup);
    if (up) {
      await sleep(1500); // the warm-up's connections are closed and their 1 s linger is over
      rssBefore = rssMb(gw.pid);
      const deadline = o.maxSeconds ? t0 + o.maxSeconds * 1000 : Infinity;
      for (const [i, protocol] of o.protocols.entries()) {
        // Each remaining phase gets an equal share of the time left.
        if (up) up = await runUpTo(protocol, o.cases, Date.now() + (deadline - Date.now()) / (o.protocols.length - i));
      }
    }
    rssPeak = Math.max(rssPeak, rssMb(gw.pid));
    const e1 = await mqttPair.stop();
    const e2 = await stompPair.stop();
    for (const e of [e1, e2]) if (e) problems.push(e);
    const s1 = checkSequence('mqtt', mqttPair.received(), mqttPair.sent);
    const s2 = checkSequence('stomp', stompPair.got, stompPair.sent);
    for (const e of [s1, s2]) if (e) problems.push(e);
    // RSS once the connections are gone (lingering server sockets are destroyed after 1 s at most).
    const alive = gw.child.exitCode === null && gw.child.signalCode === null;
    if (alive) {
      await heapSnapshot(gw);
      const end = Date.now() + 15_000;
      do {
        await sleep(500);
        rssAfter = rssMb(gw.pid);
      } while (rssAfter - rssBefore > slack && Date.now() < end);
      const m = await fetchText(p.http, '/metrics').catch(() => '');
      heapUsed = Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(m)?.[1] ?? 0) / 1048576;
      external = Number(/^nodejs_external_memory_bytes (\S+)$/m.exec(m)?.[1] ?? 0) / 1048576;
      // The bounded state the fuzz legitimately leaves behind (limits set in fuzzProcess()).
      const g = (name: string): string => /^(\S+) (\S+)$/m.exec(m.split('\n').find((l) => l.startsWith(`${name} `)) ?? '')?.[2] ?? '?';
      held = `retained=${g('gateway_retained_messages')}/${(Number(g('gateway_retained_bytes')) / 1024).toFixed(0)}KB sessions=${g('gateway_sessions')} `;
      if (rssAfter - rssBefore > slack) {
        problems.push(`RSS ${rssAfter.toFixed(1)} MB is more than ${slack} MB over the baseline ${rssBefore.toFixed(1)} MB (V8 heap used ${heapUsed.toFixed(1)} MB, external ${external.toFixed(1)} MB)`);
      }
    } else if (!problems.some((x) => x.startsWith('gateway exited'))) {
      problems.push(`gateway exited (code ${gw.child.exitCode}, signal ${gw.child.signalCode})`);
    }
    if (errorLines.length) problems.push(`${errorLines.length} error-level log line(s), first: ${errorLines[0]}`);
  } catch (err) {
    problems.push(`fuzz run failed: ${err instanceof Error ? err.stack : String(err)}`);
  } finally {
    await proc.dispose();
  }
  const seconds = (Date.now() - t0) / 1000;
  const pairs = {
    mqtt: { sent: mqttPair?.sent ?? 0, received: mqttPair?.received().length ?? 0 },
    stomp: { sent: stompPair?.sent ?? 0, received: stompPair?.got.length ?? 0 },
  };
  const ok = problems.length === 0;
  const summary =
    `fuzz ${ok ? 'PASS' : 'FAIL'} seed=${o.seed} cases=${Object.entries(counts).map(([k, v]) => `${k}:${v}`).join(',')}${Object.values(counts).some((v) => v < o.cases) ? `(of ${o.cases} each)` : ''} time=${seconds.toFixed(1)}s ${load.max > 0 ? `load=${load.min.toFixed(1)}-${load.max.toFixed(1)} ` : ''}` +
    `rss_start=${rssStart.toFixed(1)}MB rss_before=${rssBefore.toFixed(1)}MB(after ${warmup} warm-up cases each) rss_peak=${rssPeak.toFixed(1)}MB rss_after=${rssAfter.toFixed(1)}MB heap_used=${heapUsed.toFixed(1)}MB external=${external.toFixed(1)}MB ${held}` +
    `mqtt_pair=${pairs.mqtt.received}/${pairs.mqtt.sent} stomp_pair=${pairs.stomp.received}/${pairs.stomp.sent} ` +
    `closed_by_gateway=${closedByGateway} timeouts=${timedOut} error_lines=${errorLines.length}`;
  return { ok, problems, cases: counts, seconds, rssStartMb: rssStart, rssBeforeMb: rssBefore, rssPeakMb: rssPeak, rssAfterMb: rssAfter, heapUsedMb: heapUsed, externalMb: external, pairs, closedByGateway, timedOut, errorLines, summary };
}

/** Replays one case alone against a fresh gateway: what it sent, how the connection ended, the process state and the gateway's log lines. */
export async function replayCase(seed: number, protocol: Protocol, index: number): Promise<{ ok: boolean; report: string }> {
  const c = makeCase(seed, protocol, index);
  const proc = fuzzProcess();
  try {
    const gw = await proc.start();
    let p = ports(gw);
    for (let i = 0; !p && i < 250; i++) {
      await sleep(20);
      p = ports(gw);
    }
    if (!p) throw new Error('no ports');
    const outcome = await sendCase(protocol === 'mqtt' ? p.mqtt : p.stomp, c);
    await sleep(300);
    const alive = gw.child.exitCode === null && gw.child.signalCode === null;
    const errors = gw.lines.filter((l) => /"level":(50|60)/.test(l));
    const ok = alive && errors.length === 0;
    const report = [
      `case seed=${seed} protocol=${protocol} index=${index}: ${c.note}`,
      `bytes (${c.chunks.length} write(s)): ${c.chunks.map((b) => b.toString('hex')).join(' | ')}`,
      `connection: ${outcome}; gateway ${alive ? 'alive' : `exited (code ${gw.child.exitCode}, signal ${gw.child.signalCode})`}; error-level lines: ${errors.length}`,
      ...gw.lines.filter((l) => !/"listening"|"state recovered"/.test(l)).slice(-10),
    ].join('\n');
    return { ok, report };
  } finally {
    await proc.dispose();
  }
}
