// Where one framed MQTT packet goes, given the connection's state: the dispatch state machine as a pure function (no parsing beyond the fixed header, no I/O). Imports ./fast-publish.ts and ./reason-codes.ts types only.
//
// States: awaiting-connect -> (authenticating) -> connected -> closed.
// - awaiting-connect: only CONNECT [MQTT-3.1.0-1]; anything else closes without an answer. The very first
//   byte already tells (0x10, flags 0 [MQTT-2.2.2-2]), so garbage is closed on its first read.
// - authenticating: packets are kept, in order, until the auth hook answers.
// - connected: 4-byte PUBACK / PUBREC / PUBREL / PUBCOMP (packet id only: v3, and v5 success [MQTT-3.4.2-1])
//   and v3 PUBLISH take the hot paths; v5 PUBLISH topics are checked for UTF-8 first; the rest is parsed.
// - closed: nothing.
import { publishTopicUtf8Error } from './fast-publish.ts';
import type { MqttVersion } from './reason-codes.ts';

export type ConnState = 'awaiting-connect' | 'authenticating' | 'connected' | 'closed';

export type AckCmd = 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';

export type Route =
  | { kind: 'drop' }
  | { kind: 'backlog' }
  | { kind: 'not-connect'; type: number }
  | { kind: 'malformed'; detail: string }
  | { kind: 'ack'; cmd: AckCmd; packetId: number }
  | { kind: 'fast-publish' }
  | { kind: 'parse' };

const ACKS: readonly AckCmd[] = ['puback', 'pubrec', 'pubrel', 'pubcomp'];

/** True when a connection's first read cannot start a CONNECT: close at once. */
export function refuseFirstByte(state: ConnState, bytesSeen: number, chunk: Buffer): boolean {
  return state === 'awaiting-connect' && bytesSeen === 0 && chunk.length > 0 && chunk[0] !== 0x10;
}

/** The route of one complete packet `p` (fixed header included). */
export function routePacket(state: ConnState, p: Buffer, version: MqttVersion): Route {
  if (state === 'closed') return { kind: 'drop' };
  if (state === 'authenticating') return { kind: 'backlog' };
  const type = p[0]! >> 4;
  if (state === 'awaiting-connect' && type !== 1) return { kind: 'not-connect', type };
  if (p.length === 4 && type >= 4 && type <= 7 && state === 'connected') {
    // PUBREL's fixed header flags are 0010, the other acks' 0000 [MQTT-2.2.2-2].
    if ((p[0]! & 0x0f) !== (type === 6 ? 2 : 0)) return { kind: 'malformed', detail: 'reserved flag bits of an ack [MQTT-2.2.2-2]' };
    return { kind: 'ack', cmd: ACKS[type - 4]!, packetId: p.readUInt16BE(2) };
  }
  if (type === 3 && version !== 5) return { kind: 'fast-publish' };
  if (type === 3) {
    const bad = publishTopicUtf8Error(p);
    if (bad) return { kind: 'malformed', detail: bad };
  }
  return { kind: 'parse' };
}
