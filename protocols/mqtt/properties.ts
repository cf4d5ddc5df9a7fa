// Maps MQTT 5 PUBLISH / will properties to and from the core message properties. Imports core message types only.
import type { IPublishPacket } from 'mqtt-packet';
import { remainingExpirySeconds, type Message, type MessageProperties } from '../../src/core/message.ts';

type PublishProps = NonNullable<IPublishPacket['properties']>;
type WillProps = {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: Record<string, string | string[]>;
};

/** The application properties forwarded unaltered [MQTT-3.3.2-4], [MQTT-3.3.2-15..20]. */
export function toMessageProperties(p: PublishProps | WillProps | undefined): MessageProperties {
  if (!p) return {};
  const out: MessageProperties = {};
  if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.messageExpiryInterval !== undefined) out.messageExpiryInterval = p.messageExpiryInterval;
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) out.correlationData = p.correlationData;
  if (p.userProperties !== undefined) {
    const up = cleanUserProperties(p.userProperties);
    if (up) out.userProperties = up;
  }
  return out;
}

/**
 * User properties as strings only: mqtt-packet can hand over a pair whose value is not a string (seen with fuzzed
 * input: null), and such a value would make every later encoding of the message throw. Odd entries are dropped.
 */
function cleanUserProperties(up: unknown): Record<string, string | string[]> | undefined {
  if (typeof up !== 'object' || up === null) return undefined;
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  let n = 0;
  for (const [k, v] of Object.entries(up as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[k] = v as string[];
    else continue;
    n++;
  }
  return n ? { ...out } : undefined;
}

/** Properties of an outgoing v5 PUBLISH: the message's own, expiry counted down [MQTT-3.3.2-6], subscription ids. */
export function toPublishProperties(msg: Message, subscriptionIds: readonly number[], now: number): PublishProps | undefined {
  const m = msg.properties;
  const expiry = remainingExpirySeconds(msg, now);
  if (
    subscriptionIds.length === 0 &&
    expiry === undefined &&
    m.payloadFormatIndicator === undefined &&
    m.contentType === undefined &&
    m.responseTopic === undefined &&
    m.correlationData === undefined &&
    m.userProperties === undefined
  ) {
    return undefined;
  }
  const p: PublishProps = {};
  if (m.payloadFormatIndicator !== undefined) p.payloadFormatIndicator = m.payloadFormatIndicator;
  if (expiry !== undefined) p.messageExpiryInterval = expiry;
  if (m.contentType !== undefined) p.contentType = m.contentType;
  if (m.responseTopic !== undefined) p.responseTopic = m.responseTopic;
  if (m.correlationData !== undefined) p.correlationData = m.correlationData;
  if (m.userProperties !== undefined) p.userProperties = m.userProperties;
  if (subscriptionIds.length === 1) p.subscriptionIdentifier = subscriptionIds[0];
  else if (subscriptionIds.length > 1) p.subscriptionIdentifier = [...subscriptionIds];
  return p;
}
