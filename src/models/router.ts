/**
 * `router`: a cluster router. Users are clustered (k-means, k-means++ seeding, on the unit-length
 * fold-in vectors of a base model, `ials` by default, or the mean persona of `personas`); per
 * cluster, every candidate specialist (any registered model, fitted on the cluster's users or on
 * everyone) is scored on the cluster's validation split, and the cluster is routed to its best
 * specialist, or, with `tolerance` > 0, to the cheapest candidate whose validation ndcg is within
 * that relative tolerance of the best (a cost/accuracy choice in the spirit of per-cluster model
 * routing, e.g. Avengers-Pro). The chosen specialists are then refitted on the full training set
 * (a cluster's specialist on that cluster's users).
 *
 * - Validation: each training user with at least `minValidationPositives` positives gives a seeded
 *   random `validationShare` of them to validation; candidates are fitted on the rest and scored by
 *   ndcg@`at` (binary relevance, seen items excluded) on up to `validationUsers` users per cluster.
 *   The base model (clustering only) is fitted on the full training set.
 * - Cost: `cost: 'order'` (default) ranks candidates by their place in `candidates` (list them
 *   cheapest first), each model's global specialist before its per-cluster ones: deterministic.
 *   `cost: 'measured'` ranks by the measured fit seconds plus scoring time of the cluster's users on
 *   this machine: not reproducible under load, so not the default. Both are reported in `details()`.
 * - Scoring: a user goes to their cluster's specialist; a user unknown to the model (index -1) or
 *   without training rows goes to the cluster of the base model's fold-in of their history. Rows
 *   are scored in sub-batches per specialist, so a batch scores as its users do one by one.
 * - Artifact: the router's own arrays (`centroids`, `userCluster`), its routing table (config
 *   `table`, JSON), and the base model's and each specialist's artifact nested under the prefixes
 *   `base/` and `s<j>/` (their arrays as `base/<array>`, their config as `base/<key>`, their kind
 *   and version as `base/.kind`, `base/.version`).
 */
import { z } from 'zod';
import { rowOf } from '../data/csr.js';
import { trainSetFromPairs } from '../data/train-set.js';
import { ConfigError } from '../errors.js';
import type { Rng } from '../math/rng.js';
import { kmeans, nearestCentroid } from '../math/kmeans.js';
import { hasPersonas, isFoldIn, type FitContext, type ModelArtifact, type ModelParams, type ModelSpec, type ParamValue, type Recommender, type TrainSet, type UserBatch } from './model.js';

/** What the router needs from the registry (bound by registry.ts, which lists the router itself). */
interface RegistryApi {
  createModel(name: string, params?: Record<string, unknown>): Recommender;
  modelFromArtifact(artifact: ModelArtifact): Recommender;
  modelNames(): string[];
}
let registry: RegistryApi | null = null;
/** Called once by registry.ts after the catalogue is built (breaks the import cycle). */
export function bindRouterRegistry(api: RegistryApi): void {
  registry = api;
}
function reg(): RegistryApi {
  if (!registry) throw new Error('router: the model registry is not loaded (import models/registry.js)');
  return registry;
}

export const RouterConfig = z
  .object({
    /** Model whose fold-in vectors cluster the users (must fold histories in). */
    base: z.string().default('ials'),
    /** Number of user clusters. */
    clusters: z.number().int().min(1).max(256).default(4),
    /** Candidate specialists, comma-separated registered model names, cheapest first. */
    candidates: z.string().default('pop,itemknn,ials'),
    /** Where candidates are fitted: on each cluster's users, on everyone, or both. */
    scope: z.enum(['both', 'cluster', 'global']).default('both'),
    /** Relative ndcg tolerance: route to the cheapest candidate within (1 - tolerance) x the best. */
    tolerance: z.number().min(0).max(1).default(0),
    /** How candidates' costs are ranked (see the file comment). */
    cost: z.enum(['order', 'measured']).default('order'),
    validationShare: z.number().gt(0).lt(1).default(0.2),
    minValidationPositives: z.number().int().min(2).default(5),
    /** Validation users scored per cluster (a seeded sample). */
    validationUsers: z.number().int().min(1).default(300),
    /** Cut-off of the validation ndcg. */
    at: z.number().int().min(1).default(20),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!registry) return;
    const known = registry.modelNames();
    for (const name of [c.base, ...candidateNames(c.candidates)]) {
      if (name === 'router') ctx.addIssue({ code: 'custom', path: [name === c.base ? 'base' : 'candidates'], message: 'a router cannot route to a router' });
      else if (!known.includes(name)) ctx.addIssue({ code: 'custom', path: [name === c.base ? 'base' : 'candidates'], message: `unknown model "${name}"; known: ${known.join(', ')}` });
    }
  });
