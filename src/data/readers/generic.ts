/**
 * Generic interaction readers: CSV / TSV with a header row, and JSONL (one JSON object per line),
 * plus an optional item-category file. Also the shared plumbing of every reader: the read context
 * (skip bad rows or fail, progress), the table walker that checks field counts and names the
 * place of every problem, and column resolution.
 */
import { extname } from 'node:path';
import { DataError, type Place } from '../../errors.js';
import type { LogBuilder } from '../dataset.js';
import {
  forEachLine,
  forEachRow,
  parseFiniteNumber,
  parseTimestamp,
  readFirstLine,
  type TextEncoding,
} from './csv-parse.js';

/** Which column (CSV header name or JSON key) holds which value. Unset ones are looked up by common names. */
export interface ColumnNames {
  user?: string;
  item?: string;
  rating?: string;
  timestamp?: string;
}

/** Shared by all readers of one dataset. */
export interface ReadContext {
  /** Skip malformed rows (counted in `log.skipped`) instead of failing on the first one. */
  readonly skipBadRows: boolean;
  /** The progress callback for one file, if progress is wanted. */
  readonly progressFor?: (file: string) => ((bytesRead: number, totalBytes: number) => void) | undefined;
}

/** Names tried, in order (exactly, then ignoring case), for columns not named in the options. */
export const DEFAULT_COLUMNS = {
  user: ['user', 'userId', 'user_id'],
  item: ['item', 'itemId', 'item_id', 'movieId', 'movie_id'],
  rating: ['rating'],
  timestamp: ['timestamp', 'time', 'ts'],
} as const satisfies Record<keyof ColumnNames, readonly string[]>;

const SPACE = 32;
const CATEGORY_COLUMNS = ['categories', 'category', 'genres', 'genre'] as const;
const TITLE_COLUMNS = ['title'] as const;

// ---------------------------------------------------------------------------------------------
// Shared plumbing
// ---------------------------------------------------------------------------------------------

/** Reports a malformed row: throws a DataError, or with skipBadRows records it and returns. */
export function badRow(ctx: ReadContext, builder: LogBuilder, message: string, place: Place): void {
  const err = new DataError(message, place);
  if (!ctx.skipBadRows) throw err;
  builder.skip(err.message);
}

/**
 * A copy of `s` that does not share memory with the read chunk it was sliced from. V8 keeps
 * slices of 13+ characters as views into their parent, so a long ID kept as a map key would
 * otherwise keep a whole 1 MiB chunk alive.
 */
