// The MQTT state machine's pending effects (./machine-types.ts Effect): an append-only queue the shell drains after every input. Imports sibling types only.
//
// Cost contract: emptying keeps the capacity (an Array whose length is set to 0 gives its storage back, and the
// next push allocates it again), so the per-message paths (a QoS 0 delivery: one Buffer pushed, drained, cleared)
// allocate nothing here. Slots are cleared on emptying so no drained Buffer stays pinned.
import type { Effect } from './machine-types.ts';

export class EffectQueue {
  private readonly items: (Effect | undefined)[] = [];
  /** Effects queued and not yet cleared. */
  length = 0;

  push(e: Effect): void {
    this.items[this.length++] = e;
  }

  /** The i-th queued effect (0 <= i < length). */
  at(i: number): Effect {
    return this.items[i]!;
  }

  clear(): void {
    const items = this.items;
    for (let i = 0; i < this.length; i++) items[i] = undefined;
    this.length = 0;
  }
}
