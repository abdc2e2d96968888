/**
 * Social edge files (friendships and follows) for `--social FILE`: CSV, TSV or JSONL with string
 * ids. A CSV/TSV file has a header naming a `user` and a `friend` column (any order, other columns
 * ignored) and an optional `kind` column; a JSONL file has one object per line with the same keys.
 * `kind` is `friend` (undirected: the edge counts both ways, the default) or `follow` (user follows
 * friend). Blank lines are skipped; an edge given twice is kept once; a self-edge is an error. Every
 * error is a DataError naming the file, the 1-based line and the field.
 */
import { readFileSync } from 'node:fs';
import { DataError } from '../errors.js';
import { csrFromPairs, type Csr } from './csr.js';
import type { IdMap } from './ids.js';
import type { Split } from './split.js';

export type EdgeKind = 'friend' | 'follow';

export interface SocialEdges {
  /** Parallel arrays, one entry per distinct edge in file order. */
  readonly user: readonly string[];
  readonly friend: readonly string[];
  readonly kind: readonly EdgeKind[];
  /** Optional: the 1-based line of each edge in its file (the parser fills it), for errors. */
  readonly line?: readonly number[];
}

export type SocialFormat = 'csv' | 'tsv' | 'jsonl';

/** The format a path names: .jsonl/.ndjson, .tsv/.tab, else csv. */
export function socialFormatOf(path: string): SocialFormat {
  const p = path.toLowerCase();
  if (p.endsWith('.jsonl') || p.endsWith('.ndjson')) return 'jsonl';
  if (p.endsWith('.tsv') || p.endsWith('.tab')) return 'tsv';
  return 'csv';
}

/** One delimited line split into fields; double-quoted fields may hold the delimiter and "" for ". */
function splitLine(line: string, delim: string, file: string, lineNo: number): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= line.length) throw new DataError('unterminated quoted field', { file, line: lineNo });
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            v += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += line[i++];
      }
      out.push(v);
      if (i < line.length && line[i] !== delim) throw new DataError(`unexpected text after a quoted field`, { file, line: lineNo });
    } else {
      const end = line.indexOf(delim, i);
      out.push((end < 0 ? line.slice(i) : line.slice(i, end)).trim());
      i = end < 0 ? line.length : end;
    }
    if (i >= line.length) return out;
    i++; // the delimiter
  }
}

function kindOf(raw: unknown, file: string, line: number): EdgeKind {
  if (raw === undefined || raw === '') return 'friend';
  if (raw === 'friend' || raw === 'follow') return raw;
  throw new DataError(`kind must be "friend" or "follow", got ${JSON.stringify(raw)}`, { file, line, field: 'kind' });
}

function idOf(raw: unknown, field: string, file: string, line: number): string {
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  if (typeof raw !== 'string') throw new DataError(raw === undefined ? `missing ${field}` : `${field} must be a string id, got ${JSON.stringify(raw)}`, { file, line, field });
  const id = raw.trim();
  if (id === '') throw new DataError(`empty ${field} id`, { file, line, field });
  return id;
}

/** Parses the text of a social edge file (see the module comment). */
export function parseSocialEdges(text: string, file: string, format: SocialFormat): SocialEdges {
  const lines = text.split(/\r?\n/);
  const user: string[] = [];
  const friend: string[] = [];
  const kind: EdgeKind[] = [];
  const lineOf: number[] = [];
  const seen = new Set<string>();
  const add = (u: string, f: string, k: EdgeKind, line: number): void => {
    if (u === f) throw new DataError(`a user cannot be their own friend ("${u}")`, { file, line, field: 'friend' });
    const key = k === 'friend' ? `f\u0000${u < f ? u : f}\u0000${u < f ? f : u}` : `o\u0000${u}\u0000${f}`;
    if (seen.has(key)) return;
    seen.add(key);
    user.push(u);
    friend.push(f);
    kind.push(k);
    lineOf.push(line);
  };
  if (format === 'jsonl') {
    lines.forEach((raw, i) => {
      const line = i + 1;
      if (raw.trim() === '') return;
      let obj: unknown;
      try {
        obj = JSON.parse(raw);
      } catch (e) {
        throw new DataError(`not valid JSON (${(e as Error).message})`, { file, line });
      }
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new DataError('expected a JSON object {"user": ..., "friend": ...}', { file, line });
      const o = obj as Record<string, unknown>;
      add(idOf(o.user, 'user', file, line), idOf(o.friend, 'friend', file, line), kindOf(o.kind, file, line), line);
    });
    return { user, friend, kind, line: lineOf };
  }
  const delim = format === 'tsv' ? '\t' : ',';
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) throw new DataError('empty file: expected a header with user and friend columns', { file });
  const header = splitLine(lines[first]!, delim, file, first + 1).map((h) => h.toLowerCase());
  const col = (name: string): number => header.indexOf(name);
  const cu = col('user');
  const cf = col('friend');
  const ck = col('kind');
  for (const [name, c] of [['user', cu], ['friend', cf]] as const) {
    if (c < 0) throw new DataError(`the header has no "${name}" column (found: ${header.join(', ')})`, { file, line: first + 1, field: name });
  }
  for (let i = first + 1; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    const line = i + 1;
    const f = splitLine(raw, delim, file, line);
    add(idOf(f[cu], 'user', file, line), idOf(f[cf], 'friend', file, line), kindOf(ck >= 0 ? f[ck] : undefined, file, line), line);
  }
  return { user, friend, kind, line: lineOf };
}

/** Reads a social edge file; the format comes from the extension unless given. */
export function readSocialFile(path: string, format: SocialFormat = socialFormatOf(path)): SocialEdges {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(`cannot read the social edge file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: path });
  }
  return parseSocialEdges(text, path, format);
}

/**
 * The social graph of `edges` in a log's user index space: row u lists the users whose
 * consumption reaches u (a `friend` edge both ways, `follow` from the followed friend to the
 * follower), ascending, once each. An id the log does not know is a DataError naming the file, the
 * edge's line and the field.
 */
export function socialGraph(edges: SocialEdges, users: IdMap, file: string): Csr {
  const rows: number[] = [];
  const cols: number[] = [];
  const idx = (id: string, k: number, field: string): number => {
    const u = users.lookup(id);
    if (u < 0) {
      throw new DataError(`${field} "${id}" is not a user of the data`, { file, ...(edges.line ? { line: edges.line[k]! } : {}), field });
    }
    return u;
  };
  for (let k = 0; k < edges.user.length; k++) {
    const u = idx(edges.user[k]!, k, 'user');
    const f = idx(edges.friend[k]!, k, 'friend');
    rows.push(u);
    cols.push(f);
    if (edges.kind[k] === 'friend') {
      rows.push(f);
      cols.push(u);
    }
  }
  return csrFromPairs(users.size, users.size, Int32Array.from(rows), Int32Array.from(cols));
}

/** A split whose training set carries the social graph (see TrainSet.social). */
export function withSocial(split: Split, social: Csr): Split {
  return { ...split, train: { ...split.train, social } };
}

/** Reads `file` and attaches its graph to `split` (ids in `split.log`'s user space). */
export function attachSocialFile(split: Split, file: string): Split {
  return withSocial(split, socialGraph(readSocialFile(file), split.log.users, file));
}
