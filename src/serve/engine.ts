/**
 * The serving engine: one loaded model plus the live data, answering recommendations, personas,
 * similar items, sessions and taste mixes: the request flow over the model file (model-file.ts),
 * the catalogue (catalogue.ts), the per-user states (user-state.ts) and the rank pipeline. An
 * engine is immutable with respect to its model; a retrain builds a new engine and the service
 * swaps the reference (requests in flight finish on the engine they started with).
 */
import type { UserConfidence } from '../confidence/index.js';
import { IdMap } from '../data/ids.js';
import { ConfigError, NotFoundError } from '../errors.js';
import { labelOf, personaProfile, type PersonaProfile } from '../explain/explain.js';
import { hedgeReasonsInWords } from '../explain/hedge-reasons.js';
import { explainOrWithhold } from '../explain/explain-or-withhold.js';
import { hasPersonas, singleUserBatch, type HasPersonas, type Recommender } from '../models/model.js';
import type { TrainSet } from '../data/train-set.js';
import { coldList } from '../rank/cold-start.js';
import { DEFAULT_HEDGE_THRESHOLD, type HedgeStage } from '../rank/hedge.js';
import { buildReranker, parseRerankSpec } from '../rank/index.js';
import { select } from '../rank/pipeline.js';
import { ServeRetrieval, serveAnnOf, type ServeAnnOptions } from './ann-retrieval.js';
import { Catalogue, type CatalogueView } from './catalogue.js';
import type { LiveData } from './live.js';
import { servedTrainSet, type LoadedModel } from './model-file.js';
import { explanationJson, itemJson, personasJson, round4, tasteMixJson } from './answers.js';
import { NewItems, newItemJson, type NewItem } from './new-items.js';
import { matcher, readableParts, seenTest, summaryOf, type SeenTest } from './explanations.js';
import { mixtureScores, usesMixture } from './persona-mixture.js';
import { ListCache } from './list-cache.js';
import { MAX_N, type Explanation, type Personas, type Recommendations } from './schemas.js';
import { fitMixtureRow, servedConfidence, warmConfidence } from './served-confidence.js';
import { SimilarItems } from './similar-items.js';
import { friendVia, namesFriends } from './social-via.js';
import { maxStatesFor, sessionState, personaCountOf, personaRowsOf, UserStates, type UserState } from './user-state.js';

