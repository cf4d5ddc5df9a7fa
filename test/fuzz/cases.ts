// One fuzz case from (seed, protocol, index): the bytes a fresh connection sends, in the pieces it writes them. Imports ./rng.ts, ./corpus.ts and ./mutate.ts.
//
// A case is a valid opening (MQTT CONNECT / STOMP CONNECT) and 1-4 valid packets or frames, of which one (the
// opening in 15% of cases) gets 1-3 mutations; 5% of cases are random bytes, half of them behind a valid
// opening. Persistent MQTT sessions use a pool of 8 client ids (clean session 0), so state stays bounded however
// long the run. The same (seed, protocol, index) always gives the same bytes.
import { caseSeed, rng, type Protocol } from './rng.ts';
import { mqttConnect, mqttPacketAfterConnect, stompConnect, stompFrameAfterConnect } from './corpus.ts';
import { mutateOnce, type Mutation } from './mutate.ts';

export interface FuzzCase {
  protocol: Protocol;
  index: number;
  /** Written in order, each as its own write(). */
  chunks: Buffer[];
  /** What was done, for a failure report. */
  note: string;
}

export function makeCase(seed: number, protocol: Protocol, index: number): FuzzCase {
  const r = rng(caseSeed(seed, protocol, index));
  const parts: Buffer[] = [];
  let opening: Buffer;
  let note: string;
  if (protocol === 'mqtt') {
    const v = r.pick([4, 5] as const);
    const persistent = r.chance(0.25);
    const clientId = persistent ? `fz-p-${r.int(8)}` : `fz-${index}`;
    opening = mqttConnect(r, v, clientId, !persistent);
    note = `mqtt v${v} ${persistent ? 'persistent' : 'clean'}`;
    const n = 1 + r.int(4);
    for (let i = 0; i < n; i++) parts.push(mqttPacketAfterConnect(r, v));
  } else {
    const c = stompConnect(r, r.chance(0.2) ? `fz-c-${r.int(8)}` : undefined);
    opening = c.bytes;
    note = `stomp accept-version ${c.version}`;
    const n = 1 + r.int(4);
    for (let i = 0; i < n; i++) parts.push(stompFrameAfterConnect(r));
  }
  let seq: Buffer[];
  if (r.chance(0.05)) {
    const junk = Buffer.alloc(1 + r.int(300));
    for (let i = 0; i < junk.length; i++) junk[i] = r.int(256);
    seq = r.chance(0.5) ? [opening, junk] : [junk];
    note += ', random bytes';
  } else {
    const all = [opening, ...parts];
    const target = r.chance(0.15) ? 0 : 1 + r.int(parts.length);
    const kinds: Mutation[] = [];
    let b = all[target]!;
    const m = 1 + r.int(3);
    for (let i = 0; i < m; i++) {
      const res = mutateOnce(r, b, protocol);
      b = res.out;
      kinds.push(res.kind);
    }
    all[target] = b;
    seq = all;
    note += `, packet ${target} of ${all.length}: ${kinds.join('+')}`;
  }
  const bytes = Buffer.concat(seq);
  // Most cases go in one write; some in several pieces, so the framers see packets split anywhere.
  const chunks: Buffer[] = [];
  if (r.chance(0.2) && bytes.length > 1) {
    let pos = 0;
    while (pos < bytes.length) {
      const n = 1 + r.int(Math.max(1, Math.min(64, bytes.length - pos)));
      chunks.push(bytes.subarray(pos, pos + n));
      pos += n;
    }
    note += `, ${chunks.length} pieces`;
  } else {
    chunks.push(bytes);
  }
  return { protocol, index, chunks, note };
}