export type RouterConfig = z.infer<typeof RouterConfig>;

function candidateNames(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
}

/** A candidate: a model name and where it is fitted. */
export interface Candidate {
  model: string;
  scope: 'global' | 'cluster';
}

/** One candidate's validation result in one cluster. */
export interface CandidateScore {
  candidate: string;
  ndcg: number;
  /** Measured CPU seconds of the validation fit; global candidates' fit is shared by every cluster. */
  fitSeconds?: number;
  /** Measured CPU milliseconds of scoring, per validation user of the cluster. */
  scoreMsPerUser?: number;
}

export interface RouteEntry {
  cluster: number;
  /** Training users in the cluster. */
  users: number;
  /** Validation users scored. */
  validationUsers: number;
  /** The specialist the cluster is routed to (`model@global` or `model@cluster`). */
  chosen: string;
  /** The candidate with the best validation ndcg. */
  best: string;
  scores: CandidateScore[];
}

/** CPU seconds of this process (user + system, all threads): less sensitive to other jobs than wall time. */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export const candidateLabel = (c: Candidate): string => `${c.model}@${c.scope}`;

/** The candidates of a config in cost order (each model's global specialist before its per-cluster ones). */
export function routerCandidates(cfg: Pick<RouterConfig, 'candidates' | 'scope'>): Candidate[] {
  const out: Candidate[] = [];
  for (const model of candidateNames(cfg.candidates)) {
    if (cfg.scope !== 'cluster') out.push({ model, scope: 'global' });
    if (cfg.scope !== 'global') out.push({ model, scope: 'cluster' });
  }
  return out;
}

/**
 * The routing rule: the best validation ndcg, or with tolerance > 0 the cheapest candidate (lowest
 * `cost`) whose ndcg is at least (1 - tolerance) x the best; ties go to the lower cost, then the
 * earlier candidate.
 */
export function chooseCandidate(ndcg: readonly number[], cost: readonly number[], tolerance: number): number {
  let best = 0;
  for (let j = 1; j < ndcg.length; j++) if (ndcg[j]! > ndcg[best]!) best = j;
  const floor = ndcg[best]! * (1 - tolerance);
  let chosen = -1;
  for (let j = 0; j < ndcg.length; j++) {
    if (!(ndcg[j]! >= floor)) continue;
    if (chosen < 0 || cost[j]! < cost[chosen]!) chosen = j;
  }
  return chosen < 0 ? best : chosen;
}

/** A TrainSet over the same index spaces holding only the rows of `keep` users, minus `drop`. */
export function restrictTrain(train: TrainSet, keep: (u: number) => boolean, drop?: (u: number, i: number) => boolean): TrainSet {
  const ui = train.userItems;
  const us: number[] = [];
  const is: number[] = [];
  for (let u = 0; u < train.nUsers; u++) {
    if (!keep(u)) continue;
    for (let e = ui.indptr[u]!; e < ui.indptr[u + 1]!; e++) {
      const i = ui.indices[e]!;
      if (drop && drop(u, i)) continue;
      us.push(u);
      is.push(i);
    }
  }
  return trainSetFromPairs(train.nUsers, train.nItems, Int32Array.from(us), Int32Array.from(is), train.itemRanks, train.categories);
}

