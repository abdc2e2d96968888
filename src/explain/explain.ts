/**
 * Explanations from personas (PRODUCT.md P6): for a recommended item, the persona that carried it
 * (the arg-max of the item's attention, or of the model's `personaWeights` when it has them), all
 * the weights, the user's own history items that
 * stand for that persona (anchors) and the categories it stands for (label). Works for any model
 * with personas (`HasPersonas`), for training users and for any history (folded in).
 *
 * Definitions (docs/reranking.md, "Explanations"):
 * - a history item belongs to the persona with its largest attention; a persona's share is the
 *   fraction of the history that belongs to it;
 * - anchors of persona k: its own history items with the largest p_k . v_i (the persona's score of
 *   the item without the item bias, from `scorePersonas`), so they are what that persona likes
 *   most, not merely what is popular; a persona that owns no history item is anchored by the
 *   history items with the largest attention to it;
 * - label: among the categories of the persona's items (p(g|i) = 1/|G(i)|, averaged) that hold at
 *   least 10% of that mass, those that are also distinctive against the population's mix b:
 *   score_g = s_g ln(s_g / b_g); the top category, and the runner-up if it scores at least half as
 *   much. Plain shares would label almost every MovieLens persona "Drama"; lift without the 10%
 *   floor labels them with rare categories ("Documentary", "IMAX").
 */
import { rowOf, type Csr } from '../data/csr.js';
import type { ItemCategories, InteractionLog } from '../data/dataset.js';
import { tasteDistribution } from '../data/categories.js';
import { personaWeightsOf, type HasPersonas } from '../models/model.js';
import type { TrainSet } from '../data/train-set.js';
import { argmax, assignmentShares, personaAssignment, personaSetOf, type PersonaSet } from '../models/persona-assignment.js';

export { explanationFidelity, type FidelityReport } from './fidelity.js';

export interface ExplainContext {
  /** Items in the model's index space (the length of a score row). */
  readonly nItems: number;
  /** Item categories for labels (null: no labels). */
  readonly categories: ItemCategories | null;
  /** Display names of items (titles); falls back to `itemName`, then the index. */
  readonly titles?: readonly (string | undefined)[] | null;
  readonly itemName?: (item: number) => string;
  /** Training rows, to look up the history of a user given by index. */
  readonly userItems?: Csr;
  /** The population's taste mix labels are contrasted with (default: the user's whole history). */
  readonly baseline?: Float64Array | null;
  /** Anchors per persona (default 3). */
  readonly anchors?: number;
}

/** A context from a training set and its log: titles, original ids, and the population mix. */
export function explainContext(train: TrainSet, log: InteractionLog, anchors = 3): ExplainContext {
  const cats = log.categories;
  let baseline: Float64Array | null = null;
  if (cats) {
    baseline = new Float64Array(cats.names.length);
    tasteDistribution(train.userItems.indices, cats, baseline);
  }
  return { nItems: train.nItems, categories: cats, titles: log.titles, itemName: (i) => log.items.id(i), userItems: train.userItems, baseline, anchors };
}

/**
 * Whom to explain: a training user's index, a history (folded in), both, or a persona set as a
 * value (e.g. one the service built online).
 */
export type Subject = number | Int32Array | { readonly user: number; readonly history: Int32Array } | PersonaSet;

export interface PersonaInfo {
  persona: number;
  /** Share of the history whose arg-max persona this is. */
  share: number;
  /** History items belonging to it. */
  size: number;
  anchors: number[];
  anchorTitles: string[];
  /** e.g. "Sci-Fi / Thriller"; null without categories. */
  label: string | null;
}

export interface PersonaProfile {
  readonly user: number;
  readonly history: Int32Array;
  /** The persona set (rows of length dim). */
  readonly personas: Float32Array;
  readonly k: number;
  readonly personaInfo: PersonaInfo[];
}

export interface ItemExplanation {
  item: number;
  title: string;
  /** The persona with the largest attention for the item. */
  persona: number;
  /** Its attention weight. */
  weight: number;
  /** All attention weights (sum to 1). */
  weights: number[];
  anchors: number[];
  anchorTitles: string[];
  label: string | null;
  /** The persona's share of the history. */
  share: number;
}

