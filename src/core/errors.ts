// The one registry of coded gateway errors and their MQTT 5 reason codes / STOMP texts. Imports nothing.

export interface ErrorSpec {
  /** MQTT 5 reason code used on CONNACK / DISCONNECT / acks for this error. */
  mqtt: number;
  /** Short text for logs and STOMP ERROR `message` headers. */
  text: string;
}

export const ERRORS = {
  MALFORMED_PACKET: { mqtt: 0x81, text: 'malformed packet' },
  PROTOCOL_ERROR: { mqtt: 0x82, text: 'protocol error' },
  IMPLEMENTATION_SPECIFIC: { mqtt: 0x83, text: 'implementation specific error' },
  UNSUPPORTED_PROTOCOL_VERSION: { mqtt: 0x84, text: 'unsupported protocol version' },
  CLIENT_ID_INVALID: { mqtt: 0x85, text: 'client identifier not valid' },
  BAD_CREDENTIALS: { mqtt: 0x86, text: 'bad user name or password' },
  NOT_AUTHORIZED: { mqtt: 0x87, text: 'not authorized' },
  SERVER_BUSY: { mqtt: 0x89, text: 'server busy' },
  SERVER_SHUTTING_DOWN: { mqtt: 0x8b, text: 'server shutting down' },
  KEEPALIVE_TIMEOUT: { mqtt: 0x8d, text: 'keep alive timeout' },
  SESSION_TAKEN_OVER: { mqtt: 0x8e, text: 'session taken over' },
  TOPIC_FILTER_INVALID: { mqtt: 0x8f, text: 'topic filter invalid' },
  TOPIC_NAME_INVALID: { mqtt: 0x90, text: 'topic name invalid' },
  PACKET_ID_IN_USE: { mqtt: 0x91, text: 'packet identifier in use' },
  PACKET_ID_NOT_FOUND: { mqtt: 0x92, text: 'packet identifier not found' },
  RECEIVE_MAXIMUM_EXCEEDED: { mqtt: 0x93, text: 'receive maximum exceeded' },
  TOPIC_ALIAS_INVALID: { mqtt: 0x94, text: 'topic alias invalid' },
  PACKET_TOO_LARGE: { mqtt: 0x95, text: 'packet too large' },
  QUOTA_EXCEEDED: { mqtt: 0x97, text: 'quota exceeded' },
  CONNECTION_RATE_EXCEEDED: { mqtt: 0x9f, text: 'connection rate exceeded' },
  ADMINISTRATIVE_ACTION: { mqtt: 0x98, text: 'administrative action' },
  PAYLOAD_FORMAT_INVALID: { mqtt: 0x99, text: 'payload format invalid' },
  RETAIN_NOT_SUPPORTED: { mqtt: 0x9a, text: 'retain not supported' },
  QOS_NOT_SUPPORTED: { mqtt: 0x9b, text: 'qos not supported' },
  SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: { mqtt: 0x9e, text: 'shared subscriptions not supported' },
  SUBSCRIPTION_IDS_NOT_SUPPORTED: { mqtt: 0xa1, text: 'subscription identifiers not supported' },
  WILDCARDS_NOT_SUPPORTED: { mqtt: 0xa2, text: 'wildcard subscriptions not supported' },
  PERSIST_FAILED: { mqtt: 0x80, text: 'message could not be made durable' },
  STOMP_FRAME_INVALID: { mqtt: 0x81, text: 'malformed frame' },
  /** A well-formed STOMP frame without a header its command requires (1.2 "Client Frames"). */
  STOMP_HEADER_MISSING: { mqtt: 0x82, text: 'missing header' },
  /** A well-formed STOMP frame whose header value is not one the gateway accepts (ack mode, heart-beat, expires, ...). */
  STOMP_HEADER_INVALID: { mqtt: 0x82, text: 'invalid header value' },
  STOMP_LIMIT_EXCEEDED: { mqtt: 0x95, text: 'frame exceeds a configured limit' },
  CONFIG_INVALID: { mqtt: 0x83, text: 'invalid configuration' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** A gateway error carrying its registry code; adapters map it to the wire in one place. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, detail?: string) {
    super(detail ? `${ERRORS[code].text}: ${detail}` : ERRORS[code].text);
    this.code = code;
    this.name = 'GatewayError';
  }
  get mqttReason(): number {
    return ERRORS[this.code].mqtt;
  }
}

export function gatewayError(code: ErrorCode, detail?: string): GatewayError {
  return new GatewayError(code, detail);
}
