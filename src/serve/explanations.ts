/**
 * Explanations a person can read (docs/service.md, Recommendations):
 * - anchors chosen per item: the history items of the explaining persona most similar to the
 *   recommended item (cosine of the model's item vectors), not the persona's fixed anchors;
 * - a human score beside the raw one: `match`, the share of the user's unseen catalogue the item
 *   outscores (percent), and `personaRank`, the item's rank among the unseen items by the
 *   explaining persona's own score (1 = that taste's favourite);
 * - the persona's weight relative to an even share (`relative`: weight x K, 1 = even), and a
 *   sentence (`summary`) that speaks of the share only when the user has two or more tastes.
 */
import type { ItemExplanation } from '../explain/explain.js';
import type { HasPersonas, Recommender } from '../models/model.js';
import { personaAssignment, type PersonaSet } from '../models/persona-assignment.js';

interface ItemVectors {
  dim: number;
  vectors: Float32Array;
  norms: Float32Array;
}

const vectorCache = new WeakMap<Recommender, ItemVectors | null>();

/**
 * The model's item vectors (nItems x dim), if its artifact holds them under a known name: the
 * target vectors `Q` of the persona model, `itemFactors` of the factor models. Null otherwise
 * (explanations then keep the persona's own anchors).
 */
export function itemVectors(model: Recommender, nItems: number): ItemVectors | null {
  if (vectorCache.has(model)) return vectorCache.get(model)!;
  let found: ItemVectors | null = null;
  try {
    const arrays = model.toArtifact().arrays;
    for (const name of ['Q', 'itemFactors']) {
      const a = arrays[name];
      if (!(a instanceof Float32Array) || nItems === 0 || a.length === 0 || a.length % nItems !== 0) continue;
      const dim = a.length / nItems;
      const norms = new Float32Array(nItems);
      for (let i = 0; i < nItems; i++) {
        let s = 0;
        for (let k = 0; k < dim; k++) s += a[i * dim + k]! ** 2;
        norms[i] = Math.sqrt(s);
      }
      found = { dim, vectors: a, norms };
      break;
    }
  } catch {
    found = null;
  }
  vectorCache.set(model, found);
  return found;
}

/** Cosine similarity of two items' vectors (0 when either vector is zero). */
export function cosine(v: ItemVectors, a: number, b: number): number {
  const d = v.dim;
  let s = 0;
  for (let k = 0; k < d; k++) s += v.vectors[a * d + k]! * v.vectors[b * d + k]!;
  const n = v.norms[a]! * v.norms[b]!;
  return n > 0 ? s / n : 0;
}

/** The `count` members most similar to `item` (ties: the earlier member), or null without vectors or members. */
export function anchorsForItem(v: ItemVectors | null, members: readonly number[], item: number, count: number): number[] | null {
  if (!v || members.length === 0) return null;
  if (!(count > 0)) return [];
  // one pass keeping the best `count` in order (similarity descending, the earlier member first on
  // ties): the first `count` of the members sorted that way, without sorting them all
  const best: { m: number; s: number }[] = [];
  for (const m of members) {
    const s = cosine(v, item, m);
    if (Number.isNaN(s)) return anchorsBySort(v, members, item, count);
    if (best.length === count && !(s > best[count - 1]!.s)) continue;
    let at = best.length;
    while (at > 0 && s > best[at - 1]!.s) at--;
    best.splice(at, 0, { m, s });
    if (best.length > count) best.pop();
  }
  return best.map((b) => b.m);
}

/** `anchorsForItem` by sorting every member (similarities that are not numbers compare as ties). */
function anchorsBySort(v: ItemVectors, members: readonly number[], item: number, count: number): number[] {
  const sim = new Map(members.map((m) => [m, cosine(v, item, m)]));
  return members
    .map((m, r) => ({ m, r }))
    .sort((x, y) => sim.get(y.m)! - sim.get(x.m)! || x.r - y.r)
    .slice(0, count)
    .map((x) => x.m);
}

const memberCache = new WeakMap<object, Int32Array>();

