/** At most `size` holders at once; the others wait, first come first served. */
export class Semaphore {
  private held = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {}

  /** `fn` once a place is free, holding it until `fn` settles. */
  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.held < this.size) {
      this.held += 1;
    } else {
      // The releasing holder hands its place over: `held` stays as it is.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) {
        next();
      } else {
        this.held -= 1;
      }
    }
  }

  /** Places held now, and callers waiting for one. */
  get stats(): { held: number; waiting: number } {
    return { held: this.held, waiting: this.waiting.length };
  }
}
