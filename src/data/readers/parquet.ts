/**
 * Parquet in and out (hyparquet and hyparquet-writer: pure JavaScript, no native binary; why these
 * and not parquet-wasm or DuckDB is in docs/batch.md).
 *
 * Reading goes row group by row group, so a file never has to fit in memory as JS values; only
 * the columns the log needs are decoded. Ids may be strings (UTF8), integers or binary; ratings
 * any number type; timestamps numbers (seconds, as in CSV), TIMESTAMP/DATE columns (converted to
 * seconds) or ISO 8601 strings. Every problem names the file, the column and the 1-based row.
 *
 * Writing (`ParquetRowWriter`) buffers at most one row group of rows and appends it to the file,
 * so `personae batch` output of any size streams to disk.
 */
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import { DataError } from '../../errors.js';
import type { LogBuilder } from '../dataset.js';
import { parseFiniteNumber, parseTimestamp } from './csv-parse.js';
import { DEFAULT_COLUMNS, badRow, findColumn, own, splitCategories, type ColumnNames, type ReadContext } from './generic.js';

export function isParquetPath(file: string): boolean {
  return file.toLowerCase().endsWith('.parquet');
}

interface OpenParquet {
  readonly buffer: AsyncBuffer;
  readonly metadata: FileMetaData;
  /** Top-level column names, in file order. */
  readonly columns: string[];
}

async function openParquet(file: string): Promise<OpenParquet> {
  let buffer: AsyncBuffer;
  try {
    buffer = await asyncBufferFromFile(file);
  } catch (err) {
    throw new DataError(`cannot open: ${(err as Error).message}`, { file });
  }
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (err) {
    throw new DataError(`not a readable Parquet file (${(err as Error).message})`, { file });
  }
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  return { buffer, metadata, columns };
}

function quoteList(names: readonly string[]): string {
  return names.map((n) => JSON.stringify(n)).join(', ');
}

/** A column by its given name, or by the first common name found; a DataError names file and column. */
function columnOf(open: OpenParquet, file: string, named: string | undefined, candidates: readonly string[], role: string, required: boolean): string | null {
  const found = `the file has: ${quoteList(open.columns) || 'no columns'}`;
  if (named !== undefined) {
    if (open.columns.includes(named)) return named;
    throw new DataError(`missing column "${named}" (${found})`, { file, field: named });
  }
  const i = findColumn(open.columns, candidates);
  if (i >= 0) return open.columns[i]!;
  if (!required) return null;
  throw new DataError(`no ${role} column: expected one of ${quoteList(candidates)} (${found})`, { file, field: role });
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * The values of each column over rows [start, end) of the file (one row group), one array per
 * column: the decoder's own column array (a typed array for number columns) when one chunk covers
 * the range, so a row group is held once, not copied into JS arrays; chunks are joined otherwise.
 */
async function readRows(open: OpenParquet, file: string, columns: readonly string[], start: number, end: number): Promise<ArrayLike<unknown>[]> {
  const chunks = columns.map(() => [] as { rowStart: number; rowEnd: number; data: ArrayLike<unknown> }[]);
  try {
    await parquetRead({
      file: open.buffer,
      metadata: open.metadata,
      columns: [...columns],
      rowStart: start,
      rowEnd: end,
      onChunk: (chunk) => {
        const c = columns.indexOf(chunk.columnName);
        if (c >= 0) chunks[c]!.push({ rowStart: chunk.rowStart, rowEnd: chunk.rowEnd, data: chunk.columnData as ArrayLike<unknown> });
      },
    });
  } catch (err) {
    throw new DataError(`cannot decode rows ${start + 1}-${end}: ${(err as Error).message}`, { file });
  }
  return chunks.map((parts) => {
    const only = parts.length === 1 ? parts[0]! : null;
    if (only && only.rowStart === start && only.rowEnd >= end && only.data.length >= end - start) return only.data;
    // pages of a number column join into one typed array of the same type; others into an array
    const typed = parts.length > 0 && parts.every((p) => ArrayBuffer.isView(p.data) && p.data.constructor === parts[0]!.data.constructor);
    const out: { [r: number]: unknown; length: number } = typed ? new (parts[0]!.data.constructor as new (n: number) => TypedColumn)(end - start) : new Array<unknown>(end - start);
    for (const p of parts) {
      const from = Math.max(start, p.rowStart);
      const to = Math.min(end, p.rowEnd);
      if (to <= from) continue;
      if (typed) (out as TypedColumn).set((p.data as TypedColumn).subarray(from - p.rowStart, to - p.rowStart) as never, from - start);
      else for (let r = from; r < to; r++) out[r - start] = p.data[r - p.rowStart];
    }
    return out;
  });
}

/** A decoded number column (hyparquet decodes INT32, INT64, FLOAT and DOUBLE pages into these). */
type TypedColumn = Int32Array | Float32Array | Float64Array | BigInt64Array | Uint8Array;

/** Row groups as [start, end) row ranges. */
function rowGroups(metadata: FileMetaData): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (const g of metadata.row_groups) {
    const end = start + Number(g.num_rows);
    if (end > start) out.push([start, end]);
    start = end;
  }
  return out;
}

