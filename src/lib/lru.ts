/**
 * A small least-recently-used map: `get` refreshes an entry, `set` evicts the oldest entries past
 * `maxEntries` and hands them to `onEvict` (so cached SDK clients can be closed). A Map keeps
 * insertion order, which is all the bookkeeping an LRU needs.
 */
export class LruMap<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(
    private readonly maxEntries: number,
    private readonly onEvict?: (value: V, key: K) => void,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError('maxEntries must be a positive integer');
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    const previous = this.entries.get(key);
    this.entries.delete(key);
    this.entries.set(key, value);
    if (previous !== undefined && previous !== value) {
      this.onEvict?.(previous, key);
    }
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) {
        break;
      }
      const evicted = this.entries.get(oldest.value) as V;
      this.entries.delete(oldest.value);
      this.onEvict?.(evicted, oldest.value);
    }
  }

  delete(key: K): boolean {
    const value = this.entries.get(key);
    if (value === undefined) {
      return false;
    }
    this.entries.delete(key);
    this.onEvict?.(value, key);
    return true;
  }

  values(): IterableIterator<V> {
    return this.entries.values();
  }

  /** Removes every entry without calling `onEvict`, returning them (to close them and wait). */
  drain(): V[] {
    const all = [...this.entries.values()];
    this.entries.clear();
    return all;
  }

  clear(): void {
    const all = [...this.entries];
    this.entries.clear();
    for (const [key, value] of all) {
      this.onEvict?.(value, key);
    }
  }
}