/** ndcg@at (binary relevance) of one score row: top `at` of `candidates` not in `seen`, ties by item rank. */
export function ndcgOfScores(scores: Float32Array, candidates: Int32Array, seen: Set<number>, relevant: Set<number>, at: number, itemRanks: Int32Array): number {
  if (relevant.size === 0) return 0;
  const top: number[] = [];
  const better = (a: number, b: number): boolean => scores[a]! > scores[b]! || (scores[a] === scores[b] && itemRanks[a]! < itemRanks[b]!);
  for (const i of candidates) {
    if (seen.has(i) || Number.isNaN(scores[i]!)) continue;
    if (top.length < at) {
      top.push(i);
      for (let p = top.length - 1; p > 0 && better(top[p]!, top[p - 1]!); p--) [top[p], top[p - 1]] = [top[p - 1]!, top[p]!];
    } else if (better(i, top[at - 1]!)) {
      top[at - 1] = i;
      for (let p = at - 1; p > 0 && better(top[p]!, top[p - 1]!); p--) [top[p], top[p - 1]] = [top[p - 1]!, top[p]!];
    }
  }
  let dcg = 0;
  top.forEach((i, r) => {
    if (relevant.has(i)) dcg += 1 / Math.log2(r + 2);
  });
  let idcg = 0;
  for (let r = 0; r < Math.min(at, relevant.size); r++) idcg += 1 / Math.log2(r + 2);
  return dcg / idcg;
}

/** Puts `art` into `arrays`/`config` under `prefix` (see the file comment). */
function nest(prefix: string, art: ModelArtifact, arrays: Record<string, Float32Array | Int32Array>, config: Record<string, ParamValue>): void {
  config[`${prefix}/.kind`] = art.kind;
  config[`${prefix}/.version`] = art.version;
  for (const [k, v] of Object.entries(art.config)) config[`${prefix}/${k}`] = v;
  for (const [k, v] of Object.entries(art.arrays)) arrays[`${prefix}/${k}`] = v;
}

/** The artifact nested under `prefix`. */
function unnest(prefix: string, art: ModelArtifact): ModelArtifact {
  const p = `${prefix}/`;
  const config: Record<string, ParamValue> = {};
  const arrays: Record<string, Float32Array | Int32Array> = {};
  for (const [k, v] of Object.entries(art.config)) if (k.startsWith(p) && !k.startsWith(`${p}.`)) config[k.slice(p.length)] = v;
  for (const [k, v] of Object.entries(art.arrays)) if (k.startsWith(p)) arrays[k.slice(p.length)] = v;
  const kind = art.config[`${p}.kind`];
  if (typeof kind !== 'string') throw new ConfigError(`router artifact has no nested model under "${prefix}"`, 'artifact');
  return { kind, version: Number(art.config[`${p}.version`]), config, arrays };
}

/** The persisted routing table (config `table`). */
interface TableJson {
  /** Specialists, index j = artifact prefix `s<j>`: candidate label and cluster (-1 = global). */
  specialists: { candidate: string; cluster: number }[];
  /** Specialist index of each cluster. */
  route: number[];
  routes: RouteEntry[];
  dim: number;
}

export class ClusterRouter implements Recommender {
  readonly name = 'router';
  readonly params: RouterConfig;
  private base: Recommender | null = null;
  private centroids: Float32Array = new Float32Array(0);
  private dim = 0;
  private userCluster: Int32Array = new Int32Array(0);
  private specialists: Recommender[] = [];
  private table: TableJson | null = null;
  private nItems = 0;

  constructor(params: RouterConfig) {
    this.params = params;
  }

