// The one place that turns a core error (src/core/errors.ts) into what an MQTT 3.1 / 3.1.1 / 5 packet says: CONNACK, SUBACK, PUBACK / PUBREC / PUBREL / PUBCOMP, UNSUBACK and DISCONNECT. Pure; imports src/core/errors.ts only.
//
// Contract: MQTT 5 carries the registry's reason code (ERRORS[code].mqtt) on every packet that has one.
// MQTT 3.1 / 3.1.1 has far fewer: a CONNACK return code (MQTT 3.1.1 table 3.1), a SUBACK 0x80 Failure,
// and nothing at all on PUBACK / PUBREC or from the server at DISCONNECT; each function says what v3 gets.
import { ERRORS, GatewayError, type ErrorCode } from '../../src/core/errors.ts';

export type MqttVersion = 3 | 4 | 5;

/** MQTT 5 reason codes that are not errors of the registry. */
export const SUCCESS = 0x00;
/** UNSUBACK: the filter had no subscription (MQTT 5 3.11.3). */
export const NO_SUBSCRIPTION_EXISTED = 0x11;
/** DISCONNECT reason from a client: "Disconnect with Will Message" (MQTT 5 3.14.2.1); every other reason discards the will [MQTT-3.1.2-10]. */
export const DISCONNECT_WITH_WILL = 0x04;
/** SUBACK return code "Failure" of 3.1.1 [MQTT-3.9.3-2]; in v5 the generic "Unspecified error". */
export const SUBACK_FAILURE_V3 = 0x80;

/** An MQTT 5 reason code for an ErrorCode, or a number taken as an MQTT 5 reason code already. */
export function reasonCode(code: ErrorCode | number): number {
  return typeof code === 'number' ? code : ERRORS[code].mqtt;
}

/** MQTT 5 reason code -> 3.1 / 3.1.1 CONNACK return code (MQTT 3.1.1 table 3.1). */
export function v3ReturnCode(code: number): number {
  if (code < 0x80) return code;
  switch (code) {
    case 0x84: // unsupported protocol version
      return 0x01;
    case 0x85: // client identifier not valid
      return 0x02;
    case 0x86: // bad user name or password
      return 0x04;
    case 0x87: // not authorized
    case 0x8c: // bad authentication method
      return 0x05;
    default: // server unavailable
      return 0x03;
  }
}

/** The fields of a refusing CONNACK [MQTT-3.2.2-7]: v5 `reasonCode`, v3 `returnCode` (mqtt-packet's names). */
export function connackRefusal(code: ErrorCode | number, version: MqttVersion): { reasonCode: number } | { returnCode: number } {
  const reason = reasonCode(code);
  return version === 5 ? { reasonCode: reason } : { returnCode: v3ReturnCode(reason) };
}

/** The CONNACK answering a CONNECT whose protocol level we do not speak: 0x01 in a 3.1.1 CONNACK [MQTT-3.1.2-2]. */
export const UNACCEPTABLE_PROTOCOL_LEVEL = 0x01;

/**
 * The CONNACK code for a will topic that is not a valid topic name: v5 0x90 Topic Name invalid; 3.1 / 3.1.1 have
 * no such code, and get 0x85 (-> return code 0x02, identifier rejected) as before.
 */
export function willTopicRefusal(version: MqttVersion): number {
  return version === 5 ? ERRORS.TOPIC_NAME_INVALID.mqtt : ERRORS.CLIENT_ID_INVALID.mqtt;
}

/** A SUBACK return code for a refused filter: v5 the error's reason code, v3 0x80 Failure [MQTT-3.9.3-2]. */
export function subackFailure(code: ErrorCode, version: MqttVersion): number {
  return version === 5 ? ERRORS[code].mqtt : SUBACK_FAILURE_V3;
}

/** A SUBACK code for a GatewayError thrown while subscribing (v5 its reason code, v3 0x80). */
export function subackFailureOf(err: GatewayError, version: MqttVersion): number {
  return subackFailure(err.code, version);
}

/** UNSUBACK code per filter (v5 only; a 3.1.1 UNSUBACK has no payload [MQTT-3.11.3]). */
export function unsubackCode(existed: boolean): number {
  return existed ? SUCCESS : NO_SUBSCRIPTION_EXISTED;
}

/**
 * The PUBACK / PUBREC reason of an inbound PUBLISH the gateway refused (not authorized, quota, payload format).
 * v3 has no failure acks: it gets success (0) and the message is dropped, as Mosquitto does.
 */
export function refusedPublishAck(code: ErrorCode, version: MqttVersion): number {
  return version === 5 ? ERRORS[code].mqtt : SUCCESS;
}

/**
 * The PUBACK / PUBREC reason of an inbound PUBLISH that could not be made durable; undefined when the
 * version cannot say so (v3): then the connection closes without acknowledging (nothing unstored is acked).
 */
export function unstoredPublishAck(version: MqttVersion): number | undefined {
  return version === 5 ? ERRORS.PERSIST_FAILED.mqtt : undefined;
}

/** The reason on a PUBACK / PUBREC / PUBREL / PUBCOMP we send: v5 the code's reason (0: success, written without one), v3 none (0). */
export function ackReason(code: ErrorCode | number, version: MqttVersion): number {
  return version === 5 ? reasonCode(code) : SUCCESS;
}

/** A reason code of 0x80 or more is a failure (MQTT 5 2.4); on a PUBREC it ends the flow, no PUBREL [MQTT-4.3.3-4]. */
export function isFailureReason(reason: number): boolean {
  return reason >= 0x80;
}

/** The reason code on a server DISCONNECT [MQTT-3.14.2-1]; undefined for v3, where the server just closes. */
export function disconnectReason(code: ErrorCode, version: MqttVersion): number | undefined {
  return version === 5 ? ERRORS[code].mqtt : undefined;
}

/** Any thrown value as a registry code and a detail: a GatewayError keeps its code, anything else is IMPLEMENTATION_SPECIFIC. */
export { errorCodeOf } from '../error-code.ts';
