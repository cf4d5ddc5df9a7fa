// What a client frame's headers ask for, validated: SUBSCRIBE / UNSUBSCRIBE ids, ack mode, prefetch, durable, ACK / NACK ids. Pure; imports src/core/errors.ts, ./frame.ts and the AckMode type of ./subscription.ts.
import { GatewayError } from '../../src/core/errors.ts';
import { header, type StompFrame, type StompVersion } from './frame.ts';
import type { AckMode } from './subscription.ts';

/** A header the command requires (1.2 "Client Frames"): absent or empty is STOMP_HEADER_MISSING. */
export function required(f: StompFrame, name: string): string {
  const v = header(f, name);
  if (v === undefined || v === '') throw new GatewayError('STOMP_HEADER_MISSING', `${f.command} without a ${name} header`);
  return v;
}

/** SUBSCRIBE's destination and subscription id; 1.0 may omit the id, and the destination then names the subscription. */
export function subscribeTarget(f: StompFrame, version: StompVersion): { dest: string; id: string } {
  const dest = required(f, 'destination');
  const id = version === '1.0' ? (header(f, 'id') ?? dest) : required(f, 'id');
  return { dest, id };
}

/** UNSUBSCRIBE's subscription id (1.0: `id`, else the destination). */
export function unsubscribeId(f: StompFrame, version: StompVersion): string {
  return version === '1.0' ? (header(f, 'id') ?? required(f, 'destination')) : required(f, 'id');
}

/** The `ack` header: auto (default), client, client-individual (1.2 "SUBSCRIBE ack Header"). */
export function ackModeOf(f: StompFrame): AckMode {
  const ack = header(f, 'ack') ?? 'auto';
  if (ack !== 'auto' && ack !== 'client' && ack !== 'client-individual') throw new GatewayError('STOMP_HEADER_INVALID', `ack ${JSON.stringify(ack)}`);
  return ack;
}

/** RabbitMQ's `prefetch-count`: 1..999999, capped at `max`; absent = `dflt`. */
export function prefetchOf(f: StompFrame, dflt: number, max: number): number {
  const pf = header(f, 'prefetch-count');
  if (pf === undefined) return dflt;
  if (!/^\d{1,6}$/.test(pf) || Number(pf) < 1) throw new GatewayError('STOMP_HEADER_INVALID', `prefetch-count ${JSON.stringify(pf)}`);
  return Math.min(Number(pf), max);
}

/** `durable:true`, or RabbitMQ's `persistent:true`. */
export function isDurable(f: StompFrame): boolean {
  return header(f, 'durable') === 'true' || header(f, 'persistent') === 'true';
}

/** What an ACK / NACK names: `id` (1.2) or `message-id` (1.0 / 1.1); a NACK requeues unless RabbitMQ's `requeue:false`. */
export function settlementOf(f: StompFrame): { ackId: string; positive: boolean; requeue: boolean } {
  const ackId = header(f, 'id') ?? required(f, 'message-id');
  const positive = f.command === 'ACK';
  return { ackId, positive, requeue: positive || header(f, 'requeue') !== 'false' };
}
