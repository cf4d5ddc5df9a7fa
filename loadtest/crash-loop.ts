// Crash loop: publishes numbered QoS 1/2 messages into a real gateway process, kills it with SIGKILL at a seeded point, restarts it and checks loss, duplicates and order. Imports node builtins, mqtt, mqtt-packet, ./wakeups.ts and the gateway-process test helper.
//
// Usage: node --import tsx loadtest/crash-loop.ts --iterations N --seed S --flush always|interval|never [--churn]
//        node --import tsx loadtest/crash-loop.ts --default-config [--kills 10] [--kill-acks 10000-30000] [--max-queued N]
// Prints one line per iteration and a summary; exits 1 on any loss of an acknowledged message, any
// duplicate QoS 2 delivery or any order violation (QoS 1 duplicates are counted, not failed).
// --help prints the usage and exits 0 without starting anything.
//
// Kill loop (--kills N, or --default-config which means --kills 10 unless given): ONE data dir, one gateway
// killed N times under continuous QoS 1 + QoS 2 load; see runKillLoop below. --default-config writes no
// config key but the listener ports (the flush policy is the default, interval 10 ms), so the session caps
// (sessions.maxQueued 10,000, mqtt.maxInflight 1,024) are the shipped ones; --max-queued N raises
// sessions.maxQueued and sessions.maxQueuedBytes to N for the comparison run.
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
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { answerHelp } from './help.ts';
import { parseArgs } from 'node:util';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { GatewayProcess, type FlushMode } from '../test/helpers/gateway-process.ts';
import { prng } from '../test/helpers/prng.ts';
import { Wakeups } from './wakeups.ts';

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

/** VmRSS of pid in MiB from /proc, or '?' when unreadable. */
function vmRssMiB(pid: number | undefined): string {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? '?' : (Number(m[1]) / 1024).toFixed(0);
  } catch {
    return '?';
  }
}

/** Packet id of message `seq`: ids wrap after 65535 [MQTT-2.3.1-1 non-zero]; at most `window` (< 65535) are open at once, so open ids are unique. */
const packetId = (seq: number): number => (seq % 65535) + 1;

/**
 * A packet-level publisher over one socket at a time: keeps its message table across reconnects, the
 * way a client with a persistent store would. Only answers PUBREC with PUBREL; subscribes to nothing.
 */
