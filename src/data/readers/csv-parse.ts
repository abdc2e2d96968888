/**
 * A small, fast, streaming line and CSV field splitter.
 *
 * Files are read with `fs.createReadStream` in large chunks and split into lines here, so a
 * 20M-row file is never held in memory. Lines end in LF or CRLF (a trailing CR is removed); a
 * UTF-8 byte-order mark at the start of the file is dropped. Fields are split on a delimiter of
 * any length (`,`, `\t`, `|`, the `::` of ml-1m); with `quotes` on, a field that starts with `"`
 * is a quoted field in which the delimiter is literal and `""` stands for one `"`. A quoted field
 * may not span lines.
 *
 * The row callback gets a reused `fields` array and a count: no per-row array is allocated, and a
 * line without a `"` is split straight out of the chunk without first copying the line.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { DataError } from '../../errors.js';

export type TextEncoding = 'utf8' | 'latin1';

export interface LineStreamOptions {
  /** Text encoding of the file (default 'utf8'). */
  encoding?: TextEncoding;
  /** Read chunk size in bytes (default 1 MiB). */
  highWaterMark?: number;
  /** Called after every chunk with the bytes read so far and the file size. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
}

export interface RowStreamOptions extends LineStreamOptions {
  /** Field separator, one or more characters (default ','). */
  delimiter?: string;
  /** Whether `"` starts a quoted field (default true). Formats without quoting turn it off. */
  quotes?: boolean;
}

/** Receives one physical line (without its line end) and its 1-based number; `false` stops reading. */
export type LineHandler = (line: string, lineNo: number) => boolean | void;

/**
 * Receives the fields of one non-blank line in `fields[0 .. count)` (the array is reused: copy what
 * you keep) and its 1-based physical line number. `count` is -1 when the line's quoting is
 * malformed (an unterminated quoted field, or text after a closing quote). `false` stops reading.
 */
export type RowHandler = (fields: string[], count: number, lineNo: number) => boolean | void;

const DEFAULT_CHUNK = 1 << 20;
const QUOTE = 34; // "
const CR = 13;
const NL = 10;

/**
 * Streams `path` as text. `consume(text, last)` handles every complete line of `text` and returns
 * where the unconsumed remainder starts (or -1 to stop); with `last` it must consume everything.
 */
async function streamText(
  path: string,
  options: LineStreamOptions,
  consume: (text: string, last: boolean) => number,
): Promise<void> {
  const encoding = options.encoding ?? 'utf8';
  const onProgress = options.onProgress;
  let total = 0;
  try {
    if (onProgress) total = (await stat(path)).size;
    const stream = createReadStream(path, { encoding, highWaterMark: options.highWaterMark ?? DEFAULT_CHUNK });
    let rest = '';
    let first = true;
    let stopped = false;
    try {
      for await (const chunk of stream as AsyncIterable<string>) {
        if (rest.length > 0 && chunk.indexOf('\n') === -1) {
          // Still inside one long line: collect without rescanning what we already have.
          rest += chunk;
          onProgress?.(stream.bytesRead, total);
          continue;
        }
        let text = rest.length > 0 ? rest + chunk : chunk;
        if (first) {
          first = false;
          text = stripBom(text, encoding);
        }
        const used = consume(text, false);
        if (used < 0) {
          stopped = true;
          break;
        }
        rest = used < text.length ? text.slice(used) : '';
        onProgress?.(stream.bytesRead, total);
      }
      if (!stopped) {
        consume(first ? '' : rest, true);
        onProgress?.(total, total);
      }
    } finally {
      stream.destroy();
    }
  } catch (err) {
    throw asReadError(err, path);
  }
}

function stripBom(text: string, encoding: TextEncoding): string {
  if (encoding === 'utf8') return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return text.startsWith('\u00ef\u00bb\u00bf') ? text.slice(3) : text;
}

/** Turns a file-system error (ENOENT, EISDIR, EACCES, ...) into a DataError naming the file. */
function asReadError(err: unknown, path: string): unknown {
  if (err instanceof DataError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string') {
    const what =
      code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder, expected a file' : code === 'EACCES' ? 'permission denied' : code;
    return new DataError(`cannot read file: ${what}`, { file: path });
  }
  return err;
}

/** Calls `onLine` for every physical line of the file (blank lines included). Returns the line count. */
export async function forEachLine(path: string, onLine: LineHandler, options: LineStreamOptions = {}): Promise<number> {
  let lineNo = 0;
  await streamText(path, options, (text, last) => {
    const n = text.length;
    let pos = 0;
    while (pos < n) {
      let nl = text.indexOf('\n', pos);
      if (nl === -1) {
        if (!last) break;
        nl = n;
      }
      let end = nl;
      if (end > pos && text.charCodeAt(end - 1) === CR) end--;
      lineNo++;
      if (onLine(text.slice(pos, end), lineNo) === false) return -1;
      pos = nl + 1;
    }
    return pos;
  });
  return lineNo;
}

/**
 * Calls `onRow` for every non-blank line of the file, split into fields. Blank lines are skipped
 * but still counted, so line numbers are physical line numbers. Returns the number of lines.
 */
