// The MESSAGEs of one STOMP connection waiting for ACK / NACK, and what an ACK settles: a pure ledger, no I/O. Imports nothing.
//
// Contract (STOMP 1.2 "SUBSCRIBE ack Header", "ACK"): every MESSAGE of a client / client-individual
// subscription is recorded under its connection-unique ack id, in send order. settle(id) returns what it
// settles: for ack:client everything of that subscription sent up to and including it (cumulative), for
// client-individual that one message; an unknown id settles nothing. Entries without a token (QoS 0 on an
// acked subscription: nothing to settle upstream) are bounded by `maxTokenless`; past it the oldest is forgotten.

export interface AckedSubscription {
  ackMode: 'auto' | 'client' | 'client-individual';
}

export interface PendingDelivery<S> {
  sub: S;
  /** undefined: nothing to settle upstream (QoS 0), but it counts for a cumulative ACK. */
  token: number | undefined;
}

export class PendingAcks<S extends AckedSubscription> {
  /** Map order = send order (cumulative ACK walks it). */
  private readonly pending = new Map<string, PendingDelivery<S>>();
  private tokenless = 0;

  constructor(private readonly maxTokenless: number) {}

  get size(): number {
    return this.pending.size;
  }

  get tokenlessCount(): number {
    return this.tokenless;
  }

  /** Records a MESSAGE sent under `ackId`. */
  add(ackId: string, sub: S, token: number | undefined): void {
    this.pending.set(ackId, { sub, token });
    if (token === undefined && ++this.tokenless > this.maxTokenless) this.forgetOldestTokenless();
  }

  /** What an ACK / NACK of `ackId` settles, removed from the ledger, in send order; undefined for an unknown id. */
  settle(ackId: string): PendingDelivery<S>[] | undefined {
    const target = this.pending.get(ackId);
    if (!target) return undefined;
    const todo: PendingDelivery<S>[] = [];
    if (target.sub.ackMode === 'client') {
      for (const [k, p] of this.pending) {
        if (p.sub !== target.sub) continue;
        this.remove(k, p);
        todo.push(p);
        if (k === ackId) break;
      }
    } else {
      this.remove(ackId, target);
      todo.push(target);
    }
    return todo;
  }

  /** Forgets every entry of a subscription that ended. */
  dropSubscription(sub: S): void {
    for (const [k, p] of this.pending) if (p.sub === sub) this.remove(k, p);
  }

  clear(): void {
    this.pending.clear();
    this.tokenless = 0;
  }

  private remove(k: string, p: PendingDelivery<S>): void {
    this.pending.delete(k);
    if (p.token === undefined) this.tokenless--;
  }

  /** Keeps memory bounded for a client that never ACKs QoS 0 MESSAGEs: the oldest such entry is dropped. */
  private forgetOldestTokenless(): void {
    for (const [k, p] of this.pending) {
      if (p.token !== undefined) continue;
      this.remove(k, p);
      return;
    }
  }
}
