/**
 * The high-level library interface: fit a model on an interaction log given with string ids, ask
 * for a user's top items (with the persona behind each one when the model has personas), fold in
 * a new user's history, save and load. Everything in and out is a string id or a plain number;
 * the dense indices, typed arrays and top-K machinery stay inside.
 *
 *   const r = await Recommender.fit(log, { model: 'personas', seed: 42 });
 *   r.recommend('u1', { n: 10, explain: true });
 *   r.foldIn(['i3', 'i7']).recommend({ n: 5 });
 *   await r.save('m.model'); const same = await Recommender.load('m.model');
 *
 * The saved file is the model artifact of src/models/artifact.ts (versioned, sha256-checked,
 * written atomically) with the id maps, the training positives, titles and categories added under
 * `__api*` names, so a loaded recommender answers exactly as the fitted one did.
 *
 * Answers follow `personae recommend --no-hedge`: the plain top-n of the model's scores over the
 * items with at least one training positive, the user's own positives excluded, ties broken by
 * item id (PROTOCOL.md). Explanations are those of src/explain, withheld (with the reason) by the
 * service's item-level rule (`withheldByWeights`: two personas carry the item almost equally).
 */
import { rowOf } from '../data/csr.js';
import { tasteDistribution } from '../data/categories.js';
import { LogBuilder, categoriesOf, type InteractionLog, type ItemCategories } from '../data/dataset.js';
import { IdMap } from '../data/ids.js';
import { buildTrainSet, extractPositives } from '../data/split.js';
import { trainSetFromPairs } from '../data/train-set.js';
import { ConfigError, DataError, NotFoundError } from '../errors.js';
import { explainItem, explanationSentence, personaProfile, type ExplainContext, type PersonaProfile } from '../explain/explain.js';
import { withheldByWeights } from '../explain/withhold.js';
import { Rng } from '../math/rng.js';
import { decodeArtifact, encodeArtifact, readArtifactFile, saveArtifact } from '../models/artifact.js';
import {
  hasPersonas,
  singleUserBatch,
  type HasPersonas,
  type ModelArtifact,
  type ModelParams,
  type ProgressEvent,
  type Recommender as Model,
  type TrainSet,
} from '../models/model.js';
import { createModel, modelFromArtifact } from '../models/registry.js';
import { select } from '../rank/pipeline.js';

/** One event of an interaction log given as objects. */
export interface Interaction {
  readonly user: string;
  readonly item: string;
  /** Explicit rating; rows under `minRating` are not positives. Omit for implicit data. */
  readonly rating?: number;
  /** Seconds since the epoch (or any increasing clock), or a Date. */
  readonly timestamp?: number | Date;
}

/** Optional item metadata: titles and categories (used by explanations' taste labels). */
export interface ItemInfo {
  readonly item: string;
  readonly title?: string;
  readonly categories?: readonly string[];
}

export interface FitOptions {
  /** A registered model name (default 'personas'). */
  readonly model?: string;
  /** The model's parameters (validated by its schema; unknown keys are errors). */
  readonly params?: ModelParams;
  /** Root seed of every random stream (default 42, as the CLI). Same seed, same model. */
  readonly seed?: number;
  /** Worker threads for fitting (default 1); results do not depend on it. */
  readonly threads?: number;
  /** Ratings at or above are positives when the log has ratings (default 4, as the CLI). */
  readonly minRating?: number;
  /** Titles and categories of items, for a log given as objects. */
  readonly items?: readonly ItemInfo[];
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: ProgressEvent) => void;
}

export interface RecommendOptions {
  /** How many items (default 10). */
  readonly n?: number;
  /** Explain each item by the persona (taste) that carries it; needs a model with personas. */
  readonly explain?: boolean;
  /** More item ids to leave out (the user's own positives are always left out). */
  readonly exclude?: readonly string[];
}

/** A taste of a user: one persona, what it stands for and how much of the history it explains. */
export interface Taste {
  /** 0-based persona index. */
  readonly taste: number;
  /** e.g. "Sci-Fi / Thriller"; null when the data has no categories. */
  readonly label: string | null;
  /** Share of the user's history this persona explains best. */
  readonly share: number;
  /** History items belonging to it. */
  readonly size: number;
  /** The user's own items that stand for it (ids), most typical first. */
  readonly anchors: readonly string[];
  readonly anchorTitles: readonly string[];
}

