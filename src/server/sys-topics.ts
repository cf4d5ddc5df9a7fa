// $SYS topics: the gateway publishes its own status, retained and QoS 0, every `sys.intervalMs`. Imports core types and ./view.ts.
//
// Contract (shared with the dashboard; mosquitto names where one exists). Sender id '' (the gateway itself).
// Values are decimal numbers as UTF-8 text unless said otherwise:
//   $SYS/broker/version                          package version (string)
//   $SYS/broker/uptime                           "<n> seconds"
//   $SYS/broker/clients/connected                open MQTT (after CONNECT) + STOMP connections
//   $SYS/broker/clients/total                    connected + offline sessions (persistent sessions without a connection)
//   $SYS/broker/clients/maximum                  largest `connected` seen since start
//   $SYS/broker/messages/received | sent         messages over the wire, both protocols (listener counters)
//   $SYS/broker/messages/dropped                 (our name) queue-full / expired / offline QoS 0 / slow-consumer drops
//   $SYS/broker/load/messages/received/1min      messages per minute, exponentially averaged over one minute
//   $SYS/broker/load/messages/sent/1min
//   $SYS/broker/subscriptions/count              (subscriber, filter) pairs in the router
//   $SYS/broker/retained messages/count          retained topics (the $SYS topics themselves included)
//   $SYS/broker/bytes/received | sent
//   $SYS/broker/cluster/node | nodes             cluster only: this node's id; the live nodes (JSON array of ids)
//   $SYS/broker/cluster/clients/connected | total  cluster only: connections / sessions summed over the live nodes
//   $SYS/gateway/stats                           JSON, see SysStats
//   $SYS/gateway/clients                         JSON array of ClientInfo
//   $SYS/broker/bridges/<name>/state             connecting | connected | down | stopped (per MQTT bridge; HTTP sinks likewise)
//   $SYS/broker/bridges/<name>/lag               log records not yet acknowledged by the far side
//   $SYS/broker/bridges/<name>/messages/sent | received, .../errors
// The leading `$` keeps these out of `#` and `+/...` subscriptions [MQTT-4.7.2-1]; clients subscribe to `$SYS/#`.
// They are retained in memory only (Broker.publishTransient): never written to the log or the state store.
import type { Message } from '../core/message.ts';
import type { BridgeStatus } from '../bridges/status.ts';
import { groupLags, listClients, messageTotals, partitionStats, type ClientInfo, type GatewaySources, type GroupLag } from './view.ts';

/** Body of `$SYS/gateway/stats`. */
export interface SysStats {
  time: number;
  uptimeSeconds: number;
  clients: { mqtt: number; stomp: number; byTransport: { tcp: number; tls: number; ws: number } };
  sessions: number;
  subscriptions: number;
  /** Retained topics the clients published: the gateway's own $SYS topics are not counted (the dashboard's Retained card). */
  retained: number;
  messages: { in: number; out: number; inPerSecond: number; outPerSecond: number; dropped: number };
  partitions: { partition: number; startOffset: number; endOffset: number; bytes: number }[];
  groups: GroupLag[];
  /** Subscriber lag (sessions and behind $share groups): total, how many read the log, the 10 largest. */
  lag: { total: number; behind: number; top: { id: string; kind: 'session' | 'group'; lag: number }[] };
  /** Every bridge's status (src/bridges/status.ts); the dashboard's Bridges table. */
  bridges: BridgeStatus[];
}

const MINUTE_MS = 60_000;

export class SysTopics {
  private timer: NodeJS.Timeout | undefined;
  private maxConnected = 0;
  private last: { at: number; in: number; out: number } | undefined;
  private inPerSecond = 0;
  private outPerSecond = 0;
  private load1: { in: number; out: number } | undefined;
  /** The $SYS topics of the last snapshot (they sit in the retained store once published). */
  private sysTopics: string[] = [];

  constructor(
    private readonly src: GatewaySources,
    private readonly intervalMs: number,
  ) {}

