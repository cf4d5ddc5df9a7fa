// Reads per-process CPU time and finds who listens on a port, from Linux /proc. Imports node:fs only.
//
// /proc/<pid>/stat: fields after the ")" that ends the command name; utime and stime are fields
// 14 and 15 (1-based), in clock ticks (USER_HZ, 100 on Linux). CPU% below is of one core (2 cores = 200%).
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

const TICKS_PER_S = 100;

/** utime+stime of `pid` in seconds, or null if the process is gone / not readable. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state), so field n is rest[n - 3].
    return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_S;
  } catch {
    return null;
  }
}

/** A CPU meter for one process: start(), then pct() = CPU% of one core since start. */
export class CpuMeter {
  private t0 = 0;
  private c0: number | null = null;
  constructor(readonly pid: number | null) {}
  start(): void {
    this.t0 = performance.now();
    this.c0 = this.pid === null ? null : cpuSeconds(this.pid);
  }
  pct(): number | null {
    if (this.pid === null || this.c0 === null) return null;
    const c1 = cpuSeconds(this.pid);
    const dt = (performance.now() - this.t0) / 1000;
    if (c1 === null || dt <= 0) return null;
    return ((c1 - this.c0) / dt) * 100;
  }
}

/** Pid of the (own-user) process with a TCP socket listening on `port`, or null. Best effort. */
export function findListenerPid(port: number): number | null {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = readFileSync(file, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue; // 0A = TCP_LISTEN
      const local = f[1]!;
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) inodes.add(f[9]!);
    }
  }
  if (inodes.size === 0) return null;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let fds: string[];
    try { fds = readdirSync(`/proc/${d}/fd`); } catch { continue; }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${d}/fd/${fd}`));
        if (m !== null && inodes.has(m[1]!)) return Number(d);
      } catch { /* fd closed meanwhile */ }
    }
  }
  return null;
}