class RawPublisher {
  readonly sent: Sent[] = [];
  /** Messages not yet done (QoS 1: no PUBACK; QoS 2: no PUBCOMP), by packet id. */
  private readonly open = new Map<number, Sent>();
  private socket: net.Socket | undefined;
  closed = true;
  inflight = 0;
  acks = 0;
  onAck: (() => void) | undefined;
  /** Woken by each ack, packet or close. */
  private readonly events = new Wakeups();

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
      this.events.wake();
    });
    parser.on('error', () => socket.destroy());
    socket.on('data', (d: Buffer) => parser.parse(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.events.wake();
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

  private onPacket(p: Packet): void {
    if (p.cmd !== 'puback' && p.cmd !== 'pubrec' && p.cmd !== 'pubcomp') return;
    const s = this.open.get(p.messageId!);
    if (!s) return;
    if (p.cmd === 'puback' || p.cmd === 'pubrec') {
      if (!s.acked) {
        s.acked = true;
        this.acks++;
      }
      if (p.cmd === 'pubrec') this.write({ cmd: 'pubrel', messageId: p.messageId! });
      else if (!s.done) {
        s.done = true;
        this.open.delete(p.messageId!);
        this.inflight--;
      }
      this.onAck?.();
    } else if (!s.done) {
      s.done = true;
      this.open.delete(p.messageId!);
      this.inflight--;
    }
  }

  private publish(s: Sent, dup: boolean): void {
    this.write({ cmd: 'publish', topic: this.topic, payload: Buffer.from(`${s.seq}:${s.qos}`), qos: s.qos, messageId: packetId(s.seq), dup, retain: false });
  }

  /** Sends fresh messages while fewer than `window` are open, until `stop()` or `max` messages; bounded by `ms`. */
  async pump(pickQos: () => 1 | 2, window: number, max: number, stop: () => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!this.closed && !stop() && this.sent.length < max && Date.now() < end) {
      while (this.inflight < window && this.sent.length < max && !stop()) {
        const s: Sent = { seq: this.sent.length, qos: pickQos(), acked: false, ackedBeforeCrash: false, done: false, resent: false };
        this.sent.push(s);
        this.open.set(packetId(s.seq), s);
        this.inflight++;
        this.publish(s, false);
      }
      await this.events.wait(50);
    }
  }

  /** After a reconnect: re-send every open message in order with its original id [MQTT-4.4.0-1]. */
  resendOpen(): number {
    let n = 0;
    for (const s of [...this.open.values()].sort((a, b) => a.seq - b.seq)) {
      n++;
      if (s.qos === 2 && s.acked) this.write({ cmd: 'pubrel', messageId: packetId(s.seq) });
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
    while (this.open.size > 0) {
      if (this.closed || Date.now() > end) return false;
      await this.events.wait(50);
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
  /** Packet id of the PUBLISH; with seq -1 the entry is a PUBREL for this id (kill loop only). */
  id?: number;
}

async function mqttConnect(url: string, opts: IClientOptions): Promise<{ client: MqttClient; seen: Seen[]; sessionPresent: boolean }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, keepalive: 0, ...opts });
  const seen: Seen[] = [];
  client.on('error', () => {});
  // PUBLISH arrival order, not 'message' order: mqtt.js emits QoS 2 only at PUBREL, a round trip later.
  client.on('packetreceive', (p: Packet) => {
    if (p.cmd !== 'publish') return;
    seen.push({ seq: Number(p.payload.toString().split(':')[0]), qos: p.qos, dup: p.dup, id: p.messageId });
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

export interface KillLoopOptions {
  seed: number;
  kills: number;
  /** Acks between two kills, seeded uniformly in [min, max]. */
  killAcks: [number, number];
  window: number;
  flush: FlushMode;
  flushIntervalMs: number;
  /** sessions.maxQueued and sessions.maxQueuedBytes; undefined = the defaults (no config key written). */
  maxQueued?: number;
  /** Leave out the subscriber that stays offline through all kills (default: include it). */
  noOffline?: boolean;
  /** After the last restart: stop collecting after this long without a new delivery, or after maxCollectMs. */
  quietMs?: number;
  maxCollectMs?: number;
}

export interface KillLoopResult {
  kills: number;
  /** Set when the gateway did not come back after a kill: what happened (the loop stopped there). */
  restartFailure?: string;
  sent: number;
  acked: { qos1: number; qos2: number };
  publisherDrained: boolean;
  subscribers: (SubscriberReport & { lostQos1: number; lostQos2: number; connections: number })[];
  ms: number;
}

/**
 * A 10-kill run under load (issue 8): one data dir; two persistent subscribers (mqtt.js v3.1.1
 * clean=false and v5 with session expiry) subscribed to `t/#` at QoS 2 stay connected and read as
 * fast as mqtt.js does (a QoS 2 delivery costs them a PUBREC/PUBREL round trip, so they may lag behind
 * the publisher: their backlog must wait, not be dropped); a third (v3.1.1 clean=false) subscribes and
 * stays offline until after the last restart, so its whole backlog has to be kept; the raw publisher keeps
 * `window` QoS 1 / QoS 2 messages (half each, seeded) in flight; after a seeded number of acks the
 * gateway gets SIGKILL, restarts on the same data dir, the publisher resumes its session and re-sends
 * what was open, the subscribers reconnect (clean=false, new mqtt.js clients on the new port, same
 * delivery lists). After the last kill the publisher drains, sends 20 more, and the subscribers
 * collect until every acknowledged message arrived or nothing new came for quietMs.
 */
export async function runKillLoop(o: KillLoopOptions, log: (line: string) => void = () => undefined): Promise<KillLoopResult> {
  const t0 = Date.now();
  const rnd = prng(o.seed);
  const extra = o.maxQueued === undefined ? undefined : { sessions: { maxQueued: o.maxQueued, maxQueuedBytes: o.maxQueued } };
  // A restart recovers a growing log on a shared machine: allow a minute before calling it failed.
  const gp = new GatewayProcess({ flush: o.flush, flushIntervalMs: o.flushIntervalMs, extra, startTimeoutMs: 60_000 });
  const pub = new RawPublisher(`killloop-pub-${o.seed}`, 't/crash');
  const subs = [
    { name: 'v4-clean0', opts: { protocolVersion: 4, clientId: `killloop-sub4-${o.seed}`, clean: false } as IClientOptions, seen: [] as Seen[], connections: 0, offline: false },
    { name: 'v5-expiry', opts: { protocolVersion: 5, clientId: `killloop-sub5-${o.seed}`, clean: false, properties: { sessionExpiryInterval: 600 } } as IClientOptions, seen: [] as Seen[], connections: 0, offline: false },
    // Offline from its SUBSCRIBE until after the last restart: its whole backlog waits in the gateway.
    { name: 'v4-offline', opts: { protocolVersion: 4, clientId: `killloop-off4-${o.seed}`, clean: false } as IClientOptions, seen: [] as Seen[], connections: 0, offline: true },
  ].filter((x) => !(o.noOffline === true && x.offline));
  const clients: MqttClient[] = [];
  const attach = async (url: string, first: boolean, last = false): Promise<void> => {
    for (const s of subs) {
      if (s.offline && !first && !last) continue;
      const c = await mqttConnect(url, s.opts);
      clients.push(c.client);
      s.connections++;
      // mqttConnect collected what came before CONNACK resolved; keep one list per subscriber across connections.
      const own = c.seen;
      s.seen.push(...own.splice(0));
      c.client.on('packetreceive', (p: Packet) => {
        if (own.length > 0) s.seen.push(...own.splice(0));
        if (p.cmd === 'pubrel') s.seen.push({ seq: -1, qos: 2, dup: false, id: p.messageId });
      });
      if (first) await withTimeout(c.client.subscribeAsync('t/#', { qos: 2 }), 3000, 'subscribe');
      if (first && s.offline) await endClient(c.client);
    }
  };
  try {
    let g = await gp.start();
    await attach(g.url, true);
    await pub.connect(g.port);
    for (let k = 1; k <= o.kills; k++) {
      const target = pub.acks + o.killAcks[0] + Math.floor(rnd() * (o.killAcks[1] - o.killAcks[0] + 1));
      let killed = false;
      const child = g.child;
      pub.onAck = () => {
        if (!killed && pub.acks >= target) {
          killed = true;
          child.kill('SIGKILL'); // synchronous: acks already on the wire still count
        }
      };
      await pub.pump(() => (rnd() < 0.5 ? 1 : 2), o.window, Number.MAX_SAFE_INTEGER, () => killed, 300_000);
      if (!killed) child.kill('SIGKILL');
      await gp.kill9();
      await pub.waitClosed(5000);
      for (const c of clients.splice(0)) c.end(true);
      pub.markCrash();
      const restartAt = Date.now();
      try {
        g = await gp.start();
      } catch (err) {
        // Not a harness error: the gateway failed to recover its data dir in time. Say what the process did.
        const child = gp.current?.child;
        const state = child === undefined ? 'not started' : child.exitCode !== null || child.signalCode !== null
          ? `exited (code ${child.exitCode}, signal ${child.signalCode})` : `still running after ${Date.now() - restartAt} ms (pid ${child.pid}, VmRSS ${vmRssMiB(child.pid)} MiB)`;
        const tail = (gp.current?.lines ?? []).slice(-5).join(' | ');
        return {
          kills: k - 1, restartFailure: `restart after kill ${k} failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}; process ${state}; last lines: ${tail}`,
          sent: pub.sent.length,
          acked: { qos1: pub.sent.filter((m) => m.acked && m.qos === 1).length, qos2: pub.sent.filter((m) => m.acked && m.qos === 2).length },
          publisherDrained: false, subscribers: [], ms: Date.now() - t0,
        };
      }
      const restartMs = Date.now() - restartAt;
      await pub.connect(g.port);
      const resent = pub.resendOpen();
      await attach(g.url, false);
      log(`kill ${k}/${o.kills}: sent ${pub.sent.length}, acked ${pub.acks}, re-sent ${resent}, replayed ${g.recovered.replayed}, restart ${restartMs} ms; `
        + subs.map((s) => `${s.name} has ${s.seen.length}`).join(', '));
    }
    pub.onAck = undefined;
    let publisherDrained = await pub.drain(30_000);
    await pub.pump(() => (rnd() < 0.5 ? 1 : 2), o.window, pub.sent.length + 20, () => false, 5000);
    publisherDrained = publisherDrained && (await pub.drain(10_000));
    for (const s of subs.filter((x) => x.offline)) {
      const c = await mqttConnect(g.url, s.opts);
      clients.push(c.client);
      s.connections++;
      const own = c.seen;
      s.seen.push(...own.splice(0));
      c.client.on('packetreceive', (p: Packet) => {
        if (own.length > 0) s.seen.push(...own.splice(0));
        if (p.cmd === 'pubrel') s.seen.push({ seq: -1, qos: 2, dup: false, id: p.messageId });
      });
    }
    const want = (seen: Seen[]): boolean => {
      const got = new Set(seen.map((x) => x.seq));
      return pub.sent.every((m) => !m.acked || got.has(m.seq));
    };
    const quietMs = o.quietMs ?? 5000;
    const end = Date.now() + (o.maxCollectMs ?? 120_000);
    let lastCount = -1;
    let lastChange = Date.now();
    while (Date.now() < end) {
      if (subs.every((s) => want(s.seen))) break;
      const count = subs.reduce((a, s) => a + s.seen.length, 0);
      if (count !== lastCount) { lastCount = count; lastChange = Date.now(); }
      else if (Date.now() - lastChange > quietMs) break;
      await sleep(100);
    }
    await sleep(300); // late duplicates
    for (const c of clients) await endClient(c);
    const acked = { qos1: pub.sent.filter((m) => m.acked && m.qos === 1).length, qos2: pub.sent.filter((m) => m.acked && m.qos === 2).length };
    return {
      kills: o.kills,
      sent: pub.sent.length,
      acked,
      publisherDrained,
      subscribers: subs.map((s) => {
        const r = analyse(s.name, true, qos2Deliveries(s.seen), pub.sent);
        return { ...r, lostQos1: r.lost.filter((q) => pub.sent[q]!.qos === 1).length, lostQos2: r.lost.filter((q) => pub.sent[q]!.qos === 2).length, connections: s.connections };
      }),
      ms: Date.now() - t0,
    };
  } finally {
    pub.destroy();
    for (const c of clients) c.end(true);
    await gp.dispose();
  }
}

/**
 * What the application of a persistent QoS 2 receiver sees: a QoS 2 PUBLISH whose packet id is still
 * between PUBLISH and PUBREL at the receiver is the same message resent (with DUP), not a new one
 * [MQTT-4.3.3-9]; the receiver's state survives its reconnects, as a clean=false client's must. mqtt.js
 * keeps that state per client object and the loop makes a new one per restart, so it is rebuilt here from
 * arrival order. QoS 1 entries pass through (their duplicates are allowed and counted). PUBREL markers drop out.
 */
function qos2Deliveries(seen: Seen[]): Seen[] {
  const pending = new Map<number, number>();
  const out: Seen[] = [];
  for (const e of seen) {
    if (e.seq === -1) { pending.delete(e.id!); continue; }
    if (e.qos === 2 && e.id !== undefined) {
      if (pending.get(e.id) === e.seq) continue;
      pending.set(e.id, e.seq);
    }
    out.push(e);
  }
  return out;
}

export function killLoopFailed(r: KillLoopResult): boolean {
  return r.restartFailure !== undefined || !r.publisherDrained || r.subscribers.some((s) => s.lost.length > 0 || s.qos2Duplicates.length > 0 || s.orderViolations.length > 0);
}

export function describeKillLoop(r: KillLoopResult): string {
  return [
    `kill loop: ${r.kills} kills, sent ${r.sent}, acknowledged QoS 1 ${r.acked.qos1} / QoS 2 ${r.acked.qos2}, publisher drained ${r.publisherDrained}, ${r.ms} ms`,
    ...(r.restartFailure !== undefined ? [`  ${r.restartFailure}`] : []),
    ...r.subscribers.map((s) => `  ${s.name} (${s.connections} connections): delivered/expected QoS 1 ${r.acked.qos1 - s.lostQos1}/${r.acked.qos1}, `
      + `QoS 2 ${r.acked.qos2 - s.lostQos2}/${r.acked.qos2}; lost ${s.lost.length} (QoS 1 ${s.lostQos1}, QoS 2 ${s.lostQos2}); `
      + `QoS 2 duplicates ${s.qos2Duplicates.length}; QoS 1 duplicates ${s.qos1Duplicates}; order violations ${s.orderViolations.length}; cross-QoS reorders ${s.crossQosReorders}`),
    killLoopFailed(r) ? 'FAIL' : 'ok',
  ].join('\n');
}

const HELP = `usage: node --import tsx loadtest/crash-loop.ts [options]
one kill per iteration (a fresh data dir each):
  --iterations N        iterations (default 20), seeds --seed .. --seed+N-1
  --seed S              first seed (default 1)
  --flush P             always | interval | never (default interval)
  --flush-interval-ms M (default 10)
  --window W            QoS 1/2 messages in flight at the publisher (default 50; kill loop: 200)
  --churn               a third persistent subscriber reconnects every few ms while the publisher runs
kill loop (one data dir, N kills under continuous QoS 1 + QoS 2 load, subscribers connected):
  --kills N             run the kill loop with N kills
  --default-config      the kill loop on the shipped defaults (no config key but the ports; flush interval);
                        implies --kills 10
  --kill-acks MIN-MAX   acks between two kills, seeded (default 10000-30000)
  --max-queued N        raise sessions.maxQueued / maxQueuedBytes to N (the "caps raised" comparison)
  --no-offline          leave out the third subscriber, which stays offline through all kills
exit code: 0 when nothing acknowledged was lost, no QoS 2 message was delivered twice and no order broke;
1 otherwise; 2 on a harness error.
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string', default: '20' },
      seed: { type: 'string', default: '1' },
      flush: { type: 'string', default: 'interval' },
      'flush-interval-ms': { type: 'string', default: '10' },
      window: { type: 'string', default: '50' },
      churn: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
      kills: { type: 'string' },
      'default-config': { type: 'boolean', default: false },
      'kill-acks': { type: 'string', default: '10000-30000' },
      'max-queued': { type: 'string' },
      'no-offline': { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const flush = values.flush as FlushMode;
  if (!['always', 'interval', 'never'].includes(flush)) throw new Error(`--flush must be always, interval or never`);
  if (values.kills !== undefined || values['default-config']) {
    if (values['default-config'] && (values.flush !== 'interval' || values['flush-interval-ms'] !== '10')) throw new Error('--default-config keeps the default flush policy: drop --flush / --flush-interval-ms');
    const kills = Number(values.kills ?? 10);
    const m = /^(\d+)-(\d+)$/.exec(values['kill-acks']);
    if (!Number.isInteger(kills) || kills < 1) throw new Error(`--kills must be a positive integer`);
    if (m === null || Number(m[1]) < 1 || Number(m[1]) > Number(m[2])) throw new Error(`--kill-acks must be MIN-MAX, got ${values['kill-acks']}`);
    const window = values.window === '50' ? 200 : Number(values.window);
    if (!(window >= 1 && window < 65535)) throw new Error('--window must be 1..65534');
    const maxQueued = values['max-queued'] === undefined ? undefined : Number(values['max-queued']);
    const r = await runKillLoop({
      seed: Number(values.seed), kills, killAcks: [Number(m[1]), Number(m[2])], window, flush,
      flushIntervalMs: Number(values['flush-interval-ms']), maxQueued, noOffline: values['no-offline'],
    }, (line) => process.stdout.write(`${line}\n`));
    process.stdout.write(`${describeKillLoop(r)}\n`);
    process.stdout.write(`config: ${maxQueued === undefined ? 'defaults (sessions.maxQueued 10000)' : `sessions.maxQueued ${maxQueued}`}, flush ${flush}\n`);
    process.exit(killLoopFailed(r) ? 1 : 0);
  }
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

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  answerHelp(HELP);
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  });
}