  /** Publishes once now, then every intervalMs (nothing when intervalMs is 0). */
  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.publish();
    this.timer = setInterval(() => this.publish(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The current values, topic -> payload text, in publish order. */
  snapshot(now = Date.now()): Map<string, string> {
    const src = this.src;
    const b = src.broker;
    const clients = listClients(src);
    const totals = messageTotals(src);
    this.sample(now, totals.in, totals.out);
    this.maxConnected = Math.max(this.maxConnected, clients.length);
    let offline = 0;
    for (const e of b.sessions()) if (!e.link) offline++;
    const uptime = Math.floor((now - src.startedAt) / 1000);
    const stats = this.stats(now, uptime, clients, totals);
    const t = new Map<string, string>();
    t.set('$SYS/broker/version', src.version);
    t.set('$SYS/broker/uptime', `${uptime} seconds`);
    t.set('$SYS/broker/clients/connected', String(clients.length));
    t.set('$SYS/broker/clients/total', String(clients.length + offline));
    t.set('$SYS/broker/clients/maximum', String(this.maxConnected));
    t.set('$SYS/broker/messages/received', String(totals.in));
    t.set('$SYS/broker/messages/sent', String(totals.out));
    t.set('$SYS/broker/messages/dropped', String(totals.dropped));
    t.set('$SYS/broker/load/messages/received/1min', round2(this.load1?.in ?? 0));
    t.set('$SYS/broker/load/messages/sent/1min', round2(this.load1?.out ?? 0));
    t.set('$SYS/broker/subscriptions/count', String(b.router.size));
    t.set('$SYS/broker/retained messages/count', String(b.retained.size));
    t.set('$SYS/broker/bytes/received', String(totals.bytesIn));
    t.set('$SYS/broker/bytes/sent', String(totals.bytesOut));
    for (const br of stats.bridges) {
      const base = `$SYS/broker/bridges/${br.name}`;
      t.set(`${base}/state`, br.state);
      t.set(`${base}/lag`, String(br.lag));
      t.set(`${base}/messages/sent`, String(br.messagesOut));
      t.set(`${base}/messages/received`, String(br.messagesIn));
      t.set(`${base}/errors`, String(br.errors));
    }
    const c = b.cluster;
    if (c) {
      // Cluster (issue 11): this node, the live nodes, and totals from the nodes' heartbeats.
      const totals = c.totals();
      t.set('$SYS/broker/cluster/node', c.nodeId);
      t.set('$SYS/broker/cluster/nodes', JSON.stringify(c.liveNodes()));
      t.set('$SYS/broker/cluster/clients/connected', String(totals.connected));
      t.set('$SYS/broker/cluster/clients/total', String(totals.sessions));
    }
    t.set('$SYS/gateway/stats', JSON.stringify(stats));
    t.set('$SYS/gateway/clients', JSON.stringify(clients));
    this.sysTopics = [...t.keys()];
    return t;
  }

  /** Publishes every topic once (retained, QoS 0, sender ''). */
  publish(now = Date.now()): void {
    const b = this.src.broker;
    for (const [topic, text] of this.snapshot(now)) {
      const msg: Message = { topic, payload: Buffer.from(text, 'utf8'), qos: 0, retain: true, properties: {}, createdAt: now, expiresAt: 0, senderId: '' };
      b.publishTransient(msg);
    }
  }

  /** Per-second rates over the last interval and the one-minute exponential average (per minute, as mosquitto). */
  private sample(now: number, total: number, sent: number): void {
    const last = this.last;
    this.last = { at: now, in: total, out: sent };
    if (!last || now <= last.at) return;
    const dt = now - last.at;
    this.inPerSecond = ((total - last.in) * 1000) / dt;
    this.outPerSecond = ((sent - last.out) * 1000) / dt;
    const perMinIn = this.inPerSecond * 60;
    const perMinOut = this.outPerSecond * 60;
    if (!this.load1) this.load1 = { in: perMinIn, out: perMinOut };
    else {
      const a = 1 - Math.exp(-dt / MINUTE_MS);
      this.load1 = { in: this.load1.in + a * (perMinIn - this.load1.in), out: this.load1.out + a * (perMinOut - this.load1.out) };
    }
  }

  private stats(now: number, uptime: number, clients: ClientInfo[], totals: ReturnType<typeof messageTotals>): SysStats {
    const b = this.src.broker;
    const byProtocol = { mqtt: 0, stomp: 0 };
    const byTransport = { tcp: 0, tls: 0, ws: 0 };
    for (const c of clients) {
      byProtocol[c.protocol]++;
      byTransport[c.transport]++;
    }
    return {
      time: now,
      uptimeSeconds: uptime,
      clients: { ...byProtocol, byTransport },
      sessions: b.sessionCount,
      subscriptions: b.router.size,
      retained: b.retained.size - this.sysTopics.filter((topic) => b.retained.get(topic) !== undefined).length,
      messages: {
        in: totals.in,
        out: totals.out,
        inPerSecond: Number(this.inPerSecond.toFixed(2)),
        outPerSecond: Number(this.outPerSecond.toFixed(2)),
        dropped: totals.dropped,
      },
      partitions: partitionStats(b).map((p) => ({ partition: p.partition, startOffset: p.startOffset, endOffset: p.endOffset, bytes: p.bytes })),
      groups: groupLags(b),
      bridges: this.src.bridges?.() ?? [],
      lag: (({ total, behind, top }) => ({ total, behind, top: top.map((l) => ({ id: l.id, kind: l.kind, lag: l.lag })) }))(b.lagSummary(10)),
    };
  }
}

function round2(n: number): string {
  return String(Math.round(n * 100) / 100);
}
