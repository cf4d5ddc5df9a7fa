// A STOMP connection's open transactions (BEGIN / COMMIT / ABORT): a pure ledger of buffered actions, no I/O. Imports src/core/errors.ts only.
//
// Contract (STOMP 1.2 "BEGIN", "COMMIT", "ABORT"): a name is begun once; SEND / ACK / NACK naming a
// transaction are buffered in order and applied at COMMIT; ABORT or the end of the connection discards
// them. Limits: at most `maxTransactions` open (QUOTA_EXCEEDED), `maxFrames` actions each (STOMP_LIMIT_EXCEEDED).
import { GatewayError } from '../../src/core/errors.ts';

export class Transactions<A> {
  private readonly open = new Map<string, A[]>();

  constructor(
    private readonly maxTransactions: number,
    private readonly maxFrames: number,
  ) {}

  get size(): number {
    return this.open.size;
  }

  begin(name: string): void {
    if (this.open.has(name)) throw new GatewayError('PROTOCOL_ERROR', `transaction ${JSON.stringify(name)} already begun`);
    if (this.open.size >= this.maxTransactions) throw new GatewayError('QUOTA_EXCEEDED', `more than ${this.maxTransactions} open transactions`);
    this.open.set(name, []);
  }

  /** The actions of an open transaction (to add to); a frame naming an unknown one is a protocol error. */
  get(name: string): A[] {
    const tx = this.open.get(name);
    if (!tx) throw new GatewayError('PROTOCOL_ERROR', `unknown transaction ${JSON.stringify(name)}`);
    return tx;
  }

  /** Buffers one action, within the per-transaction frame limit. */
  add(tx: A[], action: A): void {
    if (tx.length >= this.maxFrames) throw new GatewayError('STOMP_LIMIT_EXCEEDED', `more than ${this.maxFrames} frames in a transaction`);
    tx.push(action);
  }

  /** Ends the transaction and returns its actions in order, to apply now. */
  commit(name: string): A[] {
    const tx = this.get(name);
    this.open.delete(name);
    return tx;
  }

  /** Ends the transaction, discarding its actions. */
  abort(name: string): void {
    if (!this.open.delete(name)) throw new GatewayError('PROTOCOL_ERROR', `unknown transaction ${JSON.stringify(name)}`);
  }

  /** The connection ended: nothing uncommitted is ever applied. */
  clear(): void {
    this.open.clear();
  }
}
