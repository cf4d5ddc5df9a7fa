// Load-test helper: waiters woken by the next event (a packet, a close) or after a timeout, whichever comes first. Imports nothing.
export class Wakeups {
  private waiting: (() => void)[] = [];

  /** Wakes every waiter. */
  wake(): void {
    const w = this.waiting;
    this.waiting = [];
    for (const f of w) f();
  }

  /** Resolves at the next wake() or after `ms`. */
  wait(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      this.waiting.push(() => {
        clearTimeout(t);
        r();
      });
    });
  }
}
