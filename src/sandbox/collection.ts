/**
 * A directory listing that costs nothing until read: the base items are computed from their index on
 * demand (`generate(i)`), and changes made through the control API live in a small overlay. Listing
 * order is position order — base items first, then added ones — and positions never move, so page
 * tokens (which carry a position) stay valid while the org changes underneath.
 */
export type Keyed = { pos: number; email: string; id: string };

import { LruMap } from '../lib/lru.js';

export class ConflictError extends Error {}

/** Generated items remembered (LazyCollection.generated). */
const GENERATED_KEPT = 4_096;

export class LazyCollection<T extends Keyed> {
  /** Patched base items (a partial) and deleted positions (null); added items are patched in place. */
  private readonly overlay = new Map<number, Partial<T> | null>();
  private readonly added: T[] = [];
  private readonly addedByKey = new Map<string, number>();
  private deletedCount = 0;

  /**
   * @param baseCount how many generated items there are
   * @param generate item `i`, a pure function of `i`
   * @param locate the base index a lower-cased email or id would have, if it were generated
   */
  constructor(
    private readonly baseCount: number,
    private readonly generate: (i: number) => T,
    private readonly locate: (key: string) => number | undefined,
  ) {}

  /** Number of positions (live or deleted). */
  get size(): number {
    return this.baseCount + this.added.length;
  }

  get liveCount(): number {
    return this.size - this.deletedCount;
  }

  /** Overlay entries held in memory (for tests proving laziness). */
  get overlaySize(): number {
    return this.overlay.size + this.added.length;
  }

  at(pos: number): T | undefined {
    const patch = this.overlay.get(pos);
    if (patch === null) {
      return undefined;
    }
    const base = pos < this.baseCount ? this.generated(pos) : this.added[pos - this.baseCount];
    if (!base) {
      return undefined;
    }
    return patch ? { ...base, ...patch } : base;
  }

  /**
   * Base item `i`, generated once while it is among the last few thousand read (a run reads each
   * mailbox several times: its listing, its check, its calendars). Frozen: every reader shares it.
   */
  private generated(i: number): T {
    const known = this.recent.get(i);
    if (known) {
      return known;
    }
    const item = Object.freeze(this.generate(i));
    this.recent.set(i, item);
    return item;
  }

  private readonly recent = new LruMap<number, T>(GENERATED_KEPT);

  /** By email or id, case-insensitively. */
  find(key: string): T | undefined {
    const k = key.toLowerCase();
    const addedPos = this.addedByKey.get(k);
    if (addedPos !== undefined) {
      const item = this.at(addedPos);
      if (item) {
        return item;
      }
    }
    const i = this.locate(k);
    if (i === undefined || i < 0 || i >= this.baseCount) {
      return undefined;
    }
    const item = this.at(i);
    return item && (item.email.toLowerCase() === k || item.id.toLowerCase() === k) ? item : undefined;
  }

  add(make: (pos: number) => T): T {
    const item = make(this.size);
    if (this.find(item.email) || this.find(item.id)) {
      throw new ConflictError(`${item.email} already exists`);
    }
    this.added.push(item);
    this.addedByKey.set(item.email.toLowerCase(), item.pos);
    this.addedByKey.set(item.id.toLowerCase(), item.pos);
    return item;
  }

  update(key: string, patch: Partial<T>): T | undefined {
    const item = this.find(key);
    if (!item) {
      return undefined;
    }
    if (item.pos >= this.baseCount) {
      Object.assign(this.added[item.pos - this.baseCount] as T, patch);
    } else {
      this.overlay.set(item.pos, { ...(this.overlay.get(item.pos) ?? {}), ...patch });
    }
    return this.at(item.pos);
  }

  remove(key: string): boolean {
    const item = this.find(key);
    if (!item) {
      return false;
    }
    this.overlay.set(item.pos, null);
    this.deletedCount += 1;
    return true;
  }

  /**
   * Up to `limit` live items from position `start` on (optionally only those `accept` keeps), and the
   * position of the next live one, or undefined when this was the last page.
   */
  page(
    start: number,
    limit: number,
    accept?: (item: T) => boolean,
  ): { items: T[]; next: number | undefined } {
    const items: T[] = [];
    let p = start;
    while (p < this.size && items.length < limit) {
      const item = this.at(p);
      p += 1;
      if (item && (!accept || accept(item))) {
        items.push(item);
      }
    }
    while (p < this.size) {
      const item = this.at(p);
      if (item && (!accept || accept(item))) {
        return { items, next: p };
      }
      p += 1;
    }
    return { items, next: undefined };
  }

  /** The position of the `offset`-th live item (for offset-based listings). */
  positionOf(offset: number): number {
    if (this.deletedCount === 0) {
      return offset;
    }
    let live = 0;
    for (let p = 0; p < this.size; p++) {
      if (this.overlay.get(p) !== null) {
        if (live === offset) {
          return p;
        }
        live += 1;
      }
    }
    return this.size;
  }
}
