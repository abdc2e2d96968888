/**
 * Planted preferences of a generated world's users: what the feedback-loop simulation treats as
 * the truth about what each user likes.
 *
 * The planted preference of user u for item i is the probability that u's planted personas pick i
 * (the generator's own choice model, src/synth/model.ts), with the contested items a persona's side
 * dislikes removed:
 *
 *   pref(u, i) = sum_k w_k sum_j share_kj sum_s mix_kjs q_{c_kj, s}(i) [persona k's side does not dislike i]
 *
 * w_k is persona k's weight, c_kj its j-th category (share 1 - mixedPersonaShare for the first,
 * mixedPersonaShare for the second), mix_kjs its style mixture there and q_{c,s} the choice
 * probabilities of style s in category c (popularity x exp(beta affinity), normalised). Noise and
 * lukewarm rows are not preferences. pref sums to at most 1 over the items.
 *
 * A persona is served by an item when its term for the item is positive (the item is in one of its
 * categories and its side does not dislike it). The planted taste mix of a user is the category
 * distribution sum_k w_k share_kj on c_kj (the "p" of calibration, with planted tastes as
 * categories). Nothing here is users x items: a user's vector is computed when asked for.
 */
import type { UserRows, World } from '../synth/model.js';

export interface UserPreference {
  /** User index (the world's user u = the log's user index u). */
  readonly user: number;
  /** pref(u, i) by item index; sums to at most 1. */
  readonly pref: Float64Array;
  /** Bit k set when persona k's planted preference for the item is positive. */
  readonly serves: Uint8Array;
  /** Number of planted personas. */
  readonly personas: number;
  /** Planted taste mix over the log's category indices (sums to 1). */
  readonly mix: Float64Array;
  /** Items with pref > 0, best first (ties: lower index first). */
  readonly ranked: Int32Array;
  /** 0 = group A, 1 = group B, 2 = bridging, -1 = mixed population. */
  readonly group: number;
}

export class PlantedPreferences {
  readonly nItems: number;
  private readonly choice: { items: Int32Array; prob: Float64Array }[][];
  private readonly catIndex: Int32Array;
  private readonly rows: UserRows;

  /**
   * `logCategoryNames`: the names of the log's category indices (the log interns them in its own
   * order); the planted mix is reported over those indices.
   */
  constructor(
    private readonly world: World,
    private readonly logCategoryNames: readonly string[],
  ) {
    this.nItems = world.nItems;
    const C = world.config.categories;
    const S = world.config.styles;
    this.choice = Array.from({ length: C }, (_, c) => Array.from({ length: S }, (_, s) => world.styleChoice(c, s)));
    this.catIndex = Int32Array.from(world.categoryNames, (name) => logCategoryNames.indexOf(name));
    this.rows = world.newRows();
  }

  get categories(): number {
    return this.logCategoryNames.length;
  }

  /** User u's planted preferences (computed now; O(the user's categories' items)). */
  forUser(u: number): UserPreference {
    const { plan, styleMix } = this.world.plantedTaste(u, this.rows);
    const cfg = this.world.config;
    const polarity = this.world.itemPolarity;
    const pref = new Float64Array(this.nItems);
    const serves = new Uint8Array(this.nItems);
    const mix = new Float64Array(this.logCategoryNames.length);
    const K = plan.weights.length;
    for (let k = 0; k < K; k++) {
      const cats = plan.categories[k]!;
      const side = plan.sides[k]!;
      const sign = side === 0 ? 1 : side === 1 ? -1 : 0;
      for (let j = 0; j < cats.length; j++) {
        const c = cats[j]!;
        const share = cats.length === 1 ? 1 : j === 0 ? 1 - cfg.mixedPersonaShare : cfg.mixedPersonaShare;
        const wk = plan.weights[k]! * share;
        const ci = this.catIndex[c]!;
        if (ci >= 0) mix[ci] += wk;
        const m = styleMix[k]![j]!;
        for (let s = 0; s < m.length; s++) {
          const ms = m[s]!;
          if (!(ms > 0)) continue;
          const { items, prob } = this.choice[c]![s]!;
          for (let p = 0; p < items.length; p++) {
            const i = items[p]!;
            const pol = polarity[i]!;
            if (sign !== 0 && pol !== 0 && pol !== sign) continue;
            const v = wk * ms * prob[p]!;
            if (v > 0) {
              pref[i] += v;
              serves[i] |= 1 << k;
            }
          }
        }
      }
    }
    let total = 0;
    for (const x of mix) total += x;
    if (total > 0) for (let g = 0; g < mix.length; g++) mix[g]! /= total;
    const support: number[] = [];
    for (let i = 0; i < this.nItems; i++) if (pref[i]! > 0) support.push(i);
    support.sort((a, b) => pref[b]! - pref[a]! || a - b);
    return { user: u, pref, serves, personas: K, mix, ranked: Int32Array.from(support), group: plan.group };
  }
}
