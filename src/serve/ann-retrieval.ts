/**
 * Per-persona ANN retrieval in the service (docs/service.md, "ANN retrieval"): for a persona model
 * whose catalogue has at least `--ann-min-items` candidates, a user's score row is not computed over
 * every item. Each persona of the served set retrieves its own top candidates from one HNSW index
 * over the item target vectors (src/models/persona-ann.ts `PersonaRetriever`, built once per
 * loaded model version in `Engine.warm`, before the engine serves; a new version gets a new engine
 * and so a new index), the candidates are merged, and the merged pool is scored exactly with the
 * persona weights, as `scorePersonas` (or, with a muted, boosted or recent persona, the mixture of
 * per-persona rankings, persona-mixture.ts) scores them. The index is built on a worker thread
 * (ann-worker.ts), so the event loop keeps serving while it builds; until it is ready the engine
 * scores exactly, as below the size. The row is -Infinity outside what was scored, so the list pipeline downstream is the same code with or without retrieval.
 *
 * Besides the pool, the row holds exact scores (same normalisers) of:
 * - the peers of the items posted after training (new-items.ts scores a new item as the mean of its
 *   peers' scores, so they must be finite for it to be reachable);
 * - with a category filter, every candidate of the category (`withItems`), so that a narrow
 *   category is ranked exactly rather than from whatever of it the pool happened to hold.
 * Each persona retrieves as many more items as the user has seen and the catalogue has lost to
 * deletions since training, so that exclusions and deleted items do not thin the list.
 *
 * Below the size, or for any other model (or a persona model with a slate other than the mixture),
 * nothing here runs and the answers are the exact ones.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { AnnIndex } from '../models/ann.js';
import type { Recommender } from '../models/model.js';
import type { PersonaSet } from '../models/persona-assignment.js';
import { DEFAULT_ANN_MIN_ITEMS, PersonaRetriever, retrievalVectors, useAnn, type PersonaRetrievalOptions, type PoolScores } from '../models/persona-ann.js';
import { PersonaModel } from '../models/personas.js';
import type { AnnBuildInput, AnnBuildMessage } from './ann-worker.js';
import { lowerBound, type SeenTest } from './explanations.js';
import type { PersonaSetting } from './user-state.js';

export { DEFAULT_ANN_MIN_ITEMS };

export interface ServeAnnOptions {
  /** Catalogue size (candidate items) from which cold reads retrieve (0: never; 1: always). */
  readonly minItems?: number;
  /** Retrieval options (per-persona count, normaliser sample, HNSW parameters). */
  readonly retrieval?: PersonaRetrievalOptions;
}

/** The options of the service owning a live mirror (set once by startService; engines read them). */
const byService = new WeakMap<object, ServeAnnOptions>();

/** Sets the ANN options of every engine made over `live` (startService's `--ann-min-items`). */
export function setServeAnn(live: object, options: ServeAnnOptions): void {
  byService.set(live, options);
}

/** The ANN options of the service owning `live` (the defaults when none were set). */
export function serveAnnOf(live: object): ServeAnnOptions {
  return byService.get(live) ?? {};
}

/** What a retrieved row was made with: its scorer (any item, same normalisers) and the new items' generation. */
interface RowInfo {
  readonly pool: PoolScores;
  readonly generation: number;
  /** Rows with a category's candidates scored too (`withItems`), by category. */
  readonly covering: Map<string, Float32Array>;
}
const rows = new WeakMap<Float32Array, RowInfo>();

/** Whether a score row came from retrieval (finite only over what was scored). */
export function isAnnRow(row: Float32Array | null | undefined): boolean {
  return row !== null && row !== undefined && rows.has(row);
}

/** What a user state gives the retrieval. */
export interface RetrievalSubject {
  readonly personas: PersonaSet;
  readonly history: Int32Array;
  readonly exclude: Int32Array;
  readonly overrides: ReadonlyMap<number, PersonaSetting>;
  /** Scored as the mixture of per-persona rankings (persona-mixture.ts `usesMixture`). */
  readonly mixture: boolean;
}

/** Categories whose exactly-scored rows are kept per retrieved row (each a row of nItems floats beside the states' own). */
const MAX_COVERED = 1;

export class ServeRetrieval {
  /** Whether this engine's reads retrieve (a persona model at or above the size). */
  readonly active: boolean;
  private readonly model: PersonaModel | null;
  private retriever_: PersonaRetriever | null = null;

