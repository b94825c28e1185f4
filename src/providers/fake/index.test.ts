import { describe, expect, it } from 'vitest';
import { ProviderError } from '../types.js';
import { FakeDirectoryProvider } from './index.js';

describe('FakeDirectoryProvider', () => {
  it('pages users and rooms with resumable cursors', async () => {
    const fake = FakeDirectoryProvider.generate({ users: 25, rooms: 3 });
    const first = await fake.listUsersPage(null, { pageSize: 10 });
    const second = await fake.listUsersPage(first.nextCursor, { pageSize: 10 });
    const third = await fake.listUsersPage(second.nextCursor, { pageSize: 10 });
    expect([first.items.length, second.items.length, third.items.length]).toEqual([10, 10, 5]);
    expect(third.nextCursor).toBeNull();
    expect((await fake.listRoomsPage(null)).items).toHaveLength(3);
  });

  it('behaves like the adapters for unknown, suspended and mailbox-less users, and rooms', async () => {
    const fake = FakeDirectoryProvider.generate({ users: 30, rooms: 1 });
    await expect(fake.findMailbox('nobody@example.com')).rejects.toMatchObject({ reason: 'user_not_found' });
    expect(await fake.findMailbox('USER10@example.com')).toMatchObject({ kind: 'user', suspended: true });
    await expect(
      fake.listCalendars({ kind: 'user', email: 'user10@example.com', providerId: 'u10' }),
    ).rejects.toMatchObject({
      reason: 'user_suspended',
    });
    await expect(
      fake.listCalendars({ kind: 'user', email: 'user25@example.com', providerId: 'u25' }),
    ).rejects.toMatchObject({
      reason: 'mailbox_not_enabled',
    });
    const room = await fake.findMailbox('room0@example.com');
    expect(room).toMatchObject({ kind: 'room', hasMailbox: true });
    expect(await fake.listCalendars(room)).toEqual([
      expect.objectContaining({ primary: true, readonly: true }),
    ]);
  });

  it('changes while running and plays scripted failures', async () => {
    const fake = FakeDirectoryProvider.generate({ users: 2, rooms: 0 });
    fake.updateUser('user1@example.com', { suspended: true });
    expect((await fake.findMailbox('user1@example.com')).suspended).toBe(true);
    fake.removeUser('user1@example.com');
    await expect(fake.findMailbox('user1@example.com')).rejects.toBeInstanceOf(ProviderError);
    fake.fail('listCalendars', 'rate_limited', { times: 1, retryAfterMs: 500, email: 'user0@example.com' });
    const user = await fake.findMailbox('user0@example.com');
    await expect(fake.listCalendars(user)).rejects.toMatchObject({
      reason: 'rate_limited',
      retryAfterMs: 500,
      retryable: true,
    });
    expect(await fake.listCalendars(user)).toHaveLength(1);
    expect(fake.calls.filter((c) => c.op === 'listCalendars')).toHaveLength(2);
  });
});
