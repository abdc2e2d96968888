/**
 * The serving engine: one loaded model plus the live data, answering recommendations, personas,
 * similar items, sessions and taste mixes. An engine is immutable with respect to its model; a
 * retrain builds a new engine and the service swaps the reference (requests in flight finish on
 * the engine they started with).
 *
 * Per user, the engine keeps a cached state (persona set, scores, explanation profile, finished
 * answers) keyed by the user's live version, so repeated reads cost a map look-up, and any
 * feedback or persona setting invalidates exactly that user's state.
 *
 * Online fold-in: positives that arrived after the model was trained are folded into the user's
 * personas with the model's `foldIn` (items fixed, only the user's vectors optimised). A training
 * user keeps their trained personas and gains one more, folded in from the new positives (a "recent"
 * persona: a new taste shows up as a new persona at once); any other user's personas are the
 * fold-in of their whole history. Both apply on the next request, without retraining.
 */
import { existsSync } from 'node:fs';
import { historyFactor, itemEvidence, combineConfidence, userConfidence, type PosteriorWarmStart, type UserConfidence } from '../confidence/index.js';
import { columnCounts, csrFromPairs, transpose } from '../data/csr.js';
import { IdMap } from '../data/ids.js';
import { ConfigError, DataError, NotFoundError } from '../errors.js';
import { buildCategories, categoriesOf, tasteDistribution, type ItemCategories } from '../data/categories.js';
import { labelOf, personaProfile, type ExplainContext, type PersonaProfile } from '../explain/explain.js';
import { hedgeReasonsInWords } from '../explain/hedge-reasons.js';
import { explainOrWithhold } from '../explain/explain-or-withhold.js';
import { readArtifactFile } from '../models/artifact.js';
import { hasPersonas, singleUserBatch, type HasPersonas, type ModelArtifact, type Recommender, type UserBatch } from '../models/model.js';
import type { TrainSet } from '../data/train-set.js';
import { modelFromArtifact } from '../models/registry.js';
import { onboardingBasis } from '../onboard/basis.js';
import { DEFAULT_HEDGE_THRESHOLD, type HedgeStage } from '../rank/hedge.js';
import { buildReranker, parseRerankSpec } from '../rank/index.js';
import { select } from '../rank/pipeline.js';
import type { LiveData } from './live.js';
import type { Explanation, Personas, Recommendations } from './schemas.js';
import type { ModelRecord } from '../store/types.js';

/** Config key of the serving metadata inside an artifact (stripped before the model loads). */
export const SERVE_META_KEY = '__serve';
export const SERVE_POPULARITY_KEY = '__serve_popularity';

/** What the service adds to a model artifact: the ID spaces it was trained in. */
export interface ServeMeta {
  items: string[];
  users: string[];
  feedbackSeq: number;
  /**
   * The store's erasure generation when training read its data (store.ts `Erasure`): a user
   * deleted after it is not the user this model's row of that id was trained on. Missing in
   * artifacts written before erasures were recorded: 0, every recorded deletion counts.
   */
  erasureGen?: number;
}

export interface LoadedModel {
  record: ModelRecord;
  model: Recommender;
  meta: ServeMeta;
  popularity: Int32Array;
}

export function withServeMeta(a: ModelArtifact, meta: ServeMeta, popularity: Int32Array): ModelArtifact {
  return { ...a, config: { ...a.config, [SERVE_META_KEY]: JSON.stringify(meta) }, arrays: { ...a.arrays, [SERVE_POPULARITY_KEY]: popularity } };
}

/** Reads a model file, checks the file's sha256 against the record and the payload checksum, loads it. */
export function loadModel(record: ModelRecord): LoadedModel {
  if (!existsSync(record.path)) throw new DataError(`model v${record.version} artifact is missing`, { file: record.path });
  const { artifact: a, fileSha256: sha } = readArtifactFile(record.path);
  if (sha !== record.sha256) throw new DataError(`model v${record.version}: file checksum ${sha.slice(0, 12)} does not match the recorded ${record.sha256.slice(0, 12)}`, { file: record.path });
  const { [SERVE_META_KEY]: metaText, ...config } = a.config;
  const { [SERVE_POPULARITY_KEY]: pop, ...arrays } = a.arrays;
  if (typeof metaText !== 'string' || !(pop instanceof Int32Array)) throw new DataError('not a service model artifact (no serving metadata)', { file: record.path });
  const model = modelFromArtifact({ ...a, config, arrays });
  return { record, model, meta: JSON.parse(metaText) as ServeMeta, popularity: pop };
}

type PersonaRecommender = Recommender & HasPersonas;

/** The user index a persona view answers for. */
const VIEW_USER = 0;

/**
 * A model whose user 0 has the given persona set: lets the explanation and reranking code (which
 * look personas up by user index) work on a set built online (fold-in, recent persona).
 */
