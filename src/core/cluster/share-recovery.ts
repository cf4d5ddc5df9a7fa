// `$share` groups across nodes, at least once across a node death: each node stores its per-group progress, and a node that inherits a dead node's part of a group re-reads the log from that progress. Imports core message and persistence types and the cluster's membership and shares modules.
//
// Why: shares.ts assigns each record to one node per group. A node that dies leaves the records assigned to it
// that it had not delivered and had acknowledged: those it had not routed yet, those it routed while its
// members had them unacknowledged (non-persistent members lose them with their connection), and everything
// the other nodes still assigned to it until they declared it dead (deadAfterMs). The log still has them.
//
// State (shared store), one key per (group, node, run of that node):
//   sp/<group key>U+0000<nodeId>U+0000<run>  JSON {v:1, node, run, pos: number[], end?: number[], cands?: string[], by?: {node, run}}
// run = the node's start time (membership.ts: its heartbeats carry it), so a restarted node's keys are new.
//
// Contract:
// - Progress. pos[p] is an offset below which every record of partition p that this node assigned to itself
//   for the group was delivered to a member here and acknowledged (PUBACK, or PUBREC for QoS 2), or dropped
//   by the rules a single node applies (expiry, ACL, QoS 0, a member's buffer limits). Computed as
//   min(routed watermark, the group's log cursor while it is behind, the offset of every `$share` delivery
//   the members here hold unacknowledged) (Broker.shareProgress); conservative: a member of two groups
//   lowers both. Written when this node gains its first member of the group (pos = the watermark), then at
//   most once per heartbeatMs when it moved (like the session cursor save: it may be one period old, which
//   only means more redelivery); deleted when the node's last member of the group leaves. Not deleted at a
//   graceful stop: the records assigned to a stopped node are recovered like a dead one's.
// - Orphan. A key is orphaned when its node is not live (membership.ts), or is live with another run
//   (restarted), or is this node with an earlier run. An orphaned key seen for `graceMs` (2 heartbeats, at
//   least 1 s: every node has then declared the death and stopped assigning records to the dead run) is
//   claimed by ONE inheritor: candidates = the live nodes with members of the group (sorted), inheritor =
//   candidates[FNV-1a(key) mod n], so every node computes the same one. It claims with compare-and-set,
//   writing end[p] = the log's end now (every record any node can have assigned to the dead run is below it),
//   cands = those candidates plus the dead node (the candidate set the records were assigned under while the
//   dead node was alive) and by = itself. A claim whose `by` is itself orphaned is claimed again (end and
//   cands kept).
// - Recovery. The inheritor reads [pos[p], end[p]) of every partition (ShareBacklog.recover) and delivers
//   each record of the group's filter that shares.ts's choice over `cands` gives to the dead node, to its own
//   members, as `$share` deliveries. The key is deleted once that read is done AND this node's own progress
//   for the group reached end (every recovered delivery acknowledged); if the inheritor dies before, its
//   claim is orphaned and the next inheritor reads the range again. If the inheritor loses its last member,
//   it gives the claim back (by removed) for another candidate. A group with no live member anywhere keeps
//   the key until one appears.
// What it gives: QoS 1/2 records of a group reach a member at least once across the death (or graceful stop)
// of any one node at a time; the cost is redelivery of records the dead node had delivered since its last
// progress write, and of records that the other nodes' new choice (after the death) delivered too. It assumes
// the group's other members stay put while a death is being declared (a node joining or leaving the group in
// that window changes the candidate set, as in shares.ts: a record may then go to two members or none).
// QoS 0 not in the log stays at most once. Recovery does not keep order with the live stream.
import type { Logger } from 'pino';
import type { Message } from '../message.ts';
import type { ClusterPort, StatePort } from '../persistence.ts';
import type { Membership } from './membership.ts';
import { chooseNode, type ShareAssigner } from './shares.ts';
import { fnv1a } from '../hash.ts';

const PREFIX = 'sp/';
const SEP = '\u0000';

/** What the broker lends share recovery. */
export interface ShareRecoveryHost {
  /** This node's progress for group `key` (see the contract), one offset per partition. */
  progress(key: string): number[];
  /** The shared log's end offset of every partition, as this node sees it now. */
  endOffsets(): number[];
  /** Whether this node's router has a member of group `key`. */
  hasLocalMembers(key: string): boolean;
  /** Reads [from, end) and delivers the records `accept` passes to members here (ShareBacklog.recover). */
  recover(key: string, from: readonly number[], end: readonly number[], accept: (msg: Message) => boolean, done: () => void): { cancel(): void; kick(): void };
}