  constructor(
    model: Recommender,
    private readonly options: ServeAnnOptions = {},
  ) {
    const pm = model instanceof PersonaModel && model.params.slate === 'mixture' ? model : null;
    this.model = pm;
    this.active = pm !== null && useAnn(pm.candidateItems().length, options.minItems ?? DEFAULT_ANN_MIN_ITEMS);
  }

  private building: Promise<void> | null = null;
  /** Why the index could not be built (the engine then scores exactly), or null. */
  error: string | null = null;

  /**
   * Starts building the index on a worker thread (once; `Engine.warm` calls it before the engine
   * serves). Resolves when it is ready, or failed (`error`; reads stay exact); never rejects.
   */
  start(): Promise<void> {
    if (!this.active) return Promise.resolve();
    this.building ??= buildOffThread(this.model!, this.options.retrieval ?? {}).then(
      (index) => {
        this.retriever_ ??= new PersonaRetriever(this.model!, this.options.retrieval, index);
      },
      (err: unknown) => {
        this.error = err instanceof Error ? err.message : String(err);
      },
    );
    return this.building;
  }

  /** What /readyz reports: 'off' (exact reads), 'building' (exact until ready), 'ready', or 'failed' (exact; see `error`). */
  get state(): 'off' | 'building' | 'ready' | 'failed' {
    if (!this.active) return 'off';
    if (this.retriever_) return 'ready';
    return this.error !== null ? 'failed' : 'building';
  }

  /** Resolves when the index started by `start` is ready or failed (at once when none was started). */
  get ready(): Promise<void> {
    return this.building ?? Promise.resolve();
  }

  /** Builds the index on this thread, now, if it is not ready (callers that cannot wait: benches, tools). */
  buildNow(): void {
    if (this.active && !this.retriever_) this.retriever_ = new PersonaRetriever(this.model!, this.options.retrieval);
  }

  /** The index's retriever once built, else null (reads are then exact). */
  get retriever(): PersonaRetriever | null {
    return this.retriever_;
  }

  /** Whether a row of this retrieval was made before the new items (their peers) changed. */
  stale(row: Float32Array, generation: number): boolean {
    const info = rows.get(row);
    return info !== undefined && info.generation !== generation;
  }

  /**
   * Writes a user's retrieved row into `out` (nItems; -Infinity outside the pool and `also`):
   * false when retrieval does not apply (not active, the index not ready yet, or every persona
   * muted: the caller's exact path writes the exact scores, or the cold-start ones, then). `liveCandidates`: the candidates still in the
   * catalogue (each persona retrieves as many more as were deleted since training, and as many as
   * the user has seen); `also`: items to score beside the pool (new items' peers); `generation`:
   * the new items' generation they come from.
   */
  scoreInto(s: RetrievalSubject, out: Float32Array, liveCandidates: number, also: Iterable<number>, generation: number): boolean {
    const retriever = this.retriever_;
    if (!this.active || !retriever) return false;
    const { vectors, k } = s.personas;
    let pool: PoolScores;
    const extra = Math.max(0, this.model!.candidateItems().length - liveCandidates) + s.exclude.length;
    if (s.mixture) {
      const cs = new Float64Array(k);
      let any = false;
      for (let q = 0; q < k; q++) {
        const o = s.overrides.get(q);
        cs[q] = o?.muted ? 0 : (o?.boost ?? 1) / k;
        if (cs[q]! > 0) any = true;
      }
      if (!any) return false;
      pool = retriever.scoreRankings(vectors, cs, extra);
    } else {
      pool = retriever.scoreSet(vectors, s.history, extra);
    }
    out.fill(-Infinity);
    for (let r = 0; r < pool.items.length; r++) out[pool.items[r]!] = pool.scores[r]!;
    const candidate = this.candidateMask();
    for (const j of also) if (j >= 0 && j < out.length && candidate[j] === 1 && out[j] === -Infinity) out[j] = pool.score(j);
    rows.set(out, { pool, generation, covering: new Map() });
    return true;
  }

  /**
   * A retrieved row with `items` (a category's candidates) scored too, kept per row and category
   * (the same object for the same request, so list caches keyed by the row hit); any other row as is.
   */
  withItems(row: Float32Array, key: string, items: Int32Array): Float32Array {
    const info = rows.get(row);
    if (!info) return row;
    const kept = info.covering.get(key);
    if (kept) return kept;
    const out = row.slice();
    const candidate = this.candidateMask();
    for (const j of items) if (j < out.length && candidate[j] === 1 && out[j] === -Infinity) out[j] = info.pool.score(j);
    if (info.covering.size >= MAX_COVERED) info.covering.delete(info.covering.keys().next().value!);
    info.covering.set(key, out);
    rows.set(out, { ...info, covering: new Map() });
    return out;
  }