export function own(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

/** Splits a `|`-separated category list; blanks are dropped, names are trimmed. */
export function splitCategories(s: string): string[] {
  const out: string[] = [];
  for (const part of s.split('|')) {
    const name = part.trim();
    if (name.length > 0) out.push(own(name));
  }
  return out;
}

export interface TableOptions {
  delimiter: string;
  quotes: boolean;
  encoding?: TextEncoding;
  /** Field names of a headerless file (its width). Without it the first row is the header. */
  fixedColumns?: readonly string[];
}

/** Reports a problem with the current row (file and line are added). */
export type BadRow = (message: string, field?: string) => void;

/**
 * Walks a delimited file: the header (unless `fixedColumns`) goes to `onHeader`, which may throw;
 * every other row is checked for quoting and width (the header's or `fixedColumns`') and then
 * handed to `onRow`, which returns true when it used the row. Fails with "no rows" when the file
 * has no data row (or, with skipBadRows, no good one).
 */
export async function readTable(
  file: string,
  ctx: ReadContext,
  builder: LogBuilder,
  options: TableOptions,
  onHeader: ((header: string[], line: number) => void) | null,
  onRow: (fields: string[], line: number, bad: BadRow) => boolean,
): Promise<void> {
  let names: readonly string[] | null = options.fixedColumns ?? null;
  let width = names?.length ?? 0;
  let currentLine = 0;
  let good = 0;
  let skipped = 0;
  const bad: BadRow = (message, field) => {
    skipped++;
    badRow(ctx, builder, message, field === undefined ? { file, line: currentLine } : { file, line: currentLine, field });
  };
  await forEachRow(
    file,
    (fields, count, line) => {
      currentLine = line;
      if (names === null) {
        if (count < 0) throw new DataError('malformed quoted field in the header row', { file, line });
        const header = fields.slice(0, count).map((h) => h.trim());
        onHeader?.(header, line);
        names = header;
        width = count;
        return;
      }
      if (count !== width) {
        if (count < 0) bad('malformed quoted field (no closing quote, or text after the closing quote)');
        else bad(`expected ${width} fields, found ${count}`, count < width ? names[count] : undefined);
        return;
      }
      if (onRow(fields, line, bad)) good++;
    },
    {
      delimiter: options.delimiter,
      quotes: options.quotes,
      encoding: options.encoding ?? 'utf8',
      onProgress: ctx.progressFor?.(file),
    },
  );
  if (names === null) throw new DataError('no rows: the file is empty', { file });
  if (good === 0) {
    if (skipped > 0) throw new DataError(`no rows: all ${skipped} data rows are malformed and were skipped`, { file });
    throw new DataError(options.fixedColumns ? 'no rows: the file is empty' : 'no rows: the file has only a header', { file });
  }
}

/** The index of the first candidate in `header` (exact match first, then ignoring case), or -1. */
export function findColumn(header: readonly string[], candidates: readonly string[]): number {
  for (const c of candidates) {
    const i = header.indexOf(c);
    if (i >= 0) return i;
  }
  const lower = header.map((h) => h.toLowerCase());
  for (const c of candidates) {
    const i = lower.indexOf(c.toLowerCase());
    if (i >= 0) return i;
  }
  return -1;
}

function quoteList(names: readonly string[]): string {
  return names.map((n) => JSON.stringify(n)).join(', ');
}

/** Finds a required column or throws a DataError naming the file, the header line and the column. */
export function requireColumn(
  header: readonly string[],
  candidates: readonly string[],
  role: string,
  file: string,
  line: number,
): number {
  const i = findColumn(header, candidates);
  if (i >= 0) return i;
  const found = `found: ${header.length > 0 ? quoteList(header) : 'nothing'}`;
  if (candidates.length === 1) {
    throw new DataError(`missing column "${candidates[0]}" in the header (${found})`, { file, line, field: candidates[0] });
  }
  throw new DataError(`no ${role} column in the header: expected one of ${quoteList(candidates)} (${found})`, {
    file,
    line,
    field: role,
  });
}

interface Layout {
  user: number;
  item: number;
  rating: number;
  timestamp: number;
  names: readonly string[];
}

/**
 * Column indices from a header. Named columns must exist; unnamed user / item columns are looked
 * up by their common names and must exist; unnamed rating / timestamp columns are optional.
 */
function resolveLayout(header: readonly string[], columns: ColumnNames, file: string, line: number): Layout {
  const pick = (key: keyof ColumnNames, required: boolean): number => {
    const named = columns[key];
    if (named !== undefined) return requireColumn(header, [named], key, file, line);
    if (required) return requireColumn(header, DEFAULT_COLUMNS[key], key, file, line);
    return findColumn(header, DEFAULT_COLUMNS[key]);
  };
  return {
    user: pick('user', true),
    item: pick('item', true),
    rating: pick('rating', false),
    timestamp: pick('timestamp', false),
    names: header,
  };
}

export interface InteractionTableOptions {
  delimiter: string;
  quotes: boolean;
  encoding?: TextEncoding;
  /** Column names for a file with a header row. */
  columns?: ColumnNames;
  /** A headerless file: its field names and which position holds what (-1: absent). */
  fixed?: { names: readonly string[]; user: number; item: number; rating: number; timestamp: number };
}

/** Reads (user, item[, rating][, timestamp]) rows of a delimited file into `builder`. */
export async function readInteractionTable(
  builder: LogBuilder,
  file: string,
  ctx: ReadContext,
  options: InteractionTableOptions,
): Promise<void> {
  let layout: Layout | null = options.fixed ?? null;
  let ui = layout?.user ?? 0;
  let ii = layout?.item ?? 0;
  let ri = layout?.rating ?? -1;
  let ti = layout?.timestamp ?? -1;
  let names: readonly string[] = layout?.names ?? [];
  const users = builder.users;
  const items = builder.items;
  await readTable(
    file,
    ctx,
    builder,
    { delimiter: options.delimiter, quotes: options.quotes, encoding: options.encoding, fixedColumns: options.fixed?.names },
    (header, line) => {
      layout = resolveLayout(header, options.columns ?? {}, file, line);
      ({ user: ui, item: ii, rating: ri, timestamp: ti, names } = layout);
    },
    (f, _line, bad) => {
      let user = f[ui]!;
      let item = f[ii]!;
      if (user.charCodeAt(0) === SPACE || user.charCodeAt(user.length - 1) === SPACE) user = user.trim();
      if (item.charCodeAt(0) === SPACE || item.charCodeAt(item.length - 1) === SPACE) item = item.trim();
      if (user.length === 0) {
        bad('empty user id', names[ui]);
        return false;
      }
      if (item.length === 0) {
        bad('empty item id', names[ii]);
        return false;
      }
      let rating = Number.NaN;
      if (ri >= 0) {
        const s = f[ri]!;
        rating = parseFiniteNumber(s);
        if (rating !== rating) {
          bad(`rating ${JSON.stringify(s)} is not a finite number`, names[ri]);
          return false;
        }
      }
      let time = Number.NaN;
      if (ti >= 0) {
        const s = f[ti]!;
        time = parseTimestamp(s);
        if (time !== time) {
          bad(`timestamp ${JSON.stringify(s)} is neither a number nor an ISO 8601 date`, names[ti]);
          return false;
        }
      }
      if (user.length >= 13 && !users.has(user)) user = own(user);
      if (item.length >= 13 && !items.has(item)) item = own(item);
      builder.add(user, item, rating, time);
      return true;
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Generic CSV / TSV
// ---------------------------------------------------------------------------------------------

/** Turns a delimiter option into the character(s): 'tab' and '\t' (backslash-t) mean a tab. */
export function normalizeDelimiter(d: string): string {
  if (d === 'tab' || d === '\\t' || d === 'TAB') return '\t';
  if (d === 'comma') return ',';
  if (d === 'semicolon') return ';';
  if (d.length === 0) throw new DataError('the delimiter must not be empty', { field: 'delimiter' });
  return d;
}

/**
 * The delimiter of a delimited text file: the option when given, else from the extension
 * (.csv ',', .tsv/.tab tab), else the most frequent of tab, ',' and ';' in the first line.
 */
export async function chooseDelimiter(file: string, explicit?: string): Promise<string> {
  if (explicit !== undefined) return normalizeDelimiter(explicit);
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return ',';
  if (ext === '.tsv' || ext === '.tab') return '\t';
  const first = (await readFirstLine(file)) ?? '';
  let best = ',';
  let bestCount = 0;
  for (const d of ['\t', ',', ';']) {
    const count = first.split(d).length - 1;
    if (count > bestCount) {
      best = d;
      bestCount = count;
    }
  }
  return best;
}

export interface CsvReadOptions {
  columns?: ColumnNames;
  delimiter?: string;
}

/** Reads a CSV / TSV interaction file with a header row into `builder`. */
export async function readCsvInteractions(
  builder: LogBuilder,
  file: string,
  ctx: ReadContext,
  options: CsvReadOptions = {},
): Promise<void> {
  const delimiter = await chooseDelimiter(file, options.delimiter);
  await readInteractionTable(builder, file, ctx, { delimiter, quotes: true, columns: options.columns ?? {} });
}

// ---------------------------------------------------------------------------------------------
// JSONL
// ---------------------------------------------------------------------------------------------

function isBlank(line: string): boolean {
  return line.length === 0 || line.trim().length === 0;
}

function findKey(obj: Record<string, unknown>, candidates: readonly string[]): string | null {
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
function jsonId(v: unknown): string | undefined {
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

function describe(v: unknown): string {
  return v === undefined ? 'missing' : JSON.stringify(v);
}

/**
 * Calls `onObject` for every non-blank line of a JSONL file that parses to a JSON object; a line
 * of invalid JSON or another value goes to `bad` (with `notObject(value)` as the message for the
 * latter). A file without a non-blank line is a DataError.
 */
async function forEachJsonObject(
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

// ---------------------------------------------------------------------------------------------
// Item categories
// ---------------------------------------------------------------------------------------------

export function isJsonlPath(file: string): boolean {
  const ext = extname(file).toLowerCase();
  return ext === '.jsonl' || ext === '.ndjson';
}

/**
 * Reads an item-category file: CSV / TSV with an item column and a `categories` (or `category`,
 * `genres`, `genre`) column of `|`-separated names and an optional `title` column, or JSONL
 * objects `{"item": ..., "categories": [...]}` (a `|`-separated string is accepted too). Items
 * not seen in the interactions are added to the item map; an empty list means "(none)".
 */
export async function readCategoryFile(
  builder: LogBuilder,
  file: string,
  ctx: ReadContext,
  options: { itemColumn?: string; delimiter?: string } = {},
): Promise<void> {
  const itemCandidates = options.itemColumn !== undefined ? [options.itemColumn, ...DEFAULT_COLUMNS.item] : DEFAULT_COLUMNS.item;
  if (isJsonlPath(file)) {
    await readJsonlCategories(builder, file, ctx, itemCandidates);
    return;
  }
  const delimiter = await chooseDelimiter(file, options.delimiter);
  let ii = 0;
  let ci = 0;
  let ti = -1;
  let names: readonly string[] = [];
  await readTable(
    file,
    ctx,
    builder,
    { delimiter, quotes: true },
    (header, line) => {
      ii = requireColumn(header, itemCandidates, 'item', file, line);
      ci = requireColumn(header, CATEGORY_COLUMNS, 'categories', file, line);
      ti = findColumn(header, TITLE_COLUMNS);
      names = header;
    },
    (f, _line, bad) => {
      const item = f[ii]!;
      if (item.length === 0) {
        bad('empty item id', names[ii]);
        return false;
      }
      builder.setCategories(own(item), splitCategories(f[ci]!));
      if (ti >= 0) {
        const title = f[ti]!.trim();
        if (title.length > 0) builder.setTitle(item, own(title));
      }
      return true;
    },
  );
}

async function readJsonlCategories(
  builder: LogBuilder,
  file: string,
  ctx: ReadContext,
  itemCandidates: readonly string[],
): Promise<void> {
  let itemKey: string | null = null;
  let catKey: string | null = null;
  let good = 0;
  const bad = (message: string, line: number, field?: string): void =>
    badRow(ctx, builder, message, field === undefined ? { file, line } : { file, line, field });
  await forEachJsonObject(
    file,
    ctx,
    bad,
    () => 'expected a JSON object',
    (obj, line) => {
      if (itemKey === null || catKey === null) {
        itemKey = findKey(obj, itemCandidates);
        catKey = findKey(obj, CATEGORY_COLUMNS);
        const found = quoteList(Object.keys(obj)) || 'none';
        if (itemKey === null) {
          throw new DataError(`no item field: expected one of ${quoteList(itemCandidates)} (found keys: ${found})`, {
            file,
            line,
            field: 'item',
          });
        }
        if (catKey === null) {
          throw new DataError(`no categories field: expected one of ${quoteList(CATEGORY_COLUMNS)} (found keys: ${found})`, {
            file,
            line,
            field: 'categories',
          });
        }
      }
      const item = jsonId(obj[itemKey]);
      if (item === undefined) {
        bad(`item id is ${describe(obj[itemKey])}; expected a non-empty string or a number`, line, itemKey);
        return;
      }
      const raw = obj[catKey];
      let cats: string[];
      if (typeof raw === 'string') cats = splitCategories(raw);
      else if (Array.isArray(raw) && raw.every((c) => typeof c === 'string')) {
        cats = (raw as string[]).map((c) => c.trim()).filter((c) => c.length > 0);
      } else if (raw === null || raw === undefined) cats = [];
      else {
        bad(`categories are ${JSON.stringify(raw)}; expected an array of strings or a "|"-separated string`, line, catKey);
        return;
      }
      builder.setCategories(item, cats);
      const title = obj['title'];
      if (typeof title === 'string' && title.trim().length > 0) builder.setTitle(item, title.trim());
      good++;
    },
  );
  if (good === 0) throw new DataError('no rows: every line is malformed', { file });
}
