// In-order replies whose readiness arrives out of order (MQTT PUBACK / PUBREC / PUBCOMP, STOMP RECEIPT): a pure queue, no I/O. Imports nothing.
//
// Contract: replies leave in the order their requests arrived ([MQTT-4.6.0-2], [MQTT-4.6.0-3]; STOMP 1.2
// "RECEIPT"). now() is a reply ready at once: returned to send if nothing waits ahead of it, else queued.
// later() is a slot filled by fill() (ready) or fail() (the connection must close, nothing after it is
// sent). take() removes the ready run at the head, in order, and says whether a failure or a closing
// reply (`thenClose`) reached the head: then the queue is emptied and the connection closes after sending.
export interface ReplySlot<T> {
  value: T | undefined;
  failed: boolean;
  /** Close the connection once this reply is sent (STOMP DISCONNECT with a receipt). */
  thenClose: boolean;
}

export interface Taken<T> {
  /** Ready replies, in request order. */
  send: T[];
  /** A failed slot or a closing reply reached the head: the queue is now empty; close after sending `send`. */
  close: boolean;
}

export class OrderedReplies<T> {
  private readonly q: ReplySlot<T>[] = [];

  get size(): number {
    return this.q.length;
  }

  /** A reply ready now: returned when nothing waits ahead of it (send it), else queued behind the others (undefined). */
  now(value: T): T | undefined {
    if (this.q.length === 0) return value;
    this.q.push({ value, failed: false, thenClose: false });
    return undefined;
  }

  /** A reply whose readiness comes later: fill() or fail() it, then take(). */
  later(): ReplySlot<T> {
    const slot: ReplySlot<T> = { value: undefined, failed: false, thenClose: false };
    this.q.push(slot);
    return slot;
  }

  /** Removes the ready run at the head. */
  take(): Taken<T> {
    const send: T[] = [];
    while (this.q.length !== 0) {
      const head = this.q[0]!;
      if (head.failed) {
        this.q.length = 0;
        return { send, close: true };
      }
      if (head.value === undefined) break;
      this.q.shift();
      send.push(head.value);
      if (head.thenClose) {
        this.q.length = 0;
        return { send, close: true };
      }
    }
    return { send, close: false };
  }
}
