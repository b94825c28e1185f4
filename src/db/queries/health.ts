import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';

/** One round trip to Postgres (readiness): resolves when it answers. */
export async function pingDatabase(db: DbOrTx): Promise<void> {
  await db.execute(sql`select 1`);
}
