// The MQTT state machine's SUBSCRIBE / UNSUBSCRIBE decisions: router filters, `$log/` / `$group/` / `$queue/` log subscriptions, SUBACK / UNSUBACK codes. Pure (effects via ./machine.ts); imports core types and helpers and sibling mqtt files.
//
// Contract: one SUBACK code per filter, in order (./reason-codes.ts: v5 the error's reason, v3 0x80). A persistent
// session's SUBACK waits until its subscriptions are durable (Broker.sessionSaved); retained messages follow the
// SUBACK, through the session window [MQTT-3.3.1-9].
import type { ISubscribePacket, IUnsubscribePacket } from 'mqtt-packet';
import { GatewayError } from '../../src/core/errors.ts';
import type { QoS } from '../../src/core/message.ts';
import type { SubscriptionOptions } from '../../src/core/router.ts';
import { validateTopicFilter } from '../../src/core/topic.ts';
import { parseLogFilter, withMode } from '../../src/core/log-subscriptions.ts';
import { checkSubscribePacket, decideFilter, type SubscribeRequest } from './subscribe.ts';
import { subackFailure, unsubackCode } from './reason-codes.ts';
import type { Resume, RetainedBatch } from './machine-types.ts';
import type { MqttMachine } from './machine.ts';

export function onSubscribe(m: MqttMachine, p: ISubscribePacket): void {
  // At least one filter (there is no SUBACK to encode otherwise) and no Subscription Identifier 0: ./subscribe.ts.
  const subId = checkSubscribePacket(p);
  const entry = m.connectedEntry();
  const granted: number[] = [];
  const retained: RetainedBatch[] = [];
  for (const s of p.subscriptions) {
    const logFilter = parseLogFilter(s.topic);
    if (logFilter) {
      // `$queue/` / `$group/` mode: MQTT 5 SUBSCRIBE user property x-queue-mode (docs/REPLAY.md).
      const mode = p.properties?.userProperties?.['x-queue-mode'];
      const parsed = 'error' in logFilter ? logFilter : withMode(logFilter, Array.isArray(mode) ? mode[0] : mode);
      granted.push(subscribeLog(m, s, parsed, subId));
      continue;
    }
    const maxSubs = m.opts.guards?.client.maxSubscriptions ?? 0;
    const subs = m.broker.subscriptionsOf(entry);
    const d = decideFilter(s, {
      version: m.version,
      maxTopicLevels: m.opts.maxTopicLevels,
      maxSubscriptions: maxSubs,
      subscriptionCount: subs.size,
      alreadySubscribed: subs.has(s.topic),
      authorized: () => m.broker.auth.authorizeSubscribe(m.identity, s.topic),
      subscriptionId: subId,
    });
    if (d.kind === 'refuse') {
      if (d.limit) {
        // A new filter past the per-client limit: QUOTA_EXCEEDED (./reason-codes.ts subackFailure).
        m.opts.guards!.counters.refused('subscriptions');
        m.log('info', { clientId: m.clientId, topic: s.topic, limit: maxSubs }, 'mqtt subscription refused: limit');
      }
      granted.push(subackFailure(d.code, m.version));
      continue;
    }
    const msgs = m.broker.subscribe(entry, s.topic, d.options);
    if (msgs.length) retained.push({ msgs, options: d.options });
    granted.push(s.qos);
  }
  const suback: Extract<Resume, { kind: 'suback' }> = { kind: 'suback', packetId: p.messageId ?? 0, granted, retained };
  // A persistent session's SUBACK waits until the subscription is durable; matching PUBLISHes may arrive before it,
  // which MQTT 5 section 3.8.4 allows ("The Server is permitted to start sending PUBLISH packets ... before the Server sends the SUBACK").
  const saved = m.broker.sessionSaved(entry);
  if (!saved) return resumeSuback(m, suback, true, undefined);
  m.wait(saved, suback);
}