interface Stored {
  v: 1;
  node: string;
  run: number;
  pos: number[];
  end?: number[];
  cands?: string[];
  by?: { node: string; run: number };
}

interface Job {
  key: string;
  group: string;
  end: number[];
  read: boolean;
  handle: { cancel(): void; kick(): void };
}

function isOffsets(a: unknown): a is number[] {
  return Array.isArray(a) && a.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0);
}

export function decodeProgress(v: Buffer): Stored | undefined {
  try {
    const j = JSON.parse(v.toString('utf8')) as Partial<Stored>;
    if (j.v !== 1 || typeof j.node !== 'string' || typeof j.run !== 'number' || !isOffsets(j.pos)) return undefined;
    if (j.end !== undefined && !isOffsets(j.end)) return undefined;
    if (j.cands !== undefined && !(Array.isArray(j.cands) && j.cands.every((c) => typeof c === 'string'))) return undefined;
    if (j.by !== undefined && (typeof j.by !== 'object' || j.by === null || typeof j.by.node !== 'string' || typeof j.by.run !== 'number')) return undefined;
    return j as Stored;
  } catch {
    return undefined;
  }
}

export class ShareRecovery {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Group key -> pos last written for this run (JSON, to compare). */
  private readonly written = new Map<string, string>();
  /** Orphaned key -> when this node first saw it orphaned. */
  private readonly orphanSince = new Map<string, number>();
  /** Keys this node claimed and is recovering. */
  private readonly jobs = new Map<string, Job>();
  private readonly claiming = new Set<string>();
  private readonly graceMs: number;
  /** Every `sp/` key and value, kept by a watch (a tick does not scan the whole store). */
  private readonly known = new Map<string, Buffer>();
  private stopWatch: (() => void) | undefined;
  /** Records re-read and offered by recoveries on this node (metrics, tests). */
  recovered = 0;

  constructor(
    private readonly port: ClusterPort,
    private readonly state: StatePort,
    private readonly membership: Membership,
    private readonly shares: ShareAssigner,
    private readonly host: ShareRecoveryHost,
    private readonly sticky: boolean,
    private readonly logger: Logger,
  ) {
    this.graceMs = Math.max(2 * membership.heartbeatMs, 1000);
  }

  private keyOf(group: string): string {
    return `${PREFIX}${group}${SEP}${this.port.nodeId}${SEP}${this.membership.run}`;
  }

