import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { buildRegistry } from '../jobs/registry.js';
import { validateSchedules } from './register.js';
import { schedules } from './schedules.js';

describe('schedules', () => {
  const config = loadConfig({ SWEEP_INTERVAL_SECONDS: '30' }, 'test');

  it('names only known jobs, each id once, every sweep at SWEEP_INTERVAL_SECONDS', () => {
    const list = schedules(config.scheduler);
    expect(() => validateSchedules(list, buildRegistry())).not.toThrow();
    expect(list.find((s) => s.id === 'profiles.check-sweep')).toMatchObject({ everyMs: 30_000 });
    expect(list.find((s) => s.id === 'service-accounts.health-sweep')).toMatchObject({ everyMs: 30_000 });
    expect(list.find((s) => s.id === 'directory.sync-sweep')).toMatchObject({ everyMs: 30_000 });
  });

  it('refuses unknown jobs, doubled ids, jobs that need a payload and bad intervals', () => {
    const registry = buildRegistry();
    const ok = { id: 'a', job: 'tokens.cleanup', everyMs: 1000 } as const;
    expect(() => validateSchedules([{ ...ok, job: 'nope.sweep' as 'tokens.cleanup' }], registry)).toThrow(
      /unknown job/,
    );
    expect(() => validateSchedules([ok, ok], registry)).toThrow(/twice/);
    expect(() => validateSchedules([{ ...ok, job: 'profiles.check' }], registry)).toThrow(/payload/);
    expect(() => validateSchedules([{ ...ok, everyMs: 0 }], registry)).toThrow(/everyMs/);
  });
});
