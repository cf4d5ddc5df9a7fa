// An in-memory key/value store with the consumer-group offset port's and the state port's shape, for unit tests. Imports the port types only.
import type { OffsetStorePort } from '../../src/core/consumer-group.ts';
import type { StatePort } from '../../src/core/persistence.ts';

export class MemStore implements OffsetStorePort, StatePort {
  readonly map = new Map<string, Buffer>();
  get(key: string): Buffer | undefined {
    return this.map.get(key);
  }
  async put(key: string, value: Buffer): Promise<void> {
    this.map.set(key, value);
  }
  async delete(key: string): Promise<void> {
    this.map.delete(key);
  }
  entries(prefix = ''): IterableIterator<[string, Buffer]> {
    return [...this.map].filter(([k]) => k.startsWith(prefix)).values();
  }
  async close(): Promise<void> {}
}
