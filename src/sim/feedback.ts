/**
 * `personae simulate`: a feedback loop on a planted world. Every round each user is shown a list
 * (top k = 10) by each arm's model; the user examines the list by position and consumes items
 * according to their planted preferences; the consumed items become training positives of that
 * arm, and the arm's model is refitted on them for the next round. Every arm runs its own loop
 * on the same world, the same users and the same random numbers.
 *
 * Definitions (docs/studies.md, "feedback-loop", says the same):
 * - Planted preference pref(u, i): src/sim/planted.ts (the generator's choice probability of u's
 *   personas for i; contested items the persona's side dislikes count 0).
 * - Position model (position-based click model, the examination hypothesis): rank r (1-based) is
 *   examined with probability e(r) = 1 / log2(r + 1); an examined item is clicked, i.e. consumed,
 *   with probability a(u, i) = min(1, pref(u, i) / tau_u), where tau_u is the user's 10th-largest
 *   planted preference over the catalogue (an item the user likes as much as their 10th favourite
 *   is consumed whenever it is looked at). One uniform number x per (round, user, rank), shared by
 *   all arms: consumed iff x < e(r) a(u, i). Expected consumption of a list = sum_r e(r) a(u, i_r).
 * - Lists never hold an item the user has seen: every row of their log (any rating) and every item
 *   they consumed in an earlier round.
 * - ndcg@k against the planted preferences: DCG = sum_r pref(u, i_r) / log2(r + 1) over the list,
 *   divided by the DCG of the k unseen items with the largest pref (the best list possible).
 * - taste coverage: share of the user's planted personas served by at least one list item (an item
 *   serves persona k when k's planted preference for it is positive); users with >= 2 personas.
 * - ckl@k: PROTOCOL.md's ckl with p = the planted taste mix over categories (src/sim/planted.ts)
 *   and q = the list's category distribution.
 * - gini@k: Gini index of the item exposure over the catalogue (PROTOCOL.md's giniIndex: slots of
 *   all users' lists per item, items never shown count 0).
 * - polarisation: Jensen-Shannon divergence (base 2, in [0, 1]) between group A's and group B's
 *   exposure distributions (share of each group's list slots per item); 0 when both groups are
 *   shown the same items equally often, 1 when they are shown disjoint items.
 */
import { extractPositives } from '../data/split.js';
import { trainSetFromPairs } from '../data/train-set.js';
import { giniIndex } from '../eval/metrics.js';
import { ConfigError } from '../errors.js';
import { Rng } from '../math/rng.js';
import type { ModelParams, Recommender, TrainSet } from '../models/model.js';
import { createModel, parseModelSpec } from '../models/registry.js';
import { buildReranker, parseRerankSpec } from '../rank/index.js';
import { ListPipeline, type ListReranker } from '../rank/pipeline.js';
import { DEFAULT_WORLD, World, worldToLog, type WorldConfigInput } from '../synth/world.js';
import { PlantedPreferences } from './planted.js';
import { clickProbability, consumedPositions, consumptionThreshold, LIST_LENGTH } from './consumption.js';
import { gradedDcg, idealDcg, listCkl, polarisation, tasteCoverage } from './list-metrics.js';

export * from './consumption.js';
export * from './list-metrics.js';

export const DEFAULT_ROUNDS = 5;
/** The default world's population: two opposed groups (51/49) plus 15% bridging users. */
export const FEEDBACK_POPULATION = 'split:51/49,bridge:0.15';
/** The default arms: global popularity, one vector per user, personas, personas + calibration, router. */
export const DEFAULT_ARMS = 'pop,personas:k=1,personas,personas+calibrated:0.5,router';
/** The quick world (tests, smoke runs). */
export const QUICK_SIM_WORLD: WorldConfigInput = { users: 500, items: 400, categories: 6, meanInteractions: 50 };

// ---------------------------------------------------------------------------------------------
// Arms