type PersonaRecommender = Recommender & HasPersonas;

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
  private readonly catalogue: Catalogue;
  private readonly states: UserStates;
  private readonly similarItems = new SimilarItems(
    () => this.nItems,
    (hist, out) => (this.personas ? this.personas.scorePersonas(this.personas.foldIn(hist), out, hist) : this.model.scoreBatch(singleUserBatch(-1, hist), out)),
    (scores, hist, k) => select(scores, { candidates: this.view().candidates, exclude: hist, itemRanks: this.itemRanks }, { user: -1, history: hist }, { k }).list,
  );
  private train: TrainSet | null = null;
  /** Plain lists computed deeper than asked, so that later pages are slices (list-cache.ts). */
  readonly lists = new ListCache();
  /** Items posted after training, scored from their peers (new-items.ts). */
  private readonly fresh: NewItems;
  /** Per-persona ANN retrieval of large catalogues (ann-retrieval.ts); `warm` starts its index build on a worker thread. */
  readonly ann: ServeRetrieval;

  constructor(
    readonly loaded: LoadedModel,
    readonly live: LiveData,
    ann: ServeAnnOptions = serveAnnOf(live),
  ) {
    this.model = loaded.model;
    this.ann = new ServeRetrieval(loaded.model, ann);
    this.personas = hasPersonas(loaded.model) ? loaded.model : null;
    this.items = new IdMap();
    for (const id of loaded.meta.items) this.items.intern(id);
    this.users = new IdMap();
    for (const id of loaded.meta.users) this.users.intern(id);
    this.nItems = this.items.size;
    this.itemRanks = this.items.ranks();
    this.isCandidate = new Uint8Array(this.nItems);
    for (let i = 0; i < this.nItems; i++) if (loaded.popularity[i]! > 0) this.isCandidate[i] = 1;
    this.catalogue = new Catalogue(this.items, live, this.isCandidate, loaded.popularity, this.itemRanks, () => this.similarItems.clear());
    const maxStates = maxStatesFor(this.nItems, this.model, this.personas !== null);
    const engine = this;
    this.states = new UserStates(
      { items: this.items, live, isCandidate: this.isCandidate, feedbackSeq: loaded.meta.feedbackSeq, personas: this.personas, trainedIndex: (id) => engine.trainedIndex(id) },
      maxStates,
    );
    this.fresh = new NewItems({ items: this.items, nItems: this.nItems, popularity: loaded.popularity, isCandidate: (i) => this.isCandidate[i] === 1 });
  }

  /** The model's training data rebuilt from the live positives (model-file.ts `servedTrainSet`). */
  trainSet(): TrainSet {
    this.train ??= servedTrainSet(this.loaded, this.live, this.items, this.users, this.isCandidate, (id) => this.trainedIndex(id));
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
    const rows = this.personas && st.personas ? personaRowsOf(st, this.personas, st.personas, this.nItems) : undefined;
    // the fit's mixture row (a persona state's scores do not read the user id: only a model without personas does)
    const fit = rows ? fitMixtureRow(st, rows, this.nItems, () => this.scoresOf('', st), this.view().coldScores) : undefined;
    st.confidence = servedConfidence(this.personas, this.trainSet(), st, rows, fit);
    return st.confidence;
  }

  /** A user's confidence in [0, 1] (4 decimals) and, when it is low, the reasons. */
  confidence(userId: string): { confidence: number; reasons: string[] } {
    const c = this.confidenceOf(this.state(userId));
    return { confidence: round4(c.confidence), reasons: c.reasons };
  }

  get info(): { name: string; version: number } {
    return { name: this.loaded.record.name, version: this.loaded.record.version };
  }

  private view(): CatalogueView {
    return this.catalogue.current();
  }

  private state(userId: string): UserState {
    this.view();
    return this.states.get(userId);
  }

  private scoresOf(userId: string, st: UserState): Float32Array {
    const meta = this.view(); // scores that may hold the cold-start scores keep the catalogue they used
    if (st.scores && (st.scoresCatalogue < 0 || st.scoresCatalogue === meta.catalogue) && !this.ann.stale(st.scores, this.fresh.generation)) return st.scores;
    st.scoresCatalogue = st.cold || (st.personas !== null && this.personas !== null && usesMixture(st.personas, st.recent, st.overrides)) ? meta.catalogue : -1;
    if (st.cold) return (st.scores = meta.coldScores); // shared, read-only
    const out = new Float32Array(this.nItems);
    if (st.personas && this.personas && this.ann.active && this.retrieved(st, meta, out)) {
      // retrieved per persona and reranked exactly over the pool (ann-retrieval.ts)
      st.scoresCatalogue = meta.catalogue;
    } else if (st.personas && this.personas) {
      // a recent persona or a persona setting: score as the mixture of per-persona rankings
      if (!usesMixture(st.personas, st.recent, st.overrides)) this.personas.scorePersonas(st.personas.vectors, out, st.history, personaRowsOf(st, this.personas, st.personas, this.nItems));
      else mixtureScores(st.personas, st.overrides, meta.coldScores, out, personaRowsOf(st, this.personas, st.personas, this.nItems));
    } else {
      this.model.scoreBatch(singleUserBatch(this.trainedIndex(userId), st.history), out);
    }
    st.scores = out;
    return out;
  }

  /** A large catalogue's row of a user with personas by per-persona retrieval (false: not retrieved). */
  private retrieved(st: UserState, meta: CatalogueView, out: Float32Array): boolean {
    const fresh = this.fresh.current(this.live);
    const peers = fresh.flatMap((f) => Array.from(f.peers));
    const subject = { personas: st.personas!, history: st.history, exclude: st.exclude, overrides: st.overrides, mixture: usesMixture(st.personas, st.recent, st.overrides) };
    return this.ann.scoreInto(subject, out, meta.candidates.length, peers, this.fresh.generation);
  }

  /**
   * Builds what every first read of a user needs once per model (the catalogue view, the training
   * set and, with personas, the onboarding basis of the confidence), so that no request pays for
   * it: called before the engine serves.
   */
  warm(): void {
    this.view();
    void this.ann.start(); // on a worker thread: reads stay exact until it is ready
    const train = this.trainSet();
    if (this.personas) warmConfidence(this.personas, train);
  }

  /**
   * The user's persona profile (explain.ts). The recent persona stands for the new positives it
   * was folded in from: its anchors are those items (newest first) and its label their categories.
   */
  private profileOf(st: UserState): PersonaProfile | null {
    if (!st.personas || !this.personas) return null;
    const meta = this.view();
    if (st.profile && st.profileCatalogue === meta.catalogue) return st.profile;
    const ctx = meta.explain;
    const rows = personaRowsOf(st, this.personas, st.personas, this.nItems);
    const profile = personaProfile(this.personas, st.personas, ctx, (q) => rows.row(q));
    const r = st.recent;
    const info = r ? profile.personaInfo[r.index] : undefined;
    if (r && info) {
      const anchors = Array.from(r.items.subarray(0, ctx.anchors ?? 3));
      info.anchors = anchors;
      info.anchorTitles = anchors.map((i) => meta.titles[i]!);
      if (ctx.categories && ctx.baseline) info.label = labelOf(r.items, ctx.categories, ctx.baseline) ?? info.label;
    }
    st.profile = profile;
    st.profileCatalogue = meta.catalogue;
    return profile;
  }

  /** The hedge stage (rank/hedge.ts) of a low-confidence user: their unmuted personas, else null. */
  private hedgeStageOf(st: UserState): HedgeStage | null {
    if (!st.personas || !this.personas) return null;
    const conf = this.confidenceOf(st);
    if (conf.confidence >= HEDGE_THRESHOLD) return null;
    const { vectors: set, k } = st.personas;
    const d = set.length / Math.max(1, k);
    const kept: number[] = [];
    for (let q = 0; q < k; q++) if (!st.overrides.get(q)?.muted) kept.push(q);
    const personas = new Float32Array(kept.length * d);
    kept.forEach((q, r) => personas.set(set.subarray(q * d, (q + 1) * d), r * d));
    const confidence = { ...conf, personas: kept.length };
    const rows = personaRowsOf(st, this.personas, st.personas, this.nItems);
    return { model: this.personas, personas, confidence, itemPopularity: this.trainSet().itemPopularity, categories: this.view().cats, threshold: HEDGE_THRESHOLD, ownRow: (r) => rows.row(kept[r]!) };
  }

  /** Model indices of the best `n` items after `offset`, reranked on request. */
  private select(
    st: UserState,
    scores: Float32Array,
    opts: { n: number; offset: number; category?: string | undefined; exclude?: readonly string[]; rerank: string; hedge?: boolean },
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
    // the reranker's model: the persona model for a user with a persona set, none for a cold user
    const modelForRerank = st.personas ? this.personas : st.cold ? null : this.model;
    if (st.cold && (!spec || !modelForRerank)) {
      const list = coldList(meta.coldOrder, exclude, opts.category !== undefined ? candidates : null, want);
      return { list: list.slice(opts.offset), rerank: 'none', hedgeReasons: null };
    }
    const hedgeStage = !spec && (opts.hedge ?? true) ? this.hedgeStageOf(st) : null;
    let reranker: ReturnType<typeof buildReranker> = null;
    try {
      reranker = spec ? buildReranker(spec, { log: { categories: meta.explain.categories } }, modelForRerank ?? undefined) : null;
    } catch (err) {
      if (err instanceof ConfigError) throw new ConfigError(err.message.replace(/^--rerank: /, ''), 'rerank');
      throw err;
    }
    const from = { candidates, exclude, itemRanks: this.itemRanks };
    const subject = { user: -1, history: st.history, ...(st.personas ? { personas: st.personas } : {}) };
    if (!reranker && !hedgeStage) {
      // a plain list: every page of it is a slice of one deeper list (list-cache.ts)
      const key = `${opts.category ?? ''}|${opts.exclude?.join(',') ?? ''}`;
      const top = this.lists.top(scores, key, candidates, st.exclude, want, MAX_N, (depth) => select(scores, from, subject, { k: depth }).list);
      return { list: top.slice(opts.offset), rerank: 'none', hedgeReasons: null };
    }
    const { list, hedged } = select(scores, from, subject, { k: want, reranker, hedge: hedgeStage });
    if (!hedged) return { list: list.slice(opts.offset), rerank: reranker ? reranker.name : 'none', hedgeReasons: null };
    return { list: list.slice(opts.offset), rerank: 'none', hedgeReasons: hedgeReasonsInWords(this.confidenceOf(st), hedged.reasons, HEDGE_THRESHOLD), fillers: hedged.fillers.slice(opts.offset) };
  }

  /**
   * An item's explanation, or null with the reason when `explainOrWithhold` (src/confidence) finds
   * the explaining persona uncertain (no persona carries the item, or the user's confidence is
   * too low); undefined without personas.
   */
  private explanationOf(st: UserState, item: number, seen: SeenTest): { explanation: Explanation | null; explanationWithheld?: string } | undefined {
    const profile = this.profileOf(st);
    if (!profile || !this.personas || !st.personas) return undefined;
    // a muted persona never explains an item
    const muted = new Set<number>();
    for (const [q, o] of st.overrides) if (o.muted && q < personaCountOf(st)) muted.add(q);
    const r = explainOrWithhold(this.personas, profile, item, this.view().explain, this.confidenceOf(st), { muted });
    if (r.withheld !== null && r.withheld !== 'no personas for this user') return { explanation: null, explanationWithheld: r.withheld };
    const e = r.explanation;
    if (!e) return undefined;
    // anchors per item, the rank within the persona, the weight against an even share (explanations.ts)
    const rows = personaRowsOf(st, this.personas, st.personas, this.nItems);
    const x = readableParts({ model: this.model, personas: this.personas, set: st.personas, recent: st.recent, profile, e, item, nItems: this.nItems, candidates: this.view().candidates, anchors: this.view().explain.anchors ?? 3, ownRow: (q) => rows.row(q), seen });
    const base = explanationJson(this.items, this.view(), { ...e, anchors: x.anchors });
    return { explanation: { ...base, weight: round4(e.weight), evenShare: x.evenShare, relative: x.relative, personaRank: x.personaRank, summary: summaryOf({ ...x, label: base.label, anchorTitles: base.anchors.map((a) => a.title) }) } };
  }

  /** The JSON text of a user's recommendations (cached per user state and query). */
  recommendJson(userId: string, opts: RecommendOptions): string {
    const st = this.state(userId);
    const answersVersion = this.view().answers;
    if (st.answersVersion !== answersVersion) {
      st.answers.clear();
      st.answersVersion = answersVersion;
    }
    this.fresh.current(this.live);
    // with a model whose answers name friends (social-via.ts), an erasure changes other users' answers
    const cacheKey = `${this.fresh.generation}|${namesFriends(this.model) ? this.live.erasureGen : ''}|${this.states.isUnknown(st) ? `${userId}|` : ''}${opts.n}|${opts.offset}|${opts.category ?? ''}|${(opts.exclude ?? []).join(',')}|${opts.rerank}|${opts.explain}|${opts.hedge ?? true}`;
    const hit = st.answers.get(cacheKey);
    if (hit !== undefined) return hit;
    const body = this.recommendState(userId, st, opts);
    const text = JSON.stringify(body);
    if (st.answers.size >= ANSWER_CACHE) st.answers.delete(st.answers.keys().next().value!);
    st.answers.set(cacheKey, text);
    return text;
  }

  private recommendState(userId: string, st: UserState, opts: RecommendOptions, seenIds?: ReadonlySet<string>): Recommendations {
    const row = this.scoresOf(userId, st);
    // a retrieved row with the category's candidates scored too (ann-retrieval.ts); else the row
    const filtered = opts.category !== undefined ? this.ann.withItems(row, opts.category, this.view().byCategory.get(opts.category) ?? new Int32Array(0)) : row;
    // the top offset + n, so that new items merge in before the page is cut
    const want = opts.offset + opts.n;
    const selected = this.select(st, filtered, { ...opts, offset: 0, n: want });
    // a hedged list's picks from outside a retrieved pool get their scores (ann-retrieval.ts)
    const scores = this.ann.covering(filtered, selected.list);
    const { rerank, hedgeReasons } = selected;
    // items posted after training, scored from their peers, merged before the cut (new-items.ts)
    const [skip, seenIdsOf] = [new Set(opts.exclude ?? []), seenIds ?? this.live.users.get(userId)?.seen];
    const allowed = (f: NewItem): boolean => !st.cold && rerank === 'none' && !skip.has(f.id) && !seenIdsOf?.has(f.id) && (opts.category === undefined || f.categories.includes(opts.category));
    const { entries: all, newScores, fillerOf } = this.fresh.mergeSelected(this.live, selected, scores, want, allowed);
    const entries = all.slice(opts.offset);
    const seen = seenTest(st.exclude, this.nItems);
    const match = this.ann.matcher(scores, this.view().candidates, seen) ?? matcher(scores, this.view().candidates, seen, entries.length, entries.map((i) => (typeof i === 'number' ? scores[i]! : (newScores.get(i) ?? 0))));
    const items = entries.map((i, r) => {
      if (typeof i !== 'number') return newItemJson(i, newScores.get(i) ?? 0, opts.offset + r + 1, match, opts.explain);
      const base = { ...itemJson(this.items, this.view(), i, scores[i]!), rank: opts.offset + r + 1, match: match(scores[i]!) };
      // a hedged list's popular filler says why it is there instead of naming a persona
      const filler = fillerOf.get(i);
      if (opts.explain && filler) return { ...base, explanation: null, reason: filler };
      const explanation = opts.explain && !st.cold ? this.explanationOf(st, i, seen) : undefined;
      const via = opts.explain && !st.cold ? friendVia(this.model, this.trainedIndex(userId), i, this.users, (id) => this.trainedIndex(id) >= 0) : undefined;
      const item = via ? { ...base, via } : base;
      return explanation ? { ...item, ...explanation } : item;
    });
    const confidence = round4(this.confidenceOf(st).confidence);
    const hedging = hedgeReasons ? { hedged: true, hedgeReasons } : { hedged: false };
    return { user: userId, coldStart: st.cold, ...hedging, confidence, rerank, model: this.info, items };
  }

  /** Model indices of a user's recommendations (taste mix, tests). */
  listOf(userId: string, n: number, rerank: string, hedge = true): Int32Array {
    const st = this.state(userId);
    return this.select(st, this.scoresOf(userId, st), { n, offset: 0, rerank, hedge }).list;
  }

  personasOf(userId: string): Personas {
    const st = this.state(userId);
    return personasJson(this.items, this.view(), userId, this.profileOf(st), st.overrides, this.confidenceOf(st).confidence);
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
    return personaCountOf(this.state(userId));
  }

  tasteMix(userId: string, n: number, rerank: string, hedge = true): { categories: string[]; history: number[]; list: number[] } {
    return tasteMixJson(this.state(userId).history, this.listOf(userId, n, rerank, hedge), this.view());
  }

  /** Items most like `itemId`: the scores of the one-item history (folded in). */
  similar(itemId: string, n: number, offset: number): { item: string; items: { id: string; title: string; score: number; categories: string[] }[] } {
    const i = this.items.lookup(itemId);
    if (i < 0 || !this.live.items.has(itemId)) throw new NotFoundError(`item "${itemId}" is not in the served model`);
    const c = this.similarItems.of(i, offset + n);
    const items: { id: string; title: string; score: number; categories: string[] }[] = [];
    for (let r = offset; r < Math.min(c.items.length, offset + n); r++) items.push(itemJson(this.items, this.view(), c.items[r]!, c.scores[r]!));
    return { item: itemId, items };
  }

  /** Recommendations for an anonymous history (not stored). */
  session(itemIds: readonly string[], n: number, rerank: string, explain: boolean, hedge = true, filter: { category?: string | undefined; exclude?: readonly string[] } = {}): Recommendations {
    const st = sessionState(itemIds, this.items, (id) => this.live.items.has(id), this.isCandidate, this.personas);
    if (!st.cold && !st.personas) {
      const out = new Float32Array(this.nItems);
      this.model.scoreBatch(singleUserBatch(-1, st.history), out);
      st.scores = out;
    }
    const body = this.recommendState('(session)', st, { n, offset: 0, rerank, explain, hedge, category: filter.category, exclude: filter.exclude ?? [] }, new Set(itemIds));
    return { ...body, user: '(session)' };
  }
}
