// The loss scenarios: does a broker deliver every QoS 1 message it acknowledged to a subscriber that stops reading, or that is offline? Imports node builtins and ./wire.ts, ./seq-tracker.ts.
//
// Both are the cases of issue 8 ("the log is the queue"), over raw MQTT 3.1.1 sockets in this process:
//   slow-subscriber   a clean-session QoS 1 subscriber stops reading its socket (socket.pause) for
//                     `pauseS` while one publisher sends `messages` QoS 1 PUBLISHes (`window` unacked
//                     at a time); then it reads again and PUBACKs everything.
//   offline-session   a clean=false subscriber subscribes at QoS 1 and DISCONNECTs; the publisher sends
//                     `messages` QoS 1 and waits for every PUBACK; the subscriber reconnects (clean=false)
//                     and PUBACKs everything it gets.
// expected = PUBACKs the publisher received (what the broker promised to keep); delivered = unique
// sequence numbers the subscriber got; lost = expected - delivered. Collection ends when every expected
// message arrived, or nothing new arrived for `quietS`, or after `maxCollectS`. Payload: publisher
// index 0 (u32BE), sequence (u32BE), filler to 64 bytes, as in the throughput scenarios.
import net from 'node:net';
import { Buffer } from 'node:buffer';
import { SeqTracker } from './seq-tracker.ts';
import {
  CONNACK, PUBACK, PUBLISH, SUBACK, PacketReader, DISCONNECT_BYTES, encodeConnect, encodePublish, encodeSubscribe, writePuback,
} from './wire.ts';

export const LOSS_SCENARIOS = ['slow-subscriber', 'offline-session'] as const;
export type LossScenario = (typeof LOSS_SCENARIOS)[number];

export const LOSS_DESCRIPTIONS: Record<LossScenario, string> = {
  'slow-subscriber': 'MQTT 3.1.1 QoS 1 subscriber stops reading for --pause s while 1 publisher sends --messages QoS 1; delivered/expected',
  'offline-session': 'clean=false QoS 1 session offline while --messages QoS 1 arrive, then reconnects; delivered/expected',
};

export function isLossScenario(s: string): s is LossScenario {
  return (LOSS_SCENARIOS as readonly string[]).includes(s);
}

export interface LossOptions {
  messages: number;
  /** slow-subscriber: seconds the subscriber does not read. */
  pauseS: number;
  /** Unacknowledged PUBLISHes at the publisher. */
  window: number;
  quietS: number;
  maxCollectS: number;
  runId: string;
}

export interface LossResult {
  scenario: LossScenario;
  target: string;
  sent: number;
  /** PUBACKs the publisher got: what the broker acknowledged. */
  expected: number;
  delivered: number;
  lost: number;
  duplicates: number;
  /** offline-session: CONNACK session present on the reconnect. */
  sessionPresent: boolean | null;
  /** Publisher start to the last delivery. */
  seconds: number;
  note: string;
}

export interface LossTarget {
  name: string;
  host: string;
  port: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * One raw MQTT 3.1.1 connection. Set `onPacket` before open(): a broker may send PUBLISHes in the same
 * read as the CONNACK (a resumed session's backlog), and every packet after the CONNACK goes to it.
 */
class Client {
  private readonly reader = new PacketReader();
  onPacket: (buf: Buffer, start: number, end: number, body: number) => void = () => undefined;
  /** Called after each socket read was parsed (batch the acks of one read into one write). */
  afterRead: () => void = () => undefined;
  closed = false;
  sessionPresent = false;
  readonly socket: net.Socket;

  constructor(t: LossTarget, readonly clientId: string) {
    this.socket = net.connect(t.port, t.host);
    this.socket.setNoDelay(true);
  }

  open(clean: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      let connected = false;
      const timer = setTimeout(() => { this.socket.destroy(); reject(new Error(`${this.clientId}: no CONNACK within 10 s`)); }, 10_000);
      this.socket.on('data', (d: Buffer) => { this.reader.feed(d, (buf, start, end, body) => {
        if (connected) return this.onPacket(buf, start, end, body);
        if (buf[start]! >> 4 !== CONNACK) return;
        clearTimeout(timer);
        if (buf[body + 1] !== 0) { this.socket.destroy(); reject(new Error(`${this.clientId}: CONNACK return code ${buf[body + 1]}`)); return; }
        connected = true;
        this.sessionPresent = (buf[body]! & 1) === 1; // session present flag [MQTT-3.2.2-2]
        resolve();
      }); this.afterRead(); });
      this.socket.on('close', () => { this.closed = true; });
      this.socket.on('error', (e) => { clearTimeout(timer); reject(new Error(`${this.clientId}: ${e.message}`)); });
      this.socket.write(encodeConnect(this.clientId, 0, clean));
    });
  }