export interface ArmSpec {
  /** The arm as written, e.g. "personas+calibrated:0.5". */
  readonly name: string;
  /** Model spec part, e.g. "personas:k=1". */
  readonly modelSpec: string;
  readonly model: string;
  /** Inline parameters of the model spec. */
  readonly fixed: ModelParams;
  /** Reranker spec after '+', or null. */
  readonly rerank: string | null;
}

/** Parses a comma-separated arm list: `model[:key=value...][+reranker]`, e.g. `personas+calibrated:0.5`. */
export function parseArms(text: string): ArmSpec[] {
  const arms: ArmSpec[] = [];
  for (const raw of text.split(',')) {
    const name = raw.trim();
    if (!name) continue;
    const plus = name.indexOf('+');
    const modelSpec = plus < 0 ? name : name.slice(0, plus);
    const rerank = plus < 0 ? null : name.slice(plus + 1);
    let parsed;
    try {
      parsed = parseModelSpec(modelSpec);
      if (rerank !== null && parseRerankSpec(rerank) === null) throw new ConfigError('"+none" is not a reranker; leave it out', '--arms');
    } catch (err) {
      if (err instanceof ConfigError) throw new ConfigError(`arm "${name}": ${err.message.replace(/^--\w+: /, '')}`, '--arms');
      throw err;
    }
    if (arms.some((a) => a.name === name)) throw new ConfigError(`"${name}" is listed twice`, '--arms');
    arms.push({ name, modelSpec, model: parsed.model, fixed: parsed.fixed, rerank });
  }
  if (arms.length === 0) throw new ConfigError('give at least one arm, e.g. --arms pop,personas', '--arms');
  return arms;
}

/**
 * Small fits per model so that a round stays cheap (inline parameters of an arm win). The persona
 * fits train with the sampled softmax (`fullSoftmax: 0`: 500 shared negatives per batch) rather
 * than the exact softmax over the whole catalogue: a third of their cost.
 */
export function simulationParams(model: string, quick: boolean): ModelParams {
  const full: Record<string, ModelParams> = {
    ials: { iterations: 6, factors: 32 },
    bpr: { epochs: 30, factors: 32 },
    personas: { epochs: 4, warmEpochs: 2, avgEpochs: 1, dim: 32, fullSoftmax: 0 },
    router: { candidates: 'pop,ials', clusters: 4 },
  };
  const small: Record<string, ModelParams> = {
    ials: { iterations: 4, factors: 16 },
    bpr: { epochs: 10, factors: 16 },
    personas: { epochs: 4, warmEpochs: 2, avgEpochs: 1, dim: 16 },
    router: { candidates: 'pop,ials', clusters: 2, validationUsers: 100 },
  };
  return (quick ? small : full)[model] ?? {};
}

// ---------------------------------------------------------------------------------------------
// The simulation

export interface SimulationOptions {
  seed: number;
  rounds?: number;
  /** Comma-separated arms (see parseArms); default DEFAULT_ARMS. */
  arms?: string;
  /** The world; default: the default world with FEEDBACK_POPULATION and seed = `seed`. */
  world?: WorldConfigInput;
  quick?: boolean;
  threads?: number;
  onProgress?: (stage: string, done: number, total: number) => void;
}

/** One arm's metrics in one round (means over users; corpus metrics over all lists). */
export interface ArmRound {
  round: number;
  ndcg: number;
  coverage: number;
  ckl: number;
  /** Mean items consumed per user this round. */
  consumed: number;
  gini: number;
  polarisation: number;
  /** Share of the catalogue shown to at least one user. */
  catalogueShown: number;
}

export interface ArmResult {
  name: string;
  model: string;
  params: ModelParams;
  rerank: string | null;
  rounds: ArmRound[];
}

/** Per-user values kept for the verdict (not in the JSON): [round][simulated user]. */
export interface ArmTrace {
  ndcg: (number | null)[][];
  coverage: (number | null)[][];
  lists: Int32Array[][];
}

export interface SimulationResult {
  world: string;
  seed: number;
  rounds: number;
  k: number;
  users: { simulated: number; A: number; B: number; bridging: number; multiPersona: number };
  arms: ArmResult[];
  /** By simulated user: 0 = A, 1 = B, 2 = bridging, -1 = mixed. */
  group: Int8Array;
  nItems: number;
  traces: ArmTrace[];
}

