// What one SUBSCRIBE filter is granted: the checks in spec order and the subscription options, as a pure decision (the broker, counters and log stay in the connection). Imports src/core types, topic helpers and errors.
import type { ISubscribePacket } from 'mqtt-packet';
import { GatewayError, type ErrorCode } from '../../src/core/errors.ts';
import type { SubscriptionOptions } from '../../src/core/router.ts';
import { parseShared, validateTopicFilter } from '../../src/core/topic.ts';
import type { MqttVersion } from './reason-codes.ts';

export type SubscribeRequest = ISubscribePacket['subscriptions'][number];

/** What the filter's context says, read by the connection before deciding. */
export interface FilterContext {
  version: MqttVersion;
  maxTopicLevels: number;
  /** limits.maxSubscriptions per client (0 = none). */
  maxSubscriptions: number;
  /** Filters the session holds now, and whether this one is among them (re-subscribing is never refused by the limit). */
  subscriptionCount: number;
  alreadySubscribed: boolean;
  /** The ACL's answer for this filter; asked only once the earlier checks pass. */
  authorized: () => boolean;
  subscriptionId: number | undefined;
}

export type FilterDecision =
  | { kind: 'refuse'; code: ErrorCode; /** refused by limits.maxSubscriptions (counted and logged) */ limit: boolean }
  | { kind: 'subscribe'; options: SubscriptionOptions };

/** The packet-level checks of a SUBSCRIBE, which close the connection: at least one filter [MQTT-3.8.3-3], no Subscription Identifier 0. */
export function checkSubscribePacket(p: ISubscribePacket): number | undefined {
  if (!p.subscriptions || p.subscriptions.length === 0) throw new GatewayError('PROTOCOL_ERROR', 'SUBSCRIBE without a topic filter [MQTT-3.8.3-3]');
  const subId = p.properties?.subscriptionIdentifier;
  if (subId === 0) throw new GatewayError('PROTOCOL_ERROR', 'subscription identifier 0 (MQTT 5 3.8.2.1.2)');
  return subId;
}

/**
 * One ordinary (router) filter: an invalid filter is TOPIC_FILTER_INVALID; a new filter past the per-client
 * limit QUOTA_EXCEEDED; no-local on a shared subscription closes the connection [MQTT-3.8.3-4]; a filter the
 * ACL denies NOT_AUTHORIZED. The options carry the v5 bits only for v5 clients.
 */
export function decideFilter(s: SubscribeRequest, c: FilterContext): FilterDecision {
  if (validateTopicFilter(s.topic, c.maxTopicLevels)) return { kind: 'refuse', code: 'TOPIC_FILTER_INVALID', limit: false };
  if (c.maxSubscriptions > 0 && c.subscriptionCount >= c.maxSubscriptions && !c.alreadySubscribed) return { kind: 'refuse', code: 'QUOTA_EXCEEDED', limit: true };
  const v5 = c.version === 5;
  if (parseShared(s.topic) && v5 && s.nl) throw new GatewayError('PROTOCOL_ERROR', 'no-local on a shared subscription [MQTT-3.8.3-4]');
  if (!c.authorized()) return { kind: 'refuse', code: 'NOT_AUTHORIZED', limit: false };
  return {
    kind: 'subscribe',
    options: {
      qos: s.qos,
      noLocal: v5 ? !!s.nl : false,
      retainAsPublished: v5 ? !!s.rap : false,
      retainHandling: (v5 ? (s.rh ?? 0) : 0) as 0 | 1 | 2,
      subscriptionId: c.subscriptionId,
    },
  };
}