/** An id: non-empty strings, finite numbers, integers (bigint) and UTF-8 bytes; null otherwise. */
function idValue(v: unknown): string | null {
  if (typeof v === 'string') {
    const s = v.trim();
    return s.length > 0 ? s : null;
  }
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : null;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return idValue(decoder.decode(v));
  return null;
}

function numberValue(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : Number.NaN;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') return parseFiniteNumber(v);
  return Number.NaN;
}

/** Seconds: numbers as they are (as the CSV reader), Date/TIMESTAMP columns converted, ISO strings parsed. */
function timeValue(v: unknown): number {
  if (v instanceof Date) {
    const t = v.getTime();
    return Number.isFinite(t) ? t / 1000 : Number.NaN;
  }
  if (typeof v === 'string') return parseTimestamp(v);
  return numberValue(v);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  return JSON.stringify(v) ?? String(v);
}

/** Reads a Parquet interaction file (columns found as for CSV headers) into `builder`. */
export async function readParquetInteractions(builder: LogBuilder, file: string, ctx: ReadContext, columns: ColumnNames = {}): Promise<void> {
  const open = await openParquet(file);
  const user = columnOf(open, file, columns.user, DEFAULT_COLUMNS.user, 'user', true)!;
  const item = columnOf(open, file, columns.item, DEFAULT_COLUMNS.item, 'item', true)!;
  const rating = columnOf(open, file, columns.rating, DEFAULT_COLUMNS.rating, 'rating', false);
  const time = columnOf(open, file, columns.timestamp, DEFAULT_COLUMNS.timestamp, 'timestamp', false);
  const wanted = [user, item, ...(rating ? [rating] : []), ...(time ? [time] : [])];
  const total = Number(open.metadata.num_rows);
  if (total === 0) throw new DataError('no rows: the file is empty', { file });
  const progress = ctx.progressFor?.(file);
  const size = open.buffer.byteLength;
  let good = 0;
  let skipped = 0;
  const bad = (row: number, message: string, field: string): void => {
    skipped++;
    badRow(ctx, builder, `row ${row}: ${message}`, { file, field });
  };
  for (const [start, end] of rowGroups(open.metadata)) {
    const values = await readRows(open, file, wanted, start, end);
    const us = values[0]!;
    const is = values[1]!;
    const rs = rating ? values[2]! : null;
    const ts = time ? values[rating ? 3 : 2]! : null;
    for (let k = 0; k < end - start; k++) {
      const row = start + k + 1;
      const u = idValue(us[k]);
      if (u === null) {
        bad(row, `user id is ${describe(us[k])}; expected a non-empty string or a number`, user);
        continue;
      }
      const i = idValue(is[k]);
      if (i === null) {
        bad(row, `item id is ${describe(is[k])}; expected a non-empty string or a number`, item);
        continue;
      }
      let r = Number.NaN;
      if (rs) {
        r = numberValue(rs[k]);
        if (r !== r) {
          bad(row, `rating ${describe(rs[k])} is not a finite number`, rating!);
          continue;
        }
      }
      let t = Number.NaN;
      if (ts) {
        t = timeValue(ts[k]);
        if (t !== t) {
          bad(row, `timestamp ${describe(ts[k])} is neither a number, a date nor an ISO 8601 string`, time!);
          continue;
        }
      }
      builder.add(u.length >= 13 ? own(u) : u, i.length >= 13 ? own(i) : i, r, t);
      good++;
    }
    progress?.(Math.round((size * end) / total), size);
  }
  if (good === 0) throw new DataError(`no rows: all ${skipped} rows are malformed and were skipped`, { file });
}

const CATEGORY_COLUMNS = ['categories', 'category', 'genres', 'genre'] as const;

