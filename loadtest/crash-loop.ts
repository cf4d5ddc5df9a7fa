// Crash loop: publishes numbered QoS 1/2 messages into a real gateway process, kills it with SIGKILL at a seeded point, restarts it and checks loss, duplicates and order. Imports node builtins, mqtt, mqtt-packet and the gateway-process test helper.
//
// Usage: node --import tsx loadtest/crash-loop.ts --iterations N --seed S --flush always|interval|never [--churn]
// Prints one line per iteration and a summary; exits 1 on any loss of an acknowledged message, any
// duplicate QoS 2 delivery or any order violation (QoS 1 duplicates are counted, not failed).
//
// One iteration (all randomness from the seed):
//   1. fresh data dir, start the gateway; two persistent subscribers (mqtt.js v3.1.1 clean=false and
//      v5 clean=false + sessionExpiryInterval) subscribe `t/#` at QoS 2 and disconnect;
//   2. a raw persistent publisher (v3.1.1 clean=false) sends `seq:qos` payloads to `t/crash`, QoS 1 or
//      2 per message, keeping `window` in flight; PUBACK (QoS 1) and PUBREC (QoS 2) count as the
//      acknowledgement of durability;
//   3. after a seeded number of acks the gateway gets SIGKILL; acks already on the wire still count;
//   4. restart on the same data dir; the publisher resumes its session and re-sends what was not
//      acknowledged with the original ids [MQTT-4.4.0-1]: PUBLISH with DUP, or PUBREL after a PUBREC;
//      then it sends `tail` fresh messages;
//   5. subscribers resume (clean=false) and collect until every message arrived or a bounded wait ends.
// Checks per subscriber: every acknowledged message delivered; no QoS 2 message twice; the first
// deliveries of messages acknowledged before the crash (and of fresh ones after) in publish order per
// QoS [MQTT-4.6.0-6]; a QoS 1 message overtaking an earlier QoS 2 one is counted (xqos), not failed.
// Messages re-sent after the restart are left out of the order check: where they land is not fixed.
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { answerHelp } from './help.ts';
import { parseArgs } from 'node:util';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { GatewayProcess, type FlushMode } from '../test/helpers/gateway-process.ts';
import { prng } from '../test/helpers/prng.ts';


const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(10);
  }
  return true;
}

/** One message the publisher sent; `seq` is also its packet id minus one. */
interface Sent {
  seq: number;
  qos: 1 | 2;
  /** PUBACK or PUBREC seen (before the crash: `ackedBeforeCrash`). */
  acked: boolean;
  ackedBeforeCrash: boolean;
  /** QoS 1: PUBACK; QoS 2: PUBCOMP. */
  done: boolean;
  /** Re-sent after the restart (PUBLISH with DUP). */
  resent: boolean;
}

/**
 * A packet-level publisher over one socket at a time: keeps its message table across reconnects, the
 * way a client with a persistent store would. Only answers PUBREC with PUBREL; subscribes to nothing.
 */
class RawPublisher {
  readonly sent: Sent[] = [];
  private socket: net.Socket | undefined;
  closed = true;
  inflight = 0;
  acks = 0;
  onAck: (() => void) | undefined;
  private wakeups: (() => void)[] = [];

  constructor(readonly clientId: string, readonly topic: string) {}

  /** Connects with clean=false; resolves with CONNACK's sessionPresent. */
  connect(port: number): Promise<boolean> {
    const socket = net.connect(port, '127.0.0.1');
    this.socket = socket;
    this.closed = false;
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    let connack: ((sp: boolean) => void) | undefined;
    parser.on('packet', (p: Packet) => {
      if (p.cmd === 'connack') connack?.(p.sessionPresent);
      else this.onPacket(p);
      this.wake();
    });
    parser.on('error', () => socket.destroy());
    socket.on('data', (d: Buffer) => parser.parse(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    const result = new Promise<boolean>((resolve, reject) => {
      connack = resolve;
      socket.once('close', () => reject(new Error('publisher socket closed before CONNACK')));
    });
    socket.once('connect', () =>
      this.write({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: this.clientId, clean: false, keepalive: 0 }),
    );
    return withTimeout(result, 5000, 'publisher CONNACK');
  }

  private write(p: Packet): void {
    this.socket?.write(mqttPacket.generate(p, { protocolVersion: 4 }));
  }

  private wake(): void {
    const w = this.wakeups;
    this.wakeups = [];
    for (const f of w) f();
  }

  /** Resolves on the next packet or close (or after `ms`). */
  private waitEvent(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      this.wakeups.push(() => {
        clearTimeout(t);
        r();
      });
    });
  }

