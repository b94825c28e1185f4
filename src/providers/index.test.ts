import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createDirectoryProvider, NoopLimiter, ProviderRegistry, REAL_PROVIDER_URLS } from './index.js';
import type { GoogleCredentials, MicrosoftCredentials } from './types.js';

const google: GoogleCredentials = {
  provider: 'google',
  domain: 'example.com',
  adminEmail: 'admin@example.com',
  key: { type: 'service_account', client_email: 'sa@p.iam.gserviceaccount.com', private_key: 'unused' },
};
const microsoft: MicrosoftCredentials = {
  provider: 'microsoft',
  domain: 'example.com',
  tenantId: '00000000-0000-0000-0000-000000000001',
  clientId: '00000000-0000-0000-0000-000000000002',
  clientSecret: 'secret',
};
const base = { urls: REAL_PROVIDER_URLS, limiter: new NoopLimiter(), logger: pino({ level: 'silent' }) };

describe('createDirectoryProvider', () => {
  it('builds the adapter for the credential, without any network call', () => {
    expect(createDirectoryProvider(google, { ...base, serviceAccountId: 'ser_1' }).provider).toBe('google');
    expect(createDirectoryProvider(microsoft, { ...base, serviceAccountId: 'ser_2' }).provider).toBe(
      'microsoft',
    );
  });
});

describe('ProviderRegistry', () => {
  it('re-uses one adapter per Service Account until its stored credential changes, within an LRU bound; decrypts only for a new one', () => {
    const registry = new ProviderRegistry({ ...base, maxEntries: 2 });
    let opened = 0;
    const open =
      <T>(credentials: T) =>
      () => {
        opened += 1;
        return credentials;
      };
    const a = registry.getSealed('ser_a', 'v2.k.iv.tag.body1', open(google));
    expect(registry.getSealed('ser_a', 'v2.k.iv.tag.body1', open(google))).toBe(a);
    expect(opened).toBe(1);
    const rotated = registry.getSealed(
      'ser_a',
      'v2.k.iv.tag.body2',
      open({ ...google, adminEmail: 'other@example.com' }),
    );
    expect(rotated).not.toBe(a);
    expect(opened).toBe(2);
    const limited = registry.getSealed('ser_a', 'v2.k.iv.tag.body2', open(google), {
      'google.directory': { points: 10, durationSecs: 60 },
    });
    expect(limited).not.toBe(rotated);
    expect(opened).toBe(3);
    registry.getSealed('ser_b', 'v2.k.iv.tag.b', open(microsoft));
    registry.getSealed('ser_c', 'v2.k.iv.tag.c', open(microsoft));
    expect(registry.size).toBe(2);
  });
});
