/** Picks the store backend for a `--db` value; the backends load on demand (pg only when asked for). */
import type { Store } from './store.js';

/** Opens the store named by `--db`: a postgres:// URL, or a SQLite file path (':memory:' for tests). */
export async function openStore(db: string, opts: { schema?: string } = {}): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(db)) {
    const { PgStore } = await import('./store-pg.js');
    const s = new PgStore(db, opts.schema);
    await s.init();
    return s;
  }
  const { SqliteStore } = await import('./store-sqlite.js');
  const s = new SqliteStore(db);
  await s.init();
  return s;
}