/** SUBACK once the subscriptions are durable, then their retained messages; not durable: close. */
export function resumeSuback(m: MqttMachine, r: Extract<Resume, { kind: 'suback' }>, ok: boolean, err: unknown): void {
  if (!ok) {
    m.log('error', { err: String(err), clientId: m.clientId }, 'subscription not durable; closing');
    return m.fail('IMPLEMENTATION_SPECIFIC', 'subscription could not be stored');
  }
  const entry = m.entry;
  m.writePacket({ cmd: 'suback', messageId: r.packetId, granted: r.granted });
  // Retained messages follow the SUBACK, through the session window [MQTT-3.3.1-9].
  if (entry) for (const b of r.retained) m.broker.deliverRetained(entry, b.msgs, b.options);
}

/**
 * `$log/<start>/<filter>`, `$group/<name>/<filter>`, `$queue/<name>` (src/core/log-subscriptions.ts, docs/REPLAY.md): fed
 * from the durable log, not the router; granted QoS at most 1; connection-scoped. Returns the SUBACK code.
 */
function subscribeLog(m: MqttMachine, s: SubscribeRequest, parsed: NonNullable<ReturnType<typeof parseLogFilter>>, subId: number | undefined): number {
  const v5 = m.version === 5;
  if ('error' in parsed) return subackFailure(parsed.error, m.version);
  const filter = parsed.kind === 'queue' ? s.topic : parsed.filter;
  // Replay filters obey the same depth as every other filter (mqtt.maxTopicLevels).
  if (validateTopicFilter(filter, m.opts.maxTopicLevels)) return subackFailure('TOPIC_FILTER_INVALID', m.version);
  const maxLog = m.opts.guards?.client.maxLogSubscriptions ?? 0;
  if (maxLog > 0 && (m.logSubs?.size ?? 0) >= maxLog && !m.logSubs?.has(s.topic)) {
    m.opts.guards!.counters.refused('log-subscriptions');
    m.log('info', { clientId: m.clientId, topic: s.topic, limit: maxLog }, 'mqtt log subscription refused: limit');
    return subackFailure('QUOTA_EXCEEDED', m.version);
  }
  if (!m.broker.hasLog) return subackFailure('IMPLEMENTATION_SPECIFIC', m.version); // persistence is off: no log to read
  if (!m.broker.auth.authorizeSubscribe(m.identity, filter)) return subackFailure('NOT_AUTHORIZED', m.version);
  const subs = (m.logSubs ??= m.env.logSubscriptions(m.connectedEntry(), (err, topic) =>
    m.log('warn', { err: String(err), clientId: m.clientId, topic }, 'mqtt log subscription stopped'),
  ));
  if (!subs) return subackFailure('IMPLEMENTATION_SPECIFIC', m.version);
  const qos = (s.qos > 1 ? 1 : s.qos) as QoS;
  const options: SubscriptionOptions = { qos, noLocal: v5 ? !!s.nl : false, retainAsPublished: v5 ? !!s.rap : false, retainHandling: 2, subscriptionId: subId };
  try {
    subs.add(s.topic, parsed, options);
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    m.log('info', { clientId: m.clientId, topic: s.topic, err: err.message }, 'mqtt log subscription refused');
    return subackFailure(err.code, m.version);
  }
  return qos;
}

export function onUnsubscribe(m: MqttMachine, p: IUnsubscribePacket): void {
  // At least one filter [MQTT-3.10.3-2]; mqtt-packet cannot encode a v5 UNSUBACK without reason codes.
  if (!p.unsubscriptions || p.unsubscriptions.length === 0) throw new GatewayError('PROTOCOL_ERROR', 'UNSUBSCRIBE without a topic filter [MQTT-3.10.3-2]');
  const entry = m.connectedEntry();
  const granted: number[] = [];
  for (const f of p.unsubscriptions) {
    const existed = parseLogFilter(f) ? !!m.logSubs?.remove(f) : m.broker.unsubscribe(entry, f);
    granted.push(unsubackCode(existed));
  }
  // A 3.1.1 UNSUBACK has no payload (MQTT 3.1.1 3.11.3).
  m.writePacket({ cmd: 'unsuback', messageId: p.messageId, granted: m.version === 5 ? granted : [] });
}