  /** Unit-length clustering vector of a history (the base model's fold-in; a persona model's mean persona). */
  private vectorOf(history: Int32Array): Float32Array {
    const base = this.base!;
    if (!isFoldIn(base)) throw new ConfigError(`router base "${base.name}" cannot fold histories in`, 'router.base');
    const raw = base.foldIn(history);
    const dim = this.dim;
    const v = new Float32Array(dim);
    const rows = Math.max(1, Math.floor(raw.length / dim));
    for (let r = 0; r < rows; r++) for (let a = 0; a < dim; a++) v[a]! += raw[r * dim + a] ?? 0;
    let n = 0;
    for (const x of v) n += x * x;
    n = Math.sqrt(n);
    if (n > 0) for (let a = 0; a < dim; a++) v[a]! /= n;
    return v;
  }

  /** Cluster of a history (nearest centroid of its vector). */
  clusterOf(history: Int32Array): number {
    return nearestCentroid(this.vectorOf(history), Float64Array.from(this.centroids), this.dim);
  }

  private async fitOne(name: string, train: TrainSet, ctx: FitContext, rng: Rng, stage: string): Promise<{ model: Recommender; seconds: number }> {
    const model = reg().createModel(name, {});
    const t0 = cpuSeconds();
    await model.fit(train, {
      rng,
      threads: ctx.threads,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      onProgress: (e) => ctx.onProgress?.({ ...e, stage: `${stage} ${e.stage}` }),
    });
    return { model, seconds: cpuSeconds() - t0 };
  }