  /**
   * A retrieved row with `items` scored where it has none (a hedged list's picks from each
   * persona's own ranking, src/rank/hedge.ts, may lie outside the pool): the row itself when it
   * has them all or is not retrieved, else a copy (not kept).
   */
  covering(row: Float32Array, items: Int32Array): Float32Array {
    const info = rows.get(row);
    if (!info) return row;
    let out: Float32Array | null = null;
    const candidate = this.candidateMask();
    for (const j of items) {
      if (j < 0 || j >= row.length || candidate[j] !== 1 || row[j] !== -Infinity) continue;
      out ??= row.slice();
      out[j] = info.pool.score(j);
    }
    if (!out) return row;
    rows.set(out, { ...info, covering: new Map() });
    return out;
  }

  /**
   * `match` of a retrieved row (explanations.ts `matcher`): the percent of the user's unseen
   * candidates an item outscores, counted over the scored items and estimated for the others from
   * the normaliser sample's items among them (exact when the pool or the sample covers the
   * catalogue); null for any other row (the caller's exact matcher then).
   */
  matcher(row: Float32Array, candidates: Int32Array, seen: SeenTest): ((s: number) => number) | null {
    const info = rows.get(row);
    if (!info) return null;
    const scored: number[] = [];
    let unseen = 0;
    for (const i of candidates) {
      if (seen(i)) continue;
      unseen++;
      if (Number.isFinite(row[i]!)) scored.push(row[i]!);
    }
    const inCatalogue = new Uint8Array(row.length);
    for (const i of candidates) inCatalogue[i] = 1;
    const out = info.pool.outside();
    const sample: number[] = [];
    for (let r = 0; r < out.items.length; r++) {
      const j = out.items[r]!;
      if (inCatalogue[j] === 1 && !seen(j) && !Number.isFinite(row[j]!)) sample.push(out.scores[r]!);
    }
    const a = Float64Array.from(scored).sort();
    const b = Float64Array.from(sample).sort();
    const rest = unseen - a.length;
    return (s) => {
      if (!Number.isFinite(s) || unseen === 0) return 0;
      const below = lowerBound(a, s) + (b.length > 0 ? (lowerBound(b, s) / b.length) * rest : 0);
      return Math.round((1000 * below) / unseen) / 10;
    };
  }

  private mask: Uint8Array | null = null;
  /** 1 for the model's candidates (the only items it scores). */
  private candidateMask(): Uint8Array {
    if (!this.mask) {
      const cand = this.model!.candidateItems();
      let n = 0;
      for (const j of cand) n = Math.max(n, j + 1);
      this.mask = new Uint8Array(n);
      for (const j of cand) this.mask[j] = 1;
    }
    return this.mask;
  }
}


/** A worker thread running ann-worker.ts (through tsx when running from the TypeScript sources). */
function startWorker(): Worker {
  const data = { personaeAnnBuild: true };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./ann-worker.js', import.meta.url), { workerData: data });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./ann-worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: data });
}

/**
 * The model's retrieval index, built on a worker thread and read back from a temporary file (the
 * same graph as a build here: one thread, items in ascending order). The worker does not keep the
 * process alive; the file is removed once read.
 */
function buildOffThread(model: PersonaModel, options: PersonaRetrievalOptions): Promise<AnnIndex> {
  const { items, vectors, dim } = retrievalVectors(model);
  const file = join(tmpdir(), `personae-ann-${process.pid}-${randomBytes(6).toString('hex')}.usearch`);
  return new Promise<AnnIndex>((resolve, reject) => {
    const worker = startWorker();
    worker.unref();
    let settled = false;
    const finish = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      try {
        if (err) throw err;
        resolve(new AnnIndex(items, { file }, dim, options));
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      } finally {
        rmSync(file, { force: true });
      }
    };
    worker.on('message', (m: AnnBuildMessage) => finish(m.type === 'done' ? null : new Error(m.message)));
    worker.on('error', (e) => finish(e));
    worker.on('exit', (code) => finish(new Error(`the index build stopped (exit ${code})`)));
    worker.postMessage({ items, vectors, dim, options, file } satisfies AnnBuildInput, [vectors.buffer as ArrayBuffer]);
  });
}