export function itemTitle(ctx: ExplainContext, item: number): string {
  return ctx.titles?.[item] ?? ctx.itemName?.(item) ?? String(item);
}

/** The persona set a subject stands for, and the user index (-1: a history, or a set given as a value without one). */
function resolve(model: HasPersonas, subject: Subject, ctx: ExplainContext): PersonaSet & { user: number } {
  if (subject instanceof Int32Array) return { ...personaSetOf(model, -1, subject), user: -1 };
  if (typeof subject === 'number') {
    if (!ctx.userItems) throw new RangeError('explain: a user index needs ctx.userItems to find the history');
    return { ...personaSetOf(model, subject, rowOf(ctx.userItems, subject)), user: subject };
  }
  if ('vectors' in subject) return { ...subject, user: 'user' in subject && typeof subject.user === 'number' ? subject.user : -1 };
  return { ...personaSetOf(model, subject.user, subject.history), user: subject.user };
}

/** A label category must carry at least this share of the persona's category mass (rare categories have huge lifts). */
export const LABEL_MIN_SHARE = 0.1;

/** Category label of a set of items against a baseline mix (see the file comment). */
export function labelOf(items: Int32Array, cats: ItemCategories, baseline: Float64Array): string | null {
  const g = labelCategories(items, cats, baseline);
  return g.length > 0 ? g.map((x) => cats.names[x]!).join(' / ') : null;
}

/** The categories of the label (one or two, most distinctive first); empty when there is none. */
export function labelCategories(items: Int32Array, cats: ItemCategories, baseline: Float64Array): number[] {
  const n = cats.names.length;
  const s = new Float64Array(n);
  if (items.length === 0 || tasteDistribution(items, cats, s) === 0) return [];
  const scored: { g: number; score: number }[] = [];
  for (let g = 0; g < n; g++) {
    if (!(s[g]! >= LABEL_MIN_SHARE) || cats.names[g] === '(none)' || cats.names[g] === '(no genres listed)') continue;
    const b = baseline[g]! > 0 ? baseline[g]! : 1e-6;
    scored.push({ g, score: s[g]! * Math.log(s[g]! / b) });
  }
  if (scored.length === 0) return [];
  scored.sort((a, b) => b.score - a.score || s[b.g]! - s[a.g]! || a.g - b.g);
  // nothing distinctive (e.g. the persona is the whole history): fall back to plain shares
  if (!(scored[0]!.score > 0)) scored.sort((a, b) => s[b.g]! - s[a.g]! || a.g - b.g);
  const top = [scored[0]!];
  const second = scored[1];
  if (second && scored[0]!.score > 0 && second.score >= 0.5 * scored[0]!.score) top.push(second);
  return top.map((x) => x.g);
}

/** Whether item i carries one of the categories. */
function hasAnyCategory(cats: ItemCategories, i: number, wanted: readonly number[]): boolean {
  for (let p = cats.ptr[i]!; p < cats.ptr[i + 1]!; p++) if (wanted.includes(cats.idx[p]!)) return true;
  return false;
}

/**
 * The user's personas with their shares, anchors and labels; computed once per user. `ownRow(q)`,
 * when given, is persona q's own score row (`scorePersonas` of its vector alone) computed by the
 * caller, e.g. the service's per-user rows (src/serve/persona-rows.ts).
 */
