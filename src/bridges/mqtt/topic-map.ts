// Topic mapping between the gateway and a remote broker by a bridge's rules, as Mosquitto maps them: strip one side's prefix, add the other's. Imports core topic matching and the rule type only.
//
// Outbound (rule direction out | both): a local topic T matching localPrefix + pattern goes out as
// remotePrefix + T.slice(localPrefix.length). Inbound (in | both): a remote topic T matching remotePrefix + pattern
// comes in as localPrefix + T.slice(remotePrefix.length). The first matching rule wins (configuration order).
import { topicMatches } from '../../core/topic.ts';
import type { BridgeQos, TopicRule } from './config.ts';

export interface Mapped {
  topic: string;
  qos: BridgeQos;
}

/** The remote topic and QoS for a local topic, or undefined when no out/both rule covers it. */
export function mapOutbound(rules: readonly TopicRule[], localTopic: string): Mapped | undefined {
  for (const r of rules) {
    if (r.direction === 'in') continue;
    if (!localTopic.startsWith(r.localPrefix) || !topicMatches(r.localFilter, localTopic)) continue;
    const topic = r.remotePrefix + localTopic.slice(r.localPrefix.length);
    if (topic === '') continue; // prefixes that would leave no topic: Mosquitto skips these too
    return { topic, qos: r.qos };
  }
  return undefined;
}

/** The local topic and QoS for a remote topic, or undefined when no in/both rule covers it. */
export function mapInbound(rules: readonly TopicRule[], remoteTopic: string): Mapped | undefined {
  for (const r of rules) {
    if (r.direction === 'out') continue;
    if (!remoteTopic.startsWith(r.remotePrefix) || !topicMatches(r.remoteFilter, remoteTopic)) continue;
    const topic = r.localPrefix + remoteTopic.slice(r.remotePrefix.length);
    if (topic === '') continue;
    return { topic, qos: r.qos };
  }
  return undefined;
}

/** The remote subscriptions of the in/both rules (filter -> highest QoS asked for it). */
export function remoteSubscriptions(rules: readonly TopicRule[]): Map<string, BridgeQos> {
  const out = new Map<string, BridgeQos>();
  for (const r of rules) {
    if (r.direction === 'out') continue;
    const q = out.get(r.remoteFilter);
    if (q === undefined || q < r.qos) out.set(r.remoteFilter, r.qos);
  }
  return out;
}

/** Whether any rule sends messages out (the bridge then reads the log). */
export function hasOutbound(rules: readonly TopicRule[]): boolean {
  return rules.some((r) => r.direction !== 'in');
}
