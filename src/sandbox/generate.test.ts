import { describe, expect, test } from 'vitest';
import { Org } from './org.js';

const make = (provider: 'google' | 'microsoft', seed = 1) =>
  new Org({ seed, provider, domain: 'example.test', users: 100_000, rooms: 500 });

describe('generated orgs', () => {
  test('are a pure function of (seed, index)', () => {
    expect(make('google').users.at(77_777)).toEqual(make('google').users.at(77_777));
    expect(make('google').users.at(77_777)).not.toEqual(make('google', 2).users.at(77_777));
    expect(make('google').users.at(5)?.email).not.toBe(make('microsoft').users.at(5)?.email);
  });

  test('every generated user and room is found again by email and by id', () => {
    for (const provider of ['google', 'microsoft'] as const) {
      const org = make(provider);
      for (const i of [0, 1, 2, 7, 4242, 99_999]) {
        const u = org.users.at(i);
        expect(org.users.find(u?.email ?? '')?.pos).toBe(i);
        expect(org.users.find(u?.email.toUpperCase() ?? '')?.pos).toBe(i);
        if (provider === 'microsoft') {
          expect(org.users.find(u?.id ?? '')?.pos).toBe(i);
        }
      }
      for (const i of [0, 3, 499]) {
        const r = org.rooms.at(i);
        expect(org.rooms.find(r?.email ?? '')?.pos).toBe(i);
        expect(org.findMailbox(r?.email ?? '')).toEqual({ room: r });
      }
    }
  });

  test('user 0 is a plain admin; shares of awkward cases appear at scale', () => {
    const org = make('microsoft');
    expect(org.users.at(0)).toMatchObject({ admin: true, suspended: false, mailbox: true, shared: false });
    const sample = org.users.page(10, 10_000).items;
    const share = (pred: (u: (typeof sample)[number]) => boolean) =>
      sample.filter(pred).length / sample.length;
    expect(share((u) => u.suspended)).toBeGreaterThan(0.03);
    expect(share((u) => !u.mailbox)).toBeGreaterThan(0.02);
    expect(share((u) => u.shared)).toBeGreaterThan(0.015);
    expect(share((u) => u.email.includes('+'))).toBeGreaterThan(0.02);
    expect(share((u) => u.displayName.length > 100)).toBeGreaterThan(0.004);
  });
});