/**
 * The persona each history item belongs to (as the persona profile assigns them), cached on `key`
 * (an object that lives as long as the persona set, e.g. the profile).
 */
export function historyAssignment(key: object, model: HasPersonas, personas: Float32Array, history: Int32Array): Int32Array {
  let a = memberCache.get(key);
  if (!a) {
    a = personaAssignment(model, personas, history, history);
    memberCache.set(key, a);
  }
  return a;
}

/** Whether an item is one of `exclude` (model indices below nItems), as a look-up in a mask. */
export function seenTest(exclude: Int32Array, nItems: number): SeenTest {
  const mask = new Uint8Array(nItems);
  for (const i of exclude) mask[i] = 1;
  return Object.assign((i: number) => mask[i] === 1, { mask });
}

/** `seenTest`'s answer: the test, and its mask (1 = seen) for loops over the catalogue. */
export type SeenTest = ((i: number) => boolean) & { readonly mask?: Uint8Array };

/** Sorted finite scores of the allowed items (for percentiles). */
export function sortedScores(scores: Float32Array, candidates: Int32Array, excluded: (i: number) => boolean): Float32Array {
  const out: number[] = [];
  for (const i of candidates) {
    if (excluded(i)) continue;
    const s = scores[i]!;
    if (Number.isFinite(s)) out.push(s);
  }
  return Float32Array.from(out).sort();
}

/** How many values of `sorted` (ascending) are below s. */
export function lowerBound(sorted: ArrayLike<number>, s: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < s) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Percent (one decimal) of `sorted` strictly below `s`. */
export function matchPercent(sorted: Float32Array, s: number): number {
  if (sorted.length === 0 || !Number.isFinite(s)) return 0;
  return Math.round((1000 * lowerBound(sorted, s)) / sorted.length) / 10;
}

/**
 * `match` of scores against the allowed items: counted directly for a few items, from a sorted
 * copy for many (the same value either way). `probes`: the scores that will be asked for, counted
 * together in one pass over the candidates (any other score is counted when asked for).
 */
export function matcher(scores: Float32Array, candidates: Int32Array, excluded: SeenTest, items: number, probes?: readonly number[]): (s: number) => number {
  if (probes && probes.length > 0) {
    const known = matchesOf(scores, candidates, excluded, probes);
    let rest: ((s: number) => number) | null = null; // made only if a score outside the probes is asked for
    return (s) => known.get(s) ?? (rest ??= matcher(scores, candidates, excluded, items))(s);
  }
  if (items > 32) {
    const sorted = sortedScores(scores, candidates, excluded);
    return (s) => matchPercent(sorted, s);
  }
  return (s) => {
    if (!Number.isFinite(s)) return 0;
    let below = 0;
    let total = 0;
    for (const i of candidates) {
      const v = scores[i]!;
      if (excluded(i) || !Number.isFinite(v)) continue;
      total++;
      if (v < s) below++;
    }
    return total > 0 ? Math.round((1000 * below) / total) / 10 : 0;
  };
}

/**
 * `match` of each finite probe in one pass over the candidates: each allowed finite score is
 * counted below the probes greater than it (a binary search in the sorted probes), then the
 * counts are summed up the probes; the same percent as counting per probe.
 */
export function matchesOf(scores: Float32Array, candidates: Int32Array, excluded: SeenTest, probes: readonly number[]): Map<number, number> {
  const p = Float64Array.from(new Set(probes.filter((s) => Number.isFinite(s)))).sort();
  const out = new Map<number, number>();
  if (p.length === 0) return out;
  // at[x]: allowed finite scores with exactly x probes <= them (below every probe from the x-th on)
  const at = new Float64Array(p.length + 1);
  let total = 0;
  const mask = excluded.mask;
  for (let c = 0; c < candidates.length; c++) {
    const i = candidates[c]!;
    const v = scores[i]!;
    if ((mask ? mask[i] === 1 : excluded(i)) || !Number.isFinite(v)) continue;
    total++;
    let lo = 0;
    let hi = p.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (p[mid]! <= v) lo = mid + 1;
      else hi = mid;
    }
    at[lo]!++;
  }
  let below = 0;
  for (let t = 0; t < p.length; t++) {
    below += at[t]!;
    out.set(p[t]!, total > 0 ? Math.round((1000 * below) / total) / 10 : 0);
  }
  return out;
}

