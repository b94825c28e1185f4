import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, inject } from 'vitest';
import { createDatabase, type Database, type Db } from '../../src/db/client.js';

function urlFor(name: string): string {
  const url = new URL(inject('adminDatabaseUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

export type TestDatabase = {
  readonly url: string;
  readonly db: Db;
  readonly database: Database;
  readonly name: string;
};

/**
 * A database of this test file's own, cloned from the migrated template before the file's tests and
 * dropped after them.
 */
export function useTestDatabase(): TestDatabase {
  const name = `ec_t_${Math.floor(Date.now() / 1000)}_${randomBytes(5).toString('hex')}`;
  let database: Database | undefined;
  const admin = () => postgres(inject('adminDatabaseUrl'), { max: 1, onnotice: () => {} });

  beforeAll(async () => {
    const sql = admin();
    try {
      await sql.unsafe(`create database "${name}" template "${inject('templateDatabase')}"`);
    } finally {
      await sql.end();
    }
    database = createDatabase(urlFor(name), { max: 5, applicationName: 'ec-test' });
  });

  afterAll(async () => {
    await database?.close();
    const sql = admin();
    try {
      await sql.unsafe(`drop database if exists "${name}" with (force)`);
    } finally {
      await sql.end();
    }
  });

  const need = (): Database => {
    if (!database) {
      throw new Error('useTestDatabase(): the database exists only inside tests and hooks');
    }
    return database;
  };
  return {
    name,
    get url() {
      return urlFor(name);
    },
    get db() {
      return need().db;
    },
    get database() {
      return need();
    },
  };
}

/**
 * An empty database of this test file's own (no template, no migrations: for tests of the migrations
 * themselves), created before the file's tests and dropped after them.
 */
export function useEmptyDatabase(): { readonly url: string; readonly name: string } {
  const name = `ec_t_${Math.floor(Date.now() / 1000)}_${randomBytes(5).toString('hex')}`;
  const admin = () => postgres(inject('adminDatabaseUrl'), { max: 1, onnotice: () => {} });
  beforeAll(async () => {
    const sql = admin();
    try {
      await sql.unsafe(`create database "${name}"`);
    } finally {
      await sql.end();
    }
  });
  afterAll(async () => {
    const sql = admin();
    try {
      await sql.unsafe(`drop database if exists "${name}" with (force)`);
    } finally {
      await sql.end();
    }
  });
  return {
    name,
    get url() {
      return urlFor(name);
    },
  };
}