export async function forEachRow(path: string, onRow: RowHandler, options: RowStreamOptions = {}): Promise<number> {
  const delimiter = options.delimiter ?? ',';
  if (delimiter.length === 0) throw new RangeError('forEachRow: the delimiter must not be empty');
  if (delimiter.includes('\n') || delimiter.includes('\r')) throw new RangeError('forEachRow: the delimiter must not contain a line end');
  const quotes = options.quotes ?? true;
  const dl = delimiter.length;
  const d0 = delimiter.charCodeAt(0);
  const fields: string[] = [];
  let lineNo = 0;
  await streamText(path, options, (text, last) => {
    // One pass over the characters: a plain JS loop is as fast as indexOf for short lines and has
    // no hidden rescans (a cached-indexOf scheme went quadratic under TurboFan on Node 20).
    const n = text.length;
    let pos = 0;
    while (pos < n) {
      let count = 0;
      let p = pos;
      let i = pos;
      let quoted = false;
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c === NL) break;
        if (c === d0) {
          if (dl === 1 || text.startsWith(delimiter, i)) {
            fields[count++] = text.slice(p, i);
            p = i + dl;
            i += dl - 1;
          }
        } else if (c === QUOTE && quotes) {
          quoted = true;
          break;
        }
      }
      if (quoted) {
        // Slow path: a line with a quote is cut out and split by splitFields.
        i = text.indexOf('\n', i);
        if (i === -1) {
          if (!last) break;
          i = n;
        }
        lineNo++;
        const end = i > pos && text.charCodeAt(i - 1) === CR ? i - 1 : i;
        count = splitFields(text.slice(pos, end), delimiter, fields, true);
        if (onRow(fields, count, lineNo) === false) return -1;
        pos = i + 1;
        continue;
      }
      if (i === n && !last) break; // incomplete line: wait for the next chunk
      lineNo++;
      const end = i > p && text.charCodeAt(i - 1) === CR ? i - 1 : i;
      if (end > pos) {
        fields[count++] = text.slice(p, end);
        if (onRow(fields, count, lineNo) === false) return -1;
      }
      pos = i + 1;
    }
    return pos;
  });
  return lineNo;
}

/**
 * Splits one line into `out[0 .. count)` and returns `count`, or -1 when a quoted field is not
 * terminated or is followed by something other than the delimiter. A `"` inside an unquoted field
 * is kept literally.
 */
export function splitFields(line: string, delimiter = ',', out: string[] = [], quotes = true): number {
  const dl = delimiter.length;
  const n = line.length;
  let count = 0;
  let p = 0;
  // a line without any quote (or with quoting off) is only split at the delimiters
  const quoted = quotes && line.indexOf('"') !== -1;
  for (;;) {
    if (quoted && line.charCodeAt(p) === QUOTE) {
      let value = '';
      let q = p + 1;
      for (;;) {
        const close = line.indexOf('"', q);
        if (close === -1) return -1;
        if (line.charCodeAt(close + 1) === QUOTE) {
          value += line.slice(q, close + 1);
          q = close + 2;
          continue;
        }
        value += line.slice(q, close);
        p = close + 1;
        break;
      }
      out[count++] = value;
      if (p === n) return count;
      if (!line.startsWith(delimiter, p)) return -1;
      p += dl;
    } else {
      const d = line.indexOf(delimiter, p);
      if (d === -1) {
        out[count++] = line.slice(p);
        return count;
      }
      out[count++] = line.slice(p, d);
      p = d + dl;
    }
  }
}

/** `splitFields` returning a fresh array; throws a plain Error on malformed quoting. */
export function parseLine(line: string, delimiter = ',', quotes = true): string[] {
  const out: string[] = [];
  const count = splitFields(line, delimiter, out, quotes);
  if (count < 0) throw new Error(`malformed quoted field in: ${line}`);
  out.length = count;
  return out;
}

/** The number in `s`, or NaN when `s` is empty, blank or not a finite number. */
export function parseFiniteNumber(s: string): number {
  if (s.length === 0) return Number.NaN;
  const v = +s;
  if (v === 0) return s.trim().length === 0 ? Number.NaN : 0;
  return v - v === 0 ? v : Number.NaN; // rejects NaN and ±Infinity
}

const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Seconds since the epoch of an ISO 8601 date or date-time (`2020-01-31`, `2020-01-31T10:00:00Z`,
 * `2020-01-31 10:00:00.5+01:00`), or NaN. A time without a zone is taken as UTC, so the result
 * never depends on the machine's time zone.
 */
export function parseIsoDate(s: string): number {
  const m = ISO_DATE.exec(s.trim());
  if (!m) return Number.NaN;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return Number.NaN;
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (date.getUTCDate() !== day) return Number.NaN; // e.g. 2021-02-30
  let ms = date.getTime() + (m[7] === undefined ? 0 : Math.round(Number(m[7]) * 1000));
  const zone = m[8];
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offset = Number(digits.slice(0, 2)) * 60 + (digits.length > 2 ? Number(digits.slice(2, 4)) : 0);
    ms -= sign * offset * 60_000;
  }
  return ms / 1000;
}

/** A timestamp field: a finite number (taken as seconds, as is) or an ISO 8601 date; NaN otherwise. */
export function parseTimestamp(s: string): number {
  const v = parseFiniteNumber(s);
  return Number.isNaN(v) ? parseIsoDate(s) : v;
}

/** The first line of a file (without its line end), or null when the file is empty. */
export async function readFirstLine(path: string, encoding: TextEncoding = 'utf8'): Promise<string | null> {
  let first: string | null = null;
  await forEachLine(
    path,
    (line) => {
      if (line.trim().length === 0) return;
      first = line;
      return false;
    },
    { encoding, highWaterMark: 64 * 1024 },
  );
  return first;
}

/**
 * 'utf8' when the whole file is valid UTF-8, otherwise 'latin1'. For small metadata files whose
 * encoding varies between dataset releases (ml-1m's movies.dat is Latin-1).
 */
export async function detectEncoding(path: string): Promise<TextEncoding> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    const stream = createReadStream(path, { highWaterMark: DEFAULT_CHUNK });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) decoder.decode(chunk, { stream: true });
      decoder.decode();
    } finally {
      stream.destroy();
    }
    return 'utf8';
  } catch (err) {
    if (err instanceof TypeError) return 'latin1';
    throw asReadError(err, path);
  }
}
