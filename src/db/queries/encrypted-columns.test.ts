import { getTableConfig, type PgTable } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import * as schema from '../schema/index.js';
import { ENCRYPTED_COLUMNS } from './encrypted-columns.js';

describe('ENCRYPTED_COLUMNS', () => {
  it('lists every *_encrypted column of the schema, so key rotation misses none', () => {
    const found: string[] = [];
    for (const value of Object.values(schema)) {
      if (value && typeof value === 'object' && Symbol.for('drizzle:IsDrizzleTable') in value) {
        const config = getTableConfig(value as PgTable);
        for (const column of config.columns) {
          if (column.name.endsWith('_encrypted')) {
            found.push(`${config.name}.${column.name}`);
          }
        }
      }
    }
    expect(found.length).toBeGreaterThan(0);
    expect(found.sort()).toEqual(ENCRYPTED_COLUMNS.map((c) => `${c.table}.${c.column}`).sort());
  });
});
