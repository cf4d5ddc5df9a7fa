// What one SUBSCRIBE asks for, validated against the connection's limits, the ACL and the broker: the decision part of SUBSCRIBE for ./machine.ts. Pure apart from the port's queue preparation; imports core error/queue helpers and sibling stomp files.
//
// Checks, in this order (each refusal is a GatewayError -> one ERROR frame): the `id` is free; fewer than
// min(stomp.maxSubscriptions, limits.maxSubscriptions) subscriptions; `ack` and `prefetch-count` valid; the
// destination parses (./mapping.ts) and authorizeSubscribe allows it; a durable topic subscription
// (`durable:true` / `persistent:true`) has a CONNECT client-id, no x-stream-offset, and fits limits.maxSessions
// (resuming an existing one always fits); x-stream-offset only on /topic, parses, needs the durable log and
// fits limits.maxLogSubscriptions; a /queue needs the durable log and a known x-queue-mode (docs/STOMP.md
// "Queues"), and the queue is made to exist in that mode (a conflict with running consumers is refused).
import type { ClientIdentity } from '../../src/core/auth.ts';
import { GatewayError } from '../../src/core/errors.ts';
import { isQueueMode } from '../../src/core/queue.ts';
import { header, type StompFrame, type StompVersion } from './frame.ts';
import { ackModeOf, isDurable, prefetchOf, subscribeTarget } from './frame-headers.ts';
import { parseStreamOffset, parseSubscribeDestination } from './mapping.ts';
import type { SourceSpec, StompPort, SubRecord } from './machine-types.ts';
import type { StompOptions } from './options.ts';
import type { AckMode } from './subscription.ts';

/** A validated SUBSCRIBE. `source.sessionId` of a plain topic subscription is left to the caller (it counts them). */
export interface SubscribePlan {
  id: string;
  dest: string;
  ackMode: AckMode;
  prefetch: number;
  durable: boolean;
  source: SourceSpec;
}

export interface SubscriberState {
  version: StompVersion;
  identity: ClientIdentity;
  /** CONNECT `client-id`, if any. */
  clientName: string | undefined;
  subs: ReadonlyMap<string, SubRecord>;
}

export function planSubscribe(f: StompFrame, who: SubscriberState, opts: StompOptions, port: StompPort): SubscribePlan {
  const { dest, id } = subscribeTarget(f, who.version);
  if (who.subs.has(id)) throw new GatewayError('PROTOCOL_ERROR', `subscription id ${JSON.stringify(id)} already in use`);
  const maxSubs = Math.min(opts.maxSubscriptions, opts.guards?.client.maxSubscriptions || Infinity);
  if (who.subs.size >= maxSubs) {
    port.refused('subscriptions');
    throw new GatewayError('QUOTA_EXCEEDED', `more than ${maxSubs} subscriptions`);
  }
  const ackMode = ackModeOf(f);
  const prefetch = prefetchOf(f, opts.defaultPrefetch, opts.maxPrefetch);
  const d = parseSubscribeDestination(dest, opts.maxTopicLevels);
  if (typeof d === 'string') throw new GatewayError(d, `destination ${JSON.stringify(dest.slice(0, 200))}`);
  if (!port.authorizeSubscribe(who.identity, d.topic)) throw new GatewayError('NOT_AUTHORIZED', `SUBSCRIBE to ${dest}`);
  const durable = isDurable(f);
  const offsetHeader = header(f, 'x-stream-offset');
  const durableSession = `stomp/${who.clientName}/${id}`;
  if (d.kind === 'topic' && durable) {
    if (who.clientName === undefined) throw new GatewayError('STOMP_FRAME_INVALID', 'a durable SUBSCRIBE needs a client-id header on CONNECT');
    if (offsetHeader !== undefined) throw new GatewayError('STOMP_FRAME_INVALID', 'durable and x-stream-offset cannot be combined');
    const maxSessions = opts.guards?.client.maxSessions ?? 0;
    if (maxSessions > 0 && port.sessionCount() >= maxSessions && !port.hasSession(durableSession)) {
      port.refused('sessions');
      throw new GatewayError('QUOTA_EXCEEDED', `${maxSessions} sessions exist (limits.maxSessions)`);
    }
  }
  const plan = (source: SourceSpec): SubscribePlan => ({ id, dest, ackMode, prefetch, durable, source });
  if (offsetHeader !== undefined) {
    if (d.kind !== 'topic') throw new GatewayError('STOMP_HEADER_INVALID', 'x-stream-offset is for /topic destinations');
    const from = parseStreamOffset(offsetHeader);
    if (!from) throw new GatewayError('STOMP_HEADER_INVALID', `x-stream-offset ${JSON.stringify(offsetHeader.slice(0, 100))}`);
    if (!port.hasLog) throw new GatewayError('IMPLEMENTATION_SPECIFIC', 'x-stream-offset needs persistence (the durable log)');
    const maxLog = opts.guards?.client.maxLogSubscriptions ?? 0;
    let streams = 0;
    for (const s of who.subs.values()) if (s.streamOffsets) streams++;
    if (maxLog > 0 && streams >= maxLog) {
      port.refused('log-subscriptions');
      throw new GatewayError('QUOTA_EXCEEDED', `more than ${maxLog} x-stream-offset subscriptions`);
    }
    return plan({ kind: 'stream', filter: d.topic, from, prefetch });
  }
  if (d.kind === 'queue') {
    // A consumer of the core queue (src/core/queue.ts), in the mode `x-queue-mode` asks for.
    if (!port.hasQueues) throw new GatewayError('IMPLEMENTATION_SPECIFIC', '/queue destinations need persistence (the durable log)');
    const mode = header(f, 'x-queue-mode');
    if (mode !== undefined && !isQueueMode(mode)) throw new GatewayError('STOMP_FRAME_INVALID', `x-queue-mode ${JSON.stringify(mode.slice(0, 100))} (shared | key-shared | failover)`);
    port.prepareQueue(d.name, mode);
    return plan({ kind: 'queue', name: d.name, prefetch });
  }
  return plan({ kind: 'topic', filter: d.topic, sessionId: durable ? durableSession : '', durable, prefetch });
}
