// ClusterPort signals over core NATS: best-effort messages to every node on `<prefix>.signal.<subject>`, the sender's node id in a header. Imports ./link.ts.
//
// Wire: subject `<prefix>.signal.<subject>`, payload = the data as given, header `Iotgw-Node: <nodeId>`. No JetStream,
// no durability, no ordering across subjects; a signal sent while disconnected is dropped. Every node, the sender
// included, receives it (core NATS echoes to the publishing connection's own subscriptions).
import { headers, type Subscription } from '@nats-io/transport-node';
import type { NatsLink } from './link.ts';

export const NODE_HEADER = 'Iotgw-Node';
const WORD = /^[A-Za-z0-9_-]+$/;

type Listener = (data: Buffer, fromNode: string) => void;

export class NatsSignals {
  private readonly subs = new Map<string, { sub: Subscription; listeners: Listener[] }>();

  constructor(private readonly link: NatsLink, private readonly prefix: string, private readonly nodeId: string) {}

  private subject(word: string): string {
    if (!WORD.test(word)) throw new Error(`signal subject must be one word of [A-Za-z0-9_-], got ${JSON.stringify(word)}`);
    return `${this.prefix}.signal.${word}`;
  }

  signal(word: string, data: Buffer): void {
    const subject = this.subject(word);
    if (!this.link.ready) return;
    const h = headers();
    h.set(NODE_HEADER, this.nodeId);
    try { this.link.nc.publish(subject, data, { headers: h }); } catch { /* best effort */ }
  }

  onSignal(word: string, listener: Listener): () => void {
    const subject = this.subject(word);
    let entry = this.subs.get(word);
    if (!entry) {
      const listeners: Listener[] = [];
      const created: { sub: Subscription; listeners: Listener[] } = {
        listeners,
        sub: this.link.nc.subscribe(subject, {
          callback: (err, msg) => {
            if (err) return;
            const from = msg.headers?.get(NODE_HEADER) ?? '';
            const data = Buffer.from(msg.data);
            for (const l of [...created.listeners]) {
              try { l(data, from); } catch { /* a listener must not break the others */ }
            }
          },
        }),
      };
      entry = created;
      this.subs.set(word, entry);
    }
    entry.listeners.push(listener);
    const e = entry;
    return () => {
      const i = e.listeners.indexOf(listener);
      if (i >= 0) e.listeners.splice(i, 1);
      if (e.listeners.length === 0 && this.subs.get(word) === e) {
        this.subs.delete(word);
        e.sub.unsubscribe();
      }
    };
  }

  close(): void {
    for (const e of this.subs.values()) e.sub.unsubscribe();
    this.subs.clear();
  }
}
