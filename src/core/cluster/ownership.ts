// Session ownership across nodes: the owner record `o/<session key>` claimed with compare-and-set, the takeover notice to the old owner (watch) and its handoff signal back. Imports core persistence and membership types.
//
// Protocol (docs/CLUSTER.md "Sessions"):
//   o/<key>  JSON {v:1, node, epoch, at}: the node that serves session <key>; epoch +1 per claim.
// 1. A client connects to node B. B claims: reads o/<key> (version V, owner A, epoch E) and writes
//    {node: B, epoch: E+1} with putIfVersion(V); a conflict (someone claimed meanwhile) re-reads and retries.
// 2. Every node watches `o/`. A sees the owner change away from itself for a key it serves: it closes the
//    connection (MQTT 5 DISCONNECT 0x8E), waits for the session's inbound QoS 2 publishes in flight (their
//    receipts), writes the session's meta and cursor/flows, drops it from memory (not from the store) and
//    signals `handoff` {key, epoch, cursor: versionOf(c/<key>)}.
// 3. B waits for that handoff (from A, for its epoch) when A is alive, bounded by handoffTimeoutMs, and until
//    its view of c/<key> has the version A wrote; then loads the session from the store. When A is dead (or
//    silent past the timeout) B loads what the store has: A's last cursor write, at most about a second old.
import type { Logger } from 'pino';
import type { ClusterPort, StatePort } from '../persistence.ts';
import type { Membership } from './membership.ts';

export interface OwnerRecord {
  node: string;
  epoch: number;
}

export const OWNER_PREFIX = 'o/';
const PREFIX = OWNER_PREFIX;

export function decodeOwner(b: Buffer | undefined): OwnerRecord | undefined {
  if (!b) return undefined;
  try {
    const j = JSON.parse(b.toString('utf8')) as { v?: number; node?: unknown; epoch?: unknown };
    if (j.v !== 1 || typeof j.node !== 'string' || typeof j.epoch !== 'number') return undefined;
    return { node: j.node, epoch: j.epoch };
  } catch {
    return undefined;
  }
}

export interface ClaimResult {
  /** The owner before this claim (undefined: none recorded). */
  previous: OwnerRecord | undefined;
  epoch: number;
  /** Whether the previous owner, another node, handed the session over (or had nothing to hand over). */
  handedOver: boolean;
}

export interface OwnershipHost {
  /** Another node took session `key`: close, save and drop it here; resolves once its state is written. */
  release(key: string): Promise<void>;
}

export class Ownership {
  private readonly waiting = new Map<string, { epoch: number; from: string; done: (cursorVersion: number) => void }>();
  private readonly stops: (() => void)[] = [];
  /** Keys this node claimed last (it answers a takeover of these with a handoff). */
  private readonly owned = new Set<string>();

  constructor(
    private readonly port: ClusterPort,
    private readonly state: StatePort,
    private readonly membership: Membership,
    private readonly host: OwnershipHost,
    private readonly logger: Logger,
    private readonly handoffTimeoutMs = 3000,
  ) {}

  start(): void {
    this.stops.push(
      this.port.watch(PREFIX, (k, v) => {
        const key = k.slice(PREFIX.length);
        const rec = decodeOwner(v);
        if (!this.owned.has(key) || rec?.node === this.port.nodeId) return;
        this.owned.delete(key);
        if (rec === undefined) return; // deleted: the session ended
        this.host
          .release(key)
          .catch((err: unknown) => this.logger.error({ err, session: key }, 'session not saved before handing it over'))
          .finally(() => {
            const cursor = this.port.versionOf(`c/${key}`);
            this.port.signal('handoff', Buffer.from(JSON.stringify({ v: 1, key, epoch: rec.epoch, cursor })));
          });
      }),
      this.port.onSignal('handoff', (data, from) => {
        let j: { key?: unknown; epoch?: unknown; cursor?: unknown };
        try {
          j = JSON.parse(data.toString('utf8')) as typeof j;
        } catch {
          return;
        }
        if (typeof j.key !== 'string') return;
        const w = this.waiting.get(j.key);
        if (w && w.epoch === j.epoch && w.from === from) {
          this.waiting.delete(j.key);
          w.done(typeof j.cursor === 'number' ? j.cursor : 0);
        }
      }),
    );
  }

  stop(): void {
    for (const s of this.stops.splice(0)) s();
    for (const w of this.waiting.values()) w.done(0);
    this.waiting.clear();
  }

  /** Owner of `key` as this node sees it. */
  ownerOf(key: string): OwnerRecord | undefined {
    return decodeOwner(this.state.get(PREFIX + key));
  }

  /** Makes this node the owner of session `key`, then waits for the old owner's handoff (see the protocol above). */
  async claim(key: string): Promise<ClaimResult> {
    const me = this.port.nodeId;
    for (let attempt = 0; attempt < 20; attempt++) {
      const k = PREFIX + key;
      const version = this.port.versionOf(k);
      const previous = decodeOwner(this.state.get(k));
      const epoch = (previous?.epoch ?? 0) + 1;
      // Listen before writing: the handoff may come back before putIfVersion resolves.
      const other = previous !== undefined && previous.node !== me && this.membership.isLive(previous.node) ? previous.node : undefined;
      let handoff: Promise<number> | undefined;
      if (other !== undefined) {
        handoff = new Promise<number>((done) => this.waiting.set(key, { epoch, from: other, done }));
      }
      const ok = await this.port.putIfVersion(k, Buffer.from(JSON.stringify({ v: 1, node: me, epoch, at: Date.now() })), version);
      if (!ok) {
        this.waiting.delete(key);
        await new Promise((r) => setTimeout(r, 5 + attempt * 5));
        continue;
      }
      this.owned.add(key);
      if (handoff === undefined) return { previous, epoch, handedOver: previous === undefined || previous.node === me };
      let timer: NodeJS.Timeout | undefined;
      const cursor = await Promise.race([
        handoff,
        new Promise<undefined>((r) => {
          timer = setTimeout(() => r(undefined), this.handoffTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      this.waiting.delete(key);
      if (cursor === undefined) {
        this.logger.warn({ session: key, from: previous!.node }, 'no session handoff from the old owner in time: resuming from its last stored state');
        return { previous, epoch, handedOver: false };
      }
      // The old owner's last cursor write must be visible here before the session is read (bounded).
      for (let i = 0; i < 200 && this.port.versionOf(`c/${key}`) < cursor; i++) await new Promise((r) => setTimeout(r, 10));
      return { previous, epoch, handedOver: true };
    }
    throw new Error(`session ${key}: ownership claim kept conflicting`);
  }

  /**
   * Takes session `key` from `from`, a node that is not live, in one compare-and-set: false when the record no
   * longer names `from` or changed meanwhile (a reconnecting client or another adopter took it). No handoff: the
   * dead node cannot give one (orphans.ts).
   */
  async adopt(key: string, from: string): Promise<boolean> {
    const k = PREFIX + key;
    const version = this.port.versionOf(k);
    const previous = decodeOwner(this.state.get(k));
    if (previous?.node !== from || this.membership.isLive(from)) return false;
    const record = { v: 1, node: this.port.nodeId, epoch: previous.epoch + 1, at: Date.now() };
    if (!(await this.port.putIfVersion(k, Buffer.from(JSON.stringify(record)), version))) return false;
    this.owned.add(key);
    return true;
  }

  /** Forgets local ownership of `key` (the session ended here). */
  forget(key: string): void {
    this.owned.delete(key);
  }

  /** Records ownership of sessions restored at start (their owner record names this node). */
  adoptOwned(key: string): void {
    this.owned.add(key);
  }
}
