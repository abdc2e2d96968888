/**
 * The shared plumbing of every reader: the read context (skip bad rows or fail, progress), the
 * table walker that checks field counts and names the place of every problem, column resolution,
 * and the generic CSV / TSV interaction reader (a header row). JSONL is jsonl.ts, the item-category
 * file category-file.ts.
 */
import { extname } from 'node:path';
import { DataError, type Place } from '../../errors.js';
import type { LogBuilder } from '../dataset.js';
import {
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
export const CATEGORY_COLUMNS = ['categories', 'category', 'genres', 'genre'] as const;
export const TITLE_COLUMNS = ['title'] as const;

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

export function quoteList(names: readonly string[]): string {
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
