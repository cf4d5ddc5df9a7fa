// Sessions whose owner node is gone (killed, or stopped and not back): one live node adopts each, so its expiry runs and its will is published. Imports core persistence and cluster types and ../hash.ts.
//
// Contract: deadAfterMs after every change of the live set (and once after start, for owners gone before this
// node started), each node lists the owner records `o/<key>` whose node is not live and adopts those whose
// rendezvous choice among the live nodes, FNV-1a(key + node) highest, is itself. Every node computes the same
// choice from the same view; while views differ two nodes may try one key, and the adoption is a compare-and-set
// from the dead owner (Ownership.adopt), so one wins and the other leaves it. An owner must have been gone for a
// while first: adoptAfterDeadMs (30 s) since it was last heard, because heartbeats travel over NATS, and while
// NATS fails over every node may take the others for dead for a few seconds (adopting then would take sessions
// from their live, connected owner); adoptAfterStopMs (30 s) since its `bye`, so a restart brings its sessions back
// where they were. A node never seen by this one counts as gone since this node started. So wills of a dead
// node's clients are published about half a minute after its death, plus their own delay. The adopter loads the
// session from the store as after a crash of its owner (Broker.adoptSession): a connection it had is closed
// abnormally, so a will runs after its delay and expiry counts from now; a session with nothing stored (a clean
// one) loses its owner record. A client reconnecting meanwhile claims the session as usual and the adopter hands
// it over.
import type { Logger } from 'pino';
import type { StatePort } from '../persistence.ts';
import type { Membership } from './membership.ts';
import { decodeOwner, OWNER_PREFIX } from './ownership.ts';
import { rendezvous } from '../hash.ts';

export class OrphanSweeper {
  private readonly adopting = new Set<string>();
  private stopChange: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Sessions adopted since start (metrics). */
  adopted = 0;

  constructor(
    private readonly state: StatePort,
    private readonly membership: Membership,
    /** Takes session `key` over from dead node `from` and loads it; resolves false when another node won. */
    private readonly adopt: (key: string, from: string) => Promise<boolean>,
    private readonly logger: Logger,
    private readonly adoptAfterStopMs = 30_000,
    private readonly adoptAfterDeadMs = 30_000,
  ) {}

  start(): void {
    this.stopChange = this.membership.onChange(() => this.schedule());
    // Owners gone before this node started are declared dead only after deadAfterMs without a heartbeat.
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.stopChange?.();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms = this.membership.deadAfterMs + this.membership.heartbeatMs): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sweep();
    }, ms);
    this.timer.unref();
  }

  /** Adopts this node's share of the sessions whose owner is not live. */
  sweep(): void {
    if (this.stopped) return;
    const live = this.membership.live();
    const me = this.membership.nodeId;
    const now = Date.now();
    let later = Infinity;
    for (const [k, v] of this.state.entries(OWNER_PREFIX)) {
      const key = k.slice(OWNER_PREFIX.length);
      const owner = decodeOwner(v);
      if (!owner || this.membership.isLive(owner.node) || this.adopting.has(key)) continue;
      const gone = this.membership.goneSince(owner.node) ?? { at: this.membership.startedAt, graceful: false };
      const wait = gone.graceful ? this.adoptAfterStopMs : this.adoptAfterDeadMs;
      if (now - gone.at < wait) {
        later = Math.min(later, gone.at + wait - now);
        continue;
      }
      if (rendezvous(key, live) !== me) continue;
      this.adopting.add(key);
      this.adopt(key, owner.node)
        .then((won) => {
          if (won) this.adopted++;
        })
        .catch((err: unknown) => this.logger.warn({ err, session: key, from: owner.node }, 'session of a dead node not adopted; retried at the next membership change'))
        .finally(() => this.adopting.delete(key));
    }
    if (later !== Infinity && !this.timer) this.schedule(later + 10);
  }
}