  private onPacket(p: Packet): void {
    if (p.cmd !== 'puback' && p.cmd !== 'pubrec' && p.cmd !== 'pubcomp') return;
    const s = this.sent[p.messageId! - 1];
    if (!s) return;
    if (p.cmd === 'puback' || p.cmd === 'pubrec') {
      if (!s.acked) {
        s.acked = true;
        this.acks++;
      }
      if (p.cmd === 'pubrec') this.write({ cmd: 'pubrel', messageId: p.messageId! });
      else if (!s.done) {
        s.done = true;
        this.inflight--;
      }
      this.onAck?.();
    } else if (!s.done) {
      s.done = true;
      this.inflight--;
    }
  }

  private publish(s: Sent, dup: boolean): void {
    this.write({ cmd: 'publish', topic: this.topic, payload: Buffer.from(`${s.seq}:${s.qos}`), qos: s.qos, messageId: s.seq + 1, dup, retain: false });
  }

  /** Sends fresh messages while fewer than `window` are open, until `stop()` or `max` messages; bounded by `ms`. */
  async pump(pickQos: () => 1 | 2, window: number, max: number, stop: () => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!this.closed && !stop() && this.sent.length < max && Date.now() < end) {
      while (this.inflight < window && this.sent.length < max && !stop()) {
        const s: Sent = { seq: this.sent.length, qos: pickQos(), acked: false, ackedBeforeCrash: false, done: false, resent: false };
        this.sent.push(s);
        this.inflight++;
        this.publish(s, false);
      }
      await this.waitEvent(50);
    }
  }

  /** After a reconnect: re-send every open message in order with its original id [MQTT-4.4.0-1]. */
  resendOpen(): number {
    let n = 0;
    for (const s of this.sent) {
      if (s.done) continue;
      n++;
      if (s.qos === 2 && s.acked) this.write({ cmd: 'pubrel', messageId: s.seq + 1 });
      else {
        s.resent = true;
        this.publish(s, true);
      }
    }
    return n;
  }

  markCrash(): void {
    for (const s of this.sent) s.ackedBeforeCrash = s.acked;
  }

  /** Waits until nothing is open; false on timeout or close. */
  async drain(ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (this.sent.some((s) => !s.done)) {
      if (this.closed || Date.now() > end) return false;
      await this.waitEvent(50);
    }
    return true;
  }

  async waitClosed(ms: number): Promise<boolean> {
    return waitUntil(() => this.closed, ms);
  }

  destroy(): void {
    this.socket?.destroy();
  }
}

/** What a subscriber saw after the restart, in PUBLISH arrival order. */
interface Seen {
  seq: number;
  qos: number;
  dup: boolean;
}

async function mqttConnect(url: string, opts: IClientOptions): Promise<{ client: MqttClient; seen: Seen[]; sessionPresent: boolean }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, keepalive: 0, ...opts });
  const seen: Seen[] = [];
  client.on('error', () => {});
  // PUBLISH arrival order, not 'message' order: mqtt.js emits QoS 2 only at PUBREL, a round trip later.
  client.on('packetreceive', (p: Packet) => {
    if (p.cmd !== 'publish') return;
    seen.push({ seq: Number(p.payload.toString().split(':')[0]), qos: p.qos, dup: p.dup });
  });
  const sessionPresent = await withTimeout(
    new Promise<boolean>((resolve, reject) => {
      client.once('connect', (ack) => resolve(ack.sessionPresent));
      client.once('error', reject);
      client.once('close', () => reject(new Error(`${String(opts.clientId)} closed before CONNACK`)));
    }),
    6000,
    `connect ${String(opts.clientId)}`,
  );
  return { client, seen, sessionPresent };
}

async function endClient(c: MqttClient): Promise<void> {
  await withTimeout(c.endAsync(), 2000, 'client end').catch(() => c.end(true));
}

