import { describe, expect, it } from 'vitest';
import {
  DIRECTORY_PROVISION_BATCH,
  PROVISION_BATCH,
  provisionBatches,
  provisionBatchSize,
} from '../lib/provisioning.js';
import { JOBS, jobIdOf, jobRequest } from './catalog.js';
import { buildRegistry, HANDLERS } from './registry.js';

describe('job catalog', () => {
  it('derives deterministic ids and the ids of later rounds', () => {
    const runId = 'run_x';
    expect(jobIdOf('runs.start', { runId })).toBe('run_x-start');
    expect(jobIdOf('runs.start', { runId }, 29_000_000)).toBe('run_x-start-r29000000');
    expect(jobIdOf('directory.list-page', { runId, kind: 'rooms', page: 3 }, 7)).toBe('run_x-rooms-3-r7');
    const batch = jobIdOf('accounts.provision', { runId, itemIds: ['itm_a', 'itm_b'] });
    expect(batch).toMatch(/^run_x-b-[\w-]{16}$/);
    expect(jobIdOf('accounts.provision', { runId, itemIds: ['itm_b', 'itm_a'] })).not.toBe(batch);
    expect(jobIdOf('accounts.provision', { runId, itemIds: ['itm_a', 'itm_b'] }, 5)).toBe(`${batch}-r5`);
    expect(jobIdOf('profiles.check', { profileId: 'pro_p', leaseAt: 9 })).toBe('check-pro_p-9');
    expect(jobIdOf('profiles.check', { profileId: 'pro_p', leaseAt: 9 }, 12)).toBe('check-now-pro_p-12');
    expect(jobIdOf('service-accounts.pause-profiles', { serviceAccountId: 'ser_s' })).toBeUndefined();
    expect(jobIdOf('service-accounts.pause-profiles', { serviceAccountId: 'ser_s' }, 44)).toBe(
      'pause-ser_s-44',
    );
    expect(jobIdOf('runs.reconcile', {}, 3)).toBe('reconcile-boot-3');
    expect(() => jobIdOf('runs.finish', { runId }, 1)).toThrow(/no job id/);
  });

  it('takes provisioning batches of a run’s size: 25 mailbox-verified items, 100 directory-verified', () => {
    expect(provisionBatchSize('mailbox')).toBe(PROVISION_BATCH);
    expect(provisionBatchSize('directory')).toBe(DIRECTORY_PROVISION_BATCH);
    expect(DIRECTORY_PROVISION_BATCH).toBeGreaterThan(PROVISION_BATCH);
    const items = (n: number) => Array.from({ length: n }, (_, i) => `itm_${i}`);
    expect(provisionBatches(items(251), 'directory').map((b) => b.length)).toEqual([100, 100, 51]);
    expect(provisionBatches(items(60), 'mailbox').map((b) => b.length)).toEqual([25, 25, 10]);
    expect(provisionBatches(items(251), 'directory').flat()).toEqual(items(251));
    const payload = JOBS['accounts.provision'].payload;
    expect(payload.safeParse({ runId: 'run_x', itemIds: items(DIRECTORY_PROVISION_BATCH) }).success).toBe(
      true,
    );
    expect(payload.safeParse({ runId: 'run_x', itemIds: items(DIRECTORY_PROVISION_BATCH + 1) }).success).toBe(
      false,
    );
  });

  it('builds job requests with or without options', () => {
    expect(jobRequest('runs.finish', { runId: 'run_x' })).toEqual({
      name: 'runs.finish',
      payload: { runId: 'run_x' },
    });
    expect(jobRequest('runs.finish', { runId: 'run_x' }, { priority: 2 })).toMatchObject({
      opts: { priority: 2 },
    });
  });
});

describe('job registry', () => {
  it('has one handler per catalog entry', () => {
    expect([...buildRegistry().keys()].sort()).toEqual(Object.keys(JOBS).sort());
  });

  it('refuses a catalog entry without a handler and a handler without an entry', () => {
    const { 'tokens.cleanup': _dropped, ...missing } = HANDLERS;
    expect(() => buildRegistry(missing)).toThrow(/"tokens.cleanup" is in the catalog but has no handler/);
    const extra = { ...HANDLERS, 'tokens.purge': HANDLERS['tokens.cleanup'] };
    expect(() => buildRegistry(extra)).toThrow(/"tokens.purge" has no catalog entry/);
  });
});
