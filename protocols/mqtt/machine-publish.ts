// The MQTT state machine's PUBLISH-in and acknowledgement decisions: topic alias, limits, receive maximum, ACL, QoS 0/1/2, and PUBACK / PUBREC / PUBREL / PUBCOMP both ways. Pure (effects via ./machine.ts); imports core types and helpers and sibling mqtt files.
//
// Contract: acks to the client leave in PUBLISH order [MQTT-4.6.0-2], [MQTT-4.6.0-3] (MqttMachine.acks); a
// QoS 1/2 PUBLISH is acknowledged only once Broker.publish says it is durable; one that cannot be made
// durable gets v5 0x80 or, in v3 (no way to say so), a closed connection: nothing unstored is acknowledged.
import { isUtf8 } from 'node:buffer';
import mqttPacket, { type IPublishPacket } from 'mqtt-packet';
import { GatewayError, type ErrorCode } from '../../src/core/errors.ts';
import type { Message, QoS } from '../../src/core/message.ts';
import { validateTopicName } from '../../src/core/topic.ts';
import { encodeAck } from './fast-publish.ts';
import type { AckCmd } from './packet-gate.ts';
import { toMessageProperties } from './properties.ts';
import { ackReason, isFailureReason, refusedPublishAck, unstoredPublishAck } from './reason-codes.ts';
import type { Resume } from './machine-types.ts';
import type { MqttMachine } from './machine.ts';

type PublishProps = IPublishPacket['properties'];

/** A parsed PUBLISH (v5, or v3 off the fast path). */
export function onPublishPacket(m: MqttMachine, p: IPublishPacket): void {
  // A packet id is 1..65535 [MQTT-2.2.1-3]; mqtt-packet reads one cut short by the packet's end as -1, not as absent.
  if (p.qos > 0 && !(Number.isInteger(p.messageId) && p.messageId! >= 1 && p.messageId! <= 0xffff)) {
    throw new GatewayError('MALFORMED_PACKET', 'missing packet identifier');
  }
  if (p.dup && p.qos === 0) throw new GatewayError('MALFORMED_PACKET', 'DUP on QoS 0 [MQTT-3.3.1-2]');
  const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;
  onPublish(m, p.topic, p.qos, p.retain, p.messageId ?? 0, payload, p.properties);
}