function describe(cfg: WorldConfigInput, quick: boolean): string {
  return `${quick ? 'quick' : 'default'} world (${cfg.users} users, ${cfg.items} items, seed ${cfg.seed ?? 42}) with population=${cfg.population ?? 'mixed'}`;
}

/** Merges `add` (ascending-free) into the ascending `seen`, returning a new ascending array. */
function mergeSorted(seen: Int32Array, add: number[]): Int32Array {
  if (add.length === 0) return seen;
  const out = new Int32Array(seen.length + add.length);
  out.set(seen);
  out.set(add, seen.length);
  return out.sort();
}

/** Runs the loop. Deterministic in `seed` (the world, every fit and every consumption draw). */
export async function simulate(opts: SimulationOptions): Promise<SimulationResult> {
  const quick = opts.quick ?? false;
  const R = opts.rounds ?? DEFAULT_ROUNDS;
  if (!(Number.isInteger(R) && R >= 1)) throw new ConfigError(`rounds must be a positive integer, got ${R}`, '--rounds');
  const k = LIST_LENGTH;
  const arms = parseArms(opts.arms ?? DEFAULT_ARMS);
  const cfg: WorldConfigInput = { ...(quick ? QUICK_SIM_WORLD : { users: DEFAULT_WORLD.users, items: DEFAULT_WORLD.items }), population: FEEDBACK_POPULATION, seed: opts.seed, ...(opts.world ?? {}) };
  const world = new World(cfg);
  const { log } = worldToLog(world);
  const cats = log.categories!;
  const planted = new PlantedPreferences(world, cats.names);
  const nUsers = log.users.size;
  const nItems = log.items.size;
  const root = new Rng(opts.seed);

  // initial positives (rating >= 4) and every user's seen items (any rating)
  const base = extractPositives(log, 4);
  const seenLists: number[][] = Array.from({ length: nUsers }, () => []);
  for (let r = 0; r < log.length; r++) seenLists[log.user[r]!]!.push(log.item[r]!);
  const hasPositive = new Uint8Array(nUsers);
  for (const u of base.user) hasPositive[u] = 1;
  const simUsers: number[] = [];
  for (let u = 0; u < nUsers; u++) if (hasPositive[u]) simUsers.push(u);
  const nSim = simUsers.length;
  const group = new Int8Array(nSim);
  let multiPersona = 0;
  simUsers.forEach((u, pos) => {
    const t = planted.forUser(u);
    group[pos] = t.group;
    if (t.personas >= 2) multiPersona++;
  });

  interface ArmState {
    spec: ArmSpec;
    params: ModelParams;
    seen: Int32Array[];
    fbUser: number[];
    fbItem: number[];
    result: ArmResult;
    trace: ArmTrace;
  }
  const states: ArmState[] = arms.map((spec) => {
    const params = { ...simulationParams(spec.model, quick), ...spec.fixed };
    return {
      spec,
      params,
      seen: simUsers.map((u) => Int32Array.from(new Set(seenLists[u]!)).sort()),
      fbUser: [],
      fbItem: [],
      result: { name: spec.name, model: spec.model, params, rerank: spec.rerank, rounds: [] },
      trace: { ndcg: [], coverage: [], lists: [] },
    };
  });

  const itemRanks = log.items.ranks();
  const batchSize = 128;
  const scratch = new Float64Array(cats.names.length);
  const steps = R * arms.length;
  for (let round = 1; round <= R; round++) {
    // 1. fit each arm on its data and rank every simulated user
    const lists: Int32Array[][] = [];
    // arms with the same model and the same data (every arm in round 1) share one fit: the fit's
    // random stream depends on the model spec and the round, not on the arm's reranker
    const fitted = new Map<string, { train: TrainSet; model: Recommender }>();
    for (const [a, st] of states.entries()) {
      opts.onProgress?.(`simulate: round ${round}, ${st.spec.name}`, (round - 1) * arms.length + a, steps);
      const key = `${st.spec.model} ${JSON.stringify(Object.entries(st.params).sort())}`;
      let fit = st.fbUser.length === 0 ? fitted.get(key) : undefined;
      if (!fit) {
        const users = Int32Array.from([...base.user, ...st.fbUser]);
        const items = Int32Array.from([...base.item, ...st.fbItem]);
        const train: TrainSet = trainSetFromPairs(nUsers, nItems, users, items, itemRanks, cats);
        const model: Recommender = createModel(st.spec.model, st.params);
        await model.fit(train, { rng: root.derive('simulate-fit', key, round), threads: opts.threads ?? 1 });
        fit = { train, model };
        if (st.fbUser.length === 0) fitted.set(key, fit);
      }
      const { train, model } = fit;
      const reranker: ListReranker | null = st.spec.rerank ? buildReranker(parseRerankSpec(st.spec.rerank), { log: { categories: cats } }, model) : null;
      lists.push(rankUsers(model, train, simUsers, st.seen, k, reranker, batchSize));
    }
    opts.onProgress?.(`simulate: round ${round}, consumption`, round * arms.length, steps);
    // 2. each user looks at each arm's list, consumes; metrics against the planted truth
    const perArm = states.map(() => ({ ndcg: new Array<number | null>(nSim).fill(null), coverage: new Array<number | null>(nSim).fill(null), ckl: new Float64Array(nSim), consumed: new Float64Array(nSim) }));
    const consumedBy: number[][][] = states.map(() => Array.from({ length: nSim }, () => []));
    const uniforms = new Float64Array(k);
    for (let pos = 0; pos < nSim; pos++) {
      const u = simUsers[pos]!;
      const t = planted.forUser(u);
      const tau = consumptionThreshold(t, k);
      const rng = root.derive('simulate-consume', round, u);
      for (let r = 0; r < k; r++) uniforms[r] = rng.next();
      states.forEach((st, a) => {
        const list = lists[a]![pos]!;
        const m = perArm[a]!;
        const ideal = idealDcg(t.ranked, t.pref, st.seen[pos]!, k);
        m.ndcg[pos] = ideal > 0 ? gradedDcg(list, t.pref, k) / ideal : null;
        m.coverage[pos] = tasteCoverage(list, t.serves, t.personas);
        m.ckl[pos] = listCkl(list, cats, t.mix, scratch);
        const attract = Array.from(list, (i) => clickProbability(t.pref[i]!, tau));
        const took = consumedPositions(attract, uniforms).map((r) => list[r]!);
        m.consumed[pos] = took.length;
        consumedBy[a]![pos] = took;
      });
    }
    // 3. summaries, feedback, seen
    states.forEach((st, a) => {
      const m = perArm[a]!;
      const l = lists[a]!;
      const shown = new Uint8Array(nItems);
      for (const list of l) for (const i of list) shown[i] = 1;
      let nShown = 0;
      for (const x of shown) nShown += x;
      st.result.rounds.push({
        round,
        ndcg: meanOf(m.ndcg),
        coverage: meanOf(m.coverage),
        ckl: meanOf(Array.from(m.ckl)),
        consumed: meanOf(Array.from(m.consumed)),
        gini: giniIndex(l, k, nItems),
        polarisation: polarisation(l.filter((_, p) => group[p] === 0), l.filter((_, p) => group[p] === 1), nItems, k),
        catalogueShown: nShown / nItems,
      });
      st.trace.ndcg.push(m.ndcg);
      st.trace.coverage.push(m.coverage);
      st.trace.lists.push(l);
      for (let pos = 0; pos < nSim; pos++) {
        const took = consumedBy[a]![pos]!;
        if (took.length === 0) continue;
        for (const i of took) {
          st.fbUser.push(simUsers[pos]!);
          st.fbItem.push(i);
        }
        st.seen[pos] = mergeSorted(st.seen[pos]!, took);
      }
    });
  }
  const count = (g: number): number => group.reduce((n, x) => n + (x === g ? 1 : 0), 0);
  return {
    world: describe(cfg, quick),
    seed: opts.seed,
    rounds: R,
    k,
    users: { simulated: nSim, A: count(0), B: count(1), bridging: count(2), multiPersona },
    arms: states.map((s) => s.result),
    group,
    nItems,
    traces: states.map((s) => s.trace),
  };
}

