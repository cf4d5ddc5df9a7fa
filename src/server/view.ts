// Read-only views of a running gateway as plain data (clients, log partitions, consumer-group lag), shared by $SYS, /metrics and the admin API. Imports core types, the log's stats type and the listeners' types.
import { displaySessionId, type Broker } from '../core/broker.ts';
import type { BridgeStatus } from '../bridges/status.ts';
import { listCommitted } from '../core/consumer-group.ts';
import type { PartitionStats } from '../log/types.ts';
import type { MqttListener } from '../../protocols/mqtt/listener.ts';
import type { StompListener } from '../../protocols/stomp/listener.ts';

export type { Transport } from '../../protocols/tcp.ts';
import type { Transport } from '../../protocols/tcp.ts';
export type Protocol = 'mqtt' | 'stomp';

/** What the views read; every field is owned by the gateway. */
export interface GatewaySources {
  readonly broker: Broker;
  readonly mqtt: MqttListener;
  readonly stomp: StompListener;
  /** Epoch ms the gateway started. */
  readonly startedAt: number;
  readonly version: string;
  /** The bridges' status (src/bridges); absent = none. */
  readonly bridges?: () => BridgeStatus[];
}

/** One open connection, as in `$SYS/gateway/clients`. MQTT connections are listed once CONNECT named them. */
export interface ClientInfo {
  clientId: string;
  protocol: Protocol;
  transport: Transport;
  remote: string;
  /** Epoch ms the byte stream was accepted. */
  connectedAt: number;
  username?: string;
}

export interface GroupLag {
  group: string;
  partition: number;
  committed: number;
  end: number;
  lag: number;
}

export function listClients(src: GatewaySources): ClientInfo[] {
  const out: ClientInfo[] = [];
  for (const c of src.mqtt.connections) {
    if (c.identity.clientId === '') continue;
    const a = src.mqtt.accepted.get(c);
    out.push(clientInfo(c.identity, 'mqtt', a));
  }
  for (const c of src.stomp.connections) {
    if (c.isClosed) continue;
    out.push(clientInfo(c.identity, 'stomp', src.stomp.accepted.get(c)));
  }
  return out;
}

function clientInfo(
  id: { clientId: string; username?: string; remoteAddress?: string },
  protocol: Protocol,
  a: { transport: Transport; at: number } | undefined,
): ClientInfo {
  const info: ClientInfo = { clientId: id.clientId, protocol, transport: a?.transport ?? 'tcp', remote: id.remoteAddress ?? '', connectedAt: a?.at ?? 0 };
  if (id.username !== undefined) info.username = id.username;
  return info;
}

/** Open connections (including those still before CONNECT) by protocol and transport. */
export function connectionCounts(src: GatewaySources): Record<Protocol, Record<Transport, number>> {
  const n = { mqtt: { tcp: 0, tls: 0, ws: 0 }, stomp: { tcp: 0, tls: 0, ws: 0 } };
  for (const c of src.mqtt.connections) n.mqtt[src.mqtt.accepted.get(c)?.transport ?? 'tcp']++;
  for (const c of src.stomp.connections) if (!c.isClosed) n.stomp[src.stomp.accepted.get(c)?.transport ?? 'tcp']++;
  return n;
}

/** The broker's log is typed as the core's port; the object is the src/log PartitionedLog, which has stats(). */
interface StatsLog {
  stats?: () => PartitionStats[];
}

/** Per-partition offsets, bytes and segments; [] when persistence is off. */
export function partitionStats(broker: Broker): PartitionStats[] {
  const log = broker.log as StatsLog | undefined;
  return log?.stats ? log.stats() : [];
}

/** Committed offset and lag (end - committed, never negative) per consumer group and partition; internal groups (U+0000 first, e.g. a bridge's) read `internal:<name>`. */
export function groupLags(broker: Broker): GroupLag[] {
  const state = broker.state;
  const log = broker.log;
  if (!state || !log) return [];
  return listCommitted(state).map((c) => {
    const end = c.partition < log.partitions ? log.endOffset(c.partition) : c.offset;
    // Internal groups (a bridge's position, U+0000 first) read `internal:<name>`, as internal sessions do.
    return { group: displaySessionId(c.group), partition: c.partition, committed: c.offset, end, lag: Math.max(0, end - c.offset) };
  });
}

/** Messages in and out over both protocols (listener counters: what crossed the wire). */
export function messageTotals(src: GatewaySources): { in: number; out: number; bytesIn: number; bytesOut: number; dropped: number } {
  const m = src.mqtt.counters;
  const s = src.stomp.counters;
  return {
    in: m.messagesIn + s.messagesIn,
    out: m.messagesOut + s.messagesOut,
    bytesIn: m.bytesIn + s.bytesIn,
    bytesOut: m.bytesOut + s.bytesOut,
    dropped: src.broker.stats.dropped + m.slowConsumerDrops + s.slowConsumerDrops,
  };
}
