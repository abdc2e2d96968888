/**
 * Picks the store backend for a `--db` value by its scheme; a backend's module loads only when its
 * scheme is asked for (pg only for postgres:). To add a backend: a class implementing `Store`
 * (types.ts) in its own file here, and its scheme in `BACKENDS`.
 */
import { ConfigError } from '../errors.js';
import type { Store } from './types.js';

export interface StoreOptions {
  /** The PostgreSQL schema holding the tables (default "personae"). */
  schema?: string;
}

/** scheme (with its colon) -> a factory given the whole `--db` value; the store is not yet initialised. */
const BACKENDS: Readonly<Record<string, (db: string, opts: StoreOptions) => Promise<Store>>> = {
  'sqlite:': async (db) => new (await import('./sqlite.js')).SqliteStore(sqliteFile(db)),
  'postgres:': async (db, opts) => new (await import('./postgres.js')).PgStore(db, opts.schema),
  'postgresql:': async (db, opts) => new (await import('./postgres.js')).PgStore(db, opts.schema),
  'memory:': async () => new (await import('./memory.js')).MemoryStore(),
};

/** The schemes `openStore` knows, for messages. */
export const STORE_SCHEMES: readonly string[] = Object.keys(BACKENDS);

/**
 * The scheme of a `--db` value ('sqlite:' for a plain file path and for ':memory:', an in-memory
 * SQLite database). A value that looks like a URL (`word://`) with a scheme not in BACKENDS is an
 * error naming the known ones; anything else without a known scheme is a SQLite path.
 */
export function storeScheme(db: string): string {
  const m = /^([a-z][a-z0-9+.-]*:)/i.exec(db);
  const scheme = m?.[1]!.toLowerCase();
  if (scheme && BACKENDS[scheme]) return scheme;
  if (scheme && db.startsWith('//', scheme.length)) throw new ConfigError(`unknown store scheme "${scheme}" in ${redactStoreUrl(db)}: expected one of ${STORE_SCHEMES.join(' ')} or a SQLite file path`, '--db');
  return 'sqlite:';
}

/** The SQLite file of a `--db` value whose scheme is sqlite: (`sqlite:FILE`, `sqlite://FILE` or the path itself). */
export const sqliteFile = (db: string): string => (/^sqlite:/i.test(db) ? db.slice('sqlite:'.length).replace(/^\/\//, '') : db);

/** A `--db` value fit for a message: the password of a URL is hidden. */
export const redactStoreUrl = (db: string): string => db.replace(/\/\/[^@/]*@/, '//***@');

/** Opens (and initialises) the store named by `--db`: sqlite:FILE or a plain path, postgres://..., memory:. */
export async function openStore(db: string, opts: StoreOptions = {}): Promise<Store> {
  const scheme = storeScheme(db);
  const store = await BACKENDS[scheme]!(db, opts);
  await store.init();
  return store;
}