export interface Explanation {
  /** The persona that carries the item (index into `tastes`). */
  readonly taste: number;
  readonly label: string | null;
  /** Its weight for the item (the weights of all personas sum to 1). */
  readonly weight: number;
  readonly weights: readonly number[];
  /** The persona's share of the history. */
  readonly share: number;
  readonly anchors: readonly string[];
  /** e.g. "because of your Sci-Fi taste (72%), like Alien and The Matrix". */
  readonly sentence: string;
}

export interface RecommendedItem {
  readonly item: string;
  readonly score: number;
  readonly title: string | null;
  readonly categories: readonly string[];
  /** With `explain`: the explanation, or null with `withheld` saying why. */
  readonly explanation?: Explanation | null;
  readonly withheld?: string;
}

export interface Recommendations {
  /** The user id, or null for a folded-in history. */
  readonly user: string | null;
  readonly model: string;
  readonly items: readonly RecommendedItem[];
  /** With `explain`: the user's tastes. */
  readonly tastes?: readonly Taste[];
}

/** A history folded into the model without refitting (a new or anonymous user). */
export interface FoldedUser {
  /** The history's items known to the model, ascending by index. */
  readonly history: readonly string[];
  /** Item ids of the history the model does not know (ignored). */
  readonly ignored: readonly string[];
  recommend(opts?: RecommendOptions): Recommendations;
  /** The tastes of the history (null for a model without personas or an empty history). */
  tastes(): readonly Taste[] | null;
}

/**
 * A fitted model with its training set and id spaces: what `Recommender.fitted` exposes to code
 * below the high-level interface (the CLI's recommend and batch score with it).
 */
export interface FittedModel {
  readonly model: Model;
  readonly modelName: string;
  readonly train: TrainSet;
  readonly users: IdMap;
  readonly items: IdMap;
  readonly titles: readonly (string | undefined)[] | null;
  readonly categories: ItemCategories | null;
  readonly minRating: number;
  readonly seed: number;
}

const API_META = '__api';
const API_INDPTR = '__api_indptr';
const API_INDICES = '__api_indices';
const API_CAT_PTR = '__api_cat_ptr';
const API_CAT_IDX = '__api_cat_idx';
const API_FORMAT = 1;

interface ApiMeta {
  format: number;
  model: string;
  users: string[];
  items: string[];
  titles: (string | null)[] | null;
  categoryNames: string[] | null;
  minRating: number;
  seed: number;
}

function isInteractionLog(x: unknown): x is InteractionLog {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && (x as Partial<InteractionLog>).users instanceof IdMap;
}

function checkId(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new DataError(`expected a non-empty string id, got ${JSON.stringify(value) ?? String(value)}`, { field });
  return value;
}

/** An InteractionLog from objects, checking every row (a DataError names the row and field). */
export function logFromInteractions(rows: readonly Interaction[], items: readonly ItemInfo[] = [], name = 'interactions'): InteractionLog {
  if (!Array.isArray(rows)) throw new DataError('expected an array of {user, item, rating?, timestamp?}', { field: 'log' });
  const b = new LogBuilder(name);
  rows.forEach((r, k) => {
    const at = `log[${k}]`;
    if (typeof r !== 'object' || r === null) throw new DataError('expected an object {user, item, rating?, timestamp?}', { field: at });
    const user = checkId(r.user, `${at}.user`);
    const item = checkId(r.item, `${at}.item`);
    let rating = Number.NaN;
    if (r.rating !== undefined) {
      if (typeof r.rating !== 'number' || !Number.isFinite(r.rating)) throw new DataError(`expected a finite number, got ${String(r.rating)}`, { field: `${at}.rating` });
      rating = r.rating;
    }
    let time = Number.NaN;
    if (r.timestamp !== undefined) {
      time = r.timestamp instanceof Date ? r.timestamp.getTime() / 1000 : r.timestamp;
      if (typeof time !== 'number' || !Number.isFinite(time)) throw new DataError(`expected a finite number or a valid Date, got ${String(r.timestamp)}`, { field: `${at}.timestamp` });
    }
    b.add(user, item, rating, time);
  });
  if (b.length === 0) throw new DataError('the log is empty', { field: 'log' });
  items.forEach((info, k) => {
    const at = `items[${k}]`;
    const id = checkId(info?.item, `${at}.item`);
    if (info.title !== undefined) {
      if (typeof info.title !== 'string') throw new DataError('expected a string', { field: `${at}.title` });
      b.setTitle(id, info.title);
    }
    if (info.categories !== undefined) {
      if (!Array.isArray(info.categories) || !info.categories.every((c) => typeof c === 'string' && c.length > 0)) {
        throw new DataError('expected an array of non-empty strings', { field: `${at}.categories` });
      }
      b.setCategories(id, info.categories);
    }
  });
  return b.build();
}

