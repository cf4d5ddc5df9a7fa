// Byte-level mutations for the fuzzer: bit flips, interesting bytes, insert, delete, truncate, remaining-length and flag/type changes, random bytes. Imports ./rng.ts only.
import type { Rng } from './rng.ts';

export type Mutation = 'bitflip' | 'interesting' | 'insert' | 'delete' | 'truncate' | 'length' | 'typeflags' | 'random' | 'duplicate';

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x0a, 0x0d, 0x3a, 0x5c, 0x2b, 0x23, 0x2f, 0x24, 0xc0, 0xef, 0xbf, 0xbd];

function randomBytes(r: Rng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = r.int(256);
  return b;
}

/** MQTT: rewrite the Remaining Length (smaller, larger, 4-byte maximum, a 5-byte malformed one). STOMP: the content-length value. */
function changeLength(r: Rng, b: Buffer, protocol: 'mqtt' | 'stomp'): Buffer {
  if (protocol === 'stomp') {
    const text = b.toString('latin1');
    const m = /content-length:(\d*)/.exec(text);
    const v = r.pick(['0', '1', String(r.int(70000)), '99999999999', '-1', '', '00012', 'x']);
    if (!m) return Buffer.concat([Buffer.from(text.replace('\n', `\ncontent-length:${v}\n`), 'latin1')]);
    return Buffer.from(text.slice(0, m.index) + `content-length:${v}` + text.slice(m.index + m[0].length), 'latin1');
  }
  let i = 1;
  while (i < b.length && i < 5 && (b[i]! & 0x80) !== 0) i++;
  const rest = b.subarray(Math.min(i + 1, b.length));
  const choice = r.int(5);
  const enc = (n: number): number[] => {
    const out: number[] = [];
    do {
      let x = n % 128;
      n = Math.floor(n / 128);
      if (n > 0) x |= 0x80;
      out.push(x);
    } while (n > 0);
    return out;
  };
  const len =
    choice === 0 ? enc(Math.max(0, rest.length - 1 - r.int(4)))
    : choice === 1 ? enc(rest.length + 1 + r.int(300))
    : choice === 2 ? [0xff, 0xff, 0xff, 0x7f]
    : choice === 3 ? [0xff, 0xff, 0xff, 0xff, 0x01]
    : enc(r.int(2_000_000));
  return Buffer.concat([b.subarray(0, 1), Buffer.from(len), rest]);
}

/** Applies one mutation to a copy of `b`. */
export function mutateOnce(r: Rng, b: Buffer, protocol: 'mqtt' | 'stomp'): { out: Buffer; kind: Mutation } {
  const kinds: Mutation[] = ['bitflip', 'interesting', 'insert', 'delete', 'truncate', 'length', 'typeflags', 'random', 'duplicate'];
  const kind = r.pick(kinds);
  const out = Buffer.from(b);
  const at = out.length ? r.int(out.length) : 0;
  switch (kind) {
    case 'bitflip':
      if (out.length) out[at] = out[at]! ^ (1 << r.int(8));
      return { out, kind };
    case 'interesting':
      if (out.length) out[at] = r.pick(INTERESTING);
      return { out, kind };
    case 'insert':
      return { out: Buffer.concat([out.subarray(0, at), r.chance(0.5) ? Buffer.from([r.pick(INTERESTING)]) : randomBytes(r, 1 + r.int(16)), out.subarray(at)]), kind };
    case 'delete':
      return { out: Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + r.int(8)))]), kind };
    case 'truncate':
      return { out: out.subarray(0, at), kind };
    case 'length':
      return { out: changeLength(r, out, protocol), kind };
    case 'typeflags':
      if (protocol === 'mqtt') {
        if (out.length) out[0] = r.chance(0.5) ? (out[0]! & 0xf0) | r.int(16) : (r.int(16) << 4) | (out[0]! & 0x0f);
      } else {
        // STOMP: another command (valid or not) in place of this one.
        const nl = out.indexOf(0x0a);
        const cmd = r.pick(['CONNECT', 'STOMP', 'SEND', 'SUBSCRIBE', 'UNSUBSCRIBE', 'ACK', 'NACK', 'BEGIN', 'COMMIT', 'ABORT', 'DISCONNECT', 'MESSAGE', 'RECEIPT', 'ERROR', 'CONNECTED', 'send', 'X']);
        return { out: Buffer.concat([Buffer.from(cmd), nl >= 0 ? out.subarray(nl) : Buffer.from('\n')]), kind };
      }
      return { out, kind };
    case 'random':
      return { out: randomBytes(r, 1 + r.int(64)), kind };
    case 'duplicate':
      return { out: Buffer.concat([out, out]), kind };
  }
}
