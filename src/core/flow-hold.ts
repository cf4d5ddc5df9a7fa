// Outbound exactly-once across a crash, for every adapter: a new QoS 2 PUBLISH or a PUBREL waits until the session's in-flight record naming it is durable, and what follows queues behind it. Imports ./session.ts types only.
//
// Contract (Broker.outbound is the one caller):
// - QoS 0 and QoS 1 batches, retransmissions (DUP) and non-persistent sessions never wait: handed to the link at once.
// - A batch holding a new QoS 2 PUBLISH or a PUBREL starts a hold: `save()` writes the in-flight record and
//   returns its promise; the batch, plus anything handed over meanwhile, goes out in order once it settles
//   (fulfilled or rejected: a failed state write was logged and fails /readyz; the message is then delivered
//   at least once rather than held). After a kill -9 the restored session resends that PUBLISH with DUP and
//   the same id, or that PUBREL, instead of reading the message from the log as new [MQTT-4.3.3-10].
// - A hold belongs to one link: if the session's link changed (takeover, close) when it settles, the held items
//   are not written (they are in the session's in-flight state and go out again on the next connect).
import type { Outbound } from './session.ts';

/** A new outbound QoS 2 PUBLISH or a PUBREL: its flow state must be durable before it is sent. */
export function needsDurableFlow(o: Outbound): boolean {
  return o.type === 'pubrel' || (o.qos === 2 && !o.dup);
}

/** Items waiting on one in-flight record write; `covered` = how many of them that write covers. */
export interface FlowHold<L> {
  link: L;
  items: Outbound[];
  covered: number;
}

/** Where a hold lives (the session entry) and how to reach its link. */
export interface HoldHost<L extends { send(out: readonly Outbound[]): void }> {
  link: L | undefined;
  held?: FlowHold<L>;
}

/**
 * Hands `out` to the host's link, holding it when `persistent` and it needs a durable flow (see the contract).
 * `save` writes the in-flight record (undefined: nothing to wait for); `failed` reports a throw while releasing.
 */
export function sendHeld<L extends { send(out: readonly Outbound[]): void }>(
  host: HoldHost<L>,
  out: readonly Outbound[],
  persistent: boolean,
  save: () => Promise<void> | undefined,
  failed: (err: unknown) => void,
): void {
  const link = host.link;
  if (!link || out.length === 0) return;
  const held = host.held;
  if (held !== undefined && held.link === link) {
    for (const o of out) held.items.push(o);
    return;
  }
  const saved = persistent && out.some(needsDurableFlow) ? save() : undefined;
  if (!saved) return link.send(out);
  // The record being written covers `out` (the session state that produced it); later items need their own.
  const hold: FlowHold<L> = { link, items: out.slice(), covered: out.length };
  host.held = hold;
  const release = (): void => {
    if (host.held !== hold) return;
    host.held = undefined;
    if (host.link !== link) return;
    try {
      link.send(hold.items.slice(0, hold.covered));
      if (hold.items.length > hold.covered) sendHeld(host, hold.items.slice(hold.covered), persistent, save, failed);
    } catch (err) {
      failed(err);
    }
  };
  saved.then(release, release);
}
