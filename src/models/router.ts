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
import { rowOf } from '../data/csr.js';
import { ConfigError } from '../errors.js';
import type { Rng } from '../math/rng.js';
import { kmeans, nearestCentroid } from '../math/kmeans.js';
import { hasPersonas, isFoldIn, type FitContext, type ModelArtifact, type ModelParams, type ModelSpec, type ParamValue, type Recommender, type TrainSet, type UserBatch } from './model.js';
import { nest, unnest, type TableJson } from './router-artifact.js';
import { candidateLabel, chooseCandidate, RouterConfig, routerCandidates, routerRegistry, type CandidateScore, type RouteEntry } from './router-config.js';
import { cpuSeconds, ndcgOfScores, restrictTrain } from './router-validation.js';

export { bindRouterRegistry, candidateLabel, chooseCandidate, RouterConfig, routerCandidates, type Candidate, type CandidateScore, type RouteEntry } from './router-config.js';
export { cpuSeconds, ndcgOfScores, restrictTrain } from './router-validation.js';

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
    const model = routerRegistry().createModel(name, {});
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
    m.base = routerRegistry().modelFromArtifact(unnest('base', a));
    m.specialists = table.specialists.map((_, j) => routerRegistry().modelFromArtifact(unnest(`s${j}`, a)));
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
