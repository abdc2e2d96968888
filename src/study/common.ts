/**
 * What the studies share: the data they run on (a given log, the default world, or a special
 * world), fitting a registered model, ranking and scoring lists with bootstrap intervals, and the
 * Markdown table every study prints.
 */
import type { InteractionLog } from '../data/dataset.js';
import { makeSplit, type Split } from '../data/split.js';
import { evaluateLists, rankTestUsers } from '../eval/evaluate.js';
import { pairedDifference, type MetricSummary, type PairedResult } from '../eval/stats.js';
import { Rng } from '../math/rng.js';
import { hasPersonas, type HasPersonas, type ModelParams, type Recommender } from '../models/model.js';
import { createModel } from '../models/registry.js';
import { buildReranker, parseRerankSpec } from '../rank/index.js';
import { ListPipeline, type ListReranker } from '../rank/pipeline.js';
import { rowOf } from '../data/csr.js';
import { DEFAULT_WORLD, worldToLog, type WorldConfigInput, type WorldTruth } from '../synth/world.js';
import type { StudyContext } from './types.js';

/** A small world for quick mode (tests): same generator, fewer users and items. */
export const QUICK_WORLD: WorldConfigInput = { users: 500, items: 400, categories: 6, meanInteractions: 50 };

export interface StudyData {
  log: InteractionLog;
  /** Planted truth when the study generated the world; null on a user's dataset. */
  truth: WorldTruth | null;
  label: string;
  split: Split;
}

/** The world a study generates when the user gave no --data: the default world plus `overrides`. */
export function worldConfigFor(ctx: StudyContext, overrides: WorldConfigInput = {}): WorldConfigInput {
  const base: WorldConfigInput = ctx.quick ? { ...QUICK_WORLD } : { ...DEFAULT_WORLD };
  return { ...base, ...overrides };
}

function describeWorld(cfg: WorldConfigInput, quick: boolean, overrides: WorldConfigInput): string {
  const world: Record<string, unknown> = quick ? QUICK_WORLD : DEFAULT_WORLD;
  const extra = Object.entries(overrides)
    // the size and seed are in the description already; name only what differs from the base world
    .filter(([k, v]) => !['users', 'items', 'seed'].includes(k) && JSON.stringify(world[k]) !== JSON.stringify(v))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
  const base = quick ? `quick world (${cfg.users} users, ${cfg.items} items, seed ${cfg.seed ?? 42})` : `default world (${cfg.users} users, ${cfg.items} items, seed ${cfg.seed ?? 42})`;
  return extra ? `${base} with ${extra}` : base;
}

/** The study's data: the user's log when given, else a generated world (with its truth). */
export function studyData(ctx: StudyContext, overrides: WorldConfigInput = {}): StudyData {
  const splitOpts = { protocol: ctx.protocol ?? 'temporal-user', minRating: ctx.minRating ?? 4, seed: ctx.seed } as const;
  if (ctx.log) {
    return { log: ctx.log, truth: null, label: ctx.dataLabel ?? ctx.log.name, split: makeSplit(ctx.log, splitOpts) };
  }
  const cfg = worldConfigFor(ctx, overrides);
  const { log, truth } = worldToLog(cfg);
  return { log, truth, label: describeWorld(cfg, ctx.quick ?? false, overrides), split: makeSplit(log, splitOpts) };
}

/** Model parameters scaled down in quick mode (fewer epochs), as given otherwise. */
export function studyParams(name: string, ctx: StudyContext, params: ModelParams = {}): ModelParams {
  if (!ctx.quick) return params;
  const quick: Record<string, ModelParams> = {
    bpr: { epochs: 30, factors: 32 },
    ials: { iterations: 6, factors: 32 },
    personas: { epochs: 6, warmEpochs: 3, avgEpochs: 2, dim: 32 },
  };
  return { ...(quick[name] ?? {}), ...params };
}

/** Creates and fits a registered model on `split.train`; progress goes to ctx.onProgress. */
export async function fitModel(name: string, split: Split, ctx: StudyContext, params: ModelParams = {}, label = name): Promise<Recommender> {
  const model = createModel(name, studyParams(name, ctx, params));
  await model.fit(split.train, {
    rng: new Rng(ctx.seed).derive('study-model', label),
    threads: ctx.threads,
    onProgress: (e) => ctx.onProgress?.(`${label} ${e.stage}`, e.done, e.total),
  });
  return model;
}

/** A --rerank spec bound to a fitted model (null for 'none'). */
export function rerankerFor(spec: string, split: Split, model: Recommender): ListReranker | null {
  return buildReranker(parseRerankSpec(spec), split, model);
}

export interface ListScores {
  metrics: Record<string, MetricSummary>;
  perUser: Record<string, (number | null)[]>;
  lists: Int32Array[];
}

/** Ranks every test user (top max(ks)) and scores the lists with PROTOCOL.md's metrics. */
export function scoreModel(model: Recommender, split: Split, ks: readonly number[], seed: number, reranker: ListReranker | null = null): ListScores {
  const lists = rankTestUsers(model, split, { k: Math.max(...ks), reranker });
  const e = evaluateLists(split, lists, ks, seed);
  return { metrics: e.metrics, perUser: e.perUser, lists };
}

