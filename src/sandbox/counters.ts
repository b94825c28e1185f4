/** What the sandbox saw, for benchmarks and reliability tests (`GET /_sandbox/counters`). */
export type CountersSnapshot = {
  /** `"<METHOD> <route> <status>"` → calls, e.g. `"GET /v1.0/users 200"`. */
  calls: Record<string, number>;
  /** Requests refused because they exceeded a documented quota, in total and by quota name. */
  quotaViolations: { total: number; byQuota: Record<string, number> };
  /** Injected faults by kind: `429`, `500`, `503`, `timeout`. */
  faultsInjected: Record<string, number>;
  /** Microsoft mailbox concurrency: the highest seen, and every mailbox that ever had more than one. */
  concurrency: { peakPerMailbox: number; byMailbox: Record<string, number> };
  tokensIssued: { google: number; microsoft: number; googleBySubject: Record<string, number> };
  /** Graph JSON batches (`POST /v1.0/$batch`): envelopes, and the requests they carried (each also in `calls`). */
  batches: { envelopes: number; requests: number };
};

function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

export class Counters {
  private calls = new Map<string, number>();
  private quota = new Map<string, number>();
  private faults = new Map<string, number>();
  private peaks = new Map<string, number>();
  private maxPeak = 0;
  private tokens = { google: 0, microsoft: 0 };
  private subjects = new Map<string, number>();
  private batches = { envelopes: 0, requests: 0 };

  call(method: string, route: string, status: number): void {
    bump(this.calls, `${method} ${route} ${status}`);
  }

  quotaViolation(quota: string): void {
    bump(this.quota, quota);
  }

  fault(kind: string): void {
    bump(this.faults, kind);
  }

  concurrency(mailbox: string, inFlight: number): void {
    this.maxPeak = Math.max(this.maxPeak, inFlight);
    // Only mailboxes that overlapped are kept, so a 200k-mailbox run stays small.
    if (inFlight > 1 && inFlight > (this.peaks.get(mailbox) ?? 0)) {
      this.peaks.set(mailbox, inFlight);
    }
  }

  batch(requests: number): void {
    this.batches.envelopes += 1;
    this.batches.requests += requests;
  }

  tokenIssued(provider: 'google' | 'microsoft', subject?: string): void {
    this.tokens[provider] += 1;
    if (subject !== undefined) {
      bump(this.subjects, subject);
    }
  }

  snapshot(): CountersSnapshot {
    const total = [...this.quota.values()].reduce((a, b) => a + b, 0);
    return {
      calls: Object.fromEntries(this.calls),
      quotaViolations: { total, byQuota: Object.fromEntries(this.quota) },
      faultsInjected: Object.fromEntries(this.faults),
      concurrency: { peakPerMailbox: this.maxPeak, byMailbox: Object.fromEntries(this.peaks) },
      tokensIssued: { ...this.tokens, googleBySubject: Object.fromEntries(this.subjects) },
      batches: { ...this.batches },
    };
  }

  reset(): void {
    this.calls = new Map();
    this.quota = new Map();
    this.faults = new Map();
    this.peaks = new Map();
    this.maxPeak = 0;
    this.tokens = { google: 0, microsoft: 0 };
    this.subjects = new Map();
    this.batches = { envelopes: 0, requests: 0 };
  }
}