  start(): void {
    for (const [k, v] of this.state.entries(PREFIX)) this.known.set(k, v);
    this.stopWatch = this.port.watch(PREFIX, (k, v) => {
      if (v === undefined) this.known.delete(k);
      else this.known.set(k, v);
    });
    this.timer = setInterval(() => this.tick(), this.membership.heartbeatMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    this.stopWatch?.();
    if (this.timer) clearInterval(this.timer);
    for (const j of this.jobs.values()) j.handle.cancel();
    this.jobs.clear();
  }

  /** shares.ts: this node gained its first member of `group` (progress written now) or lost its last (progress deleted). */
  localChanged(group: string, has: boolean): void {
    if (this.stopped) return;
    if (has) this.save(group);
    else {
      this.written.delete(group);
      this.state.delete(this.keyOf(group)).catch((err: unknown) => this.logger.warn({ err, group }, 'shared group progress not deleted'));
    }
  }

  private save(group: string): void {
    const pos = this.host.progress(group);
    const s = JSON.stringify(pos);
    // Written again when another node deleted it (it took this node for dead, recovered, and cleaned up).
    if (this.written.get(group) === s && this.state.get(this.keyOf(group)) !== undefined) return;
    this.written.set(group, s);
    const v: Stored = { v: 1, node: this.port.nodeId, run: this.membership.run, pos };
    this.state.put(this.keyOf(group), Buffer.from(JSON.stringify(v))).catch((err: unknown) => {
      if (this.written.get(group) === s) this.written.delete(group); // written again at the next tick
      this.logger.warn({ err, group }, 'shared group progress not written');
    });
  }

  /** Whether the run `run` of node `node` is gone (dead, restarted, or an earlier run of this node). */
  private gone(node: string, run: number): boolean {
    if (node === this.port.nodeId) return run !== this.membership.run;
    if (!this.membership.isLive(node)) return true;
    const cur = this.membership.runOf(node);
    return cur !== undefined && cur !== run;
  }

  /** Once per heartbeatMs: progress of this node's groups, then orphaned keys and this node's recoveries. */
  tick(now = Date.now()): void {
    if (this.stopped) return;
    for (const group of this.shares.localGroups()) this.save(group);
    const seen = new Set<string>();
    for (const [k, v] of this.known) {
      const a = k.lastIndexOf(SEP);
      const b = k.lastIndexOf(SEP, a - 1);
      if (b < 0) continue;
      const group = k.slice(PREFIX.length, b);
      const node = k.slice(b + 1, a);
      const run = Number(k.slice(a + 1));
      if (!this.gone(node, run)) continue;
      seen.add(k);
      if (this.jobs.has(k) || this.claiming.has(k)) continue;
      const since = this.orphanSince.get(k) ?? now;
      this.orphanSince.set(k, since);
      if (now - since < this.graceMs) continue;
      const stored = decodeProgress(v);
      if (!stored) {
        this.logger.warn({ key: k }, 'unreadable shared group progress, deleted');
        this.state.delete(k).catch(() => undefined);
        continue;
      }
      if (stored.by && !this.gone(stored.by.node, stored.by.run)) continue; // a live inheritor has it
      const cands = this.shares.liveCandidates(group);
      if (cands.length === 0) continue; // no member anywhere: kept until one appears
      if (cands[fnv1a(k) % cands.length] !== this.port.nodeId) continue;
      this.claim(k, group, stored, cands);
    }
    for (const k of this.orphanSince.keys()) if (!seen.has(k)) this.orphanSince.delete(k);
    for (const j of this.jobs.values()) this.check(j);
  }

  private claim(k: string, group: string, stored: Stored, live: string[]): void {
    const end = stored.end ?? this.host.endOffsets();
    const cands = stored.cands ?? [...new Set([...live, stored.node])].sort();
    const next: Stored = { ...stored, end, cands, by: { node: this.port.nodeId, run: this.membership.run } };
    this.claiming.add(k);
    this.port
      .putIfVersion(k, Buffer.from(JSON.stringify(next)), this.port.versionOf(k))
      .then(
        (ok) => {
          if (!ok || this.stopped) return;
          const dead = stored.node;
          this.logger.info({ group, node: dead, run: stored.run, from: stored.pos, end }, 'shared group: recovering the records assigned to a node that is gone');
          const job: Job = { key: k, group, end, read: false, handle: { cancel: () => undefined, kick: () => undefined } };
          this.jobs.set(k, job);
          job.handle = this.host.recover(
            group,
            stored.pos,
            end,
            (msg) => {
              if (chooseNode(cands, msg, this.sticky) !== dead) return false;
              this.recovered++;
              return true;
            },
            () => {
              job.read = true;
              this.check(job);
            },
          );
        },
        (err: unknown) => this.logger.warn({ err, group }, 'shared group recovery not claimed'),
      )
      .finally(() => this.claiming.delete(k));
  }

  /** Done once read to end and every recovered delivery was acknowledged; given back when this node has no member left. */
  private check(j: Job): void {
    if (this.jobs.get(j.key) !== j) return;
    if (!this.host.hasLocalMembers(j.group)) {
      j.handle.cancel();
      this.jobs.delete(j.key);
      const v = this.state.get(j.key);
      const stored = v && decodeProgress(v);
      if (stored) {
        delete stored.by;
        this.port.putIfVersion(j.key, Buffer.from(JSON.stringify(stored)), this.port.versionOf(j.key)).catch(() => undefined);
      }
      this.logger.info({ group: j.group }, 'shared group recovery given back: no member here any more');
      return;
    }
    if (!j.read) {
      j.handle.kick();
      return;
    }
    const pos = this.host.progress(j.group);
    for (let p = 0; p < j.end.length; p++) if ((pos[p] ?? 0) < j.end[p]!) return;
    this.jobs.delete(j.key);
    this.state.delete(j.key).catch((err: unknown) => this.logger.warn({ err, key: j.key }, 'recovered shared group progress not deleted'));
    this.logger.info({ group: j.group }, 'shared group recovery done');
  }
}