  async fit(train: TrainSet, ctx: FitContext): Promise<void> {
    const cfg = this.params;
    this.nItems = train.nItems;
    const candidates = routerCandidates(cfg);
    if (candidates.length === 0) throw new ConfigError('no candidate specialists', 'router.candidates');
    // 1. clusters from the base model's fold-in vectors
    const { model: base } = await this.fitOne(cfg.base, train, ctx, ctx.rng.derive('router-base'), 'router base');
    this.base = base;
    if (!isFoldIn(base)) throw new ConfigError(`router base "${cfg.base}" cannot fold histories in; use ials or personas`, 'router.base');
    this.dim = hasPersonas(base) ? Number(base.params.dim) : base.foldIn(new Int32Array(0)).length;
    const active: number[] = [];
    for (let u = 0; u < train.nUsers; u++) if (train.userItems.indptr[u + 1]! > train.userItems.indptr[u]!) active.push(u);
    const points = new Float32Array(active.length * this.dim);
    active.forEach((u, j) => points.set(this.vectorOf(rowOf(train.userItems, u)), j * this.dim));
    const km = kmeans(points, active.length, this.dim, cfg.clusters, ctx.rng.derive('router-kmeans'));
    const k = km.centroids.length / this.dim;
    this.centroids = Float32Array.from(km.centroids);
    this.userCluster = new Int32Array(train.nUsers).fill(-1);
    active.forEach((u, j) => (this.userCluster[u] = km.assign[j]!));
    // 2. validation split: a seeded share of each active user's positives
    const held = new Set<number>();
    const key = (u: number, i: number): number => u * train.nItems + i;
    const valItems = new Map<number, Set<number>>();
    for (const u of active) {
      const row = Array.from(rowOf(train.userItems, u));
      if (row.length < cfg.minValidationPositives) continue;
      ctx.rng.derive('router-validation', u).shuffle(row);
      const m = Math.ceil(cfg.validationShare * row.length - 1e-9);
      const set = new Set(row.slice(0, m));
      valItems.set(u, set);
      for (const i of set) held.add(key(u, i));
    }
    const fitTrain = restrictTrain(train, () => true, (u, i) => held.has(key(u, i)));
    // validation users per cluster (a seeded sample)
    const valUsers: number[][] = Array.from({ length: k }, () => []);
    for (const u of active) if (valItems.has(u)) valUsers[this.userCluster[u]!]!.push(u);
    for (let c = 0; c < k; c++) {
      const list = ctx.rng.derive('router-val-sample', c).shuffle(valUsers[c]!);
      valUsers[c] = list.slice(0, cfg.validationUsers).sort((a, b) => a - b);
    }
    // 3. score every candidate in every cluster
    const score = (model: Recommender, users: number[]): { ndcg: number; ms: number } => {
      if (users.length === 0) return { ndcg: 0, ms: 0 };
      const t0 = cpuSeconds();
      const out = new Float32Array(train.nItems);
      let total = 0;
      for (const u of users) {
        const hist = rowOf(fitTrain.userItems, u);
        model.scoreBatch({ users: Int32Array.of(u), indptr: Int32Array.of(0, hist.length), items: hist }, out);
        total += ndcgOfScores(out, fitTrain.candidates, new Set(hist), valItems.get(u)!, cfg.at, train.itemRanks);
      }
      return { ndcg: total / users.length, ms: ((cpuSeconds() - t0) * 1000) / users.length };
    };
    const scores: CandidateScore[][] = Array.from({ length: k }, () => []);
    const globalFit = new Map<string, number>();
    for (const [j, cand] of candidates.entries()) {
      if (cand.scope === 'global') {
        const { model, seconds } = await this.fitOne(cand.model, fitTrain, ctx, ctx.rng.derive('router-val-fit', cand.model, -1), `router validation ${candidateLabel(cand)}`);
        globalFit.set(cand.model, seconds);
        for (let c = 0; c < k; c++) {
          const s = score(model, valUsers[c]!);
          scores[c]![j] = { candidate: candidateLabel(cand), ndcg: s.ndcg, fitSeconds: seconds, scoreMsPerUser: s.ms };
        }
      } else {
        for (let c = 0; c < k; c++) {
          const sub = restrictTrain(fitTrain, (u) => this.userCluster[u] === c);
          const { model, seconds } = await this.fitOne(cand.model, sub, ctx, ctx.rng.derive('router-val-fit', cand.model, c), `router validation ${candidateLabel(cand)} cluster ${c}`);
          const s = score(model, valUsers[c]!);
          scores[c]![j] = { candidate: candidateLabel(cand), ndcg: s.ndcg, fitSeconds: seconds, scoreMsPerUser: s.ms };
        }
      }
    }
    // 4. route, then refit the chosen specialists on the full training set
    const specialists: TableJson['specialists'] = [];
    const route: number[] = [];
    const routes: RouteEntry[] = [];
    for (let c = 0; c < k; c++) {
      const nd = scores[c]!.map((s) => s.ndcg);
      const users = this.userCluster.filter((x) => x === c).length;
      const cost = cfg.cost === 'order' ? candidates.map((_, j) => j) : scores[c]!.map((s) => (s.fitSeconds ?? 0) + ((s.scoreMsPerUser ?? 0) * users) / 1000);
      const j = chooseCandidate(nd, cost, cfg.tolerance);
      const best = chooseCandidate(nd, cost, 0);
      const cand = candidates[j]!;
      const cluster = cand.scope === 'global' ? -1 : c;
      let s = specialists.findIndex((x) => x.candidate === candidateLabel(cand) && x.cluster === cluster);
      if (s < 0) s = specialists.push({ candidate: candidateLabel(cand), cluster }) - 1;
      route.push(s);
      routes.push({ cluster: c, users, validationUsers: valUsers[c]!.length, chosen: candidateLabel(cand), best: candidateLabel(candidates[best]!), scores: scores[c]! });
    }
    this.specialists = [];
    for (const sp of specialists) {
      const model = sp.candidate.slice(0, sp.candidate.lastIndexOf('@'));
      const sub = sp.cluster < 0 ? train : restrictTrain(train, (u) => this.userCluster[u] === sp.cluster);
      const { model: m } = await this.fitOne(model, sub, ctx, ctx.rng.derive('router-final', model, sp.cluster), `router ${sp.candidate}${sp.cluster >= 0 ? ` cluster ${sp.cluster}` : ''}`);
      this.specialists.push(m);
    }
    this.table = { specialists, route, routes, dim: this.dim };
  }

