// What a CONNECT asks for and what the server grants: a pure decision (no sockets, no broker), tested on its own. Imports core types and sibling mqtt files.
import type { IConnectPacket } from 'mqtt-packet';
import type { Will } from '../../src/core/broker.ts';
import { ERRORS, GatewayError } from '../../src/core/errors.ts';
import type { QoS } from '../../src/core/message.ts';
import { validateTopicName } from '../../src/core/topic.ts';
import type { MqttOptions } from './options.ts';
import { toMessageProperties } from './properties.ts';
import { willTopicRefusal, type MqttVersion } from './reason-codes.ts';

const NEVER = 0xffffffff;

export type ConnectDecision =
  | {
      kind: 'refuse';
      /** MQTT 5 reason code; `v3ReturnCode` maps it for 3.1 / 3.1.1. */
      code: number;
      why: string;
    }
  | {
      kind: 'accept';
      clientId: string;
      /** Set when the server chose the client id (returned in a v5 CONNACK [MQTT-3.2.2-16]). */
      assigned?: string;
      will?: Will;
      /** Session expiry as asked, and as granted (capped by mqtt.maxSessionExpiry). */
      expiryAsked: number;
      expiry: number;
      /** Seconds; serverKeepAlive is set when the server overrode the client's value (v5 only). */
      keepalive: number;
      serverKeepAlive?: number;
      /** The client's limits towards us (v5; 0 = none). */
      clientMaxPacket: number;
      clientTopicAliasMax: number;
      /** Outbound window: min(client Receive Maximum, mqtt.maxInflight). */
      maxInflight: number;
    };

/**
 * Validates a CONNECT and negotiates the session. Throws GatewayError PROTOCOL_ERROR where the spec
 * wants the connection closed without CONNACK; returns `refuse` where a CONNACK with a code is due.
 */
export function decideConnect(p: IConnectPacket, o: MqttOptions, now: number, makeId: () => string): ConnectDecision {
  const version = p.protocolVersion ?? 4;
  const v5 = version === 5;
  const props = p.properties ?? {};
  // A Receive Maximum or Maximum Packet Size of 0 is a protocol error [MQTT-3.1.2-?] (MQTT 5 3.1.2.11.3/4).
  if (v5 && (props.receiveMaximum === 0 || props.maximumPacketSize === 0)) {
    throw new GatewayError('PROTOCOL_ERROR', 'receive maximum / maximum packet size of 0');
  }
  if (v5 && props.authenticationMethod !== undefined) return { kind: 'refuse', code: 0x8c, why: 'authentication methods are not supported' };
  let clientId = p.clientId ?? '';
  let assigned: string | undefined;
  if (clientId.length === 0) {
    // Zero-length client id: v3.1.1 only with clean session [MQTT-3.1.3-7], [MQTT-3.1.3-8]; v3.1 never; v5 assign one [MQTT-3.1.3-6].
    if (version === 3 || (version === 4 && !p.clean)) return { kind: 'refuse', code: ERRORS.CLIENT_ID_INVALID.mqtt, why: 'empty client identifier' };
    clientId = assigned = makeId();
  }
  if (clientId.length > o.maxClientIdLength || clientId.includes('\u0000') || clientId.includes('\ufffd')) {
    return { kind: 'refuse', code: ERRORS.CLIENT_ID_INVALID.mqtt, why: 'client identifier not valid' };
  }
  let will: Will | undefined;
  if (p.will) {
    if (validateTopicName(p.will.topic, o.maxTopicLevels)) {
      return { kind: 'refuse', code: willTopicRefusal(version as MqttVersion), why: 'will topic invalid' };
    }
    const wp = p.will.properties;
    will = {
      delay: wp?.willDelayInterval ?? 0,
      msg: {
        topic: p.will.topic,
        payload: typeof p.will.payload === 'string' ? Buffer.from(p.will.payload) : (p.will.payload ?? Buffer.alloc(0)),
        qos: (p.will.qos ?? 0) as QoS,
        retain: !!p.will.retain,
        properties: toMessageProperties(wp),
        createdAt: now,
        expiresAt: wp?.messageExpiryInterval !== undefined ? now + wp.messageExpiryInterval * 1000 : 0,
        senderId: clientId,
      },
    };
  }
  // v3: clean session = expiry 0, otherwise the session outlives the connection [MQTT-3.1.2-4..6].
  const expiryAsked = v5 ? (props.sessionExpiryInterval ?? 0) : p.clean ? 0 : NEVER;
  let keepalive = p.keepalive ?? 0;
  let serverKeepAlive: number | undefined;
  if (o.maxKeepalive > 0 && (keepalive === 0 || keepalive > o.maxKeepalive)) {
    keepalive = o.maxKeepalive;
    if (v5) serverKeepAlive = keepalive; // [MQTT-3.2.2-21]
  }
  return {
    kind: 'accept',
    clientId,
    assigned,
    will,
    expiryAsked,
    expiry: expiryAsked === 0 ? 0 : Math.min(expiryAsked, o.maxSessionExpiry),
    keepalive,
    serverKeepAlive,
    clientMaxPacket: v5 ? (props.maximumPacketSize ?? 0) : 0,
    clientTopicAliasMax: v5 ? (props.topicAliasMaximum ?? 0) : 0,
    maxInflight: Math.min(o.maxInflight, v5 ? (props.receiveMaximum ?? 65535) : 65535),
  };
}

/** CONNACK properties of an accepted v5 CONNECT: our limits, and what we changed of the client's asks. */
export function connackProperties(d: Extract<ConnectDecision, { kind: 'accept' }>, o: MqttOptions): Record<string, unknown> {
  const cp: Record<string, unknown> = {
    receiveMaximum: o.receiveMaximum,
    maximumPacketSize: o.maxPacketSize,
    topicAliasMaximum: o.topicAliasMaximum,
    wildcardSubscriptionAvailable: true,
    subscriptionIdentifiersAvailable: true,
    sharedSubscriptionAvailable: true,
  };
  if (d.expiry !== d.expiryAsked) cp.sessionExpiryInterval = d.expiry;
  if (d.assigned) cp.assignedClientIdentifier = d.assigned;
  if (d.serverKeepAlive !== undefined) cp.serverKeepAlive = d.serverKeepAlive;
  return cp;
}

/** Kept here for callers of this module; the mapping lives in ./reason-codes.ts. */
export { v3ReturnCode } from './reason-codes.ts';