/** 1 + how many allowed items outscore `item` in `own` (a persona's own scores). */
export function rankIn(own: Float32Array, item: number, candidates: Int32Array, excluded: SeenTest): number {
  const s = own[item]!;
  let r = 1;
  const mask = excluded.mask;
  if (mask) {
    for (let c = 0; c < candidates.length; c++) {
      const i = candidates[c]!;
      if (own[i]! > s && mask[i] !== 1 && i !== item) r++;
    }
    return r;
  }
  for (const i of candidates) if (i !== item && !excluded(i) && own[i]! > s) r++;
  return r;
}

/** The weight against an even share of the unmuted personas: weight x K (1 = an even share). */
export function relativeWeight(weights: readonly number[], persona: number): { evenShare: number; relative: number } {
  const k = weights.filter((w) => w > 0).length || 1;
  const evenShare = 1 / k;
  return { evenShare: Math.round(evenShare * 1e4) / 1e4, relative: Math.round(((weights[persona] ?? 0) / evenShare) * 100) / 100 };
}

function titlesInWords(titles: readonly string[]): string {
  if (titles.length <= 1) return titles[0] ?? '';
  return `${titles.slice(0, -1).join(', ')} and ${titles[titles.length - 1]!}`;
}

/**
 * One sentence: the anchors, the taste's label, and, only with two or more tastes, how much more
 * than an even share this taste carries the item; then the item's rank for that taste.
 */
export function summaryOf(e: { label: string; anchorTitles: readonly string[]; tastes: number; relative: number; personaRank: number }): string {
  const because = e.anchorTitles.length > 0 ? `Because you liked ${titlesInWords(e.anchorTitles)}` : 'For your taste';
  const rank = e.personaRank === 1 ? 'its top pick' : `its #${e.personaRank} pick`;
  if (e.tastes < 2) return `${because} (${e.label}): ${rank}.`;
  const share = e.relative >= 1.05 ? `${e.relative.toFixed(1)}x an even share of your ${e.tastes} tastes` : `about an even share of your ${e.tastes} tastes`;
  return `${because}: your ${e.label} taste (${share}), ${rank}.`;
}

/**
 * The readable parts of an item's explanation: anchors per item (the explaining persona's members,
 * or a recent persona's new positives, most similar to the item; the persona's own anchors when
 * the model has no item vectors), the item's rank by that persona's own score among the unseen
 * candidates (`ownRow(q)`: persona q's own score row, computed once per user state,
 * persona-rows.ts), and the weight against an even share.
 */
export function readableParts(o: {
  model: Recommender;
  personas: HasPersonas;
  set: PersonaSet;
  recent: { index: number; items: Int32Array } | null;
  /** Lives as long as the persona set (the profile): the history's assignment is cached on it. */
  profile: object;
  e: ItemExplanation;
  item: number;
  /** Items in the model (the length of a score row). */
  nItems: number;
  candidates: Int32Array;
  anchors: number;
  ownRow: (q: number) => Float32Array;
  /** Whether an item is seen (excluded from the ranks). */
  seen: SeenTest;
}): { anchors: number[]; personaRank: number; evenShare: number; relative: number; tastes: number } {
  const { set, e } = o;
  const assignment = o.recent && e.persona === o.recent.index ? null : historyAssignment(o.profile, o.personas, set.vectors, set.history);
  const members = assignment ? Array.from(set.history.filter((_, j) => assignment[j] === e.persona)) : Array.from(o.recent!.items);
  const anchors = anchorsForItem(itemVectors(o.model, o.nItems), members, o.item, o.anchors) ?? e.anchors;
  const personaRank = rankIn(o.ownRow(e.persona), o.item, o.candidates, o.seen);
  return { anchors, personaRank, ...relativeWeight(e.weights, e.persona), tastes: e.weights.filter((w) => w > 0).length };
}
