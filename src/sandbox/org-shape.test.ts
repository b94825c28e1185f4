import { describe, expect, test } from 'vitest';
import { Org } from './org.js';
import { addressesOf, indexFromAddress, upnOf } from './org-shape.js';

const make = (provider: 'google' | 'microsoft', shapes: boolean, seed = 1) =>
  new Org({
    seed,
    provider,
    domain: 'example.test',
    users: 2_000,
    rooms: 200,
    shapes,
    domains: ['eu.example.test'],
  });

describe('org shapes (opt-in)', () => {
  test('leave an org without them exactly as it was, and are a pure function of the seed', () => {
    const plain = make('microsoft', false);
    const shaped = make('microsoft', true);
    for (const i of [0, 1, 9, 10, 11, 12, 500]) {
      const u = plain.users.at(i);
      expect(u?.upn ?? u?.proxyAddresses ?? u?.guest).toBeUndefined();
      expect(make('microsoft', true).users.at(i)).toEqual(shaped.users.at(i));
    }
    expect(make('google', false).rooms.at(5)?.buildingId).toBeUndefined();
  });

  test('Microsoft: UPNs other than the mail, second proxy addresses and guests, each found again', () => {
    const org = make('microsoft', true);
    const upnUser = org.users.at(10);
    expect(upnOf(upnUser ?? ({} as never))).toMatch(/@example\.onmicrosoft\.com$/);
    expect(upnUser?.upn).not.toBe(upnUser?.email);
    expect(indexFromAddress(upnUser?.upn ?? '')).toBe(10);

    const proxyUser = org.users
      .page(11, 100)
      .items.find((u) => (u.proxyAddresses ?? []).some((p) => p.startsWith('smtp:')));
    const alias = (proxyUser?.proxyAddresses ?? []).find((p) => p.startsWith('smtp:'))?.slice(5) ?? '';
    expect(alias).toMatch(/@eu\.example\.test$/);
    expect(addressesOf(proxyUser ?? ({} as never))).toContain(alias);
    expect(indexFromAddress(alias)).toBe(proxyUser?.pos);

    const guest = org.users.at(12);
    expect(guest?.guest).toBe(true);
    expect(guest?.email).toMatch(/@partner-[0-9a-f]{6}\.example\.net$/);
    expect(guest?.upn).toMatch(/#EXT#@example\.onmicrosoft\.com$/);
    expect(org.users.find(guest?.email ?? '')?.pos).toBe(12);
    expect(indexFromAddress(guest?.upn ?? '')).toBe(12);
  });

  test('Google: buildings get ids other than their names, the same name always the same id', () => {
    const org = make('google', true);
    const rooms = org.rooms.page(0, 200).items.filter((r) => r.building !== null);
    expect(rooms.length).toBeGreaterThan(10);
    for (const r of rooms) {
      expect(r.buildingId).toMatch(/^bld-[0-9a-f]{8}$/);
      expect(r.buildingId).not.toBe(r.building);
      expect(rooms.find((x) => x.building === r.building)?.buildingId).toBe(r.buildingId);
    }
  });
});