/** One inbound PUBLISH: route it through the broker and answer it (or queue the answer behind a durable write). */
export function onPublish(m: MqttMachine, topicIn: string, qos: QoS, retain: boolean, packetId: number, payload: Buffer, props: PublishProps): void {
  if (m.state !== 'connected') throw new GatewayError('PROTOCOL_ERROR', 'PUBLISH before CONNACK');
  // Alias 0, above our maximum (DISCONNECT 0x94) or unknown throws [MQTT-3.3.2-8], [MQTT-3.3.2-9].
  const topic = m.inboundAliases.resolve(topicIn, props?.topicAlias);
  const bad = validateTopicName(topic, m.opts.maxTopicLevels);
  if (bad) throw new GatewayError(bad, JSON.stringify(topic.slice(0, 200)));
  m.counters.messagesIn++;
  if (m.charging) m.out.effect({ type: 'charge', bytes: payload.length }); // over the publish rate: reading pauses, never a drop
  const v5 = m.version === 5;
  if (qos > 0 && ++m.inboundInflight > m.opts.receiveMaximum && v5) {
    // More unacknowledged QoS 1/2 than our Receive Maximum [MQTT-3.3.4-8].
    throw new GatewayError('RECEIVE_MAXIMUM_EXCEEDED');
  }
  const entry = m.connectedEntry();
  if (qos === 2 && !m.broker.receiveQos2(entry, packetId)) {
    // Duplicate of a QoS 2 message not yet released: acknowledge again, do not route again [MQTT-4.3.3-10].
    m.inboundInflight--;
    // Its first copy's durable write still in flight (a DUP resent on a new connection while the write is
    // stalled): PUBREC only once it is durable; if it fails, the refusal the first copy got.
    const first = m.broker.qos2InFlight(entry, packetId);
    if (first) return m.wait(first, { kind: 'publish-ack', slot: m.acks.later(), ackType: 'pubrec', packetId, qos: 2, topic, entry });
    return queueAck(m, ackPacket(m, 'pubrec', packetId, 0));
  }
  const ackType = qos === 1 ? 'puback' : 'pubrec';
  if (v5 && props?.payloadFormatIndicator && !isUtf8(payload)) {
    return rejectPublish(m, qos, ackType, packetId, 'PAYLOAD_FORMAT_INVALID');
  }
  if (!m.broker.auth.authorizePublish(m.identity, topic)) {
    // v5: PUBACK / PUBREC 0x87; v3 has no refusal, so the message is dropped and acknowledged, as Mosquitto does.
    m.log('info', { clientId: m.clientId, username: m.identity.username, topic }, 'mqtt publish not authorized');
    return rejectPublish(m, qos, ackType, packetId, 'NOT_AUTHORIZED');
  }
  if (retain && payload.length > 0) {
    // A new retained topic past the count / bytes limit: v5 0x97 Quota exceeded; v3 cannot be told, so dropped (counted).
    const over = m.broker.retained.admits(topic, payload.length);
    if (over) {
      m.opts.guards?.counters.refused(over);
      m.log('info', { clientId: m.clientId, topic, limit: over }, 'mqtt retained message refused');
      return rejectPublish(m, qos, ackType, packetId, 'QUOTA_EXCEEDED');
    }
  }
  const now = m.env.now();
  const msg: Message = {
    topic,
    // Copied out of the read buffer so a stored or queued message does not pin the whole chunk.
    payload: Buffer.from(payload),
    qos,
    retain,
    properties: v5 ? toMessageProperties(props) : {},
    createdAt: now,
    expiresAt: props?.messageExpiryInterval !== undefined ? now + props.messageExpiryInterval * 1000 : 0,
    senderId: m.clientId,
  };
  let done: Promise<void> | undefined;
  try {
    // A persistent publisher's QoS 2 id is stored with the message: exactly once across a crash.
    const q2 = qos === 2 && m.broker.sessionExpiry(entry) !== 0 ? { sessionId: m.clientId, packetId } : undefined;
    done = m.broker.publish(msg, q2);
  } catch (err) {
    m.log('error', { err, clientId: m.clientId }, 'publish failed');
    return rejectPublish(m, qos, ackType, packetId, 'IMPLEMENTATION_SPECIFIC');
  }
  if (qos === 0) {
    if (done) m.wait(done, { kind: 'publish-qos0', topic });
    return;
  }
  if (!done) return queueAck(m, ackPacket(m, ackType, packetId, 0));
  if (qos === 2) m.broker.holdQos2(entry, packetId, done);
  m.wait(done, { kind: 'publish-ack', slot: m.acks.later(), ackType, packetId, qos, topic, entry });
}

/** An ack from the client: PUBACK / PUBREC / PUBCOMP settle our outbound flows, PUBREL releases an inbound QoS 2 one. */
export function onAck(m: MqttMachine, cmd: AckCmd, packetId: number, reason: number): void {
  const entry = m.connectedEntry();
  const b = m.broker;
  switch (cmd) {
    case 'puback': {
      const acked = m.logSubs ? b.unackedMessage(entry, packetId) : undefined;
      b.outbound(entry, b.settleOutbound(entry, packetId, 'puback'));
      m.logSubs?.acked(acked, reason); // a log-backed delivery: settle it (commit), refill the window
      return;
    }
    case 'pubrec':
      // A PUBREC with an error reason ends the flow: no PUBREL [MQTT-4.3.3-4].
      if (isFailureReason(reason)) return b.outbound(entry, b.settleOutbound(entry, packetId, 'pubrec-error'));
      if (!b.isKnownOutbound(entry, packetId)) {
        m.out.write(ackPacket(m, 'pubrel', packetId, 'PACKET_ID_NOT_FOUND'));
        return;
      }
      return b.outbound(entry, b.settleOutbound(entry, packetId, 'pubrec'));
    case 'pubcomp':
      return b.outbound(entry, b.settleOutbound(entry, packetId, 'pubcomp'));
    case 'pubrel': {
      const { known, done } = b.releaseQos2(entry, packetId);
      if (known) m.inboundInflight--;
      const pubcomp = ackPacket(m, 'pubcomp', packetId, known ? 0 : 'PACKET_ID_NOT_FOUND');
      // PUBCOMP only once the release is durable, so a crash cannot turn a new message with this id into a "duplicate".
      if (!done) return queueAck(m, pubcomp);
      m.wait(done, { kind: 'pubcomp', slot: m.acks.later(), packet: pubcomp, entry, packetId });
      return;
    }
  }
}

