// The MQTT state machine's outbound side: PUBLISH / PUBREL items from the broker become bytes, or are settled unsent (ACL, slow reader, too large for the client). Pure (effects via ./machine.ts); imports core types and sibling mqtt codecs.
//
// Contract: items are written in the order given (the broker already held new QoS 2 flows until durable:
// Broker.outbound). The QoS 0 path hands the encoded Buffer itself to the sink: no effect object, no array per message.
import mqttPacket, { type IPublishPacket } from 'mqtt-packet';
import type { Outbound } from '../../src/core/session.ts';
import { encodeAck, encodePublishShared } from './fast-publish.ts';
import { toPublishProperties } from './properties.ts';
import type { MqttMachine } from './machine.ts';

type OutPublish = Extract<Outbound, { type: 'publish' }>;

const EMPTY: readonly number[] = [];

export function writeOutbound(m: MqttMachine, out: readonly Outbound[]): void {
  if (m.closed) return;
  let now = 0;
  for (const o of out) {
    if (o.type === 'pubrel') {
      m.out.write(encodeAck('pubrel', o.packetId));
      continue;
    }
    if (now === 0) now = m.env.now();
    if (!m.broker.auth.authorizeRead(m.identity, o.msg.topic)) {
      // Last line of the ACL: whatever queued it (a session restored from disk, a log replay), an unreadable topic is not sent.
      discardOutbound(m, o, now);
      continue;
    }
    if (o.qos === 0 && m.env.overWriteBuffer()) {
      // A slow reader must not grow memory without bound: QoS 0 is dropped, and counted.
      m.counters.slowConsumerDrops++;
      continue;
    }
    const buf = encodeOutbound(m, o, now);
    if (buf === undefined) {
      // Larger than the client's Maximum Packet Size: discard as if sent [MQTT-3.1.2-25].
      discardOutbound(m, o, now);
      continue;
    }
    m.counters.messagesOut++;
    m.out.write(buf);
  }
}

/** Settles an outbound PUBLISH that is not sent, as if the client had acknowledged it. */
function discardOutbound(m: MqttMachine, o: OutPublish, now: number): void {
  const entry = m.entry;
  if (!entry || o.qos === 0) return;
  const acked = m.logSubs ? m.broker.unackedMessage(entry, o.packetId) : undefined;
  // QoS 2 never sent: the flow ends as after a refusing PUBREC (no PUBREL), freeing the id and the slot.
  m.broker.outbound(entry, m.broker.settleOutbound(entry, o.packetId, o.qos === 1 ? 'puback' : 'pubrec-error', now));
  m.logSubs?.acked(acked);
}

/** The bytes of one outbound PUBLISH, or undefined when it cannot be sent (unencodable, over the client's maximum). */
function encodeOutbound(m: MqttMachine, o: OutPublish, now: number): Buffer | undefined {
  const msg = o.msg;
  if (m.version !== 5) return encodePublishShared(msg, msg.topic, msg.payload, o.qos, o.dup, o.retain, o.packetId);
  const properties = toPublishProperties(msg, o.subscriptionIds ?? EMPTY, now) ?? {};
  const { topic, alias } = m.outboundAliases.assign(msg.topic);
  if (alias !== undefined) properties.topicAlias = alias;
  const packet: IPublishPacket = { cmd: 'publish', topic, payload: msg.payload, qos: o.qos, dup: o.dup, retain: o.retain, properties };
  if (o.qos > 0) packet.messageId = o.packetId;
  let buf: Buffer;
  try {
    buf = mqttPacket.generate(packet, { protocolVersion: 5 });
  } catch (err) {
    // A message this encoder cannot write must not throw into whoever published it: treat as undeliverable.
    m.log('warn', { err: String(err), clientId: m.clientId, topic: msg.topic }, 'mqtt message could not be encoded; skipped');
    return undefined;
  }
  if (m.clientMaxPacket > 0 && buf.length > m.clientMaxPacket) return undefined;
  return buf;
}
