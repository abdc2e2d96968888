/**
 * The stores the service tests run each case on: a SQLite file, and a PostgreSQL schema (dropped
 * afterwards) when PERSONAE_TEST_PG names a server. One list for every service test file.
 */
import { join } from 'node:path';
import { PgStore } from '../src/store/postgres.js';
import type { ServiceOptions } from '../src/serve/index.js';

export interface StoreCase {
  name: 'sqlite' | 'postgres';
  db: (tag: string) => string;
  schema: (tag: string) => Partial<ServiceOptions>;
  cleanup: (tag: string) => Promise<void>;
}

/** SQLite files under `dir`; PostgreSQL schemas named `<prefix>_<tag>_<pid>`. */
export function storeCases(dir: string, prefix: string): StoreCase[] {
  const cases: StoreCase[] = [{ name: 'sqlite', db: (tag) => join(dir, `${tag}.db`), schema: () => ({}), cleanup: async () => {} }];
  const pgUrl = process.env.PERSONAE_TEST_PG;
  if (pgUrl) {
    const schemaOf = (tag: string): string => `${prefix}_${tag}_${process.pid}`;
    cases.push({
      name: 'postgres',
      db: () => pgUrl,
      schema: (tag) => ({ pgSchema: schemaOf(tag) }),
      cleanup: async (tag) => {
        const s = new PgStore(pgUrl, schemaOf(tag));
        await s.dropSchema();
        await s.close();
      },
    });
  }
  return cases;
}
