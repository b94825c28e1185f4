import type { ServiceAccount } from '../db/schema/service-accounts.js';
import type { DirectoryPage, DirectoryRoom } from '../providers/types.js';
import type { AppContext } from './context.js';
import { asCredentialRefusal } from './reasons.js';

/** Upper bound on rooms listed in one `GET /v1/resources` (pages of the provider's directory). */
export const MAX_RESOURCES = 20_000;

/**
 * The Service Account's room resources, listed live from the directory. A final refusal of its
 * credential is a ValidationError on `credentials` (as at registration).
 */
export async function listResources(
  app: AppContext,
  sa: ServiceAccount,
  signal?: AbortSignal,
): Promise<DirectoryRoom[]> {
  const provider = app.providers.forServiceAccount(sa);
  const rooms: DirectoryRoom[] = [];
  let cursor: string | null = null;
  do {
    const page: DirectoryPage<DirectoryRoom> = await provider
      .listRoomsPage(cursor, signal ? { signal } : {})
      .catch((err: unknown) => {
        throw asCredentialRefusal(err);
      });
    rooms.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && rooms.length < MAX_RESOURCES);
  return rooms;
}

/** Cronofy's resource shape; details only when asked for. */
export function resourceJson(room: DirectoryRoom, details: boolean) {
  const base = { email: room.email, name: room.name };
  if (!details) {
    return base;
  }
  return {
    ...base,
    capacity: room.capacity,
    building: room.building,
    floor: room.floor,
    // `room` or `equipment` (Google resourceCategory OTHER, Microsoft equipment mailboxes).
    resource_type: room.resourceKind ?? 'room',
    location: { building_name: room.building, floor_name: room.floor },
  };
}