export function personaProfile(model: HasPersonas, subject: Subject, ctx: ExplainContext, ownRow?: (q: number) => Float32Array): PersonaProfile {
  const { vectors: personas, k, history, user } = resolve(model, subject, ctx);
  const assignment = personaAssignment(model, personas, history, history);
  const shares = assignmentShares(assignment, k);
  const nAnchors = ctx.anchors ?? 3;
  const d = k > 0 ? personas.length / k : 0;
  const cats = ctx.categories;
  let base = ctx.baseline ?? null;
  if (cats && !base) {
    base = new Float64Array(cats.names.length);
    tasteDistribution(history, cats, base);
  }
  let biasScores: Float32Array | null = null;
  let ownScores: Float32Array | null = null;
  const personaInfo: PersonaInfo[] = [];
  for (let q = 0; q < k; q++) {
    const members = Int32Array.from(history.filter((_, r) => assignment[r] === q));
    let ranked: number[];
    if (members.length > 0) {
      // p_q . v_i = score with persona q alone minus the bias (the score with no persona)
      if (!biasScores) {
        biasScores = new Float32Array(ctx.nItems);
        model.scorePersonas(new Float32Array(0), biasScores);
      }
      let own: Float32Array;
      if (ownRow) own = ownRow(q);
      else {
        ownScores ??= new Float32Array(ctx.nItems);
        model.scorePersonas(personas.subarray(q * d, (q + 1) * d), ownScores);
        own = ownScores;
      }
      const bias = biasScores;
      // non-candidate items score -Infinity; they sort last
      const key = (i: number): number => {
        const v = own[i]! - bias[i]!;
        return Number.isFinite(v) ? v : -Infinity;
      };
      ranked = Array.from(members).sort((a, b) => key(b) - key(a) || a - b);
    } else {
      const att = Array.from(history, (i) => personaWeightsOf(model, personas, i, history)[q]!);
      ranked = Array.from(history.keys())
        .sort((a, b) => att[b]! - att[a]! || a - b)
        .map((r) => history[r]!);
    }
    const labelled = cats && base ? labelCategories(members.length > 0 ? members : Int32Array.from(ranked.slice(0, nAnchors)), cats, base) : [];
    const label = labelled.length > 0 ? labelled.map((g) => cats!.names[g]!).join(' / ') : null;
    // anchors that show the label come first (in the persona's own order), so "your Crime / Thriller
    // taste" is not illustrated by war films that happen to sit closest to the persona vector
    if (cats && labelled.length > 0) {
      const fits = ranked.filter((i) => hasAnyCategory(cats, i, labelled));
      ranked = [...fits, ...ranked.filter((i) => !hasAnyCategory(cats, i, labelled))];
    }
    const anchors = ranked.slice(0, nAnchors);
    personaInfo.push({ persona: q, share: shares[q]!, size: members.length, anchors, anchorTitles: anchors.map((i) => itemTitle(ctx, i)), label });
  }
  return { user, history, personas, k, personaInfo };
}

function isProfile(x: unknown): x is PersonaProfile {
  return typeof x === 'object' && x !== null && 'personaInfo' in x;
}

/**
 * Why `item` is recommended to the subject: the persona that carried it and what it stands for.
 * Returns null when the subject has no personas (no usable history). Personas in `muted` never
 * explain: their weights are set to 0 and the others renormalised to sum to 1 (null when only
 * muted personas carry the item).
 */
export function explainItem(model: HasPersonas, subject: Subject | PersonaProfile, item: number, ctx: ExplainContext, muted?: ReadonlySet<number>): ItemExplanation | null {
  const profile = isProfile(subject) ? subject : personaProfile(model, subject, ctx);
  if (profile.k === 0) return null;
  let weights = Array.from(personaWeightsOf(model, profile.personas, item, profile.history));
  if (muted && muted.size > 0) {
    const kept = weights.map((w, q) => (muted.has(q) ? 0 : w));
    const sum = kept.reduce((a, b) => a + b, 0);
    if (!(sum > 0)) return null;
    weights = kept.map((w) => w / sum);
  }
  const persona = argmax(weights);
  const info = profile.personaInfo[persona]!;
  return {
    item,
    title: itemTitle(ctx, item),
    persona,
    weight: weights[persona]!,
    weights,
    anchors: info.anchors,
    anchorTitles: info.anchorTitles,
    label: info.label,
    share: info.share,
  };
}

/** Per persona of the subject: share of the history, anchors, label. */
export function personaSummary(model: HasPersonas, subject: Subject, ctx: ExplainContext): PersonaInfo[] {
  return personaProfile(model, subject, ctx).personaInfo;
}

/** "because of your Sci-Fi / Thriller taste (62%), like Alien and The Matrix" (62% = the persona's weight for the item). */
export function explanationSentence(e: ItemExplanation): string {
  const taste = e.label ? `your ${e.label} taste` : `your taste #${e.persona + 1}`;
  const titles = e.anchorTitles.slice(0, 2);
  const like = titles.length === 0 ? '' : `, like ${titles.length === 1 ? titles[0] : `${titles.slice(0, -1).join(', ')} and ${titles[titles.length - 1]}`}`;
  return `because of ${taste} (${Math.round(100 * e.weight)}%)${like}`;
}
