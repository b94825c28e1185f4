import { expect } from 'vitest';
import type { TestApp } from './app.js';
import type { Receiver } from './receiver.js';

export type RunJson = {
  id: string;
  status: string;
  counts: {
    listed: number;
    provisioned: number;
    skipped: number;
    failed: number;
    pending: number;
    would_provision?: number;
  };
  failures_by_reason: { error_key: string; count: number }[];
  skipped_by_reason: { error_key: string; count: number }[];
};

export async function api<T>(
  t: TestApp,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const res = await fetch(`${t.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

export async function startRun(t: TestApp, token: string, body: Record<string, unknown>): Promise<RunJson> {
  const r = await api<{ provisioning_run: RunJson }>(t, token, 'POST', '/v1/provisioning_runs', body);
  expect(r.status, JSON.stringify(r.json)).toBe(202);
  return r.json.provisioning_run;
}

export async function getRun(t: TestApp, token: string, id: string): Promise<RunJson> {
  const r = await api<{ provisioning_run: RunJson }>(t, token, 'GET', `/v1/provisioning_runs/${id}`);
  expect(r.status).toBe(200);
  return r.json.provisioning_run;
}

const FINAL = ['completed', 'completed_with_errors', 'cancelled', 'failed'];

/** Polls until the run reaches a final status. */
export async function waitForRun(
  t: TestApp,
  token: string,
  id: string,
  timeoutMs = 120_000,
): Promise<RunJson> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await getRun(t, token, id);
    if (FINAL.includes(run.status)) {
      return run;
    }
    if (Date.now() > deadline) {
      throw new Error(`run ${id} still ${run.status} after ${timeoutMs} ms: ${JSON.stringify(run.counts)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * A directory-verified run of the org's users whose callbacks go to `receiver` at `path`: waits until
 * the run is final and every provisioned Account has been called back (distinct emails).
 */
export async function directoryRunCalledBack(
  t: TestApp,
  receiver: Receiver,
  token: string,
  path: string,
): Promise<{ run: RunJson; emails: Set<string> }> {
  const started = await startRun(t, token, {
    include: ['users'],
    callback_url: `${receiver.url}${path}`,
    scope: 'read_only',
    verify: 'directory',
  });
  const run = await waitForRun(t, token, started.id, 30_000);
  const emails = await receiver.waitForDistinct(
    run.counts.provisioned,
    (r) => r.path === path,
    (r) => (r.json as { authorization: { email: string } }).authorization.email,
    20_000,
  );
  return { run, emails };
}