/** Reads a Parquet item file: an item column, categories (a list of strings or a "|"-separated string), an optional title. */
export async function readParquetCategories(builder: LogBuilder, file: string, ctx: ReadContext, itemCandidates: readonly string[]): Promise<void> {
  const open = await openParquet(file);
  const item = columnOf(open, file, undefined, itemCandidates, 'item', true)!;
  const cats = columnOf(open, file, undefined, CATEGORY_COLUMNS, 'categories', true)!;
  const title = columnOf(open, file, undefined, ['title'], 'title', false);
  const wanted = [item, cats, ...(title ? [title] : [])];
  let good = 0;
  for (const [start, end] of rowGroups(open.metadata)) {
    const values = await readRows(open, file, wanted, start, end);
    for (let k = 0; k < end - start; k++) {
      const row = start + k + 1;
      const id = idValue(values[0]![k]);
      if (id === null) {
        badRow(ctx, builder, `row ${row}: item id is ${describe(values[0]![k])}; expected a non-empty string or a number`, { file, field: item });
        continue;
      }
      const raw = values[1]![k];
      let list: string[];
      if (raw === null || raw === undefined) list = [];
      else if (typeof raw === 'string') list = splitCategories(raw);
      else if (Array.isArray(raw) && raw.every((c) => typeof c === 'string')) list = (raw as string[]).map((c) => c.trim()).filter((c) => c.length > 0);
      else {
        badRow(ctx, builder, `row ${row}: categories are ${describe(raw)}; expected a list of strings or a "|"-separated string`, { file, field: cats });
        continue;
      }
      builder.setCategories(own(id), list);
      const t = title ? values[2]![k] : null;
      if (typeof t === 'string' && t.trim().length > 0) builder.setTitle(id, own(t.trim()));
      good++;
    }
  }
  if (good === 0) throw new DataError('no rows: the file has no item rows', { file });
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

export type ParquetColumnType = 'STRING' | 'INT32' | 'DOUBLE' | 'BOOLEAN';

export interface ParquetColumn {
  readonly name: string;
  readonly type: ParquetColumnType;
  /** May hold nulls (default false). */
  readonly nullable?: boolean;
}

const PHYSICAL: Record<ParquetColumnType, { type: 'BYTE_ARRAY' | 'INT32' | 'DOUBLE' | 'BOOLEAN'; converted_type?: 'UTF8' }> = {
  STRING: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
  INT32: { type: 'INT32' },
  DOUBLE: { type: 'DOUBLE' },
  BOOLEAN: { type: 'BOOLEAN' },
};

export type ParquetCell = string | number | boolean | null;

/**
 * Writes rows to a Parquet file, one row group per `rowGroupSize` rows: at most one row group of
 * values is held in memory. Call `finish()` to write the footer (the file is not valid before).
 */
export class ParquetRowWriter {
  private readonly fd: number;
  private readonly writer: ParquetWriter;
  private readonly bytes: ByteWriter;
  private readonly buffers: ParquetCell[][];
  private pending = 0;
  rows = 0;

  constructor(
    readonly file: string,
    private readonly columns: readonly ParquetColumn[],
    private readonly rowGroupSize = 100_000,
  ) {
    this.fd = openSync(file, 'w');
    this.bytes = new ByteWriter();
    this.writer = new ParquetWriter({
      writer: this.bytes,
      schema: [
        { name: 'root', num_children: columns.length },
        ...columns.map((c) => ({ name: c.name, ...PHYSICAL[c.type], repetition_type: c.nullable ? ('OPTIONAL' as const) : ('REQUIRED' as const) })),
      ],
      createdBy: 'personae',
    });
    this.buffers = columns.map(() => []);
    this.drain();
  }

  /** Appends one row (values in column order). */
  add(row: readonly ParquetCell[]): void {
    for (let c = 0; c < this.columns.length; c++) this.buffers[c]!.push(row[c] ?? null);
    this.pending++;
    this.rows++;
    if (this.pending >= this.rowGroupSize) this.flushGroup();
  }

  private flushGroup(): void {
    if (this.pending === 0) return;
    this.writer.write({
      columnData: this.columns.map((c, k) => ({ name: c.name, data: this.buffers[k]!, nullable: c.nullable ?? false })),
      rowGroupSize: this.pending,
    });
    for (let c = 0; c < this.buffers.length; c++) this.buffers[c] = [];
    this.pending = 0;
    this.drain();
  }

  /** Moves the encoded bytes to the file. */
  private drain(): void {
    const chunk = new Uint8Array(this.bytes.buffer, 0, this.bytes.index);
    for (let at = 0; at < chunk.length; ) at += writeSync(this.fd, chunk, at, chunk.length - at);
    this.bytes.index = 0;
  }

  /** Writes the last row group and the footer, and closes the file. Returns the file size. */
  finish(): number {
    try {
      this.flushGroup();
      this.writer.finish();
      this.drain();
    } finally {
      closeSync(this.fd);
    }
    return statSync(this.file).size;
  }

  /** Closes the file without a footer (after an error). */
  abort(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}
