/**
 * An approximate nearest-neighbour index over item vectors, for retrieval in large catalogues
 * (docs/scale.md): an in-process HNSW graph (Malkov and Yashunin 2018) from the `usearch` package
 * that finds the items with the largest inner product with a query.
 *
 * HNSW's graph is only as good as its distance is a metric, and the inner product of vectors of
 * different lengths is not one: on the persona model's item vectors usearch's own `ip` metric found
 * under half of the true top 100 (docs/scale.md). So by default (`metric: 'l2-transform'`) the index
 * stores each item as x' = [x, sqrt(M^2 - |x|^2)] (M the largest item norm) and a query as
 * q' = [q, 0], for which |q' - x'|^2 = |q|^2 + M^2 - 2 q.x: the nearest items in Euclidean distance
 * are exactly those with the largest inner product (Bachrach et al. 2014, "Speeding up the Xbox
 * recommender system using a Euclidean transformation for inner-product spaces"). `metric: 'ip'`
 * keeps usearch's inner-product metric on the raw vectors. The package ships a prebuilt linux-x64 addon inside its registry tarball,
 * so nothing is downloaded or compiled at install; it is loaded only when an index is built.
 *
 * Determinism: the graph is built on one thread, items in ascending order, so the same vectors give
 * the same graph and the same answers whatever the caller's thread count (`search` answers each query
 * on the calling thread too).
 */
import { createRequire } from 'node:module';
import { ConfigError } from '../errors.js';

/** The parts of usearch's Index this module uses. */
interface UsearchIndex {
  add(keys: BigUint64Array, vectors: Float32Array, threads?: number): void;
  search(vector: Float32Array, k: number, threads: number): { keys: BigUint64Array; distances: Float32Array };
  size(): number;
  save(path: string): void;
  load(path: string): void;
  view(path: string): void;
}
interface UsearchModule {
  Index: new (config: {
    dimensions: number;
    metric: string;
    quantization: string;
    connectivity: number;
    expansion_add: number;
    expansion_search: number;
    multi: boolean;
  }) => UsearchIndex;
}

let usearchModule: UsearchModule | null = null;
function usearch(): UsearchModule {
  if (usearchModule) return usearchModule;
  try {
    usearchModule = createRequire(import.meta.url)('usearch') as UsearchModule;
  } catch (e) {
    throw new ConfigError(
      `ANN retrieval needs the usearch package (a dependency of personae with prebuilt binaries for linux-x64, linux-arm64, macOS and Windows): ${(e as Error).message}`,
      'ann',
    );
  }
  return usearchModule;
}

export interface AnnIndexOptions {
  /** HNSW links per node (M); more: higher recall, larger index, slower build. */
  readonly connectivity?: number;
  /** Candidate list size while inserting (efConstruction). */
  readonly expansionAdd?: number;
  /** Candidate list size while searching (ef); a search for more items than this uses the item count. */
  readonly expansionSearch?: number;
  /** How inner products are searched (module comment). */
  readonly metric?: 'l2-transform' | 'ip';
}

export const ANN_INDEX_DEFAULTS: Required<AnnIndexOptions> = { connectivity: 16, expansionAdd: 128, expansionSearch: 256, metric: 'l2-transform' };

/** An HNSW index over `items` (item indices) with one `dim`-wide vector each, inner product. */
export class AnnIndex {
  readonly dim: number;
  readonly size: number;
  readonly options: Required<AnnIndexOptions>;
  private readonly index: UsearchIndex;
  private readonly transform: boolean;
  /** The query buffer (the transform's extra coordinate stays 0). */
  private readonly query: Float32Array;

  /**
   * `vectors` is items.length x dim, row r the vector of items[r]; or `{ file }`: the index `save`d
   * to that file by an index built over the same items, dim and options (e.g. on another thread).
   */
  constructor(items: Int32Array, vectors: Float32Array | { readonly file: string }, dim: number, options: AnnIndexOptions = {}) {
    if (!Number.isInteger(dim) || dim < 1) throw new ConfigError(`ann: dim must be a positive integer, got ${dim}`, 'ann.dim');
    if (vectors instanceof Float32Array && vectors.length !== items.length * dim) throw new ConfigError(`ann: ${vectors.length} vector values for ${items.length} items x ${dim}`, 'ann.vectors');
    this.options = { ...ANN_INDEX_DEFAULTS, ...options };
    if (this.options.metric !== 'l2-transform' && this.options.metric !== 'ip') throw new ConfigError(`ann: metric must be l2-transform or ip, got ${String(this.options.metric)}`, 'ann.metric');
    for (const [k, v] of Object.entries(this.options)) {
      if (k !== 'metric' && (!Number.isInteger(v) || (v as number) < 1)) throw new ConfigError(`ann: ${k} must be a positive integer, got ${v}`, `ann.${k}`);
    }
    this.dim = dim;
    this.size = items.length;
    this.transform = this.options.metric === 'l2-transform';
    const { Index } = usearch();
    this.index = new Index({
      dimensions: this.transform ? dim + 1 : dim,
      metric: this.transform ? 'l2sq' : 'ip',
      quantization: 'f32',
      connectivity: this.options.connectivity,
      expansion_add: this.options.expansionAdd,
      expansion_search: this.options.expansionSearch,
      multi: false,
    });
    if (!(vectors instanceof Float32Array)) {
      this.index.load(vectors.file);
      if (this.index.size() !== items.length) throw new ConfigError(`ann: ${vectors.file} holds ${this.index.size()} items, expected ${items.length}`, 'ann.file');
    } else if (items.length > 0) {
      const stored = this.transform ? euclideanTransform(vectors, items.length, dim) : vectors;
      this.index.add(BigUint64Array.from(items, (i) => BigInt(i)), stored, 1);
    }
    this.query = new Float32Array(this.transform ? dim + 1 : dim);
  }

  /** Writes the index to `file` (usearch's format; `new AnnIndex(items, { file }, dim, options)` reads it). */
  save(file: string): void {
    this.index.save(file);
  }

  /** The (about) `count` items with the largest inner product with `query`, best first. */
  search(query: Float32Array, count: number): Int32Array {
    if (query.length !== this.dim) throw new ConfigError(`ann: query has ${query.length} values, the index ${this.dim}`, 'ann.query');
    const k = Math.min(count, this.size);
    if (k <= 0) return new Int32Array(0);
    this.query.set(query);
    const r = this.index.search(this.query, k, 1);
    return Int32Array.from(r.keys, (key) => Number(key));
  }
}

/** [x, sqrt(M^2 - |x|^2)] per row (M = the largest row norm): inner product to Euclidean distance. */
export function euclideanTransform(vectors: Float32Array, rows: number, dim: number): Float32Array {
  const norms = new Float64Array(rows);
  let max = 0;
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let x = 0; x < dim; x++) s += vectors[r * dim + x]! * vectors[r * dim + x]!;
    norms[r] = s;
    if (s > max) max = s;
  }
  const out = new Float32Array(rows * (dim + 1));
  for (let r = 0; r < rows; r++) {
    out.set(vectors.subarray(r * dim, (r + 1) * dim), r * (dim + 1));
    out[r * (dim + 1) + dim] = Math.sqrt(Math.max(0, max - norms[r]!));
  }
  return out;
}