/**
 * `scoreModel` for several rerankers (null = the model's own order) from one scoring pass: each
 * test user's score row is computed once and every reranker's pipeline selects from it. The lists
 * are the same as separate `scoreModel` calls give (the rows are the same).
 */
export function scoreModelMany(model: Recommender, split: Split, ks: readonly number[], seed: number, rerankers: readonly (ListReranker | null)[]): ListScores[] {
  const k = Math.max(...ks);
  const [first, ...rest] = rerankers;
  const pipelines = rest.map((reranker) => new ListPipeline({ k, reranker }));
  const extra: Int32Array[][] = rest.map(() => []);
  const { candidates, itemRanks } = split.train;
  const main = rankTestUsers(model, split, {
    k,
    reranker: first ?? null,
    onList: (b, row) => {
      const u = split.testUsers[b]!;
      const history = rowOf(split.history, u);
      pipelines.forEach((p, j) => extra[j]!.push(p.select(row, { candidates, itemRanks, exclude: history }, { user: u, history }).list));
    },
  });
  return [main, ...extra].map((lists) => {
    const e = evaluateLists(split, lists, ks, seed);
    return { metrics: e.metrics, perUser: e.perUser, lists };
  });
}

/** Bootstrap resamples of the studies' intervals (PROTOCOL's 1,000 is for `evaluate`). */
export const STUDY_RESAMPLES = 500;

/** Paired a - b over users with both values. */
export function paired(a: ArrayLike<number | null>, b: ArrayLike<number | null>, seed: number): PairedResult {
  return pairedDifference(a, b, { seed, resamples: STUDY_RESAMPLES });
}

/** Per-user values restricted to a subset of test-user positions. */
export function subset(values: readonly (number | null)[], keep: (pos: number) => boolean): (number | null)[] {
  return values.map((v, pos) => (keep(pos) ? v : null));
}

/**
 * A planted world's row labels (`truth.rowPersona`, `truth.rowSide`) by (user, item): key
 * user * items + item -> label, for the rows labelled >= 0 (the world never repeats an item for a user).
 */
export function labelsByPair(log: InteractionLog, labels: Int8Array): Map<number, number> {
  const nItems = log.items.size;
  const byPair = new Map<number, number>();
  for (let r = 0; r < log.length; r++) {
    const label = labels[r]!;
    if (label >= 0) byPair.set(log.user[r]! * nItems + log.item[r]!, label);
  }
  return byPair;
}

/** x rounded to `d` decimals (the numbers a study's JSON keeps). */
export function round(x: number, d = 4): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

export function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  return v.toFixed(digits);
}

export function fmtCi(s: MetricSummary | undefined, digits = 3): string {
  if (!s || s.mean === null) return 'n/a';
  return s.ci95 ? `${fmt(s.mean, digits)} [${fmt(s.ci95[0], digits)}, ${fmt(s.ci95[1], digits)}]` : fmt(s.mean, digits);
}

/** A Markdown table (first column left-aligned, the rest right-aligned). */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const lines = [`| ${headers.join(' | ')} |`, `|${headers.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

/** Train positives per user (activity), by user index. */
export function userActivity(split: Split): Int32Array {
  const ui = split.train.userItems;
  const a = new Int32Array(split.train.nUsers);
  for (let u = 0; u < a.length; u++) a[u] = ui.indptr[u + 1]! - ui.indptr[u]!;
  return a;
}

/** True on the indices whose value is in the top `share` (by value, ties by index) among `pool`. */
export function headMask(values: ArrayLike<number>, pool: ArrayLike<number>, share: number): Uint8Array {
  const order = Array.from(pool as ArrayLike<number>).sort((a, b) => values[b]! - values[a]! || a - b);
  const mask = new Uint8Array(values.length);
  const n = Math.max(1, Math.round(order.length * share));
  for (let j = 0; j < n && j < order.length; j++) mask[order[j]!] = 1;
  return mask;
}

/** The smaller quick world of the onboarding and confidence studies (their tests fit two models on it). */
export const ONBOARDING_QUICK_WORLD: WorldConfigInput = { users: 400, items: 300, categories: 6, meanInteractions: 40 };

/** The world of the onboarding and confidence studies: seeded by the study's seed too; ONBOARDING_QUICK_WORLD when quick. */
export function onboardingWorld(ctx: StudyContext): WorldConfigInput {
  return ctx.quick ? { ...ONBOARDING_QUICK_WORLD, seed: ctx.seed } : { seed: ctx.seed };
}

/** The persona model's parameters in those studies (fewer epochs when quick). */
export function onboardingPersonaParams(ctx: StudyContext): ModelParams {
  return ctx.quick ? { epochs: 8, warmEpochs: 4, avgEpochs: 2 } : {};
}

/**
 * The persona model of those studies fitted on a split's training set (onboardingPersonaParams,
 * the stream `model`/`personas` of the study's seed); progress is reported as `<label> fit`.
 */
export async function fitOnboardingPersonas(split: Split, ctx: StudyContext, label: string): Promise<Recommender & HasPersonas> {
  const model = createModel('personas', onboardingPersonaParams(ctx));
  await model.fit(split.train, {
    rng: new Rng(ctx.seed).derive('model', 'personas'),
    threads: ctx.threads,
    onProgress: (e) => ctx.onProgress?.(`${label} fit`, e.done, e.total),
  });
  if (!hasPersonas(model)) throw new Error('personas model without personas');
  return model;
}
