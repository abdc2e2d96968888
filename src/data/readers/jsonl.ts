/** The JSONL interaction reader: one JSON object per line, keys found by common names or `--columns`. */
import { extname } from 'node:path';
import { DataError } from '../../errors.js';
import type { LogBuilder } from '../dataset.js';
import { forEachLine, parseFiniteNumber, parseTimestamp } from './csv-parse.js';
import { badRow, DEFAULT_COLUMNS, quoteList, type ColumnNames, type ReadContext } from './generic.js';

/** Whether a path names a JSONL file (by its extension). */
export function isJsonlPath(file: string): boolean {
  const ext = extname(file).toLowerCase();
  return ext === '.jsonl' || ext === '.ndjson';
}

export function isBlank(line: string): boolean {
  return line.length === 0 || line.trim().length === 0;
}

export function findKey(obj: Record<string, unknown>, candidates: readonly string[]): string | null {
  for (const c of candidates) if (Object.hasOwn(obj, c)) return c;
  const keys = Object.keys(obj);
  const lower = keys.map((k) => k.toLowerCase());
  for (const c of candidates) {
    const i = lower.indexOf(c.toLowerCase());
    if (i >= 0) return keys[i]!;
  }
  return null;
}

interface JsonKeys {
  user: string;
  item: string;
  rating: string | null;
  timestamp: string | null;
}

/** Keys named in the options are used as given; the others are looked up in the first object. */
function resolveKeys(obj: Record<string, unknown>, columns: ColumnNames, file: string, line: number): JsonKeys {
  const required = (key: 'user' | 'item'): string => {
    const named = columns[key];
    if (named !== undefined) return named;
    const found = findKey(obj, DEFAULT_COLUMNS[key]);
    if (found !== null) return found;
    throw new DataError(
      `no ${key} field: expected one of ${quoteList(DEFAULT_COLUMNS[key])} (found keys: ${quoteList(Object.keys(obj)) || 'none'})`,
      { file, line, field: key },
    );
  };
  const optional = (key: 'rating' | 'timestamp'): string | null => columns[key] ?? findKey(obj, DEFAULT_COLUMNS[key]);
  return { user: required('user'), item: required('item'), rating: optional('rating'), timestamp: optional('timestamp') };
}

/** A JSON ID value as a string: non-empty strings and finite numbers; undefined otherwise. */
export function jsonId(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 ? v : undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

function jsonNumber(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : Number.NaN;
  if (typeof v === 'string') return parseFiniteNumber(v);
  return Number.NaN;
}

function jsonTimestamp(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : Number.NaN;
  if (typeof v === 'string') return parseTimestamp(v);
  return Number.NaN;
}

export function describe(v: unknown): string {
  return v === undefined ? 'missing' : JSON.stringify(v);
}

/**
 * Calls `onObject` for every non-blank line of a JSONL file that parses to a JSON object; a line
 * of invalid JSON or another value goes to `bad` (with `notObject(value)` as the message for the
 * latter). A file without a non-blank line is a DataError.
 */
export async function forEachJsonObject(
  file: string,
  ctx: ReadContext,
  bad: (message: string, line: number) => void,
  notObject: (value: unknown) => string,
  onObject: (obj: Record<string, unknown>, line: number) => void,
): Promise<void> {
  let any = false;
  await forEachLine(
    file,
    (text, line) => {
      if (isBlank(text)) return;
      any = true;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        bad(`invalid JSON: ${(err as Error).message}`, line);
        return;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        bad(notObject(value), line);
        return;
      }
      onObject(value as Record<string, unknown>, line);
    },
    { onProgress: ctx.progressFor?.(file) },
  );
  if (!any) throw new DataError('no rows: the file is empty', { file });
}

/** Reads a JSONL interaction file (one object per line; blank lines are ignored) into `builder`. */
export async function readJsonlInteractions(
  builder: LogBuilder,
  file: string,
  ctx: ReadContext,
  columns: ColumnNames = {},
): Promise<void> {
  let keys: JsonKeys | null = null;
  let good = 0;
  let skipped = 0;
  const bad = (message: string, line: number, field?: string): void => {
    skipped++;
    badRow(ctx, builder, message, field === undefined ? { file, line } : { file, line, field });
  };
  await forEachJsonObject(
    file,
    ctx,
    bad,
    (value) => `expected a JSON object, found ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`,
    (obj, line) => {
      keys ??= resolveKeys(obj, columns, file, line);
      const user = jsonId(obj[keys.user]);
      if (user === undefined) {
        bad(`user id is ${describe(obj[keys.user])}; expected a non-empty string or a number`, line, keys.user);
        return;
      }
      const item = jsonId(obj[keys.item]);
      if (item === undefined) {
        bad(`item id is ${describe(obj[keys.item])}; expected a non-empty string or a number`, line, keys.item);
        return;
      }
      let rating = Number.NaN;
      if (keys.rating !== null) {
        rating = jsonNumber(obj[keys.rating]);
        if (Number.isNaN(rating)) {
          bad(`rating ${describe(obj[keys.rating])} is not a finite number`, line, keys.rating);
          return;
        }
      }
      let time = Number.NaN;
      if (keys.timestamp !== null) {
        time = jsonTimestamp(obj[keys.timestamp]);
        if (Number.isNaN(time)) {
          bad(`timestamp ${describe(obj[keys.timestamp])} is neither a number nor an ISO 8601 date`, line, keys.timestamp);
          return;
        }
      }
      builder.add(user, item, rating, time);
      good++;
    },
  );
  if (good === 0) throw new DataError(`no rows: all ${skipped} lines are malformed and were skipped`, { file });
}