export interface SubscriberReport {
  name: string;
  sessionPresent: boolean;
  received: number;
  /** Acknowledged (before the crash or after the resend) and never delivered. */
  lost: number[];
  /** Of `lost`, those acknowledged before the crash: the durability promise itself. */
  lostAckedBeforeCrash: number[];
  qos2Duplicates: number[];
  qos1Duplicates: number;
  /** Pairs [previous, next] where a first delivery went backwards within one QoS (publisher QoS). */
  orderViolations: [number, number][];
  /** First deliveries that went backwards only relative to the other QoS (allowed by [MQTT-4.6.0-6]). */
  crossQosReorders: number;
  /** Only `lost` counts for this subscriber (the churning one). */
  lossOnly: boolean;
}

export interface IterationResult {
  seed: number;
  flush: FlushMode;
  killAfterAcks: number;
  sentBeforeCrash: number;
  ackedBeforeCrash: number;
  /** Open messages re-sent (PUBLISH with DUP or PUBREL) after the restart. */
  resent: number;
  resentQos2Publishes: number;
  publisherSessionPresent: boolean;
  publisherDrained: boolean;
  recovered: { retained: number; sessions: number; replayed: number };
  subscribers: SubscriberReport[];
  ms: number;
}

export interface IterationOptions {
  seed: number;
  flush: FlushMode;
  flushIntervalMs?: number;
  window?: number;
  minAcks?: number;
  maxAcks?: number;
  /** Fresh messages sent after the restart. */
  tail?: number;
  /** Bound on collecting after the restart. */
  collectMs?: number;
  /**
   * Adds a third persistent subscriber that connects and disconnects every few ms while the
   * publisher runs, so session images are written while appends are still in flight. Only loss is
   * judged for it: reconnecting mid-flow legitimately re-sends PUBLISHes.
   */
  churn?: boolean;
}

/** True when the result breaks a promise (QoS 1 duplicates alone do not). */
export function failed(r: IterationResult): boolean {
  return (
    !r.publisherDrained ||
    r.subscribers.some((s) => s.lost.length !== 0 || (!s.lossOnly && (s.qos2Duplicates.length !== 0 || s.orderViolations.length !== 0)))
  );
}

function analyse(name: string, sessionPresent: boolean, seen: Seen[], sent: Sent[], lossOnly = false): SubscriberReport {
  const counts = new Map<number, number>();
  for (const s of seen) counts.set(s.seq, (counts.get(s.seq) ?? 0) + 1);
  const lost: number[] = [];
  const lostAckedBeforeCrash: number[] = [];
  const qos2Duplicates: number[] = [];
  let qos1Duplicates = 0;
  for (const s of sent) {
    const c = counts.get(s.seq) ?? 0;
    if (s.acked && c === 0) {
      lost.push(s.seq);
      if (s.ackedBeforeCrash) lostAckedBeforeCrash.push(s.seq);
    }
    if (c > 1) {
      if (s.qos === 2) qos2Duplicates.push(s.seq);
      else qos1Duplicates += c - 1;
    }
  }
  // [MQTT-4.6.0-6] orders a topic per QoS: a backwards step within one QoS fails, across QoS it is counted.
  const orderViolations: [number, number][] = [];
  let crossQosReorders = 0;
  const first = new Set<number>();
  const last: Record<number, number> = { 1: -1, 2: -1 };
  let lastAny = -1;
  for (const s of seen) {
    if (first.has(s.seq)) continue;
    first.add(s.seq);
    const m = sent[s.seq];
    if (!m || m.resent) continue;
    if (s.seq < last[m.qos]!) orderViolations.push([last[m.qos]!, s.seq]);
    else if (s.seq < lastAny) crossQosReorders++;
    last[m.qos] = Math.max(last[m.qos]!, s.seq);
    lastAny = Math.max(lastAny, s.seq);
  }
  return { name, sessionPresent, received: seen.length, lost, lostAckedBeforeCrash, qos2Duplicates, qos1Duplicates, orderViolations, crossQosReorders, lossOnly };
}