  /** The routing table: per cluster the chosen and best candidate and every candidate's validation ndcg and cost. */
  routingTable(): RouteEntry[] {
    if (!this.table) throw new Error('router: not fitted');
    return this.table.routes;
  }

  details(): Record<string, unknown> {
    return { base: this.params.base, clusters: this.table?.route.length ?? 0, tolerance: this.params.tolerance, cost: this.params.cost, routing: this.table?.routes ?? [] };
  }

  scoreBatch(batch: UserBatch, out: Float32Array): void {
    const table = this.table;
    if (!table) throw new Error('router: not fitted');
    const n = this.nItems;
    const bySpecialist = new Map<number, number[]>();
    for (let b = 0; b < batch.users.length; b++) {
      const u = batch.users[b]!;
      let c = u >= 0 && u < this.userCluster.length ? this.userCluster[u]! : -1;
      if (c < 0) c = this.clusterOf(batch.items.subarray(batch.indptr[b]!, batch.indptr[b + 1]!));
      const s = table.route[c]!;
      const list = bySpecialist.get(s);
      if (list) list.push(b);
      else bySpecialist.set(s, [b]);
    }
    for (const [s, rows] of bySpecialist) {
      const indptr = new Int32Array(rows.length + 1);
      rows.forEach((b, r) => (indptr[r + 1] = indptr[r]! + batch.indptr[b + 1]! - batch.indptr[b]!));
      const items = new Int32Array(indptr[rows.length]!);
      rows.forEach((b, r) => items.set(batch.items.subarray(batch.indptr[b]!, batch.indptr[b + 1]!), indptr[r]!));
      const sub: UserBatch = { users: Int32Array.from(rows, (b) => batch.users[b]!), indptr, items };
      const tmp = new Float32Array(rows.length * n);
      this.specialists[s]!.scoreBatch(sub, tmp);
      rows.forEach((b, r) => out.set(tmp.subarray(r * n, (r + 1) * n), b * n));
    }
  }

  toArtifact(): ModelArtifact {
    if (!this.table || !this.base) throw new Error('router: not fitted');
    const arrays: Record<string, Float32Array | Int32Array> = { centroids: this.centroids, userCluster: this.userCluster };
    // measured times stay out of the artifact: its bytes depend on the seed and data only
    const routes = this.table.routes.map((r) => ({ ...r, scores: r.scores.map((s) => ({ candidate: s.candidate, ndcg: s.ndcg })) }));
    const config: Record<string, ParamValue> = { ...(this.params as ModelParams), nItems: this.nItems, table: JSON.stringify({ ...this.table, routes }) };
    nest('base', this.base.toArtifact(), arrays, config);
    this.specialists.forEach((m, j) => nest(`s${j}`, m.toArtifact(), arrays, config));
    return { kind: 'router', version: 1, config, arrays };
  }

  static fromArtifact(a: ModelArtifact): ClusterRouter {
    const own: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(a.config)) if (!k.includes('/') && k !== 'table' && k !== 'nItems') own[k] = v;
    const m = new ClusterRouter(RouterConfig.parse(own));
    const table = JSON.parse(String(a.config.table)) as TableJson;
    m.table = table;
    m.dim = table.dim;
    m.nItems = Number(a.config.nItems);
    m.centroids = a.arrays.centroids as Float32Array;
    m.userCluster = a.arrays.userCluster as Int32Array;
    m.base = reg().modelFromArtifact(unnest('base', a));
    m.specialists = table.specialists.map((_, j) => reg().modelFromArtifact(unnest(`s${j}`, a)));
    return m;
  }
}

export const routerSpec: ModelSpec = {
  name: 'router',
  description: 'cluster router: k-means user clusters, each routed to its best (or cheapest near-best) specialist on validation',
  schema: RouterConfig,
  create: (p) => new ClusterRouter(p as RouterConfig),
  fromArtifact: (a) => ClusterRouter.fromArtifact(a),
  tuningGrid: [],
};
