// Encodes one outgoing MESSAGE frame: the mapped message headers plus the per-delivery ones. Pure; imports core message type and sibling stomp files.
//
// Contract (STOMP 1.2 "MESSAGE"): headers are the mapped ones of ./mapping.ts (destination first), then
// `subscription`, `message-id`, `ack` (1.2, client / client-individual subscriptions only, even for a QoS 0
// message that has nothing to settle), `redelivered:true` + `x-redelivery-count` on a redelivery,
// `x-stream-offset` / `x-stream-partition` on replay subscriptions, and content-length. A mapped header the
// version cannot carry (e.g. a newline in 1.0) is not an error: the MESSAGE goes without the mapped extras.
import type { Message } from '../../src/core/message.ts';
import { encodeFrame, type StompVersion } from './frame.ts';
import { headersFromMessage } from './mapping.ts';

export interface Delivery {
  subscription: string;
  messageId: string;
  /** The subscription is client / client-individual. */
  acked: boolean;
  redeliveries: number;
  streamOffsets: boolean;
}

export function encodeMessage(msg: Message, d: Delivery, version: StompVersion): Buffer {
  const delivery: [string, string][] = [['subscription', d.subscription], ['message-id', d.messageId]];
  if (d.acked && version === '1.2') delivery.push(['ack', d.messageId]);
  if (d.redeliveries > 0) delivery.push(['redelivered', 'true'], ['x-redelivery-count', String(d.redeliveries)]);
  if (d.streamOffsets && msg.ref) delivery.push(['x-stream-offset', String(msg.ref.offset)], ['x-stream-partition', String(msg.ref.partition)]);
  delivery.push(['content-length', '0']); // encodeFrame writes the real length
  const mapped = headersFromMessage(msg);
  try {
    return encodeFrame({ command: 'MESSAGE', headers: [...mapped, ...delivery], body: msg.payload }, version);
  } catch {
    return encodeFrame({ command: 'MESSAGE', headers: [mapped[0]!, ...delivery], body: msg.payload }, version);
  }
}