/** Runs one crash iteration; always kills its process and removes its temp dir. */
export async function runCrashIteration(opts: IterationOptions): Promise<IterationResult> {
  const t0 = Date.now();
  const rnd = prng(opts.seed);
  const window = opts.window ?? 50;
  const minAcks = opts.minAcks ?? 50;
  const maxAcks = opts.maxAcks ?? 500;
  const killAfterAcks = minAcks + Math.floor(rnd() * (maxAcks - minAcks + 1));
  const gp = new GatewayProcess({ flush: opts.flush, flushIntervalMs: opts.flushIntervalMs });
  const pub = new RawPublisher(`crash-pub-${opts.seed}`, 't/crash');
  const subs = [
    { name: 'v4-clean0', opts: { protocolVersion: 4, clientId: `crash-sub4-${opts.seed}`, clean: false } as IClientOptions },
    { name: 'v5-expiry', opts: { protocolVersion: 5, clientId: `crash-sub5-${opts.seed}`, clean: false, properties: { sessionExpiryInterval: 600 } } as IClientOptions },
  ];
  const clients: MqttClient[] = [];
  try {
    let g = await gp.start();
    for (const s of subs) {
      const c = await mqttConnect(g.url, s.opts);
      clients.push(c.client);
      await withTimeout(c.client.subscribeAsync('t/#', { qos: 2 }), 3000, 'subscribe');
      await endClient(c.client);
    }
    const churnOpts: IClientOptions = { protocolVersion: 4, clientId: `crash-churn-${opts.seed}`, clean: false };
    if (opts.churn) {
      const c = await mqttConnect(g.url, churnOpts);
      clients.push(c.client);
      await withTimeout(c.client.subscribeAsync('t/#', { qos: 2 }), 3000, 'subscribe');
      await endClient(c.client);
    }
    await pub.connect(g.port);
    let killed = false;
    const churnSeen: Seen[] = [];
    const churnRnd = prng(opts.seed ^ 0x5bd1e995);
    const churnUrl = g.url;
    const churnLoop = opts.churn
      ? (async () => {
          for (let i = 0; i < 2000 && !killed; i++) {
            let c: Awaited<ReturnType<typeof mqttConnect>>;
            try {
              c = await mqttConnect(churnUrl, churnOpts);
            } catch {
              return;
            }
            clients.push(c.client);
            await sleep(2 + Math.floor(churnRnd() * 30));
            c.client.end(true);
            churnSeen.push(...c.seen);
          }
        })()
      : Promise.resolve();
    pub.onAck = () => {
      if (!killed && pub.acks >= killAfterAcks) {
        killed = true;
        // Synchronous signal: whatever acks are already on the wire still arrive and still count.
        g.child.kill('SIGKILL');
      }
    };
    await pub.pump(() => (rnd() < 0.5 ? 1 : 2), window, 100_000, () => killed, 20_000);
    if (!killed) g.child.kill('SIGKILL');
    await gp.kill9();
    await pub.waitClosed(5000);
    await withTimeout(churnLoop, 10_000, 'churning subscriber to stop');
    pub.markCrash();
    const sentBeforeCrash = pub.sent.length;
    const ackedBeforeCrash = pub.sent.filter((s) => s.ackedBeforeCrash).length;

    g = await gp.start();
    const publisherSessionPresent = await pub.connect(g.port);
    const resentQos2Publishes = pub.sent.filter((s) => !s.done && s.qos === 2 && !s.acked).length;
    const resent = pub.resendOpen();
    let publisherDrained = await pub.drain(10_000);
    const tail = opts.tail ?? 20;
    pub.onAck = undefined;
    await pub.pump(() => (rnd() < 0.5 ? 1 : 2), window, sentBeforeCrash + tail, () => false, 5000);
    publisherDrained = publisherDrained && (await pub.drain(5000));
    pub.destroy();

    const collected: { name: string; sessionPresent: boolean; seen: Seen[]; lossOnly: boolean }[] = [];
    for (const s of subs) {
      const c = await mqttConnect(g.url, s.opts);
      clients.push(c.client);
      collected.push({ name: s.name, sessionPresent: c.sessionPresent, seen: c.seen, lossOnly: false });
    }
    if (opts.churn) {
      const c = await mqttConnect(g.url, churnOpts);
      clients.push(c.client);
      // What it saw before the crash counts as delivered; the final connection appends to the same list.
      const seen = churnSeen;
      c.client.on('packetreceive', (p: Packet) => {
        if (p.cmd === 'publish') seen.push({ seq: Number(p.payload.toString().split(':')[0]), qos: p.qos, dup: p.dup });
      });
      seen.push(...c.seen);
      collected.push({ name: 'v4-churn', sessionPresent: c.sessionPresent, seen, lossOnly: true });
    }
    const want = (seen: Seen[]): boolean => {
      const got = new Set(seen.map((x) => x.seq));
      return pub.sent.every((s) => !s.acked || got.has(s.seq));
    };
    await waitUntil(() => collected.every((c) => want(c.seen)), opts.collectMs ?? 8000);
    // A short quiet period so late duplicates are seen too.
    await sleep(300);
    for (const c of clients) await endClient(c);
    return {
      seed: opts.seed,
      flush: opts.flush,
      killAfterAcks,
      sentBeforeCrash,
      ackedBeforeCrash,
      resent,
      resentQos2Publishes,
      publisherSessionPresent,
      publisherDrained,
      recovered: g.recovered,
      subscribers: collected.map((c) => analyse(c.name, c.sessionPresent, c.seen, pub.sent, c.lossOnly)),
      ms: Date.now() - t0,
    };
  } finally {
    pub.destroy();
    for (const c of clients) c.end(true);
    await gp.dispose();
  }
}