function personaView(m: PersonaRecommender, set: Float32Array, k: number): PersonaRecommender {
  const view: PersonaRecommender = {
    name: m.name,
    params: m.params,
    fit: () => Promise.reject(new Error('a persona view cannot be fitted')),
    scoreBatch: (b: UserBatch, out: Float32Array) => {
      const n = out.length / Math.max(1, b.users.length);
      for (let r = 0; r < b.users.length; r++) {
        const hist = b.items.subarray(b.indptr[r]!, b.indptr[r + 1]!);
        m.scorePersonas(b.users[r] === VIEW_USER ? set : m.foldIn(hist), out.subarray(r * n, (r + 1) * n), hist);
      }
    },
    toArtifact: () => m.toArtifact(),
    personaCount: (u) => (u === VIEW_USER ? k : 0),
    personaVectors: (u) => (u === VIEW_USER ? set.slice() : new Float32Array(0)),
    attention: (u, i) => m.attentionFor(u === VIEW_USER ? set : new Float32Array(0), i),
    foldIn: (items) => m.foldIn(items),
    attentionFor: (p, i) => m.attentionFor(p, i),
    scorePersonas: (p, out, h) => m.scorePersonas(p, out, h),
  };
  if (m.personaWeights) {
    const pw = m.personaWeights.bind(m);
    view.personaWeights = (p, i, h) => pw(p, i, h);
  }
  return view;
}

interface MetaView {
  /** The LiveData.itemsVersion this view reflects. */
  version: number;
  /** Increases when categories or the set of live items change (labels, candidates, cold order). */
  catalogue: number;
  /** Increases with any change an answer shows (titles included). */
  answers: number;
  titles: string[];
  catNames: string[];
  cats: ItemCategories;
  itemCats: string[][];
  /** Model candidates still in the catalogue, ascending. */
  candidates: Int32Array;
  byCategory: Map<string, Int32Array>;
  /** Popular-but-diverse order of the candidates (cold start). */
  coldOrder: Int32Array;
  coldScores: Float32Array;
  explain: ExplainContext;
}

interface UserState {
  key: string;
  /** The live versions this state reflects (UserLive): positives, persona settings, any feedback. */
  taste: number;
  settings: number;
  seenVersion: number;
  cold: boolean;
  history: Int32Array;
  /** Seen items (model indices), ascending. */
  exclude: Int32Array;
  view: PersonaRecommender | null;
  k: number;
  overrides: Map<number, { muted: boolean; boost: number }>;
  /** The persona folded in from positives newer than the model (its index and items, newest first), if any. */
  recent: { index: number; items: Int32Array } | null;
  scores: Float32Array | null;
  profile: PersonaProfile | null;
  /** The catalogue version (MetaView.catalogue) the profile's labels were made with. */
  profileCatalogue: number;
  /** How much the model knows about the user (src/confidence), computed once per persona set. */
  confidence: UserConfidence | null;
  /** The user's last exact posterior fit (src/confidence PosteriorWarmStart), kept across their states. */
  posterior: PosteriorWarmStart;
  answers: Map<string, string>;
  /** The MetaView.answers version the cached answers were rendered with (titles, catalogue). */
  answersVersion: number;
}

/** Below this confidence a user's list is hedged. */
export const HEDGE_THRESHOLD = DEFAULT_HEDGE_THRESHOLD;

export interface RecommendOptions {
  n: number;
  offset: number;
  category?: string | undefined;
  exclude?: readonly string[];
  rerank: string;
  explain: boolean;
  /** Hedge a low-confidence user's list (default true; only without a reranker). */
  hedge?: boolean;
}

const ANSWER_CACHE = 32;

export class Engine {
  readonly items: IdMap;
  readonly users: IdMap;
  readonly nItems: number;
  readonly model: Recommender;
  readonly personas: PersonaRecommender | null;
  readonly itemRanks: Int32Array;
  private readonly isCandidate: Uint8Array;
  private meta: MetaView | null = null;
  private readonly states = new Map<string, UserState>();
  private readonly maxStates: number;
  private readonly similarCache = new Map<number, { items: Int32Array; scores: Float32Array }>();
  private unknown: UserState | null = null;

  constructor(
    readonly loaded: LoadedModel,
    readonly live: LiveData,
  ) {
    this.model = loaded.model;
    this.personas = hasPersonas(loaded.model) ? loaded.model : null;
    this.items = new IdMap();
    for (const id of loaded.meta.items) this.items.intern(id);
    this.users = new IdMap();
    for (const id of loaded.meta.users) this.users.intern(id);
    this.nItems = this.items.size;
    this.itemRanks = this.items.ranks();
    this.isCandidate = new Uint8Array(this.nItems);
    for (let i = 0; i < this.nItems; i++) if (loaded.popularity[i]! > 0) this.isCandidate[i] = 1;
    // cached states hold a score row each: keep them under ~256 MB
    this.maxStates = Math.max(64, Math.floor((256 << 20) / Math.max(1, this.nItems * 4)));
  }

