/**
 * Deterministic, allocation-free hashing for the lazy organization generator: every attribute of
 * user `i` is `mix(seed, i, salt)` for a salt naming the attribute, so nothing is ever stored.
 */

/** FNV-1a of the seed's text: the same seed (string or number) always gives the same 32-bit value. */
export function seedHash(seed: string | number): number {
  const text = String(seed);
  let h = 0x811c9dc5;
  for (let k = 0; k < text.length; k++) {
    h ^= text.charCodeAt(k);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A 32-bit avalanche of (seed, index, salt) — murmur3's finaliser over a mixed input. */
export function mix(seed: number, index: number, salt: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1) ^ Math.imul(salt + 1, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A float in [0, 1) from a 32-bit hash. */
export function unit(h: number): number {
  return h / 0x100000000;
}

/** Pick an element by hash (the array must not be empty). */
export function pick<T>(items: readonly T[], h: number): T {
  return items[h % items.length] as T;
}

/** `len` lower-case hex digits from 32-bit hashes of (seed, index, salt…). */
export function hexOf(seed: number, index: number, salt: number, len: number): string {
  let out = '';
  let k = 0;
  while (out.length < len) {
    out += mix(seed, index, salt + k)
      .toString(16)
      .padStart(8, '0');
    k += 1;
  }
  return out.slice(0, len);
}

/** A GUID-shaped string from (seed, salt) — for tenant and client ids. */
export function guidOf(seed: number, salt: number): string {
  const h = hexOf(seed, 0, salt, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** mulberry32: a tiny sequential PRNG, for the fault stream (reproducible per seed). */
export class SequenceRng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000;
  }
}