  subscribe(filter: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no SUBACK for ${filter} within 10 s`)), 10_000);
      this.onPacket = (buf, start, _end, body) => {
        if (buf[start]! >> 4 !== SUBACK) return;
        clearTimeout(timer);
        this.onPacket = () => undefined;
        if (buf[body + 2]! >= 0x80) reject(new Error(`SUBACK refused ${filter}`)); // 0x80 = failure [MQTT-3.9.3]
        else resolve();
      };
      this.socket.write(encodeSubscribe(1, filter, 1));
    });
  }

  /** DISCONNECT and wait for the close (bounded). */
  async disconnect(): Promise<void> {
    this.socket.end(DISCONNECT_BYTES);
    for (let i = 0; i < 100 && !this.closed; i++) await sleep(20);
    this.socket.destroy();
  }
}

/** Counts what a subscriber receives and PUBACKs every QoS 1 delivery (one write per read). */
function collect(c: Client): { tracker: SeqTracker; lastAt: () => number } {
  const tracker = new SeqTracker();
  let last = performance.now();
  let acks: number[] = [];
  c.onPacket = (buf, start, end, body) => {
    const first = buf[start]!;
    if (first >> 4 !== PUBLISH) return;
    let p = body + 2 + ((buf[body]! << 8) | buf[body + 1]!);
    if (((first >> 1) & 3) > 0) { acks.push((buf[p]! << 8) | buf[p + 1]!); p += 2; }
    if (end - p < 8 || buf.readUInt32BE(p) !== 0) return; // not ours
    tracker.see(buf.readUInt32BE(p + 4));
    last = performance.now();
  };
  c.afterRead = () => {
    if (acks.length === 0) return;
    const out = Buffer.allocUnsafe(acks.length * 4);
    let off = 0;
    for (const id of acks) off = writePuback(out, off, id); // [MQTT-4.3.2-2] receiver sends PUBACK
    acks = [];
    c.socket.write(out);
  };
  return { tracker, lastAt: () => last };
}

/** Sends `n` QoS 1 messages to topic with `window` unacked; resolves with PUBACKs received once all are acked or nothing moved for quietS. */
async function publish(c: Client, topic: string, n: number, window: number, quietS: number): Promise<{ sent: number; acked: number }> {
  const tmpl = encodePublish(topic, 1, Buffer.alloc(64, 0x78));
  let sent = 0, acked = 0, pid = 0, lastAck = performance.now();
  let wake: (() => void) | null = null;
  c.onPacket = (buf, start) => {
    if (buf[start]! >> 4 !== PUBACK) return;
    acked++;
    lastAck = performance.now();
    const w = wake; wake = null; w?.();
  };
  while (acked < n) {
    if (c.closed) break;
    const room = Math.min(window - (sent - acked), n - sent);
    if (room > 0) {
      const out = Buffer.allocUnsafe(room * tmpl.bytes.length);
      for (let k = 0; k < room; k++) {
        const base = k * tmpl.bytes.length;
        tmpl.bytes.copy(out, base);
        pid = pid === 65535 ? 1 : pid + 1; // non-zero, unique among the <= window in flight [MQTT-2.3.1-1]
        out.writeUInt16BE(pid, base + tmpl.packetIdOffset);
        out.writeUInt32BE(0, base + tmpl.payloadOffset);
        out.writeUInt32BE(sent++, base + tmpl.payloadOffset + 4);
      }
      if (!c.socket.write(out)) await new Promise<void>((r) => c.socket.once('drain', () => r()));
    }
    if (performance.now() - lastAck > quietS * 1000) break; // the broker stopped acknowledging
    await new Promise<void>((r) => { wake = r; setTimeout(r, 50); });
  }
  return { sent, acked };
}

async function waitDelivered(got: { tracker: SeqTracker; lastAt: () => number }, expected: number, o: LossOptions, since: number): Promise<string> {
  const end = performance.now() + o.maxCollectS * 1000;
  for (;;) {
    if (got.tracker.unique >= expected) return '';
    const now = performance.now();
    if (now > end) return `stopped collecting after ${o.maxCollectS} s`;
    if (now - Math.max(got.lastAt(), since) > o.quietS * 1000) return `nothing new for ${o.quietS} s`;
    await sleep(50);
  }
}

export async function runLoss(scenario: LossScenario, t: LossTarget, o: LossOptions): Promise<LossResult> {
  const topic = `loss/${scenario}/${o.runId}`;
  const subId = `lt-loss-${o.runId}-sub`;
  const clients: Client[] = [];
  const open = async (id: string, clean: boolean, counting: boolean): Promise<{ c: Client; got: ReturnType<typeof collect> | null }> => {
    const c = new Client(t, id);
    clients.push(c);
    const got = counting ? collect(c) : null;
    await c.open(clean);
    return { c, got };
  };
  try {
    let { c: sub, got } = await open(subId, scenario === 'slow-subscriber', false);
    await sub.subscribe(topic);
    got = collect(sub);
    const { c: pub } = await open(`lt-loss-${o.runId}-pub`, true, false);
    const t0 = performance.now();
    let sessionPresent: boolean | null = null;
    let r: { sent: number; acked: number };
    if (scenario === 'slow-subscriber') {
      sub.socket.pause(); // stops reading: the broker's writes fill the socket buffers, then its queues
      const resumeAt = t0 + o.pauseS * 1000;
      r = await publish(pub, topic, o.messages, o.window, Math.max(o.quietS, o.pauseS + o.quietS));
      await sleep(Math.max(0, resumeAt - performance.now()));
      sub.socket.resume();
    } else {
      await sub.disconnect();
      r = await publish(pub, topic, o.messages, o.window, o.quietS);
      ({ c: sub, got } = await open(subId, false, true));
      sessionPresent = sub.sessionPresent;
    }
    if (got === null) throw new Error('unreachable: no collector');
    const note = await waitDelivered(got, r.acked, o, performance.now());
    const seconds = (got.lastAt() - t0) / 1000;
    const delivered = got.tracker.unique;
    return {
      scenario, target: t.name, sent: r.sent, expected: r.acked, delivered, lost: Math.max(0, r.acked - delivered),
      duplicates: got.tracker.duplicates, sessionPresent, seconds: Math.max(0, seconds),
      note: [r.acked < r.sent ? `${r.sent - r.acked} sent but never acknowledged` : '', note].filter((x) => x !== '').join('; '),
    };
  } finally {
    for (const c of clients) c.socket.destroy();
  }
}

export function lossMarkdown(results: LossResult[], meta: Record<string, string | number>): string {
  const out: string[] = ['# Loss report', ''];
  for (const [k, v] of Object.entries(meta)) out.push(`- ${k}: ${v}`);
  out.push('');
  for (const sc of LOSS_SCENARIOS) {
    const rows = results.filter((r) => r.scenario === sc);
    if (rows.length === 0) continue;
    out.push(`## ${sc}`, '', LOSS_DESCRIPTIONS[sc], '');
    out.push('| target | delivered/expected | lost | dup | sent | session present | seconds | note |', '|---|---:|---:|---:|---:|---|---:|---|');
    for (const r of rows) {
      out.push(`| ${r.target} | ${r.delivered}/${r.expected} | ${r.lost} | ${r.duplicates} | ${r.sent} | ${r.sessionPresent === null ? '-' : r.sessionPresent} | ${r.seconds.toFixed(1)} | ${r.note} |`);
    }
    out.push('');
  }
  out.push('expected = PUBACKs the publisher received; delivered = unique sequence numbers at the subscriber; lost = expected - delivered.');
  return out.join('\n') + '\n';
}
