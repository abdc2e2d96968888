/**
 * Rows of recommendation lists and the streamed writers of `personae batch`: one row per (user,
 * rank), the same columns in JSONL, CSV and Parquet. Files are written to `<out>.tmp-<pid>` and
 * renamed at the end, so a failed run never leaves a half file under the asked name.
 */
import { once } from 'node:events';
import { createWriteStream, renameSync, rmSync, type WriteStream } from 'node:fs';
import { extname } from 'node:path';
import type { FittedModel } from '../api/recommender.js';
import { explanationSentence } from '../explain/explain.js';
import { ConfigError } from '../errors.js';
import { ParquetRowWriter, type ParquetCell, type ParquetColumn } from '../data/readers/parquet.js';
import type { UserList } from './lists.js';

export interface ListRow {
  user: string;
  /** 1-based. */
  rank: number;
  item: string;
  /** The model's score (before reranking or hedging). */
  score: number;
  /** The list was hedged (a low-confidence user of a persona model). */
  hedged: boolean;
  /** With --explain: the taste (1-based persona number) that carries the item, or null when withheld. */
  taste?: number | null;
  label?: string | null;
  explanation?: string | null;
  withheld?: string | null;
}

export function listRows(f: FittedModel, user: string, list: UserList, explain: boolean): ListRow[] {
  return Array.from(list.items, (i, r) => {
    const row: ListRow = { user, rank: r + 1, item: f.items.id(i), score: list.scores[r]!, hedged: list.hedgeReasons !== null };
    if (!explain) return row;
    const e = list.explanations?.[r];
    const x = e?.explanation ?? null;
    return {
      ...row,
      taste: x ? x.persona + 1 : null,
      label: x ? x.label : null,
      explanation: x ? explanationSentence(x) : null,
      withheld: x ? null : (e?.withheld ?? 'no personas for this user'),
    };
  });
}

export type BatchFormat = 'jsonl' | 'csv' | 'parquet';

export function batchFormatOf(path: string): BatchFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.csv') return 'csv';
  if (ext === '.parquet') return 'parquet';
  throw new ConfigError(`cannot tell the output format from "${path}": end it in .jsonl, .csv or .parquet`, '--out');
}

const BASE_COLUMNS: ParquetColumn[] = [
  { name: 'user', type: 'STRING' },
  { name: 'rank', type: 'INT32' },
  { name: 'item', type: 'STRING' },
  { name: 'score', type: 'DOUBLE' },
  { name: 'hedged', type: 'BOOLEAN' },
];
const EXPLAIN_COLUMNS: ParquetColumn[] = [
  { name: 'taste', type: 'INT32', nullable: true },
  { name: 'label', type: 'STRING', nullable: true },
  { name: 'explanation', type: 'STRING', nullable: true },
  { name: 'withheld', type: 'STRING', nullable: true },
];

export interface RowSink {
  add(rows: readonly ListRow[]): Promise<void>;
  /** Finishes and moves the file to its name. */
  close(): Promise<void>;
  /** Removes the partial file. */
  abort(): void;
}

function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

class TextSink implements RowSink {
  private readonly stream: WriteStream;
  private buffered = '';
  private readonly columns: string[];

  constructor(
    private readonly path: string,
    private readonly tmp: string,
    private readonly format: 'jsonl' | 'csv',
    explain: boolean,
  ) {
    this.stream = createWriteStream(tmp);
    this.columns = [...BASE_COLUMNS, ...(explain ? EXPLAIN_COLUMNS : [])].map((c) => c.name);
    if (format === 'csv') this.buffered = `${this.columns.join(',')}\n`;
  }

  async add(rows: readonly ListRow[]): Promise<void> {
    for (const row of rows) {
      if (this.format === 'jsonl') this.buffered += `${JSON.stringify(row)}\n`;
      else this.buffered += `${this.columns.map((c) => csvField((row as unknown as Record<string, unknown>)[c])).join(',')}\n`;
    }
    if (this.buffered.length >= 1 << 16) await this.flush();
  }

  private async flush(): Promise<void> {
    const text = this.buffered;
    this.buffered = '';
    if (!this.stream.write(text)) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    await this.flush();
    this.stream.end();
    await once(this.stream, 'finish');
    renameSync(this.tmp, this.path);
  }

  abort(): void {
    this.stream.destroy();
    rmSync(this.tmp, { force: true });
  }
}

class ParquetSink implements RowSink {
  private readonly writer: ParquetRowWriter;
  private readonly columns: ParquetColumn[];

  constructor(
    private readonly path: string,
    private readonly tmp: string,
    explain: boolean,
  ) {
    this.columns = [...BASE_COLUMNS, ...(explain ? EXPLAIN_COLUMNS : [])];
    this.writer = new ParquetRowWriter(tmp, this.columns);
  }

  async add(rows: readonly ListRow[]): Promise<void> {
    for (const row of rows) this.writer.add(this.columns.map((c) => ((row as unknown as Record<string, ParquetCell | undefined>)[c.name] ?? null)));
  }

  async close(): Promise<void> {
    this.writer.finish();
    renameSync(this.tmp, this.path);
  }

  abort(): void {
    this.writer.abort();
    rmSync(this.tmp, { force: true });
  }
}

export function openRowSink(path: string, explain: boolean): RowSink {
  const format = batchFormatOf(path);
  const tmp = `${path}.tmp-${process.pid}`;
  return format === 'parquet' ? new ParquetSink(path, tmp, explain) : new TextSink(path, tmp, format, explain);
}