  private train: TrainSet | null = null;

  /**
   * The model's training data rebuilt from the live positives it was trained on (those up to the
   * model's feedback sequence number): the basis of onboarding and of the user confidence.
   */
  trainSet(): TrainSet {
    if (this.train) return this.train;
    const cut = this.loaded.meta.feedbackSeq;
    const us: number[] = [];
    const is: number[] = [];
    for (let u = 0; u < this.users.size; u++) {
      const live = this.live.users.get(this.users.id(u));
      if (!live || this.trainedIndex(this.users.id(u)) < 0) continue;
      for (const p of live.positives) {
        if (p.seq > cut) continue;
        const i = this.items.lookup(p.item);
        if (i >= 0) {
          us.push(u);
          is.push(i);
        }
      }
    }
    const userItems = csrFromPairs(this.users.size, this.nItems, Int32Array.from(us), Int32Array.from(is));
    const candidates: number[] = [];
    for (let i = 0; i < this.nItems; i++) if (this.isCandidate[i]) candidates.push(i);
    this.train = {
      nUsers: this.users.size,
      nItems: this.nItems,
      userItems,
      itemUsers: transpose(userItems),
      itemPopularity: columnCounts(userItems),
      candidates: Int32Array.from(candidates),
      itemRanks: this.itemRanks,
      categories: null,
    };
    return this.train;
  }

  /**
   * The user's confidence (src/confidence `userConfidence`): history size, persona ambiguity,
   * posterior spread in the onboarding basis, profile fit and item evidence, for the persona set
   * the engine serves (with a recent persona, if any). Without personas only history size and item
   * evidence count. Computed once per user state.
   */
  private confidenceOf(st: UserState): UserConfidence {
    if (st.confidence) return st.confidence;
    const train = this.trainSet();
    const n = st.history.length;
    let c: UserConfidence;
    if (n === 0) {
      c = { confidence: 0, historyFactor: 0, ambiguity: 1, spread: 1, fit: 0, evidence: 0, historySize: 0, personas: 0, reasons: ['no history yet'] };
    } else if (this.personas && st.view) {
      // the persona set's plain scores are the served row unless a mixture is served (then computed here);
      // the posterior spread is one Newton step from the user's last exact fit (PosteriorWarmStart)
      const scores = st.scores && !this.usesMixture(st) ? st.scores : undefined;
      c = userConfidence(this.personas, train, { user: -1, history: st.history, personas: st.view.personaVectors(VIEW_USER), ...(scores ? { scores } : {}) }, { warm: st.posterior });
    } else {
      const h = historyFactor(n);
      const evidence = itemEvidence(train.itemPopularity, st.history);
      const confidence = combineConfidence(h, 0, 0, 1, evidence, { history: 1, ambiguity: 0, spread: 0, fit: 0, evidence: 1 });
      const reasons: string[] = [];
      if (h < 0.5) reasons.push(`short history (${n} item${n === 1 ? '' : 's'})`);
      if (evidence < 0.5) reasons.push(`the history is mostly rarely-seen items (item evidence ${evidence.toFixed(2)})`);
      c = { confidence, historyFactor: h, ambiguity: 0, spread: 0, fit: 1, evidence, historySize: n, personas: 0, reasons };
    }
    st.confidence = c;
    return c;
  }

  /** A user's confidence in [0, 1] (4 decimals) and, when it is low, the reasons. */
  confidence(userId: string): { confidence: number; reasons: string[] } {
    const c = this.confidenceOf(this.state(userId));
    return { confidence: round4(c.confidence), reasons: c.reasons };
  }

  get info(): { name: string; version: number } {
    return { name: this.loaded.record.name, version: this.loaded.record.version };
  }

