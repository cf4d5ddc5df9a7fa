// An in-memory key/value store with the consumer-group offset port's shape, for unit tests. Imports the port type only.
import type { OffsetStorePort } from '../../src/core/consumer-group.ts';

export class MemStore implements OffsetStorePort {
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
}
