/**
 * Multi-row INSERTs in chunks for the PostgreSQL store (postgres.ts `PgStore`).
 */
import type pg from 'pg';

/** Rows per multi-row INSERT (well under the 65535 bind parameters of one statement). */
export const CHUNK = 2000;

/**
 * Multi-row INSERTs of `records`, CHUNK rows a statement: `row(r)` is one record's values, one per
 * entry of `casts` (the SQL cast after its placeholder, or ''), and `sql(values)` the statement
 * around the list "($1, $2::jsonb),($3, $4::jsonb),...".
 */
export async function insertChunked<T>(
  c: pg.PoolClient,
  records: readonly T[],
  casts: readonly string[],
  row: (r: T) => unknown[],
  sql: (values: string) => string,
): Promise<void> {
  const w = casts.length;
  for (let a = 0; a < records.length; a += CHUNK) {
    const part = records.slice(a, a + CHUNK);
    const vals: unknown[] = [];
    const rows = part.map((r, k) => {
      vals.push(...row(r));
      return `(${casts.map((cast, j) => `$${w * k + j + 1}${cast}`).join(', ')})`;
    });
    await c.query(sql(rows.join(',')), vals);
  }
}