  /**
   * Item metadata in model index space. A new title is patched in place (cached answers are
   * re-rendered); new categories, a new or deleted model item rebuild it (labels, candidates and
   * the cold-start order; cached profiles and answers follow). Items the model does not know
   * change nothing here. Persona sets, scores and confidences never depend on it.
   */
  private view(): MetaView {
    const m = this.meta;
    if (m && m.version === this.live.itemsVersion) return m;
    if (m) {
      const changes = this.live.itemChangesSince(m.version);
      let rebuild = changes === null;
      let titles = false;
      for (const c of changes ?? []) {
        const i = this.items.lookup(c.id);
        if (i < 0) continue; // not in the model: nothing served changes
        if (c.kind === 'catalogue') rebuild = true;
        else {
          m.titles[i] = this.live.items.get(c.id)?.title || c.id;
          titles = true;
        }
      }
      if (!rebuild) {
        m.version = this.live.itemsVersion;
        if (titles) m.answers++;
        return m;
      }
    }
    const n = this.nItems;
    const titles: string[] = new Array<string>(n);
    const itemCats: string[][] = new Array<string[]>(n);
    const alive: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = this.items.id(i);
      const rec = this.live.items.get(id);
      titles[i] = rec?.title || id;
      itemCats[i] = rec?.categories ?? [];
      if (rec && this.isCandidate[i]) alive.push(i);
    }
    const cats = buildCategories(n, (i) => itemCats[i]!);
    const candidates = Int32Array.from(alive);
    const byCategory = new Map<string, Int32Array>();
    cats.names.forEach((name, ci) => byCategory.set(name, candidates.filter((i) => categoriesOf(cats, i).includes(ci))));
    // the population's taste mix (labels are contrasted with it): popularity-weighted categories
    const baseline = new Float64Array(cats.names.length);
    const weighted: number[] = [];
    for (const i of candidates) for (let r = 0; r < Math.min(this.loaded.popularity[i]!, 1000); r++) weighted.push(i);
    if (cats.names.length > 0) tasteDistribution(Int32Array.from(weighted), cats, baseline);
    const { order, scores } = this.coldStart(candidates, cats);
    this.meta = {
      version: this.live.itemsVersion,
      catalogue: (m?.catalogue ?? 0) + 1,
      answers: (m?.answers ?? 0) + 1,
      titles,
      catNames: cats.names.slice(),
      cats,
      itemCats,
      candidates,
      byCategory,
      coldOrder: order,
      coldScores: scores,
      explain: { nItems: n, categories: cats.names.length > 0 ? cats : null, titles, itemName: (i) => this.items.id(i), baseline, anchors: 3 },
    };
    this.similarCache.clear();
    return this.meta;
  }

  /**
   * Popular but diverse: greedily, the item maximising popularity / (1 + how often its categories
   * were already picked), over the 3,000 most popular candidates (a simple MMR-style rule after
   * Carbonell and Goldstein's maximal marginal relevance).
   */
  private coldStart(candidates: Int32Array, cats: ItemCategories): { order: Int32Array; scores: Float32Array } {
    const pop = this.loaded.popularity;
    const byPop = Array.from(candidates).sort((a, b) => pop[b]! - pop[a]! || this.itemRanks[a]! - this.itemRanks[b]!);
    const pool = byPop.slice(0, 3000);
    const used = new Float64Array(cats.names.length);
    const taken = new Uint8Array(pool.length);
    const order: number[] = [];
    const m = Math.min(pool.length, 1000);
    for (let step = 0; step < m; step++) {
      let best = -1;
      let bestV = -Infinity;
      for (let p = 0; p < pool.length; p++) {
        if (taken[p]) continue;
        const i = pool[p]!;
        const a = cats.ptr[i]!;
        const b = cats.ptr[i + 1]!;
        let pen = 0;
        for (let q = a; q < b; q++) pen += used[cats.idx[q]!]!;
        if (b > a) pen /= b - a;
        const v = pop[i]! / (1 + pen);
        if (v > bestV) {
          bestV = v;
          best = p;
        }
      }
      taken[best] = 1;
      const i = pool[best]!;
      order.push(i);
      for (let q = cats.ptr[i]!; q < cats.ptr[i + 1]!; q++) used[cats.idx[q]!]! += 1;
    }
    for (const i of byPop.slice(3000)) order.push(i);
    const maxPop = Math.max(1, pop[byPop[0] ?? 0] ?? 1);
    const scores = new Float32Array(this.nItems).fill(-Infinity);
    for (const i of candidates) scores[i] = pop[i]! / maxPop;
    return { order: Int32Array.from(order), scores };
  }

  private state(userId: string): UserState {
    this.view();
    const u = this.live.users.get(userId);
    if (!u) {
      this.states.delete(userId); // deleted: nothing of theirs stays cached
      // every user without data shares one cold state (a flood of unknown IDs evicts nobody)
      this.unknown ??= {
        key: 'unknown', taste: 0, settings: 0, seenVersion: 0, cold: true, history: new Int32Array(0), exclude: new Int32Array(0), view: null, k: 0,
        overrides: new Map(), recent: null, scores: null, profile: null, profileCatalogue: -1, confidence: null, posterior: { anchor: null }, answers: new Map(), answersVersion: -1,
      };
      return this.unknown;
    }
    const cached = this.states.get(userId);
    if (cached) {
      // refresh LRU position
      this.states.delete(userId);
      this.states.set(userId, cached);
      if (cached.taste === u.tasteVersion && cached.settings === u.settingsVersion && cached.seenVersion === u.version) return cached;
    }
    const seqCut = this.loaded.meta.feedbackSeq;
    const old: number[] = [];
    const recent: number[] = [];
    const seen: number[] = [];
    for (const id of u.seen.keys()) {
      const i = this.items.lookup(id);
      if (i >= 0) seen.push(i);
    }
    for (const p of u.positives) {
      const i = this.items.lookup(p.item);
      if (i < 0 || !this.isCandidate[i] || !this.live.items.has(p.item)) continue;
      (p.seq <= seqCut ? old : recent).push(i);
    }
    const history = Int32Array.from(new Set([...old, ...recent])).sort();
    const exclude = Int32Array.from(new Set(seen)).sort();
    const overrides = u.overrides ?? new Map<number, { muted: boolean; boost: number }>();
    const trainIdx = this.trainedIndex(userId);
    const oldSet = new Set(old);
    const fresh = Int32Array.from(new Set(recent.filter((i) => !oldSet.has(i))));
    // what the persona set is a function of: the model row (erasure makes it -1), the history, the new positives
    const key = `${trainIdx}|${history.join(',')}|${fresh.join(',')}`;
    if (cached && cached.key === key) {
      // the persona set, its confidence and profile stand: a view or click changed the exclusions,
      // a persona setting the scores, a repeated positive nothing the model sees
      cached.taste = u.tasteVersion;
      cached.seenVersion = u.version;
      cached.exclude = exclude;
      if (cached.settings !== u.settingsVersion) {
        cached.settings = u.settingsVersion;
        cached.overrides = overrides;
        cached.scores = null;
      }
      cached.answers.clear();
      return cached;
    }
    let view: PersonaRecommender | null = null;
    let k = 0;
    let recentPersona: UserState['recent'] = null;
    const pm = this.personas;
    if (pm && history.length > 0) {
      let set: Float32Array;
      if (trainIdx >= 0 && pm.personaCount(trainIdx) > 0) {
        set = pm.personaVectors(trainIdx);
        if (fresh.length > 0) {
          const extra = pm.foldIn(fresh);
          if (extra.length > 0) recentPersona = { index: pm.personaCount(trainIdx), items: fresh.slice().reverse() };
          const merged = new Float32Array(set.length + extra.length);
          merged.set(set);
          merged.set(extra, set.length);
          set = merged;
        }
      } else {
        set = pm.foldIn(history);
      }
      k = set.length === 0 ? 0 : pm.attentionFor(set, history[0]!).length;
      if (k > 0) view = personaView(pm, set, k);
    }
    const st: UserState = {
      key, taste: u.tasteVersion, settings: u.settingsVersion, seenVersion: u.version, cold: history.length === 0, history, exclude, view, k, overrides, recent: recentPersona,
      scores: null, profile: null, profileCatalogue: -1, confidence: null,
      // the user's last posterior fit: the next spread is one Newton step from it (src/confidence PosteriorWarmStart)
      posterior: { anchor: cached?.posterior.anchor ?? null },
      answers: new Map(), answersVersion: -1,
    };
    this.states.set(userId, st);
    if (this.states.size > this.maxStates) this.states.delete(this.states.keys().next().value!);
    return st;
  }

  private scoresOf(userId: string, st: UserState): Float32Array {
    if (st.scores) return st.scores;
    if (st.cold) {
      st.scores = this.view().coldScores; // shared, read-only
      return st.scores;
    }
    const out = new Float32Array(this.nItems);
    if (st.view) {
      const set = st.view.personaVectors(VIEW_USER);
      // a recent persona or a persona setting: score as the mixture of per-persona rankings
      if (!this.usesMixture(st)) st.view.scorePersonas(set, out, st.history);
      else this.scoreWithOverrides(st, set, out);
    } else {
      this.model.scoreBatch(singleUserBatch(this.trainedIndex(userId), st.history), out);
    }
    st.scores = out;
    return out;
  }

  /** Whether the user's list is scored as the mixture of per-persona rankings (a recent persona, a mute or a boost). */
  private usesMixture(st: UserState): boolean {
    return st.recent !== null || [...st.overrides].some(([q, o]) => q < st.k && (o.muted || o.boost !== 1));
  }

  /**
   * Builds what every first read of a user needs once per model (the catalogue view, the training
   * set and, with personas, the onboarding basis of the confidence), so that no request pays for
   * it: called before the engine serves.
   */
  warm(): void {
    this.view();
    const train = this.trainSet();
    if (this.personas) {
      try {
        onboardingBasis(this.personas, train, { size: 16 });
      } catch {
        // no training personas: the confidence then says so on first use
      }
    }
  }

  /**
   * With a recent persona, a mute or a boost, the list score is log sum_k c_k softmax_i(s_k(i))
   * over the unmuted personas, c_k = boost_k / K: each persona's own ranking (s_k: the model's
   * score of persona k alone), weighted by its setting, so a fresh taste gets its share of the
   * list at once instead of waiting for the history-based weights to notice it.
   */
  private scoreWithOverrides(st: UserState, set: Float32Array, out: Float32Array): void {
    const view = st.view!;
    const d = set.length / st.k;
    const acc = new Float64Array(this.nItems);
    const tmp = new Float32Array(this.nItems);
    let any = false;
    for (let q = 0; q < st.k; q++) {
      const o = st.overrides.get(q);
      const c = o?.muted ? 0 : (o?.boost ?? 1) / st.k;
      if (!(c > 0)) continue;
      any = true;
      view.scorePersonas(set.subarray(q * d, (q + 1) * d), tmp);
      let max = -Infinity;
      for (let i = 0; i < tmp.length; i++) if (Number.isFinite(tmp[i]!) && tmp[i]! > max) max = tmp[i]!;
      let sum = 0;
      for (let i = 0; i < tmp.length; i++) if (Number.isFinite(tmp[i]!)) sum += Math.exp(tmp[i]! - max);
      const lse = max + Math.log(sum);
      for (let i = 0; i < tmp.length; i++) if (Number.isFinite(tmp[i]!)) acc[i]! += c * Math.exp(tmp[i]! - lse);
    }
    if (!any) {
      out.set(this.view().coldScores);
      return;
    }
    for (let i = 0; i < out.length; i++) out[i] = acc[i]! > 0 ? Math.log(acc[i]!) : -Infinity;
  }

  /**
   * The user's persona profile (explain.ts). The recent persona stands for the new positives it
   * was folded in from: its anchors are those items (newest first) and its label their categories.
   */
  private profileOf(st: UserState): PersonaProfile | null {
    if (!st.view) return null;
    const meta = this.view();
    if (st.profile && st.profileCatalogue === meta.catalogue) return st.profile;
    const ctx = meta.explain;
    const profile = personaProfile(st.view, { user: VIEW_USER, history: st.history }, ctx);
    const r = st.recent;
    const info = r ? profile.personaInfo[r.index] : undefined;
    if (r && info) {
      const anchors = Array.from(r.items.subarray(0, ctx.anchors ?? 3));
      info.anchors = anchors;
      info.anchorTitles = anchors.map((i) => this.view().titles[i]!);
      if (ctx.categories && ctx.baseline) info.label = labelOf(r.items, ctx.categories, ctx.baseline) ?? info.label;
    }
    st.profile = profile;
    st.profileCatalogue = meta.catalogue;
    return profile;
  }

  /** Model indices of the best `n` items after `offset`, reranked on request. */
  private select(
    st: UserState,
    scores: Float32Array,
    opts: { n: number; offset: number; category?: string | undefined; exclude?: readonly string[]; rerank: string; hedge?: boolean },
    modelForRerank: Recommender | null,
  ): { list: Int32Array; rerank: string; hedgeReasons: string[] | null; fillers?: (string | null)[] } {
    const meta = this.view();
    let candidates = meta.candidates;
    if (opts.category !== undefined) {
      const c = meta.byCategory.get(opts.category);
      if (!c) throw new ConfigError(`unknown category "${opts.category}"; known: ${meta.catNames.join(', ')}`, 'query.category');
      candidates = c;
    }
    let exclude = st.exclude;
    if (opts.exclude && opts.exclude.length > 0) {
      const extra = opts.exclude.map((id) => this.items.lookup(id)).filter((i) => i >= 0);
      exclude = Int32Array.from(new Set([...exclude, ...extra])).sort();
    }
    const want = opts.offset + opts.n;
    const spec = parseRerankSpec(opts.rerank);
    if (st.cold && (!spec || !modelForRerank)) {
      // popular-but-diverse order, filtered
      const allowed = opts.category !== undefined ? new Set(candidates) : null;
      const ex = new Set(exclude);
      const out: number[] = [];
      for (const i of meta.coldOrder) {
        if (out.length >= want) break;
        if (ex.has(i) || (allowed && !allowed.has(i))) continue;
        out.push(i);
      }
      return { list: Int32Array.from(out.slice(opts.offset)), rerank: 'none', hedgeReasons: null };
    }
    let hedgeStage: HedgeStage | null = null;
    if (!spec && (opts.hedge ?? true) && st.view && this.personas) {
      const conf = this.confidenceOf(st);
      if (conf.confidence < HEDGE_THRESHOLD) {
        // hedge (rank/hedge.ts) over the unmuted personas, the allowed candidates, minus exclusions
        const set = st.view.personaVectors(VIEW_USER);
        const d = set.length / Math.max(1, st.k);
        const kept: number[] = [];
        for (let q = 0; q < st.k; q++) if (!st.overrides.get(q)?.muted) kept.push(q);
        const personas = new Float32Array(kept.length * d);
        kept.forEach((q, r) => personas.set(set.subarray(q * d, (q + 1) * d), r * d));
        const confidence = { ...conf, personas: kept.length };
        hedgeStage = { model: this.personas, personas, confidence, itemPopularity: this.trainSet().itemPopularity, categories: meta.cats, threshold: HEDGE_THRESHOLD };
      }
    }
    let reranker: ReturnType<typeof buildReranker> = null;
    try {
      reranker = spec ? buildReranker(spec, { log: { categories: meta.explain.categories } }, modelForRerank ?? undefined) : null;
    } catch (err) {
      if (err instanceof ConfigError) throw new ConfigError(err.message.replace(/^--rerank: /, ''), 'rerank');
      throw err;
    }
    const from = { candidates, exclude, itemRanks: this.itemRanks };
    const { list, hedged } = select(scores, from, { user: st.view ? VIEW_USER : -1, history: st.history }, { k: want, reranker, hedge: hedgeStage });
    if (!hedged) return { list: list.slice(opts.offset), rerank: reranker ? reranker.name : 'none', hedgeReasons: null };
    return { list: list.slice(opts.offset), rerank: 'none', hedgeReasons: hedgeReasonsInWords(this.confidenceOf(st), hedged.reasons, HEDGE_THRESHOLD), fillers: hedged.fillers.slice(opts.offset) };
  }

  private itemJson(i: number, score: number): { id: string; title: string; score: number; categories: string[] } {
    const meta = this.view();
    return { id: this.items.id(i), title: meta.titles[i]!, score: Number.isFinite(score) ? Math.round(score * 1e6) / 1e6 : 0, categories: meta.itemCats[i]! };
  }

  /**
   * An item's explanation, or null with the reason when `explainOrWithhold` (src/confidence) finds
   * the explaining persona uncertain (no persona carries the item, or the user's confidence is
   * too low); undefined without personas.
   */
  private explanationOf(st: UserState, item: number): { explanation: Explanation | null; explanationWithheld?: string } | undefined {
    const profile = this.profileOf(st);
    if (!profile || !st.view) return undefined;
    // a muted persona never explains an item
    const muted = new Set<number>();
    for (const [q, o] of st.overrides) if (o.muted && q < st.k) muted.add(q);
    const r = explainOrWithhold(st.view, profile, item, this.view().explain, this.confidenceOf(st), { muted });
    if (r.withheld !== null && r.withheld !== 'no personas for this user') return { explanation: null, explanationWithheld: r.withheld };
    const e = r.explanation;
    if (!e) return undefined;
    return { explanation: {
      persona: e.persona,
      label: e.label ?? `taste #${e.persona + 1}`,
      weights: e.weights.map((w) => Math.round(w * 1e4) / 1e4),
      anchors: e.anchors.map((a) => ({ id: this.items.id(a), title: this.view().titles[a]! })),
    } };
  }

  /** The JSON text of a user's recommendations (cached per user state and query). */
  recommendJson(userId: string, opts: RecommendOptions): string {
    const st = this.state(userId);
    const answersVersion = this.view().answers;
    if (st.answersVersion !== answersVersion) {
      st.answers.clear();
      st.answersVersion = answersVersion;
    }
    const cacheKey = `${st === this.unknown ? `${userId}|` : ''}${opts.n}|${opts.offset}|${opts.category ?? ''}|${(opts.exclude ?? []).join(',')}|${opts.rerank}|${opts.explain}|${opts.hedge ?? true}`;
    const hit = st.answers.get(cacheKey);
    if (hit !== undefined) return hit;
    const body = this.recommendState(userId, st, opts);
    const text = JSON.stringify(body);
    if (st.answers.size >= ANSWER_CACHE) st.answers.delete(st.answers.keys().next().value!);
    st.answers.set(cacheKey, text);
    return text;
  }

  private recommendState(userId: string, st: UserState, opts: RecommendOptions): Recommendations {
    const scores = this.scoresOf(userId, st);
    const { list, rerank, hedgeReasons, fillers } = this.select(st, scores, opts, st.view ?? (st.cold ? null : this.model));
    const items = Array.from(list, (i, r) => {
      const base = this.itemJson(i, scores[i]!);
      // a hedged list's popular filler says why it is there instead of naming a persona
      const filler = fillers?.[r];
      if (opts.explain && filler) return { ...base, explanation: null, reason: filler };
      const explanation = opts.explain && !st.cold ? this.explanationOf(st, i) : undefined;
      return explanation ? { ...base, ...explanation } : base;
    });
    const confidence = round4(this.confidenceOf(st).confidence);
    const hedging = hedgeReasons ? { hedged: true, hedgeReasons } : { hedged: false };
    return { user: userId, coldStart: st.cold, ...hedging, confidence, rerank, model: this.info, items };
  }

  /** Model indices of a user's recommendations (taste mix, tests). */
  listOf(userId: string, n: number, rerank: string, hedge = true): Int32Array {
    const st = this.state(userId);
    return this.select(st, this.scoresOf(userId, st), { n, offset: 0, rerank, hedge }, st.view ?? (st.cold ? null : this.model)).list;
  }

  personasOf(userId: string): Personas {
    const st = this.state(userId);
    const profile = this.profileOf(st);
    const meta = this.view();
    const personas = (profile?.personaInfo ?? []).map((p) => {
      const o = st.overrides.get(p.persona);
      return {
        index: p.persona,
        share: Math.round(p.share * 1e4) / 1e4,
        label: p.label ?? `taste #${p.persona + 1}`,
        anchors: p.anchors.map((a) => ({ id: this.items.id(a), title: meta.titles[a]! })),
        muted: o?.muted ?? false,
        boost: o?.boost ?? 1,
      };
    });
    return { user: userId, confidence: round4(this.confidenceOf(st).confidence), personas };
  }

  /**
   * The user's row in the model, or -1: not trained on, or the row belongs to a user of that id
   * who was deleted after the model read its data (erasure: never serve their vectors again).
   */
  private trainedIndex(userId: string): number {
    const t = this.users.lookup(userId);
    return t >= 0 && this.live.erasedAfter(userId, this.loaded.meta.erasureGen ?? 0) ? -1 : t;
  }

  /** Number of personas the user has now (for validating PATCH). */
  personaCount(userId: string): number {
    return this.state(userId).k;
  }

  tasteMix(userId: string, n: number, rerank: string, hedge = true): { categories: string[]; history: number[]; list: number[] } {
    const st = this.state(userId);
    const meta = this.view();
    const list = this.listOf(userId, n, rerank, hedge);
    const nc = meta.catNames.length;
    const h = new Float64Array(nc);
    const l = new Float64Array(nc);
    if (nc > 0) {
      tasteDistribution(st.history, meta.cats, h);
      tasteDistribution(list, meta.cats, l);
    }
    const r = (x: number): number => Math.round(x * 1e4) / 1e4;
    return { categories: meta.catNames, history: Array.from(h, r), list: Array.from(l, r) };
  }

  /** Items most like `itemId`: the scores of the one-item history (folded in). */
  similar(itemId: string, n: number, offset: number): { item: string; items: { id: string; title: string; score: number; categories: string[] }[] } {
    const i = this.items.lookup(itemId);
    if (i < 0 || !this.live.items.has(itemId)) throw new NotFoundError(`item "${itemId}" is not in the served model`);
    let c = this.similarCache.get(i);
    if (!c || c.items.length < offset + n) {
      const scores = new Float32Array(this.nItems);
      const hist = Int32Array.of(i);
      if (this.personas) this.personas.scorePersonas(this.personas.foldIn(hist), scores, hist);
      else this.model.scoreBatch(singleUserBatch(-1, hist), scores);
      const k = Math.max(100, offset + n);
      const { list } = select(scores, { candidates: this.view().candidates, exclude: hist, itemRanks: this.itemRanks }, { user: -1, history: hist }, { k });
      c = { items: list, scores: Float32Array.from(list, (j) => scores[j]!) };
      if (this.similarCache.size > 4096) this.similarCache.delete(this.similarCache.keys().next().value!);
      this.similarCache.set(i, c);
    }
    const items: { id: string; title: string; score: number; categories: string[] }[] = [];
    for (let r = offset; r < Math.min(c.items.length, offset + n); r++) items.push(this.itemJson(c.items[r]!, c.scores[r]!));
    return { item: itemId, items };
  }

  /** Recommendations for an anonymous history (not stored). */
  session(itemIds: readonly string[], n: number, rerank: string, explain: boolean, hedge = true): Recommendations {
    const hist: number[] = [];
    for (const [r, id] of itemIds.entries()) {
      const i = this.items.lookup(id);
      if (i < 0 || !this.live.items.has(id)) throw new NotFoundError(`items[${r}]: unknown item "${id}"`);
      if (this.isCandidate[i]) hist.push(i);
    }
    const history = Int32Array.from(new Set(hist)).sort();
    let view: PersonaRecommender | null = null;
    let k = 0;
    if (this.personas && history.length > 0) {
      const set = this.personas.foldIn(history);
      k = set.length === 0 ? 0 : this.personas.attentionFor(set, history[0]!).length;
      if (k > 0) view = personaView(this.personas, set, k);
    }
    const st: UserState = {
      key: 'session',
      taste: 0,
      settings: 0,
      seenVersion: 0,
      cold: history.length === 0,
      history,
      exclude: Int32Array.from(new Set(itemIds.map((id) => this.items.lookup(id)).filter((i) => i >= 0))).sort(),
      view,
      k,
      overrides: new Map(),
      recent: null,
      scores: null,
      profile: null,
      profileCatalogue: -1,
      confidence: null,
      posterior: { anchor: null },
      answers: new Map(),
      answersVersion: -1,
    };
    if (!st.cold && !view) {
      const out = new Float32Array(this.nItems);
      this.model.scoreBatch(singleUserBatch(-1, history), out);
      st.scores = out;
    }
    const body = this.recommendState('(session)', st, { n, offset: 0, rerank, explain, hedge });
    return { ...body, user: '(session)' };
  }

  /** Validates a rerank spec early (400 on a bad one). */
  static checkRerank(spec: string): void {
    try {
      parseRerankSpec(spec);
    } catch (err) {
      if (err instanceof ConfigError) throw new ConfigError(err.message.replace(/^--rerank: /, ''), 'rerank');
      throw err;
    }
  }
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