function meanOf(values: ArrayLike<number | null>): number {
  let s = 0;
  let n = 0;
  for (let j = 0; j < values.length; j++) {
    const v = values[j];
    if (v !== null && v !== undefined && Number.isFinite(v)) (s += v), n++;
  }
  return n > 0 ? s / n : Number.NaN;
}

/** Top-k lists of `users` (training users of `train`), never an item of their `seen` set. */
function rankUsers(model: Recommender, train: TrainSet, users: number[], seen: Int32Array[], k: number, reranker: ListReranker | null, batchSize: number): Int32Array[] {
  const nItems = train.nItems;
  const pipeline = new ListPipeline({ k, reranker });
  const { candidates, itemRanks } = train;
  const scores = new Float32Array(Math.min(batchSize, users.length) * nItems);
  const ui = train.userItems;
  const out: Int32Array[] = [];
  for (let start = 0; start < users.length; start += batchSize) {
    const end = Math.min(users.length, start + batchSize);
    const batchUsers = Int32Array.from(users.slice(start, end));
    const indptr = new Int32Array(end - start + 1);
    for (let b = 0; b < end - start; b++) indptr[b + 1] = indptr[b]! + (ui.indptr[batchUsers[b]! + 1]! - ui.indptr[batchUsers[b]!]!);
    const items = new Int32Array(indptr[end - start]!);
    for (let b = 0; b < end - start; b++) items.set(ui.indices.subarray(ui.indptr[batchUsers[b]!]!, ui.indptr[batchUsers[b]! + 1]!), indptr[b]!);
    model.scoreBatch({ users: batchUsers, indptr, items }, scores);
    for (let b = start; b < end; b++) {
      const row = scores.subarray((b - start) * nItems, (b - start + 1) * nItems);
      const history = items.subarray(indptr[b - start]!, indptr[b - start + 1]!);
      out.push(pipeline.select(row, { candidates, itemRanks, exclude: seen[b]! }, { user: users[b]!, history }).list);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Output

export const METRICS = [
  { key: 'ndcg', label: 'ndcg@10 (planted)', digits: 3 },
  { key: 'coverage', label: 'taste coverage@10', digits: 3 },
  { key: 'ckl', label: 'ckl@10 (planted mix)', digits: 3 },
  { key: 'gini', label: 'gini@10 (item exposure)', digits: 3 },
  { key: 'polarisation', label: 'polarisation (JS, A vs B exposure)', digits: 4 },
  { key: 'consumed', label: 'items consumed per user', digits: 2 },
  { key: 'catalogueShown', label: 'catalogue shown', digits: 3 },
] as const satisfies readonly { key: keyof ArmRound; label: string; digits: number }[];

/** One Markdown table per metric: arms as rows, rounds as columns. */
export function simulationTable(res: Pick<SimulationResult, 'arms' | 'rounds'>): string {
  const rounds = Array.from({ length: res.rounds }, (_, r) => `round ${r + 1}`);
  return METRICS.map(({ key, label, digits }) => {
    const lines = [`### ${label}`, '', `| arm | ${rounds.join(' | ')} |`, `| --- |${rounds.map(() => ' ---: ').join('|')}|`];
    for (const a of res.arms) lines.push(`| ${a.name} | ${a.rounds.map((r) => (Number.isFinite(r[key]) ? r[key].toFixed(digits) : 'n/a')).join(' | ')} |`);
    return lines.join('\n');
  }).join('\n\n');
}

/** The JSON of `personae simulate --out` (no per-user traces). */
export function simulationJson(res: SimulationResult): Record<string, unknown> {
  return { world: res.world, seed: res.seed, rounds: res.rounds, k: res.k, users: res.users, arms: res.arms };
}

