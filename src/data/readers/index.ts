/**
 * `readDataset`: reads a dataset folder or file into an InteractionLog, detecting the format.
 *
 * `auto` detection: a folder with ratings.csv (+ movies.csv) is MovieLens ml-latest, one with
 * u.data is ml-100k, one with ratings.dat is ml-1m; a file ending .jsonl / .ndjson is JSONL, one
 * ending .csv / .tsv is CSV and one ending .parquet is Parquet (src/data/readers/parquet.ts; an
 * item-category file may be Parquet too). Anything else is a DataError saying what was expected and found.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { DataError } from '../../errors.js';
import { LogBuilder, type InteractionLog } from '../dataset.js';
import { readCategoryFile } from './category-file.js';
import { DEFAULT_COLUMNS, readCsvInteractions, type ColumnNames, type ReadContext } from './generic.js';
import { isJsonlPath, readJsonlInteractions } from './jsonl.js';
import { MOVIELENS_FILES, readMl100k, readMl1m, readMovieLens } from './movielens.js';
import { isParquetPath, readParquetCategories, readParquetInteractions } from './parquet.js';

export type DatasetFormat = 'auto' | 'movielens' | 'ml-100k' | 'ml-1m' | 'csv' | 'jsonl' | 'parquet';
export const DATASET_FORMATS: readonly DatasetFormat[] = ['auto', 'movielens', 'ml-100k', 'ml-1m', 'csv', 'jsonl', 'parquet'];

export interface ReadOptions {
  /** Default 'auto'. */
  format?: DatasetFormat;
  /** Skip malformed rows (counted in `log.skipped`) instead of failing on the first. Default false. */
  skipBadRows?: boolean;
  /** Column names (CSV header names / JSON keys) for the csv and jsonl formats. */
  columns?: ColumnNames;
  /** Path of an item-category file (CSV/TSV item + categories, or JSONL {item, categories}). */
  categories?: string;
  /** Field delimiter of a csv-format file ('tab' or '\t' for a tab); default from the extension. */
  delimiter?: string;
  /** The dataset's name in reports (default: the folder or file name). */
  name?: string;
  /** Called as the files are read, with bytes read so far and the total size of all files read. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
}

export type { ColumnNames } from './generic.js';

type ConcreteFormat = Exclude<DatasetFormat, 'auto'>;

const FOLDER_FORMATS = ['movielens', 'ml-100k', 'ml-1m'] as const;
type FolderFormat = (typeof FOLDER_FORMATS)[number];

const LAYOUTS: Record<FolderFormat, string> = {
  movielens: 'ratings.csv + movies.csv (MovieLens ml-latest, ml-latest-small, ml-20m, ml-25m)',
  'ml-100k': 'u.data + u.item + u.genre (MovieLens ml-100k)',
  'ml-1m': 'ratings.dat + movies.dat (MovieLens ml-1m, ml-10m)',
};

function isFolderFormat(f: ConcreteFormat): f is FolderFormat {
  return (FOLDER_FORMATS as readonly string[]).includes(f);
}

function folderFormatOf(entries: readonly string[]): FolderFormat | null {
  if (entries.includes('ratings.csv')) return 'movielens';
  if (entries.includes('u.data')) return 'ml-100k';
  if (entries.includes('ratings.dat')) return 'ml-1m';
  return null;
}

function fileFormatOf(path: string): 'csv' | 'jsonl' | 'parquet' | null {
  if (isJsonlPath(path)) return 'jsonl';
  if (isParquetPath(path)) return 'parquet';
  const ext = extname(path).toLowerCase();
  if (ext === '.csv' || ext === '.tsv') return 'csv';
  return null;
}

function listing(entries: readonly string[]): string {
  if (entries.length === 0) return 'nothing (the folder is empty)';
  const shown = entries.slice(0, 20).join(', ');
  return entries.length > 20 ? `${shown} and ${entries.length - 20} more` : shown;
}

async function statOrNull(path: string) {
  try {
    return await stat(path);
  } catch {
    return null;
  }
}

/** The format of `path` under `format` ('auto' detects it); throws a DataError when it cannot. */
export async function detectFormat(path: string, format: DatasetFormat = 'auto'): Promise<ConcreteFormat> {
  const info = await statOrNull(path);
  if (info === null) throw new DataError('no such file or folder', { file: path });
  if (info.isDirectory()) {
    const entries = (await readdir(path)).sort();
    const expected = `expected ${Object.values(LAYOUTS).join(', or ')}`;
    if (format === 'auto') {
      const found = folderFormatOf(entries);
      if (found !== null) return found;
      // A hint for the common mistake of pointing at the folder the zip was extracted into.
      const inner: string[] = [];
      for (const e of entries) {
        const sub = join(path, e);
        if ((await statOrNull(sub))?.isDirectory()) {
          const subEntries = await readdir(sub).catch(() => [] as string[]);
          if (folderFormatOf(subEntries) !== null) inner.push(sub);
        }
      }
      const hint = inner.length > 0 ? `; did you mean ${inner.join(' or ')}?` : '; or pass a .csv, .tsv, .jsonl or .parquet file';
      throw new DataError(`unknown dataset layout: ${expected}; found ${listing(entries)}${hint}`, { file: path });
    }
    if (!isFolderFormat(format)) {
      throw new DataError(`--format ${format} expects a file, but this is a folder`, { file: path });
    }
    const main = MOVIELENS_FILES[format][0];
    if (!entries.includes(main)) {
      throw new DataError(`--format ${format} expects ${LAYOUTS[format]}, but ${main} is missing; found ${listing(entries)}`, {
        file: path,
      });
    }
    return format;
  }
  if (format === 'auto') {
    const found = fileFormatOf(path);
    if (found !== null) return found;
    throw new DataError(
      'cannot tell the format from the file name: expected a .csv, .tsv, .jsonl, .ndjson or .parquet file, or a MovieLens folder (or pass --format csv|jsonl|parquet)',
      { file: path },
    );
  }
  if (isFolderFormat(format)) {
    throw new DataError(`--format ${format} expects a folder with ${LAYOUTS[format]}, but this is a file`, { file: path });
  }
  return format;
}

