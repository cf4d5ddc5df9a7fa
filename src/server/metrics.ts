// Prometheus /metrics for one gateway: a registry per gateway, values read at scrape time from existing counters (collect callbacks), log latency histograms via wrappers. Imports prom-client, core/log types and ./view.ts.
//
// Metric names (all gauges/counters are read at scrape time; nothing is incremented per message here except the two histograms):
//   gateway_connections{protocol,transport}                      open connections (mqtt|stomp x tcp|tls|ws)
//   gateway_messages_received_total{protocol,qos}                publishes entering the broker, by publisher protocol and QoS
//   gateway_messages_sent_total{protocol,qos}                    live deliveries handed to connected clients
//   gateway_wire_messages_total{protocol,direction}              messages over the wire per listener (in|out)
//   gateway_bytes_total{protocol,direction}                      bytes over the wire per listener (in|out)
//   gateway_messages_dropped_total{reason}                       queue-full | expired | offline-qos0 | slow-consumer
//   gateway_ws_slow_consumer_closes_total                        WebSockets closed for exceeding http.wsMaxBufferedBytes
//   gateway_backpressure_pending_bytes, _pending_messages        publishes handed to the log, not yet durable and routed
//   gateway_backpressure_paused                                  1 while reading from clients is paused (persistence.maxPendingBytes)
//   gateway_backpressure_pauses_total, _paused_seconds_total     how often and how long reading was paused
//   gateway_retained_messages, gateway_sessions, gateway_sessions_connected, gateway_subscriptions
//   gateway_log_append_seconds (histogram)                       call to durable under the flush policy, 1 append in 8 sampled
//   gateway_log_fsync_seconds (histogram)                        one fsync of a segment data file
//   gateway_log_partition_bytes{partition}, gateway_log_partition_segments{partition}
//   gateway_log_partition_start_offset{partition}, gateway_log_partition_end_offset{partition}
//   gateway_consumer_group_committed_offset{group,partition}, gateway_consumer_group_lag{group,partition}
//   gateway_limit_refusals_total{limit}                          a configured limit refused something (src/core/limits.ts LimitName)
//   gateway_timeouts_total{listener,reason}                      connections closed on a timer (mqtt|stomp|http x connect|tls-handshake|http-headers|http-request)
//   gateway_publish_rate_pauses_total                            sockets paused by the per-client publish rate limit
//   gateway_unfinished_bytes                                     bytes held for unfinished packets/frames (limits.maxUnfinishedBytes)
//   gateway_connections_admitted                                 connections counted against limits.maxConnections
//   gateway_retained_bytes                                       retained payload + topic bytes (limits.maxRetainedBytes)
//   gateway_subscriber_lag_messages{subscriber,kind}             the 10 largest lags (log records behind + buffered), kind session|group
//   gateway_subscribers_lag_messages                             lag summed over every session and behind $share group
//   gateway_subscribers_behind                                   sessions / $share groups reading the log (behind the live stream)
//   gateway_behind_entered_total                                 times a subscriber fell behind (read-ahead full) instead of dropping
//   gateway_lag_skipped_messages_total{reason}                   log records a behind subscriber skipped: retention | max-lag
//   gateway_bridge_state{kind,bridge,state}                      1 for a bridge's current state (connecting|connected|down|stopped)
//   gateway_bridge_lag_messages{kind,bridge}                     log records an outbound bridge has not had acknowledged yet
//   gateway_bridge_messages_out_total, _in_total, _errors_total, _connects_total {kind,bridge}
//   nodejs_* / process_* default metrics (event-loop lag, heap, RSS, GC, handles) from prom-client
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DropReason } from '../core/session.ts';
import type { AuthCounters } from '../core/auth.ts';
import { timingSafeEqual } from 'node:crypto';
import type { FileIO, FileLike, PartitionedLog, AppendInput, AppendListener, LogRecord, PartitionStats } from '../log/index.ts';
import type { Guards } from '../core/limits.ts';
import { connectionCounts, groupLags, partitionStats, type GatewaySources } from './view.ts';
import { requestPath } from '../../protocols/ws/request-path.ts';
import type { BridgeStatus } from '../bridges/status.ts';

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly appendSeconds: Histogram;
  readonly fsyncSeconds: Histogram;
  /** Broker drops by reason (fed by BrokerOptions.onDrop). */
  readonly drops: Record<DropReason, number> = { 'queue-full': 0, expired: 0, 'offline-qos0': 0 };
  private wsSlowCloses = 0;
  /** Bearer token GET /metrics must carry; '' = open (http.metricsToken). */
  private token: Buffer | undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.appendSeconds = new Histogram({
      name: 'gateway_log_append_seconds',
      help: 'Durable log append latency, call to durable under the flush policy; sampled: one append in 8 is timed, so _count is about 1/8 of the appends',
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
    this.fsyncSeconds = new Histogram({
      name: 'gateway_log_fsync_seconds',
      help: 'fsync latency of one log segment data file',
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
  }

  /** BrokerOptions.onDrop */
  readonly onDrop = (reason: DropReason): void => {
    this.drops[reason]++;
  };

  /** A WebSocket was closed for exceeding its buffered-bytes limit. */
  wsSlowConsumerClosed(): void {
    this.wsSlowCloses++;
  }

  /** Registers the scrape-time metrics over a started gateway. Call once. */
  bind(src: GatewaySources): void {
    const r = [this.registry];
    const b = src.broker;
    const self = this;
    new Gauge({
      name: 'gateway_connections',
      help: 'Open connections by protocol and transport',
      labelNames: ['protocol', 'transport'],
      registers: r,
      collect() {
        const n = connectionCounts(src);
        for (const p of ['mqtt', 'stomp'] as const) for (const t of ['tcp', 'tls', 'ws'] as const) this.set({ protocol: p, transport: t }, n[p][t]);
      },
    });
    new Counter({
      name: 'gateway_messages_received_total',
      help: 'Messages published into the broker by publisher protocol and QoS',
      labelNames: ['protocol', 'qos'],
      registers: r,
      collect() {
        this.reset();
        for (const p of ['mqtt', 'stomp'] as const) b.qosStats.in[p].forEach((v, q) => this.inc({ protocol: p, qos: String(q) }, v));
      },
    });
    new Counter({
      name: 'gateway_messages_sent_total',
      help: 'Live deliveries to connected clients by subscriber protocol and QoS',
      labelNames: ['protocol', 'qos'],
      registers: r,
      collect() {
        this.reset();
        for (const p of ['mqtt', 'stomp'] as const) b.qosStats.out[p].forEach((v, q) => this.inc({ protocol: p, qos: String(q) }, v));
      },
    });
    new Counter({
      name: 'gateway_wire_messages_total',
      help: 'Messages over the wire per protocol listener',
      labelNames: ['protocol', 'direction'],
      registers: r,
      collect() {
        this.reset();
        for (const [p, c] of [['mqtt', src.mqtt.counters], ['stomp', src.stomp.counters]] as const) {
          this.inc({ protocol: p, direction: 'in' }, c.messagesIn);
          this.inc({ protocol: p, direction: 'out' }, c.messagesOut);
        }
      },
    });
    new Counter({
      name: 'gateway_bytes_total',
      help: 'Bytes over the wire per protocol listener',
      labelNames: ['protocol', 'direction'],
      registers: r,
      collect() {
        this.reset();
        for (const [p, c] of [['mqtt', src.mqtt.counters], ['stomp', src.stomp.counters]] as const) {
          this.inc({ protocol: p, direction: 'in' }, c.bytesIn);
          this.inc({ protocol: p, direction: 'out' }, c.bytesOut);
        }
      },
    });
    new Counter({
      name: 'gateway_messages_dropped_total',
      help: 'Messages dropped, by reason',
      labelNames: ['reason'],
      registers: r,
      collect() {
        this.reset();
        for (const [reason, v] of Object.entries(self.drops)) this.inc({ reason }, v);
        this.inc({ reason: 'slow-consumer' }, src.mqtt.counters.slowConsumerDrops + src.stomp.counters.slowConsumerDrops);
      },
    });
    const pw = b.pending;
    if (pw) {
      const gauge = (name: string, help: string, read: () => number): void => {
        new Gauge({ name, help, registers: r, collect() { this.set(read()); } });
      };
      gauge('gateway_backpressure_pending_bytes', 'Bytes (payload + topic) of publishes handed to the log and not yet durable and routed', () => pw.bytes);
      gauge('gateway_backpressure_pending_messages', 'Publishes handed to the log and not yet durable and routed', () => pw.messages);
      gauge('gateway_backpressure_paused', '1 while reading from client sockets is paused (pending bytes above persistence.maxPendingBytes)', () => (pw.paused ? 1 : 0));
      new Counter({
        name: 'gateway_backpressure_pauses_total',
        help: 'Times reading from client sockets was paused by inbound backpressure',
        registers: r,
        collect() {
          this.reset();
          this.inc(pw.pauses);
        },
      });
      new Counter({
        name: 'gateway_backpressure_paused_seconds_total',
        help: 'Seconds reading from client sockets was paused by inbound backpressure',
        registers: r,
        collect() {
          this.reset();
          this.inc((pw.pausedMs + (pw.paused ? Date.now() - pw.pausedAt : 0)) / 1000);
        },
      });
    }
    new Counter({
      name: 'gateway_ws_slow_consumer_closes_total',
      help: 'WebSockets closed because their unsent bytes exceeded http.wsMaxBufferedBytes',
      registers: r,
      collect() {
        this.reset();
        this.inc(self.wsSlowCloses);
      },
    });
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({ name, help, registers: r, collect() { this.set(read()); } });
    };
    gauge('gateway_retained_messages', 'Retained topics', () => b.retained.size);
    gauge('gateway_sessions', 'Sessions, connected and offline', () => b.sessionCount);
    gauge('gateway_sessions_connected', 'Sessions with a connection', () => b.connectedCount);
    gauge('gateway_subscriptions', 'Subscriptions (subscriber, filter) in the router', () => b.router.size);
    const cluster = b.cluster;
    if (cluster) {
      // Cluster (issue 11): labelled with this node's id; totals from the live nodes' heartbeats.
      const nodeGauge = (name: string, help: string, read: () => number): void => {
        new Gauge({ name, help, labelNames: ['node'], registers: r, collect() { this.set({ node: cluster.nodeId }, read()); } });
      };
      nodeGauge('gateway_cluster_nodes', 'Live gateway nodes in the cluster, as this node sees them', () => cluster.liveNodes().length);
      nodeGauge('gateway_cluster_clients_connected', 'Connections summed over the live nodes (from their heartbeats)', () => cluster.totals().connected);
      nodeGauge('gateway_cluster_sessions', 'Sessions summed over the live nodes (from their heartbeats)', () => cluster.totals().sessions);
      const nodeCounter = (name: string, help: string, read: () => number): void => {
        new Counter({ name, help, labelNames: ['node'], registers: r, collect() { this.reset(); this.inc({ node: cluster.nodeId }, read()); } });
      };
      nodeCounter('gateway_cluster_foreign_routed_total', 'Records appended by other nodes and routed here', () => cluster.stats.foreignRouted);
      nodeCounter('gateway_cluster_takeovers_total', 'Sessions this node took over from another node', () => cluster.stats.takeovers);
      nodeCounter('gateway_cluster_sessions_adopted_total', 'Sessions of dead (or stopped) nodes this node adopted, so their expiry and wills run', () => cluster.stats.adopted);
      nodeCounter('gateway_cluster_share_recovered_total', '$share records of a dead node re-read and delivered by this node', () => cluster.stats.shareRecovered);
      nodeCounter('gateway_cluster_log_sequence_reused_total', 'New records the shared log gave a sequence it had acknowledged to this node before: the backend lost acknowledged records', () => cluster.stats.sequenceReused);
    }
    const perPartition = (name: string, help: string, read: (p: PartitionStats) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['partition'],
        registers: r,
        collect() {
          this.reset();
          for (const p of partitionStats(b)) this.set({ partition: String(p.partition) }, read(p));
        },
      });
    };
    perPartition('gateway_log_partition_bytes', 'Bytes on disk per log partition', (p) => p.bytes);
    perPartition('gateway_log_partition_segments', 'Segments per log partition', (p) => p.segments.length);
    perPartition('gateway_log_partition_start_offset', 'First retained offset per log partition', (p) => p.startOffset);
    perPartition('gateway_log_partition_end_offset', 'Next offset to be written per log partition', (p) => p.endOffset);
    const perGroup = (name: string, help: string, lag: boolean): void => {
      new Gauge({
        name,
        help,
        labelNames: ['group', 'partition'],
        registers: r,
        collect() {
          this.reset();
          for (const g of groupLags(b)) this.set({ group: g.group, partition: String(g.partition) }, lag ? g.lag : g.committed);
        },
      });
    };
    // Label cardinality stays bounded: only the 10 largest lags get their own series.
    new Gauge({
      name: 'gateway_subscriber_lag_messages',
      help: 'Log records behind plus buffered messages, for the 10 most lagging sessions / $share groups',
      labelNames: ['subscriber', 'kind'],
      registers: r,
      collect() {
        this.reset();
        for (const l of b.lagSummary(10).top) this.set({ subscriber: l.id, kind: l.kind }, l.lag);
      },
    });
    gauge('gateway_subscribers_lag_messages', 'Lag summed over every session and behind $share group', () => b.lagSummary(0).total);
    gauge('gateway_subscribers_behind', 'Sessions and $share groups reading their backlog from the log', () => b.lagSummary(0).behind);
    new Counter({
      name: 'gateway_behind_entered_total',
      help: 'Times a session or $share group fell behind (read-ahead full) and switched to reading the log instead of dropping',
      registers: r,
      collect() {
        this.reset();
        this.inc(b.stats.behindEntered);
      },
    });
    new Counter({
      name: 'gateway_lag_skipped_messages_total',
      help: 'Log records a behind subscriber skipped, by reason (retention: deleted before it read them; max-lag: sessions.maxLag)',
      labelNames: ['reason'],
      registers: r,
      collect() {
        this.reset();
        this.inc({ reason: 'retention' }, b.stats.retentionSkipped);
        this.inc({ reason: 'max-lag' }, b.stats.maxLagSkipped);
      },
    });
    perGroup('gateway_consumer_group_committed_offset', 'Committed offset per consumer group and partition', false);
    perGroup('gateway_consumer_group_lag', 'End offset minus committed offset per consumer group and partition', true);
    this.bindBridges(src);
  }

  /** gateway_bridge_* from the bridges' status (src/bridges), read at scrape time; nothing when no bridge is configured. */
  private bindBridges(src: GatewaySources): void {
    const read = src.bridges;
    if (!read) return;
    const r = [this.registry];
    const labelNames = ['kind', 'bridge'];
    const STATES = ['connecting', 'connected', 'down', 'stopped'] as const;
    new Gauge({
      name: 'gateway_bridge_state',
      help: 'Bridge connection state: 1 for the current state (connecting | connected | down | stopped), 0 for the others',
      labelNames: [...labelNames, 'state'],
      registers: r,
      collect() {
        for (const b of read()) for (const s of STATES) this.set({ kind: b.kind, bridge: b.name, state: s }, b.state === s ? 1 : 0);
      },
    });
    new Gauge({
      name: 'gateway_bridge_lag_messages',
      help: 'Log records an outbound bridge has not yet had acknowledged by the far side (log end minus committed position)',
      labelNames,
      registers: r,
      collect() {
        for (const b of read()) this.set({ kind: b.kind, bridge: b.name }, b.lag);
      },
    });
    const counter = (name: string, help: string, pick: (b: BridgeStatus) => number): void => {
      new Counter({
        name,
        help,
        labelNames,
        registers: r,
        collect() {
          this.reset();
          for (const b of read()) this.inc({ kind: b.kind, bridge: b.name }, pick(b));
        },
      });
    };
    counter('gateway_bridge_messages_out_total', 'Messages a bridge sent and had acknowledged (QoS 0: written)', (b) => b.messagesOut);
    counter('gateway_bridge_messages_in_total', 'Messages a bridge received and made durable here', (b) => b.messagesIn);
    counter('gateway_bridge_errors_total', 'Bridge connection failures, refusals by the far side and local publish failures', (b) => b.errors);
    counter('gateway_bridge_connects_total', 'Successful bridge connections', (b) => b.connects);
  }

  /** Requires `Authorization: Bearer <token>` on /metrics from now on ('' = open). */
  requireToken(token: string): void {
    this.token = token === '' ? undefined : Buffer.from(`Bearer ${token}`, 'utf8');
  }

  /**
   * Authentication and authorization counters (src/core/auth.ts GatewayAuth.counters), read at scrape time:
   * gateway_auth_failures_total{reason="bad_credentials"|"not_authorized"}, gateway_acl_denied_total{action="publish"|"subscribe"}.
   */
  bindAuth(c: AuthCounters): void {
    const r = [this.registry];
    new Counter({
      name: 'gateway_auth_failures_total',
      help: 'Refused CONNECTs (MQTT and STOMP): wrong user or password, or anonymous not allowed',
      labelNames: ['reason'],
      registers: r,
      collect() {
        this.reset();
        this.inc({ reason: 'bad_credentials' }, c.badCredentials);
        this.inc({ reason: 'not_authorized' }, c.notAuthorized);
      },
    });
    new Counter({
      name: 'gateway_acl_denied_total',
      help: 'Publishes and subscriptions the ACL refused (a refused v3 publish is dropped and counted here)',
      labelNames: ['action'],
      registers: r,
      collect() {
        this.reset();
        this.inc({ action: 'publish' }, c.publishDenied);
        this.inc({ action: 'subscribe' }, c.subscribeDenied);
      },
    });
  }

  /** Registers the abuse-limit metrics (refusals, timeouts, pauses, held bytes). Call once. */
  bindLimits(g: Guards, retainedBytes: () => number): void {
    const r = [this.registry];
    new Counter({
      name: 'gateway_limit_refusals_total',
      help: 'Things a configured limit refused, by limit',
      labelNames: ['limit'],
      registers: r,
      collect() {
        this.reset();
        for (const [limit, v] of g.counters.refusals) this.inc({ limit }, v);
      },
    });
    new Counter({
      name: 'gateway_timeouts_total',
      help: 'Connections closed by a timeout (slowloris), by listener and reason',
      labelNames: ['listener', 'reason'],
      registers: r,
      collect() {
        this.reset();
        for (const [k, v] of g.counters.timeouts) {
          const [listener, reason] = k.split('/') as [string, string];
          this.inc({ listener, reason }, v);
        }
      },
    });
    new Counter({
      name: 'gateway_publish_rate_pauses_total',
      help: 'Times a connection was paused by the per-client publish rate limit',
      registers: r,
      collect() {
        this.reset();
        this.inc(g.counters.ratePauses);
      },
    });
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({ name, help, registers: r, collect() { this.set(read()); } });
    };
    gauge('gateway_unfinished_bytes', 'Bytes held for unfinished MQTT packets and STOMP frames', () => g.unfinished.held);
    gauge('gateway_connections_admitted', 'Connections counted against limits.maxConnections', () => g.admission.open);
    gauge('gateway_retained_bytes', 'Retained payload and topic bytes', retainedBytes);
  }

  /** HTTP route: GET /metrics in the Prometheus text format. */
  readonly handler = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (requestPath(req.url) !== '/metrics') return false;
    const token = this.token;
    if (token) {
      const got = Buffer.from(req.headers.authorization ?? '', 'utf8');
      if (got.length !== token.length || !timingSafeEqual(got, token)) {
        res.writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'text/plain' }).end('unauthorized\n');
        return true;
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    this.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(err)}\n`),
    );
    return true;
  };

  /** The file layer with every sync() timed into gateway_log_fsync_seconds. */
  timedFileIO(io: FileIO): FileIO {
    const hist = this.fsyncSeconds;
    return {
      async open(path, flags) {
        const f = await io.open(path, flags);
        const timed: FileLike = {
          read: (buf, off, len, pos) => f.read(buf, off, len, pos),
          writeAll: (buf, pos) => f.writeAll(buf, pos),
          sync: () => {
            const end = hist.startTimer();
            return f.sync().finally(() => end());
          },
          truncate: (len) => f.truncate(len),
          size: () => f.size(),
          close: () => f.close(),
        };
        return timed;
      },
    };
  }

  /** The log with every append timed into gateway_log_append_seconds. */
  timedLog(log: PartitionedLog): PartitionedLog {
    return new TimedLog(log, this.appendSeconds);
  }
}

/** Delegates to the log; times append (call to durable). */
class TimedLog implements PartitionedLog {
  constructor(
    private readonly log: PartitionedLog,
    private readonly hist: Histogram,
  ) {}
  get partitions(): number {
    return this.log.partitions;
  }
  partitionFor(key: string): number {
    return this.log.partitionFor(key);
  }
  private seq = 0;
  /** One append in 8 is timed: the histogram keeps its shape without a timer and a closure on every publish. */
  append(input: AppendInput): Promise<{ partition: number; offset: number }> {
    if ((++this.seq & 7) !== 0) return this.log.append(input);
    const t0 = performance.now();
    const p = this.log.append(input);
    p.then(
      () => this.hist.observe((performance.now() - t0) / 1000),
      () => undefined,
    );
    return p;
  }
  onAppend(listener: AppendListener): () => void {
    return this.log.onAppend(listener);
  }
  read(partition: number, offset: number, maxRecords: number, maxBytes?: number): Promise<LogRecord[]> {
    return this.log.read(partition, offset, maxRecords, maxBytes);
  }
  offsetForTime(partition: number, ts: number): Promise<number> {
    return this.log.offsetForTime(partition, ts);
  }
  startOffset(partition: number): number {
    return this.log.startOffset(partition);
  }
  endOffset(partition: number): number {
    return this.log.endOffset(partition);
  }
  stats(): PartitionStats[] {
    return this.log.stats();
  }
  bytesSince(partition: number, offset: number): number {
    return this.log.bytesSince(partition, offset);
  }
  flush(): Promise<void> {
    return this.log.flush();
  }
  close(): Promise<void> {
    return this.log.close();
  }
}
