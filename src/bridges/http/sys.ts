// $SYS topics of the HTTP sinks: their state and counters, as the gateway's other $SYS topics (retained, QoS 0, in memory only). Imports core message types and ./sink.ts types.
//
//   $SYS/broker/bridges/<name>/state             starting | idle | sending | retrying | stopped | failed
//   $SYS/broker/bridges/<name>/type              http
//   $SYS/broker/bridges/<name>/messages/sent     messages delivered (2xx)
//   $SYS/broker/bridges/<name>/lag               log records behind
//   $SYS/broker/bridges/<name>/dead-lettered     messages sent to the dead-letter topic
//   $SYS/broker/bridges/<name>/errors            failed requests, all classes
// (Mosquitto publishes `$SYS/broker/connection/<name>/state` for its bridges; `bridges/` holds both kinds here.)
import type { Message } from '../../core/message.ts';
import type { SinkStatus } from './sink.ts';

export function sysMessages(status: readonly SinkStatus[], now = Date.now()): Message[] {
  const out: Message[] = [];
  const put = (topic: string, text: string): void => {
    out.push({ topic, payload: Buffer.from(text, 'utf8'), qos: 0, retain: true, properties: {}, createdAt: now, expiresAt: 0, senderId: '' });
  };
  for (const s of status) {
    const base = `$SYS/broker/bridges/${s.name}`;
    put(`${base}/type`, 'http');
    put(`${base}/state`, s.state);
    put(`${base}/messages/sent`, String(s.delivered));
    put(`${base}/lag`, String(Math.max(0, s.lag)));
    put(`${base}/dead-lettered`, String(s.deadLettered));
    put(`${base}/errors`, String(s.errors['5xx'] + s.errors['4xx'] + s.errors.network + s.errors.other));
  }
  return out;
}