/**
 * A folder written by `personae world` (ratings.csv + items.csv, no movies.csv): its ratings file is
 * generic CSV (user,item,rating,timestamp) with items.csv as the category file.
 */
async function worldFolder(path: string, format: DatasetFormat): Promise<{ ratings: string; items: string } | null> {
  if (format !== 'auto' || !(await statOrNull(path))?.isDirectory()) return null;
  const entries = await readdir(path);
  if (!entries.includes('ratings.csv') || !entries.includes('items.csv') || entries.includes('movies.csv')) return null;
  return { ratings: join(path, 'ratings.csv'), items: join(path, 'items.csv') };
}

/** Sums per-file progress into one (bytesRead, totalBytes) stream over all files of a dataset. */
class ProgressTracker {
  private readonly done = new Map<string, number>();
  private sum = 0;
  constructor(
    private readonly total: number,
    private readonly report: (bytesRead: number, totalBytes: number) => void,
  ) {}

  forFile(file: string): (bytesRead: number, totalBytes: number) => void {
    return (bytesRead) => {
      this.sum += bytesRead - (this.done.get(file) ?? 0);
      this.done.set(file, bytesRead);
      this.report(Math.min(this.sum, this.total), this.total);
    };
  }
}

async function totalSize(files: readonly string[]): Promise<number> {
  let total = 0;
  for (const f of files) total += (await statOrNull(f))?.size ?? 0;
  return total;
}

/** Reads a dataset folder or file into an InteractionLog (see the module comment for `auto`). */
export async function readDataset(path: string, opts: ReadOptions = {}): Promise<InteractionLog> {
  const world = await worldFolder(path, opts.format ?? 'auto');
  if (world) return readDataset(world.ratings, { ...opts, format: 'csv', categories: opts.categories ?? world.items, name: basename(resolve(path)) });
  const format = await detectFormat(path, opts.format ?? 'auto');
  const name = opts.name ?? basename(resolve(path));
  const builder = new LogBuilder(name);

  const files = isFolderFormat(format) ? MOVIELENS_FILES[format].map((f) => join(path, f)) : [path];
  if (opts.categories !== undefined) files.push(opts.categories);
  let progressFor: ReadContext['progressFor'];
  if (opts.onProgress) {
    const tracker = new ProgressTracker(await totalSize(files), opts.onProgress);
    progressFor = (file) => tracker.forFile(file);
  }
  const ctx: ReadContext = { skipBadRows: opts.skipBadRows ?? false, progressFor };

  switch (format) {
    case 'movielens':
      await readMovieLens(builder, path, ctx);
      break;
    case 'ml-100k':
      await readMl100k(builder, path, ctx);
      break;
    case 'ml-1m':
      await readMl1m(builder, path, ctx);
      break;
    case 'csv':
      await readCsvInteractions(builder, path, ctx, { columns: opts.columns, delimiter: opts.delimiter });
      break;
    case 'jsonl':
      await readJsonlInteractions(builder, path, ctx, opts.columns);
      break;
    case 'parquet':
      await readParquetInteractions(builder, path, ctx, opts.columns);
      break;
  }
  if (opts.categories !== undefined) {
    if (isParquetPath(opts.categories)) {
      const item = opts.columns?.item;
      await readParquetCategories(builder, opts.categories, ctx, item !== undefined ? [item, ...DEFAULT_COLUMNS.item] : DEFAULT_COLUMNS.item);
    } else await readCategoryFile(builder, opts.categories, ctx, { itemColumn: opts.columns?.item });
  }
  return builder.build();
}

export {
  forEachLine,
  forEachRow,
  splitFields,
  parseLine,
  parseTimestamp,
  parseIsoDate,
  type TextEncoding,
} from './csv-parse.js';
