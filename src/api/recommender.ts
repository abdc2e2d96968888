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
 * `__api*` names (persist.ts), so a loaded recommender answers exactly as the fitted one did. The
 * types in and out are types.ts; the checks of what callers give are input.ts.
 *
 * Answers follow `personae recommend --no-hedge`: the plain top-n of the model's scores over the
 * items with at least one training positive, the user's own positives excluded, ties broken by
 * item id (PROTOCOL.md). Explanations are those of src/explain, withheld (with the reason) by the
 * service's item-level rule (`withheldByWeights`: two personas carry the item almost equally).
 */
import { rowOf } from '../data/csr.js';
import { tasteDistribution } from '../data/categories.js';
import { categoriesOf, type InteractionLog } from '../data/dataset.js';
import { buildTrainSet, extractPositives } from '../data/split.js';
import { ConfigError, DataError, NotFoundError } from '../errors.js';
import { explainItem, explanationSentence, personaProfile, type ExplainContext, type PersonaProfile } from '../explain/explain.js';
import { withheldByWeights } from '../explain/withhold.js';
import { Rng } from '../math/rng.js';
import { decodeArtifact, encodeArtifact, readArtifactFile, saveArtifact } from '../models/artifact.js';
import { hasPersonas, singleUserBatch, type HasPersonas, type ModelArtifact } from '../models/model.js';
import { createModel } from '../models/registry.js';
import { select } from '../rank/pipeline.js';
import { checkId, checkPositiveInteger, isInteractionLog, logFromInteractions } from './input.js';
import { fittedFromArtifact, fittedToArtifact } from './persist.js';
import type { Explanation, FitOptions, FittedModel, FoldedUser, Interaction, RecommendedItem, Recommendations, RecommendOptions, Taste } from './types.js';

export { logFromInteractions } from './input.js';
export type * from './types.js';

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
    return new Recommender(fittedFromArtifact(a, source));
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
    return fittedToArtifact(this.state);
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