/** A durable write behind an inbound ack settled. Runs after close too (the failure is still logged). */
export function resumeAck(m: MqttMachine, r: Exclude<Resume, { kind: 'auth' | 'suback' }>, ok: boolean, err: unknown): void {
  switch (r.kind) {
    case 'publish-qos0':
      if (!ok) m.log('warn', { err, topic: r.topic }, 'QoS 0 publish not stored');
      return;
    case 'pubcomp':
      if (ok) r.slot.value = r.packet;
      else {
        m.log('error', { err: String(err), clientId: m.clientId }, 'QoS 2 release not durable; closing');
        // The stored receipt is still unreleased: mark the id again so the client's resent PUBREL retries the
        // release, instead of memory and store disagreeing (a node loading the store later would take the next
        // message under this id for a duplicate).
        m.broker.receiveQos2(r.entry, r.packetId);
        r.slot.failed = true;
      }
      return flushAcks(m);
    case 'publish-ack':
      if (ok) r.slot.value = ackPacket(m, r.ackType, r.packetId, 0);
      else {
        // Never acknowledge what is not durable: v5 gets an error reason code, v3 a closed connection.
        m.log('error', { err: String(err), clientId: m.clientId, topic: r.topic }, 'publish not durable; not acknowledged');
        // On the session it came in on, even when this connection was released meanwhile (m.entry unset):
        // a packet id left marked would make the client's resend look like a duplicate, acknowledged unstored.
        if (r.qos === 2) m.broker.forgetQos2(r.entry, r.packetId);
        const reason = unstoredPublishAck(m.version);
        if (reason !== undefined) r.slot.value = ackPacket(m, r.ackType, r.packetId, reason);
        else r.slot.failed = true;
      }
      return flushAcks(m);
  }
}

function rejectPublish(m: MqttMachine, qos: QoS, ackType: 'puback' | 'pubrec', packetId: number, code: ErrorCode): void {
  if (qos === 0) return;
  if (qos === 2) m.broker.forgetQos2(m.connectedEntry(), packetId);
  // v3 has no failure acks: acknowledge and drop, as a v3 client cannot be told otherwise.
  queueAck(m, ackPacket(m, ackType, packetId, refusedPublishAck(code, m.version)));
}

function queueAck(m: MqttMachine, packet: Buffer): void {
  const now = m.acks.now(packet);
  if (now === undefined) return; // queued behind an ack still waiting for its durable write
  afterAck(m, now);
  m.out.write(now);
}

/** Acks go out in the order their PUBLISHes arrived [MQTT-4.6.0-2], [MQTT-4.6.0-3]. */
function flushAcks(m: MqttMachine): void {
  const { send, close } = m.acks.take();
  for (const packet of send) {
    if (m.closed) continue;
    afterAck(m, packet);
    m.out.write(packet);
  }
  if (close && !m.closed) m.close();
}

function afterAck(m: MqttMachine, packet: Buffer): void {
  // A PUBACK ends an inbound QoS 1 flow; QoS 2 ends at PUBREL.
  if ((packet[0]! & 0xf0) === 0x40) m.inboundInflight--;
}

/** An ack packet; the reason (./reason-codes.ts ackReason) is carried by v5 only, and only when not success. */
export function ackPacket(m: MqttMachine, type: AckCmd, packetId: number, code: ErrorCode | number): Buffer {
  const reason = ackReason(code, m.version);
  if (reason === 0) return encodeAck(type, packetId);
  return mqttPacket.generate({ cmd: type, messageId: packetId, reasonCode: reason }, { protocolVersion: 5 });
}