function checkPositiveInteger(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`expected a positive integer, got ${value}`, field);
  return value;
}

/**
 * A fitted recommender over string ids. Create one with `Recommender.fit` or `Recommender.load`.
 * Not to be confused with the lower-level model interface (exported as `Model`).
 */
export class Recommender {
  private readonly explainCtx: ExplainContext;
  private readonly profiles = new Map<number, PersonaProfile>();

  private constructor(private readonly state: FittedModel) {
    const { train, categories, titles, items } = state;
    let baseline: Float64Array | null = null;
    if (categories) {
      baseline = new Float64Array(categories.names.length);
      tasteDistribution(train.userItems.indices, categories, baseline);
    }
    this.explainCtx = { nItems: train.nItems, categories, titles, itemName: (i) => items.id(i), userItems: train.userItems, baseline, anchors: 3 };
  }

  /** Fits `opts.model` (default 'personas') on the positives of `log`. */
  static async fit(log: readonly Interaction[] | InteractionLog, opts: FitOptions = {}): Promise<Recommender> {
    const data = isInteractionLog(log) ? log : logFromInteractions(log, opts.items ?? []);
    if (isInteractionLog(log) && opts.items !== undefined) throw new ConfigError('items metadata is only for a log given as objects; a Dataset carries its own', 'items');
    const modelName = opts.model ?? 'personas';
    const seed = opts.seed ?? 42;
    if (!Number.isInteger(seed) || seed < 0) throw new ConfigError(`expected a non-negative integer, got ${seed}`, 'seed');
    const threads = checkPositiveInteger(opts.threads ?? 1, 'threads');
    const minRating = opts.minRating ?? 4;
    if (!Number.isFinite(minRating)) throw new ConfigError(`expected a number, got ${minRating}`, 'minRating');
    const positives = extractPositives(data, minRating);
    if (positives.user.length === 0) {
      throw new DataError(`no positives: ${data.rating ? `no rating is at or above minRating ${minRating}` : 'the log is empty'}`, { field: 'log' });
    }
    const train = buildTrainSet(data, positives);
    const model = createModel(modelName, opts.params ?? {});
    await model.fit(train, {
      rng: new Rng(seed).derive('model', modelName),
      threads,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    return new Recommender({ model, modelName, train, users: data.users, items: data.items, titles: data.titles, categories: data.categories, minRating, seed });
  }

  /** Loads a file written by `save` (checksum and format checked; a DataError names the file). */
  static async load(path: string): Promise<Recommender> {
    return Recommender.fromArtifact(readArtifactFile(path).artifact, path);
  }

  /** Same as `load`, from the bytes of a saved file. */
  static fromBytes(bytes: Uint8Array, source = 'bytes'): Recommender {
    return Recommender.fromArtifact(decodeArtifact(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), source), source);
  }

  private static fromArtifact(a: ModelArtifact, source: string): Recommender {
    const { [API_META]: metaText, ...config } = a.config;
    const { [API_INDPTR]: indptr, [API_INDICES]: indices, [API_CAT_PTR]: catPtr, [API_CAT_IDX]: catIdx, ...arrays } = a.arrays;
    if (typeof metaText !== 'string' || !(indptr instanceof Int32Array) || !(indices instanceof Int32Array)) {
      throw new DataError('not a saved Recommender (no id maps); model files of `evaluate --save-models` or the service hold the model alone', { file: source });
    }
    const meta = JSON.parse(metaText) as ApiMeta;
    if (meta.format !== API_FORMAT) throw new DataError(`saved Recommender format ${meta.format} is not supported (expected ${API_FORMAT})`, { file: source });
    const model = modelFromArtifact({ ...a, config, arrays });
    const users = IdMap.fromArray(meta.users);
    const items = IdMap.fromArray(meta.items);
    if (indptr.length !== users.size + 1) throw new DataError(`saved positives cover ${indptr.length - 1} users, the id map ${users.size}`, { file: source });
    let categories: ItemCategories | null = null;
    if (meta.categoryNames) {
      if (!(catPtr instanceof Int32Array) || !(catIdx instanceof Int32Array)) throw new DataError('saved categories are incomplete', { file: source });
      categories = { names: meta.categoryNames, ptr: catPtr, idx: catIdx };
    }
    const userOf = new Int32Array(indices.length);
    for (let u = 0; u < users.size; u++) userOf.fill(u, indptr[u]!, indptr[u + 1]!);
    const train = trainSetFromPairs(users.size, items.size, userOf, indices, items.ranks(), categories);
    const titles = meta.titles ? meta.titles.map((t) => t ?? undefined) : null;
    return new Recommender({ model, modelName: meta.model, train, users, items, titles, categories, minRating: meta.minRating, seed: meta.seed });
  }

  /** Writes the model, id maps and training positives to `path` atomically. */
  async save(path: string): Promise<void> {
    saveArtifact(path, this.toArtifact());
  }

  /** The bytes `save` writes. */
  toBytes(): Uint8Array {
    return encodeArtifact(this.toArtifact());
  }

  private toArtifact(): ModelArtifact {
    const s = this.state;
    const a = s.model.toArtifact();
    for (const key of Object.keys(a.config)) if (key.startsWith(API_META)) throw new ConfigError(`model "${s.modelName}" uses the reserved config key ${key}`, 'save');
    for (const key of Object.keys(a.arrays)) if (key.startsWith(API_META)) throw new ConfigError(`model "${s.modelName}" uses the reserved array name ${key}`, 'save');
    const meta: ApiMeta = {
      format: API_FORMAT,
      model: s.modelName,
      users: s.users.toArray(),
      items: s.items.toArray(),
      titles: s.titles ? Array.from({ length: s.items.size }, (_, i) => s.titles![i] ?? null) : null,
      categoryNames: s.categories ? [...s.categories.names] : null,
      minRating: s.minRating,
      seed: s.seed,
    };
    const arrays: Record<string, Float32Array | Int32Array> = { ...a.arrays, [API_INDPTR]: s.train.userItems.indptr, [API_INDICES]: s.train.userItems.indices };
    if (s.categories) {
      arrays[API_CAT_PTR] = s.categories.ptr;
      arrays[API_CAT_IDX] = s.categories.idx;
    }
    return { ...a, config: { ...a.config, [API_META]: JSON.stringify(meta) }, arrays };
  }

  /** The fitted model, its training positives and id spaces (dense indices; for lower-level code). */
  get fitted(): FittedModel {
    return this.state;
  }

  /** The model's registered name. */
  get model(): string {
    return this.state.modelName;
  }

  /** Whether the model has personas (then `explain` and `tastes` work). */
  get hasPersonas(): boolean {
    return hasPersonas(this.state.model);
  }

  /** User ids known to the model (every user of the log, in first-seen order). */
  users(): string[] {
    return this.state.users.toArray();
  }

  /** Item ids known to the model. */
  items(): string[] {
    return this.state.items.toArray();
  }

  /** Item ids that can be recommended (those with at least one training positive), ascending by index. */
  candidates(): string[] {
    return Array.from(this.state.train.candidates, (i) => this.state.items.id(i));
  }

  hasUser(user: string): boolean {
    return this.state.users.has(user);
  }

  /** A training user's positives (item ids, ascending by index). */
  history(user: string): string[] {
    return Array.from(rowOf(this.state.train.userItems, this.userIndex(user)), (i) => this.state.items.id(i));
  }

  /** A training user's top items. Unknown users are a NotFoundError: use `foldIn(history)` for them. */
  recommend(user: string, opts: RecommendOptions = {}): Recommendations {
    const u = this.userIndex(user);
    return this.answer(user, u, rowOf(this.state.train.userItems, u), opts);
  }

  /** A training user's tastes (null for a model without personas). */
  tastes(user: string): Taste[] | null {
    const u = this.userIndex(user);
    if (!hasPersonas(this.state.model)) return null;
    return this.tastesOf(this.profileOf(this.state.model, u, rowOf(this.state.train.userItems, u)));
  }

  /**
   * Folds a history (item ids) into the model without refitting: the recommendations and tastes of
   * a new user, a session or a held-out user. Items the model does not know are ignored (listed).
   */
  foldIn(history: readonly string[]): FoldedUser {
    if (!Array.isArray(history)) throw new ConfigError('expected an array of item ids', 'history');
    const known = new Set<number>();
    const ignored: string[] = [];
    history.forEach((id, k) => {
      const i = this.state.items.lookup(checkId(id, `history[${k}]`));
      if (i >= 0) known.add(i);
      else ignored.push(id);
    });
    const items = Int32Array.from([...known].sort((a, b) => a - b));
    return {
      history: Array.from(items, (i) => this.state.items.id(i)),
      ignored,
      recommend: (opts: RecommendOptions = {}) => this.answer(null, -1, items, opts),
      tastes: () => (hasPersonas(this.state.model) && items.length > 0 ? this.tastesOf(this.profileOf(this.state.model, -1, items)) : null),
    };
  }

  private userIndex(user: string): number {
    const u = this.state.users.lookup(checkId(user, 'user'));
    if (u < 0) throw new NotFoundError(`no user "${user}" in the training data; recommend for a history with foldIn([...itemIds])`);
    return u;
  }

  private profileOf(model: HasPersonas, user: number, history: Int32Array): PersonaProfile {
    if (user < 0) return personaProfile(model, history, this.explainCtx);
    let p = this.profiles.get(user);
    if (!p) {
      p = personaProfile(model, { user, history }, this.explainCtx);
      if (this.profiles.size >= 1024) this.profiles.delete(this.profiles.keys().next().value!);
      this.profiles.set(user, p);
    }
    return p;
  }

  private tastesOf(p: PersonaProfile): Taste[] {
    const id = (i: number): string => this.state.items.id(i);
    return p.personaInfo.map((x) => ({ taste: x.persona, label: x.label, share: x.share, size: x.size, anchors: x.anchors.map(id), anchorTitles: [...x.anchorTitles] }));
  }

  private answer(userId: string | null, user: number, history: Int32Array, opts: RecommendOptions): Recommendations {
    const { model, train, items, titles, categories } = this.state;
    const n = checkPositiveInteger(opts.n ?? 10, 'n');
    const explain = opts.explain ?? false;
    if (explain && !hasPersonas(model)) throw new ConfigError(`model "${this.state.modelName}" has no personas to explain with; fit with model: 'personas'`, 'explain');
    let exclude = history;
    if (opts.exclude && opts.exclude.length > 0) {
      const extra = opts.exclude.map((id, k) => items.lookup(checkId(id, `exclude[${k}]`))).filter((i) => i >= 0);
      exclude = Int32Array.from(new Set([...history, ...extra])).sort();
    }
    const scores = new Float32Array(train.nItems);
    model.scoreBatch(singleUserBatch(user, history), scores);
    const { list: top } = select(scores, { candidates: train.candidates, itemRanks: train.itemRanks, exclude }, { user, history }, { k: n });
    const found = top.length;
    const profile = explain && hasPersonas(model) && history.length > 0 ? this.profileOf(model, user, history) : null;
    const list: RecommendedItem[] = [];
    for (let r = 0; r < found; r++) {
      const i = top[r]!;
      const base = {
        item: items.id(i),
        score: scores[i]!,
        title: titles?.[i] ?? null,
        categories: categories ? Array.from(categoriesOf(categories, i), (g) => categories.names[g]!) : [],
      };
      if (!explain) {
        list.push(base);
        continue;
      }
      const e = profile && hasPersonas(model) ? explainItem(model, profile, i, this.explainCtx) : null;
      if (!e) {
        list.push({ ...base, explanation: null, withheld: 'no personas for this user (empty history)' });
        continue;
      }
      const withheld = withheldByWeights(e.weights, e.persona);
      if (withheld !== null) {
        list.push({ ...base, explanation: null, withheld });
        continue;
      }
      const explanation: Explanation = {
        taste: e.persona,
        label: e.label,
        weight: e.weight,
        weights: e.weights,
        share: e.share,
        anchors: e.anchors.map((a) => items.id(a)),
        sentence: explanationSentence(e),
      };
      list.push({ ...base, explanation });
    }
    const result: Recommendations = { user: userId, model: this.state.modelName, items: list };
    return explain ? { ...result, tastes: profile ? this.tastesOf(profile) : [] } : result;
  }
}