export function describeResult(r: IterationResult): string {
  const subs = r.subscribers
    .map(
      (s) =>
        `${s.name}: recv=${s.received} lost=${s.lost.length}(acked-pre-crash ${s.lostAckedBeforeCrash.length}) q2dup=${s.qos2Duplicates.length} q1dup=${s.qos1Duplicates} order=${s.orderViolations.length} xqos=${s.crossQosReorders}`,
    )
    .join('; ');
  return (
    `seed=${r.seed} flush=${r.flush} kill@${r.killAfterAcks} sent=${r.sentBeforeCrash} acked=${r.ackedBeforeCrash} resent=${r.resent} ` +
    `(q2 publish ${r.resentQos2Publishes}) pubSession=${r.publisherSessionPresent} drained=${r.publisherDrained} replayed=${r.recovered.replayed} ` +
    `${r.ms}ms | ${subs}` +
    (failed(r)
      ? ` | FAIL ${JSON.stringify(r.subscribers.map((s) => ({ lost: s.lost.slice(0, 10), q2dup: s.qos2Duplicates.slice(0, 10), order: s.orderViolations.slice(0, 5) })))}`
      : '')
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string', default: '20' },
      seed: { type: 'string', default: '1' },
      flush: { type: 'string', default: 'interval' },
      'flush-interval-ms': { type: 'string', default: '10' },
      window: { type: 'string', default: '50' },
      churn: { type: 'boolean', default: false },
    },
  });
  const flush = values.flush as FlushMode;
  if (!['always', 'interval', 'never'].includes(flush)) throw new Error(`--flush must be always, interval or never`);
  const n = Number(values.iterations);
  const seed0 = Number(values.seed);
  let failures = 0;
  let q1dups = 0;
  for (let i = 0; i < n; i++) {
    const r = await runCrashIteration({
      seed: seed0 + i,
      flush,
      flushIntervalMs: Number(values['flush-interval-ms']),
      window: Number(values.window),
      churn: values.churn,
    });
    if (failed(r)) failures++;
    for (const s of r.subscribers) q1dups += s.qos1Duplicates;
    process.stdout.write(`${describeResult(r)}\n`);
  }
  process.stdout.write(`summary: iterations=${n} flush=${flush} seeds=${seed0}..${seed0 + n - 1} failed=${failures} qos1-duplicates=${q1dups}\n`);
  process.exit(failures === 0 ? 0 : 1);
}

const USAGE = `usage: node --import tsx loadtest/crash-loop.ts [--iterations N] [--seed S] [--flush always|interval|never]
                                                [--flush-interval-ms MS] [--window N] [--churn]
Publishes numbered QoS 1/2 messages into a real gateway process, SIGKILLs it at a seeded point, restarts it
and checks loss, duplicates and order. Defaults: --iterations 20 --seed 1 --flush interval --window 50.
Exit codes: 0 no failure, 1 a lost acknowledged message, a QoS 2 duplicate or an order violation, 2 an error.`;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  answerHelp(USAGE);
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  });
}
