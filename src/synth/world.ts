/**
 * `personae world` (P8): seeded synthetic interaction logs with planted personas.
 *
 * The world:
 * - C taste categories with a Zipf-like popularity over categories ("Space Opera", "Courtroom
 *   Drama", ...); every item belongs to 1-3 of them, has a power-law popularity inside its primary
 *   category and a latent vector in R^d.
 * - Each category has a few "styles" (unit vectors in the same space). The chance that a persona
 *   in style s of category c picks item i is proportional to popularity(i) * exp(beta <s, v_i>):
 *   popularity-weighted and taste-matched, so item-level co-occurrence is learnable.
 * - Every user has 1-4 planted personas. A persona is one category (sometimes with a second one
 *   mixed in) plus a Dirichlet mixture over that category's styles (its taste). Persona weights:
 *   the smallest (the minority persona) is drawn uniformly from `minorityWeight`, the others are
 *   that floor plus a Dirichlet share of the rest, so every persona has at least the minority's
 *   weight. Persona 0 is the dominant one, the last is the minority.
 * - Activity per user is lognormal (heavy-tailed), clamped to [minInteractions, maxInteractions]
 *   and to what the user's categories can supply without repeating items.
 * - The user's rows are allotted to personas exactly by weight (largest remainder), plus a
 *   `noise` share of popularity-sampled rows rated 1-3 (persona -1), then shuffled: personas are
 *   interleaved in time. Timestamps increase strictly per user.
 * - Ratings: persona rows are 4 or 5 (5 more likely for a closer taste match), a `lukewarm` share
 *   gets 3; noise rows 1-3. The default min-rating 4 protocol keeps the persona rows.
 * - `population: 'split:51/49'`: users fall in group A (51%) or B (49%). A `contested` share of
 *   the items is shared ground: both groups meet these items at the same rates (exposure does not
 *   depend on the group), but half of them are loved by A and disliked by B (A rates them 4-5, B
 *   1-2) and the other half the reverse.
 *
 * Determinism: the catalogue comes from `rng.derive('world', ...)`, user u from
 * `rng.derive('user', u)` alone, so generating any range of users, in any chunking, gives the
 * same rows. Generation streams user by user; `writeWorld` writes with back-pressure, so memory is
 * flat in the number of users and interactions (it grows with the catalogue only).
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { LogBuilder, type InteractionLog } from '../data/dataset.js';
import { ConfigError } from '../errors.js';
import { Rng } from '../math/rng.js';

// ---------------------------------------------------------------------------------------------
// Configuration

const POPULATION_RE = /^(?:mixed|split:(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?))$/;

const probability = z.number().min(0).max(1);

/** The one schema of a world's configuration; every field has a default (the default world). */
export const WorldConfigSchema = z
  .object({
    /** Root seed: the same config and seed give byte-identical output. */
    seed: z.number().int().min(0).max(0xffffffff).default(42),
    users: z.number().int().min(1).default(2500),
    items: z.number().int().min(10).max(10_000_000).default(2000),
    /** Number of taste categories (C). */
    categories: z.number().int().min(2).max(1000).default(12),
    /** Target mean rows per user (all rows: positives, lukewarm and noise). */
    meanInteractions: z.number().min(5).default(100),
    minInteractions: z.number().int().min(1).default(5),
    /** Upper clamp of the activity distribution; default 20 x meanInteractions. */
    maxInteractions: z.number().int().min(1).optional(),
    /** Sigma of the lognormal activity distribution (the tail's weight). */
    activitySigma: z.number().min(0).max(3).default(1),
    /** Relative frequency of users with 1, 2, 3 and 4 personas. */
    personaCounts: z.tuple([probability, probability, probability, probability]).default([0.2, 0.35, 0.3, 0.15]),
    /** Range of the minority persona's weight (share of the user's persona rows), users with >= 2 personas. */
    minorityWeight: z.tuple([z.number().gt(0).max(0.5), z.number().gt(0).max(0.5)]).default([0.1, 0.25]),
    /** Dirichlet concentration of the non-minority personas' shares (small = one dominant persona). */
    personaConcentration: z.number().positive().default(1),
    /** Probability that a persona mixes a second category into its first. */
    mixedPersonaRate: probability.default(0.3),
    /** Share of a mixed persona's rows that come from its second category. */
    mixedPersonaShare: z.number().min(0).max(0.5).default(0.3),
    /** Relative frequency of items with 1, 2 and 3 categories. */
    itemCategoryCounts: z.tuple([probability, probability, probability]).default([0.45, 0.4, 0.15]),
    /** Exponent of the power-law popularity inside a category: weight = rank^-a. */
    popularityExponent: z.number().min(0).max(3).default(0.9),
    /** Zipf exponent of category popularity (how much more often some tastes occur). */
    categorySkew: z.number().min(0).max(3).default(0.6),
    /** Dimension of the latent taste space. */
    tasteDim: z.number().int().min(1).max(64).default(8),
    /** Styles (sub-tastes) per category. */
    styles: z.number().int().min(1).max(32).default(4),
    /** Dirichlet concentration of a persona's mixture over styles (small = one style). */
    styleConcentration: z.number().positive().default(0.3),
    /** beta in popularity * exp(beta <style, item>): how strongly taste steers choice. */
    tasteStrength: z.number().min(0).max(10).default(1.5),
    /** Share of a user's rows that are noise: popularity-sampled, rated 1-3, persona -1. */
    noise: z.number().min(0).max(0.9).default(0.1),
    /** Share of persona rows rated 3 (below the default min-rating 4). */
    lukewarm: probability.default(0.08),
    /** 'mixed', or 'split:A/B' (e.g. 'split:51/49'): two groups opposed on the contested items. */
    population: z.string().regex(POPULATION_RE, "expected 'mixed' or 'split:<A>/<B>', e.g. 'split:51/49'").default('mixed'),
    /** Share of the items that are contested in a split population. */
    contested: probability.default(0.3),
    /** Earliest timestamp (seconds since the epoch); default 2020-01-01. */
    startTime: z.number().int().min(0).default(1_577_836_800),
    /** Length of the world's time line in days. */
    spanDays: z.number().positive().default(730),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.minorityWeight[0] > c.minorityWeight[1]) {
      ctx.addIssue({ code: 'custom', path: ['minorityWeight'], message: `lower bound ${c.minorityWeight[0]} is above upper bound ${c.minorityWeight[1]}` });
    }
    if (c.personaCounts.reduce((a, b) => a + b, 0) <= 0) ctx.addIssue({ code: 'custom', path: ['personaCounts'], message: 'at least one persona count needs a positive frequency' });
    if (c.itemCategoryCounts.reduce((a, b) => a + b, 0) <= 0) {
      ctx.addIssue({ code: 'custom', path: ['itemCategoryCounts'], message: 'at least one category count needs a positive frequency' });
    }
    const maxK = Math.min(c.categories, maxPersonaCount(c.personaCounts));
    if (maxK * c.minorityWeight[1] > 1 + 1e-12) {
      ctx.addIssue({
        code: 'custom',
        path: ['minorityWeight'],
        message: `upper bound ${c.minorityWeight[1]} is too large for ${maxK} personas (every persona weighs at least the minority's weight; need <= ${1 / maxK})`,
      });
    }
    if (c.items < c.categories) {
      ctx.addIssue({ code: 'custom', path: ['items'], message: `${c.items} items cannot fill ${c.categories} categories (need items >= categories)` });
    }
    if (c.maxInteractions !== undefined && c.maxInteractions < c.minInteractions) {
      ctx.addIssue({ code: 'custom', path: ['maxInteractions'], message: `${c.maxInteractions} is below minInteractions ${c.minInteractions}` });
    }
    const m = POPULATION_RE.exec(c.population);
    if (m && m[1] !== undefined && Number(m[1]) + Number(m[2]) <= 0) {
      ctx.addIssue({ code: 'custom', path: ['population'], message: 'the two group sizes must not both be 0' });
    }
  });

/** A fully resolved world configuration (every default filled in). */
export type WorldConfig = z.output<typeof WorldConfigSchema>;
/** What callers may pass: any subset of the fields. */
export type WorldConfigInput = z.input<typeof WorldConfigSchema>;

/** Validates a (partial) config and fills in the defaults; throws ConfigError naming the field. */
export function resolveWorldConfig(input: WorldConfigInput = {}): WorldConfig {
  const r = WorldConfigSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ConfigError(issue.message, issue.path.length > 0 ? `world.${issue.path.join('.')}` : 'world');
  }
  return r.data;
}

/** The default world: ~2,500 users, 2,000 items, 12 categories, ~75 positives per user. */
export const DEFAULT_WORLD: Readonly<WorldConfig> = deepFreeze(resolveWorldConfig({}));

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (v !== null && typeof v === 'object') deepFreeze(v as object);
  return Object.freeze(o);
}

/** Named sizes, from a toy to the 50M-interaction scale world. */
export const WORLD_PRESETS = {
  toy: { users: 1000, items: 800, categories: 8, meanInteractions: 40 },
  default: {},
  medium: { users: 50_000, items: 10_000, categories: 16, meanInteractions: 60 },
  large: { users: 1_000_000, items: 100_000, categories: 16, meanInteractions: 50 },
} as const satisfies Record<string, WorldConfigInput>;

export type Population = { kind: 'mixed' } | { kind: 'split'; shareA: number };

/** Parses 'mixed' or 'split:51/49' (group sizes are relative: 'split:2/1' is 2/3 vs 1/3). */
export function parsePopulation(s: string): Population {
  const m = POPULATION_RE.exec(s);
  if (!m) throw new ConfigError(`expected 'mixed' or 'split:<A>/<B>', got "${s}"`, 'world.population');
  if (m[1] === undefined) return { kind: 'mixed' };
  const a = Number(m[1]);
  const b = Number(m[2]);
  if (a + b <= 0) throw new ConfigError('the two group sizes must not both be 0', 'world.population');
  return { kind: 'split', shareA: a / (a + b) };
}

function maxPersonaCount(counts: readonly number[]): number {
  let k = 0;
  counts.forEach((p, i) => {
    if (p > 0) k = i + 1;
  });
  return k;
}

// ---------------------------------------------------------------------------------------------
// Names and titles

interface CategoryWords {
  readonly name: string;
  readonly words: readonly string[];
}

const CATEGORY_WORDS: readonly CategoryWords[] = [
  { name: 'Space Opera', words: ['Nebula', 'Empire', 'Starfall', 'Void', 'Armada', 'Comet', 'Galaxy', 'Orbit', 'Starship', 'Eclipse'] },
  { name: 'Courtroom Drama', words: ['Verdict', 'Witness', 'Jury', 'Testimony', 'Appeal', 'Counsel', 'Objection', 'Gavel', 'Defense', 'Evidence'] },
  { name: 'Romantic Comedy', words: ['Wedding', 'Crush', 'Kiss', 'Valentine', 'Date', 'Honeymoon', 'Sweetheart', 'Proposal', 'Bouquet', 'Flirt'] },
  { name: 'Noir Thriller', words: ['Shadow', 'Alibi', 'Rain', 'Cigarette', 'Dame', 'Midnight', 'Double Cross', 'Neon', 'Gumshoe', 'Precinct'] },
  { name: 'Nature Documentary', words: ['Savanna', 'Reef', 'Tundra', 'Migration', 'Canopy', 'Glacier', 'Wildlife', 'Rainforest', 'Predator', 'Wetlands'] },
  { name: 'Heist Caper', words: ['Vault', 'Score', 'Getaway', 'Diamond', 'Safecracker', 'Job', 'Casino', 'Crew', 'Loot', 'Blueprint'] },
  { name: 'Period Drama', words: ['Manor', 'Countess', 'Estate', 'Inheritance', 'Ballroom', 'Duchess', 'Governess', 'Carriage', 'Heir', 'Parlour'] },
  { name: 'Slasher Horror', words: ['Cabin', 'Scream', 'Mask', 'Camp', 'Basement', 'Hatchet', 'Night', 'Curse', 'Cellar', 'Fog'] },
  { name: 'Animated Family', words: ['Dragon', 'Puppy', 'Toy', 'Kingdom', 'Robot', 'Penguin', 'Treehouse', 'Wish', 'Balloon', 'Friends'] },
  { name: 'Western', words: ['Frontier', 'Outlaw', 'Canyon', 'Sheriff', 'Saloon', 'Stagecoach', 'Dust', 'Gunslinger', 'Ranch', 'Prairie'] },
  { name: 'Cyberpunk', words: ['Circuit', 'Neon City', 'Hacker', 'Chrome', 'Android', 'Grid', 'Implant', 'Signal', 'Syndicate', 'Glitch'] },
  { name: 'Sports Underdog', words: ['Champion', 'Comeback', 'Rookie', 'Playoffs', 'Coach', 'Season', 'Victory', 'Finals', 'Stadium', 'Team'] },
  { name: 'Musical', words: ['Melody', 'Chorus', 'Broadway', 'Encore', 'Rhapsody', 'Serenade', 'Overture', 'Duet', 'Stage', 'Tango'] },
  { name: 'War Epic', words: ['Trench', 'Battalion', 'Frontline', 'Siege', 'Beachhead', 'Regiment', 'Valor', 'Armistice', 'Squadron', 'Ridge'] },
  { name: 'Mockumentary', words: ['Office', 'Band', 'Pageant', 'Campaign', 'Tour', 'Startup', 'Dog Show', 'Reunion', 'Internship', 'Convention'] },
  { name: 'High Fantasy', words: ['Sword', 'Throne', 'Sorcerer', 'Realm', 'Prophecy', 'Elves', 'Dragonstone', 'Crown', 'Quest', 'Rune'] },
  { name: 'Spy Thriller', words: ['Agent', 'Cipher', 'Dossier', 'Mole', 'Embassy', 'Safehouse', 'Protocol', 'Handler', 'Extraction', 'Asset'] },
  { name: 'Coming of Age', words: ['Summer', 'Prom', 'Diary', 'Graduation', 'Bicycle', 'Locker', 'Hometown', 'Friendship', 'Yearbook', 'Road Trip'] },
  { name: 'Disaster', words: ['Tsunami', 'Inferno', 'Volcano', 'Earthquake', 'Meteor', 'Blizzard', 'Flood', 'Tornado', 'Collapse', 'Outbreak'] },
  { name: 'Martial Arts', words: ['Dragon Fist', 'Dojo', 'Master', 'Tiger', 'Temple', 'Kick', 'Sensei', 'Tournament', 'Crane', 'Blade'] },
  { name: 'Political Satire', words: ['Senator', 'Scandal', 'Ballot', 'Spin Doctor', 'Cabinet', 'Filibuster', 'Lobbyist', 'Press Secretary', 'Summit', 'Poll'] },
  { name: 'Cooking Show', words: ['Kitchen', 'Recipe', 'Souffle', 'Chef', 'Feast', 'Bakery', 'Spice', 'Oven', 'Menu', 'Dessert'] },
  { name: 'True Crime', words: ['Case', 'Suspect', 'Cold Case', 'Confession', 'Interrogation', 'Detective', 'Trial', 'Motive', 'Autopsy', 'Stakeout'] },
  { name: 'Time Travel', words: ['Paradox', 'Timeline', 'Chronicle', 'Loop', 'Clockwork', 'Yesterday', 'Tomorrow', 'Epoch', 'Rewind', 'Century'] },
];

const GENERIC_WORDS = ['Story', 'Journey', 'Secret', 'Promise', 'Horizon', 'Stranger', 'River', 'Letter', 'Island', 'Garden'];

/** The display names of the first `n` categories ("Space Opera", ..., then "Genre 25", ...). */
export function categoryNames(n: number): string[] {
  return Array.from({ length: n }, (_, c) => CATEGORY_WORDS[c]?.name ?? `Genre ${c + 1}`);
}

function wordsOf(c: number): readonly string[] {
  return CATEGORY_WORDS[c]?.words ?? GENERIC_WORDS;
}

/** A readable title from the item's category words; some contain commas (the CSV quotes them). */
function makeTitle(rng: Rng, primary: number, secondary: number): string {
  const a = wordsOf(primary);
  const b = wordsOf(secondary);
  const w1 = a[rng.int(a.length)]!;
  let w2 = b[rng.int(b.length)]!;
  if (w2 === w1) w2 = GENERIC_WORDS[rng.int(GENERIC_WORDS.length)]!;
  const year = 1950 + rng.int(75);
  let t: string;
  switch (rng.int(12)) {
    case 0: t = `The ${w1}`; break;
    case 1: t = `The ${w1} and the ${w2}`; break;
    case 2: t = `${w1} of the ${w2}`; break;
    case 3: t = `Return of the ${w1}`; break;
    case 4: t = `${w1} Rising`; break;
    case 5: t = `Goodbye, ${w1}`; break;
    case 6: t = `The Last ${w1}`; break;
    case 7: t = `${w1}, ${w2} and Me`; break;
    case 8: t = `Tales of the ${w1}`; break;
    case 9: t = `Hello, ${w2}`; break;
    case 10: t = `${w1} ${2 + rng.int(3)}`; break;
    default: t = `${/^[AEIOU]/.test(w1) ? 'An' : 'A'} ${w1} Beyond the ${w2}`; break;
  }
  return `${t} (${year})`;
}

// ---------------------------------------------------------------------------------------------
// The world

/** One planted persona of a user, as written to truth.jsonl. */
export interface PlantedPersona {
  /** Index within the user: 0 = the dominant persona, the last = the minority persona. */
  readonly persona: number;
  /** Planted share of the user's persona rows (weights sum to 1). */
  readonly weight: number;
  /** Category names, the persona's main category first. */
  readonly categories: readonly string[];
}

export type Group = 'A' | 'B';

/** Ground truth of one user. */
export interface UserTruth {
  readonly user: string;
  readonly group?: Group;
  readonly personas: readonly PlantedPersona[];
}

/** One user's rows in time order (reused buffers: copy what you keep). */
export class UserRows {
  length = 0;
  readonly item: Int32Array;
  readonly rating: Uint8Array;
  readonly timestamp: Float64Array;
  /** The persona that produced the row, -1 for noise rows. */
  readonly persona: Int8Array;
  constructor(capacity: number) {
    this.item = new Int32Array(capacity);
    this.rating = new Uint8Array(capacity);
    this.timestamp = new Float64Array(capacity);
    this.persona = new Int8Array(capacity);
  }
}

/** A user's plan: group (-1 mixed, 0 = A, 1 = B) and personas as category indices. */
export interface UserPlan {
  readonly group: -1 | 0 | 1;
  readonly weights: readonly number[];
  readonly categories: readonly (readonly number[])[];
}

const GROUP_NAMES: readonly Group[] = ['A', 'B'];

/** Affinities are stored as 16-bit fixed point with this many steps per unit (range +-32). */
const AFFINITY_SCALE = 1000;

function quantizeAffinity(z: number): number {
  return Math.max(-32767, Math.min(32767, Math.round(z * AFFINITY_SCALE)));
}

/**
 * Walker's alias method over items: draws an item with probability weight / total in O(1) from
 * one uniform number (its integer part picks a column, its fraction the column or its alias).
 * Each column is one 16-byte record (threshold, item, alias item, both affinities as int16), so a
 * draw reads one cache line: at 100k items the tables do not fit in the CPU caches, and this is
 * the hot path of generation.
 */
export class ItemSampler {
  readonly size: number;
  private readonly f32: Float32Array;
  private readonly i32: Int32Array;
  /** The item and its affinity of the last `draw`. */
  item = 0;
  affinity = 0;

  constructor(weights: ArrayLike<number>, items: ArrayLike<number>, affinity: ArrayLike<number> | null) {
    const n = weights.length;
    this.size = n;
    const buffer = new ArrayBuffer(n * 16);
    const f32 = (this.f32 = new Float32Array(buffer));
    const i32 = (this.i32 = new Int32Array(buffer));
    const prob = new Float64Array(n);
    const alias = new Int32Array(n);
    for (let k = 0; k < n; k++) alias[k] = k;
    let total = 0;
    for (let k = 0; k < n; k++) total += weights[k]!;
    if (total > 0 && Number.isFinite(total)) {
      const small = new Int32Array(n);
      const large = new Int32Array(n);
      let ns = 0;
      let nl = 0;
      for (let k = 0; k < n; k++) {
        prob[k] = (weights[k]! * n) / total;
        if (prob[k]! < 1) small[ns++] = k;
        else large[nl++] = k;
      }
      while (ns > 0 && nl > 0) {
        const lo = small[--ns]!;
        const hi = large[nl - 1]!;
        alias[lo] = hi;
        prob[hi] = prob[hi]! + prob[lo]! - 1;
        if (prob[hi]! < 1) {
          nl--;
          small[ns++] = hi;
        }
      }
      while (nl > 0) prob[large[--nl]!] = 1;
      while (ns > 0) prob[small[--ns]!] = 1; // round-off leftovers
    } else {
      prob.fill(1);
    }
    for (let k = 0; k < n; k++) {
      const o = k * 4;
      f32[o] = prob[k]!;
      i32[o + 1] = items[k]!;
      i32[o + 2] = items[alias[k]!]!;
      const za = affinity ? quantizeAffinity(affinity[k]!) : 0;
      const zb = affinity ? quantizeAffinity(affinity[alias[k]!]!) : 0;
      i32[o + 3] = (za & 0xffff) | (zb << 16);
    }
  }

  /** Draws from one uniform number u in [0, 1); the result is in `item` and `affinity`. */
  draw(u: number): void {
    const x = u * this.size;
    const k = Math.floor(x);
    const o = k * 4;
    const z = this.i32[o + 3]!;
    if (x - k < this.f32[o]!) {
      this.item = this.i32[o + 1]!;
      this.affinity = ((z << 16) >> 16) / AFFINITY_SCALE;
    } else {
      this.item = this.i32[o + 2]!;
      this.affinity = (z >> 16) / AFFINITY_SCALE;
    }
  }
}

function drawIndex(rng: Rng, weights: readonly number[]): number {
  let total = 0;
  for (const w of weights) total += w;
  let x = rng.next() * total;
  for (let k = 0; k < weights.length; k++) {
    x -= weights[k]!;
    if (x < 0) return k;
  }
  return weights.length - 1;
}

/** The items of one category, with one alias sampler per style and the items' style affinities. */
interface CategoryPool {
  readonly items: Int32Array;
  /** sampler[s] over `items`, weights popularity * exp(beta * affinity). */
  readonly sampler: ItemSampler[];
  /** affinity[s * items.length + pos] = <style s, v_item>. */
  readonly affinity: Float32Array;
}

/**
 * The catalogue of a world and the per-user generator. Building it costs O(items x categories
 * per item x styles); `generateUser(u)` depends only on the catalogue and `rng.derive('user', u)`.
 */
export class World {
  readonly config: WorldConfig;
  readonly population: Population;
  readonly categoryNames: readonly string[];
  readonly nItems: number;
  /** External ID of item index i is String(i + 1); of user u, String(u + 1). */
  readonly titles: readonly string[];
  /** Item categories as CSR (primary category first). */
  readonly itemCategoryPtr: Int32Array;
  readonly itemCategoryIdx: Int32Array;
  /** Intrinsic popularity weight of every item (power law inside its primary category). */
  readonly itemPopularity: Float64Array;
  /** Split populations: +1 = loved by A and disliked by B, -1 = the reverse, 0 = not contested. */
  readonly itemPolarity: Int8Array;
  /** Relative frequency of each category as a persona's main category (sums to 1). */
  readonly categoryPopularity: Float64Array;
  readonly maxInteractions: number;

  private readonly root: Rng;
  private readonly pools: CategoryPool[];
  private readonly globalSampler: ItemSampler;
  /** seen[i] = 1 while item i is in the current user's rows (cleared after each user). */
  private readonly seen: Uint8Array;
  private drawnItem = 0;
  private drawnAffinity = 0;
  private categoryJson: string[] | null = null;
  private readonly styleCdf: Float64Array;

  constructor(input: WorldConfigInput = {}) {
    const config = resolveWorldConfig(input);
    this.config = config;
    this.population = parsePopulation(config.population);
    const C = config.categories;
    const N = config.items;
    const S = config.styles;
    const d = config.tasteDim;
    this.nItems = N;
    this.categoryNames = categoryNames(C);
    this.maxInteractions = config.maxInteractions ?? Math.max(config.minInteractions, Math.ceil(20 * config.meanInteractions));
    this.root = new Rng(config.seed);

    // category popularity: Zipf over a seeded order
    const catRng = this.root.derive('world', 'categories');
    const order = catRng.shuffle(Array.from({ length: C }, (_, c) => c));
    const catPop = new Float64Array(C);
    order.forEach((c, rank) => (catPop[c] = Math.pow(rank + 1, -config.categorySkew)));
    let catTotal = 0;
    for (const p of catPop) catTotal += p;
    for (let c = 0; c < C; c++) catPop[c]! /= catTotal;
    this.categoryPopularity = catPop;
    // items spread over categories half uniformly, half by category popularity
    const itemCatWeights = Array.from(catPop, (p) => 0.5 / C + 0.5 * p);

    // items: categories, latent vectors, titles
    const itemRng = this.root.derive('world', 'items');
    const ptr = new Int32Array(N + 1);
    const idx: number[] = [];
    const vectors = new Float32Array(N * d);
    const titles: string[] = new Array<string>(N);
    const countWeights = config.itemCategoryCounts.slice();
    for (let k = C; k < countWeights.length; k++) countWeights[k] = 0;
    const picked: number[] = [];
    for (let i = 0; i < N; i++) {
      const k = drawIndex(itemRng, countWeights) + 1;
      picked.length = 0;
      if (i < C) picked.push(i); // every category has at least one item
      while (picked.length < k) {
        const c = drawIndex(itemRng, itemCatWeights);
        if (!picked.includes(c)) picked.push(c);
      }
      idx.push(...picked);
      ptr[i + 1] = idx.length;
      for (let j = 0; j < d; j++) vectors[i * d + j] = itemRng.normal();
      titles[i] = makeTitle(itemRng, picked[0]!, picked[k > 1 ? 1 : 0]!);
    }
    this.itemCategoryPtr = ptr;
    this.itemCategoryIdx = Int32Array.from(idx);
    this.titles = titles;

    // popularity: power law over a seeded rank inside the primary category
    const popRng = this.root.derive('world', 'popularity');
    const byPrimary: number[][] = Array.from({ length: C }, () => []);
    for (let i = 0; i < N; i++) byPrimary[idx[ptr[i]!]!]!.push(i);
    const popularity = new Float64Array(N);
    for (const members of byPrimary) {
      popRng.shuffle(members);
      members.forEach((i, rank) => (popularity[i] = Math.pow(rank + 1, -config.popularityExponent)));
    }
    this.itemPopularity = popularity;
    this.globalSampler = new ItemSampler(popularity, Int32Array.from({ length: N }, (_, i) => i), null);

    // styles: unit vectors per category; pools with one CDF per style
    const styleRng = this.root.derive('world', 'styles');
    const members: number[][] = Array.from({ length: C }, () => []);
    for (let i = 0; i < N; i++) for (let k = ptr[i]!; k < ptr[i + 1]!; k++) members[idx[k]!]!.push(i);
    const beta = config.tasteStrength;
    this.pools = members.map((list) => {
      const items = Int32Array.from(list);
      const n = items.length;
      const affinity = new Float32Array(S * n);
      const sampler: ItemSampler[] = [];
      const center = new Float64Array(d);
      const weight = new Float64Array(n);
      for (let s = 0; s < S; s++) {
        let norm = 0;
        for (let j = 0; j < d; j++) norm += (center[j] = styleRng.normal()) ** 2;
        norm = Math.sqrt(norm) || 1;
        for (let p = 0; p < n; p++) {
          const i = items[p]!;
          let z = 0;
          for (let j = 0; j < d; j++) z += center[j]! * vectors[i * d + j]!;
          z /= norm;
          affinity[s * n + p] = z;
          weight[p] = popularity[i]! * Math.exp(beta * z);
        }
        sampler.push(new ItemSampler(weight, items, affinity.subarray(s * n, (s + 1) * n)));
      }
      return { items, sampler, affinity };
    });

    // contested items (split populations): a seeded subset, polarity alternating => balanced
    this.itemPolarity = new Int8Array(N);
    if (this.population.kind === 'split') {
      const contRng = this.root.derive('world', 'contested');
      const all = contRng.shuffle(Array.from({ length: N }, (_, i) => i));
      const m = Math.round(config.contested * N);
      for (let k = 0; k < m; k++) this.itemPolarity[all[k]!] = k % 2 === 0 ? 1 : -1;
    }

    this.seen = new Uint8Array(N);
    this.styleCdf = new Float64Array(4 * 2 * S);
  }

  /** Categories of item index i (indices into `categoryNames`, primary first). */
  itemCategories(i: number): Int32Array {
    return this.itemCategoryIdx.subarray(this.itemCategoryPtr[i]!, this.itemCategoryPtr[i + 1]!);
  }

  /** A UserRows buffer large enough for any user of this world. */
  newRows(): UserRows {
    return new UserRows(this.maxInteractions);
  }

  /** Fills `out` with user u's rows (in time order) and returns the user's planted personas. */
  generateUser(u: number, out: UserRows): UserPlan {
    const cfg = this.config;
    const rng = this.root.derive('user', u);
    const C = cfg.categories;
    const S = cfg.styles;

    // group
    let group: -1 | 0 | 1 = -1;
    if (this.population.kind === 'split') group = rng.next() < this.population.shareA ? 0 : 1;

    // persona count and weights: minority m ~ U[lo, hi]; others m + (1 - K m) * Dirichlet
    const K = Math.min(C, drawIndex(rng, cfg.personaCounts) + 1);
    const weights: number[] = [];
    if (K === 1) weights.push(1);
    else {
      const [lo, hi] = cfg.minorityWeight;
      const m = lo + (hi - lo) * rng.next();
      const g: number[] = [];
      let gs = 0;
      for (let k = 0; k < K - 1; k++) {
        const x = rng.gamma(cfg.personaConcentration);
        g.push(x);
        gs += x;
      }
      const rest = Math.max(0, 1 - K * m);
      for (let k = 0; k < K - 1; k++) weights.push(m + (gs > 0 ? (rest * g[k]!) / gs : rest / (K - 1)));
      weights.sort((a, b) => b - a);
      weights.push(m);
    }

    // categories: distinct main categories by popularity, sometimes a second one mixed in
    const cats: number[][] = [];
    const mains: number[] = [];
    const catPop = this.categoryPopularity;
    while (mains.length < K) {
      const c = searchCdfArray(catPop, rng.next());
      if (!mains.includes(c)) mains.push(c);
    }
    for (let k = 0; k < K; k++) {
      const list = [mains[k]!];
      if (rng.next() < cfg.mixedPersonaRate) {
        let c2 = mains[k]!;
        while (c2 === mains[k]) c2 = searchCdfArray(catPop, rng.next());
        list.push(c2);
      }
      cats.push(list);
    }

    // taste: a Dirichlet mixture over the styles of each of the persona's categories
    const styleCdf = this.styleCdf;
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < cats[k]!.length; j++) {
        const base = (k * 2 + j) * S;
        let acc = 0;
        for (let s = 0; s < S; s++) styleCdf[base + s] = acc += rng.gamma(cfg.styleConcentration);
        if (!(acc > 0)) for (let s = 0; s < S; s++) styleCdf[base + s] = acc = s + 1;
        for (let s = 0; s < S; s++) styleCdf[base + s]! /= acc;
      }
    }

    // activity: lognormal with the configured mean, clamped, and capped so that no persona needs
    // more than 60% of one of its categories' items
    const sigma = cfg.activitySigma;
    const mu = Math.log(cfg.meanInteractions) - (sigma * sigma) / 2;
    let n = Math.round(Math.exp(mu + sigma * rng.normal()));
    n = Math.min(this.maxInteractions, Math.max(cfg.minInteractions, n));
    const personaShare = 1 - cfg.noise;
    for (let k = 0; k < K; k++) {
      const list = cats[k]!;
      for (let j = 0; j < list.length; j++) {
        const share = list.length === 1 ? 1 : j === 0 ? 1 - cfg.mixedPersonaShare : cfg.mixedPersonaShare;
        const demand = weights[k]! * share * personaShare;
        if (demand > 0) n = Math.min(n, Math.floor((0.6 * this.pools[list[j]!]!.items.length) / demand));
      }
    }
    n = Math.max(Math.min(n, this.maxInteractions), Math.min(cfg.minInteractions, this.maxInteractions));

    // allot rows: noise by stochastic rounding, personas by largest remainder (each >= 1 if possible)
    const nNoise = Math.min(n, Math.floor(cfg.noise * n + rng.next()));
    const nPersona = n - nNoise;
    const counts = largestRemainder(weights, nPersona);
    const labels = out.persona;
    let w = 0;
    for (let k = 0; k < K; k++) for (let r = 0; r < counts[k]!; r++) labels[w++] = k;
    for (let r = 0; r < nNoise; r++) labels[w++] = -1;
    shuffleRange(rng, labels, n);

    // time line: start somewhere in the first 75% of the span, active for 2-25% of it
    const span = cfg.spanDays * 86400;
    let t = cfg.startTime + Math.floor(rng.next() * 0.75 * span);
    const meanGap = (span * (0.02 + 0.23 * rng.next())) / Math.max(1, n);

    // rows
    const seen = this.seen;
    const groupSign = group === 0 ? 1 : group === 1 ? -1 : 0;
    let len = 0;
    for (let r = 0; r < n; r++) {
      const k = labels[r]!;
      let rating: number;
      if (k < 0) {
        if (!this.drawGlobal(rng)) continue;
        const x = rng.next();
        rating = x < 0.3 ? 1 : x < 0.7 ? 2 : 3;
      } else {
        const list = cats[k]!;
        const j = list.length > 1 && rng.next() < cfg.mixedPersonaShare ? 1 : 0;
        const base = (k * 2 + j) * S;
        let s = 0;
        const xs = rng.next();
        while (s < S - 1 && styleCdf[base + s]! <= xs) s++;
        if (!this.drawFromPool(rng, this.pools[list[j]!]!, s)) continue;
        const polarity = this.itemPolarity[this.drawnItem]!;
        if (groupSign !== 0 && polarity !== 0 && polarity !== groupSign) {
          rating = rng.next() < 0.5 ? 1 : 2;
        } else if (rng.next() < cfg.lukewarm) {
          rating = 3;
        } else {
          // taste-matched sampling tilts the affinity's mean to about beta: 5 above it, 4 below
          rating = rng.next() < 1 / (1 + Math.exp(-1.5 * (this.drawnAffinity - cfg.tasteStrength))) ? 5 : 4;
        }
      }
      const item = this.drawnItem;
      seen[item] = 1;
      t += 1 + Math.floor(-Math.log(1 - rng.next()) * meanGap);
      out.item[len] = item;
      out.rating[len] = rating;
      out.timestamp[len] = t;
      out.persona[len] = k;
      len++;
    }
    for (let r = 0; r < len; r++) seen[out.item[r]!] = 0;
    out.length = len;
    return { group, weights, categories: cats };
  }

  /** userTruth(u, plan) as one JSON line (the same text JSON.stringify gives, built faster). */
  userTruthJson(u: number, plan: UserPlan): string {
    const names = (this.categoryJson ??= this.categoryNames.map((n) => JSON.stringify(n)));
    let line = `{"user":"${u + 1}"`;
    if (plan.group >= 0) line += `,"group":"${GROUP_NAMES[plan.group]!}"`;
    line += ',"personas":[';
    for (let k = 0; k < plan.weights.length; k++) {
      if (k > 0) line += ',';
      line += `{"persona":${k},"weight":${plan.weights[k]!},"categories":[${plan.categories[k]!.map((c) => names[c]!).join(',')}]}`;
    }
    return `${line}]}`;
  }

  /** The truth record of a plan (as written to truth.jsonl). */
  userTruth(u: number, plan: UserPlan): UserTruth {
    const personas = plan.weights.map((weight, k) => ({
      persona: k,
      weight,
      categories: plan.categories[k]!.map((c) => this.categoryNames[c]!),
    }));
    return plan.group < 0 ? { user: String(u + 1), personas } : { user: String(u + 1), group: GROUP_NAMES[plan.group]!, personas };
  }

  /** Draws an item of `pool` from style s that this user has not seen; false if the pool is used up. */
  private drawFromPool(rng: Rng, pool: CategoryPool, s: number): boolean {
    const sampler = pool.sampler[s]!;
    const n = sampler.size;
    if (n === 0) return false;
    for (let tries = 0; tries < 32; tries++) {
      sampler.draw(rng.next());
      if (this.seen[sampler.item] === 0) {
        this.drawnItem = sampler.item;
        this.drawnAffinity = sampler.affinity;
        return true;
      }
    }
    // rare (heavy users in small categories): the next unseen item after a random start
    const start = rng.int(n);
    for (let q = 0; q < n; q++) {
      const pos = (start + q) % n;
      if (this.seen[pool.items[pos]!] === 0) {
        this.drawnItem = pool.items[pos]!;
        this.drawnAffinity = pool.affinity[s * n + pos]!;
        return true;
      }
    }
    return false;
  }

  /** Draws an unseen item by popularity alone (noise rows); false if the user has seen every item. */
  private drawGlobal(rng: Rng): boolean {
    const sampler = this.globalSampler;
    for (let tries = 0; tries < 32; tries++) {
      sampler.draw(rng.next());
      if (this.seen[sampler.item] === 0) {
        this.drawnItem = sampler.item;
        return true;
      }
    }
    const start = rng.int(this.nItems);
    for (let q = 0; q < this.nItems; q++) {
      const i = (start + q) % this.nItems;
      if (this.seen[i] === 0) {
        this.drawnItem = i;
        return true;
      }
    }
    return false;
  }
}

function searchCdfArray(p: Float64Array, x: number): number {
  let acc = 0;
  for (let c = 0; c < p.length; c++) {
    acc += p[c]!;
    if (x < acc) return c;
  }
  return p.length - 1;
}

/** Integer counts summing to n, proportional to weights; every count >= 1 when n >= weights.length. */
function largestRemainder(weights: readonly number[], n: number): number[] {
  const K = weights.length;
  const counts = weights.map((w) => Math.floor(w * n));
  let left = n - counts.reduce((a, b) => a + b, 0);
  const order = weights.map((w, k) => k).sort((a, b) => weights[b]! * n - counts[b]! - (weights[a]! * n - counts[a]!) || a - b);
  for (let q = 0; left > 0; q = (q + 1) % K, left--) counts[order[q]!]!++;
  if (n >= K) {
    for (let k = 0; k < K; k++) {
      if (counts[k]! > 0) continue;
      let big = 0;
      for (let j = 1; j < K; j++) if (counts[j]! > counts[big]!) big = j;
      counts[big]!--;
      counts[k] = 1;
    }
  }
  return counts;
}

function shuffleRange(rng: Rng, a: Int8Array, n: number): void {
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

// ---------------------------------------------------------------------------------------------
// Streaming API

/** Receives a world as it is generated: every item first, then user by user in time order. */
export interface WorldSink {
  item(id: string, title: string, categories: readonly string[]): void;
  interaction(user: string, item: string, rating: number, timestamp: number, persona: number): void;
  user?(id: string, personas: readonly PlantedPersona[], group?: Group): void;
}

export interface GenerateOptions {
  /** First user index to generate (default 0). */
  from?: number;
  /** One past the last user index (default config.users). */
  to?: number;
  /** Whether to emit the items (default true). */
  items?: boolean;
}

export interface WorldSummary {
  users: number;
  items: number;
  interactions: number;
  positives: number;
}

/**
 * Generates a world into `sink`, streaming: items, then each user's truth and rows. Generating the
 * users [0, n) in any split into ranges gives the same rows. Returns the counts.
 */
export function generateWorld(config: WorldConfigInput | World, sink: WorldSink, options: GenerateOptions = {}): WorldSummary {
  const world = config instanceof World ? config : new World(config);
  const cfg = world.config;
  const from = options.from ?? 0;
  const to = Math.min(options.to ?? cfg.users, cfg.users);
  if (options.items ?? true) {
    for (let i = 0; i < world.nItems; i++) {
      sink.item(String(i + 1), world.titles[i]!, Array.from(world.itemCategories(i), (c) => world.categoryNames[c]!));
    }
  }
  const itemIds = Array.from({ length: world.nItems }, (_, i) => String(i + 1));
  const rows = world.newRows();
  let interactions = 0;
  let positives = 0;
  for (let u = from; u < to; u++) {
    const plan = world.generateUser(u, rows);
    const id = String(u + 1);
    if (sink.user) {
      const t = world.userTruth(u, plan);
      sink.user(id, t.personas, t.group);
    }
    for (let r = 0; r < rows.length; r++) {
      sink.interaction(id, itemIds[rows.item[r]!]!, rows.rating[r]!, rows.timestamp[r]!, rows.persona[r]!);
      if (rows.rating[r]! >= 4) positives++;
    }
    interactions += rows.length;
  }
  return { users: Math.max(0, to - from), items: world.nItems, interactions, positives };
}

/** Ground truth of an in-memory world, aligned with its InteractionLog. */
export interface WorldTruth {
  readonly config: WorldConfig;
  readonly categories: readonly string[];
  /** Planted persona of every log row (-1 = noise), aligned with the log's rows. */
  readonly rowPersona: Int8Array;
  /** By user index of the log (which is the user ID minus 1). */
  readonly users: readonly UserTruth[];
  /** By user index: 0 = group A, 1 = group B, -1 = mixed population. */
  readonly userGroup: Int8Array;
  /** By item index of the log (the item ID minus 1). */
  readonly itemPopularity: Float64Array;
  /** By item index: +1 loved by A / disliked by B, -1 the reverse, 0 not contested. */
  readonly itemPolarity: Int8Array;
}

/**
 * A small world in memory: the log (item index = item ID - 1, user index = user ID - 1, ratings
 * and timestamps set, categories and titles attached) and its truth.
 */
export function worldToLog(config: WorldConfigInput | World = {}): { log: InteractionLog; truth: WorldTruth } {
  const world = config instanceof World ? config : new World(config);
  const cfg = world.config;
  const b = new LogBuilder(`world-${cfg.seed}`);
  const itemIds: string[] = [];
  for (let i = 0; i < world.nItems; i++) {
    const id = String(i + 1);
    itemIds.push(id);
    b.setCategories(id, Array.from(world.itemCategories(i), (c) => world.categoryNames[c]!));
    b.setTitle(id, world.titles[i]!);
  }
  let rowPersona = new Int8Array(1 << 16);
  const users: UserTruth[] = [];
  const userGroup = new Int8Array(cfg.users);
  const rows = world.newRows();
  for (let u = 0; u < cfg.users; u++) {
    const plan = world.generateUser(u, rows);
    users.push(world.userTruth(u, plan));
    userGroup[u] = plan.group;
    const id = String(u + 1);
    b.users.intern(id); // user index = u even for a user whose rows all failed to draw
    if (b.length + rows.length > rowPersona.length) {
      const grown = new Int8Array(Math.max(rowPersona.length * 2, b.length + rows.length));
      grown.set(rowPersona);
      rowPersona = grown;
    }
    for (let r = 0; r < rows.length; r++) {
      rowPersona[b.length] = rows.persona[r]!;
      b.add(id, itemIds[rows.item[r]!]!, rows.rating[r]!, rows.timestamp[r]!);
    }
  }
  const log = b.build();
  return {
    log,
    truth: {
      config: cfg,
      categories: world.categoryNames,
      rowPersona: rowPersona.slice(0, log.length),
      users,
      userGroup,
      itemPopularity: world.itemPopularity,
      itemPolarity: world.itemPolarity,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Files

/** File names inside a world folder. */
export const WORLD_FILES = {
  ratings: 'ratings.csv',
  items: 'items.csv',
  truth: 'truth.jsonl',
  interactionsTruth: 'interactions-truth.csv',
  itemsTruth: 'items-truth.csv',
  manifest: 'world.json',
} as const;

export interface WorldProgress {
  users: number;
  totalUsers: number;
  interactions: number;
}

/**
 * A write stream fed from a byte buffer that rows are formatted into directly (no per-row
 * strings: at 50M rows string building costs more than generating). A full buffer is handed to the
 * stream and replaced; when the stream asks for a pause, `wait()` returns a promise for 'drain'.
 */
class ByteWriter {
  private readonly stream: WriteStream;
  private buf: Buffer;
  private pos = 0;
  private mustDrain = false;
  private error: Error | null = null;

  constructor(
    path: string,
    private readonly size = 1 << 20,
  ) {
    this.stream = createWriteStream(path, { highWaterMark: 4 * size });
    this.stream.on('error', (err) => (this.error ??= err));
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Makes room for `n` more bytes. */
  room(n: number): void {
    if (this.pos + n > this.size) this.handOver();
  }

  byte(c: number): void {
    this.buf[this.pos++] = c;
  }

  /** A non-negative integer in decimal. */
  uint(n: number): void {
    const b = this.buf;
    if (n > 0x7fffffff) {
      const s = String(n);
      for (let k = 0; k < s.length; k++) b[this.pos++] = s.charCodeAt(k);
      return;
    }
    let v = n | 0;
    const digits =
      v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : v < 100000 ? 5 : v < 1000000 ? 6 : v < 10000000 ? 7 : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10;
    let p = (this.pos += digits);
    while (v >= 10) {
      const q = (v / 10) | 0;
      b[--p] = 48 + v - q * 10;
      v = q;
    }
    b[--p] = 48 + v;
  }

  int(n: number): void {
    if (n < 0) {
      this.byte(45);
      n = -n;
    }
    this.uint(n);
  }

  /** Any text (UTF-8). */
  text(s: string): void {
    const n = Buffer.byteLength(s);
    if (n > this.size) {
      this.handOver();
      this.mustDrain = !this.stream.write(s) || this.mustDrain;
      return;
    }
    this.room(n);
    this.pos += this.buf.write(s, this.pos);
  }

  private handOver(): void {
    if (this.pos === 0) return;
    const ok = this.stream.write(this.buf.subarray(0, this.pos));
    this.buf = Buffer.allocUnsafe(this.size);
    this.pos = 0;
    if (!ok) this.mustDrain = true;
  }

  /** A promise to await before producing more, when the stream's buffer is full. */
  wait(): Promise<void> | undefined {
    if (this.error) throw this.error;
    if (!this.mustDrain) return undefined;
    this.mustDrain = false;
    return once(this.stream, 'drain').then(() => undefined);
  }

  async close(): Promise<void> {
    this.handOver();
    await this.wait();
    this.stream.end();
    await finished(this.stream);
    if (this.error) throw this.error;
  }
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Writes a world to `dir` (created if missing): ratings.csv (user,item,rating,timestamp), items.csv
 * (item,title,categories with '|' between categories), truth.jsonl (one line per user:
 * {user, group?, personas: [{persona, weight, categories}]}), interactions-truth.csv
 * (user,item,persona; -1 = noise), items-truth.csv (item,popularity,polarity) and world.json (the
 * resolved config and the counts). Streams with back-pressure: memory does not grow with the rows.
 */
export async function writeWorld(
  config: WorldConfigInput | World,
  dir: string,
  onProgress?: (p: WorldProgress) => void,
): Promise<WorldSummary> {
  const world = config instanceof World ? config : new World(config);
  const cfg = world.config;
  mkdirSync(dir, { recursive: true });

  const items = new ByteWriter(join(dir, WORLD_FILES.items));
  const itemsTruth = new ByteWriter(join(dir, WORLD_FILES.itemsTruth));
  items.text('item,title,categories\n');
  itemsTruth.text('item,popularity,polarity\n');
  for (let i = 0; i < world.nItems; i++) {
    const cats = Array.from(world.itemCategories(i), (c) => world.categoryNames[c]!).join('|');
    items.text(`${i + 1},${csvField(world.titles[i]!)},${csvField(cats)}\n`);
    itemsTruth.text(`${i + 1},${world.itemPopularity[i]!.toPrecision(6)},${world.itemPolarity[i]!}\n`);
    const p1 = items.wait();
    const p2 = itemsTruth.wait();
    if (p1 || p2) await Promise.all([p1, p2]);
  }
  await Promise.all([items.close(), itemsTruth.close()]);

  const ratings = new ByteWriter(join(dir, WORLD_FILES.ratings));
  const rowTruth = new ByteWriter(join(dir, WORLD_FILES.interactionsTruth));
  const truth = new ByteWriter(join(dir, WORLD_FILES.truth));
  ratings.text('user,item,rating,timestamp\n');
  rowTruth.text('user,item,persona\n');
  const rows = world.newRows();
  let interactions = 0;
  let positives = 0;
  const every = Math.max(1, Math.floor(cfg.users / 100));
  for (let u = 0; u < cfg.users; u++) {
    const plan = world.generateUser(u, rows);
    const id = u + 1;
    for (let r = 0; r < rows.length; r++) {
      const item = rows.item[r]! + 1;
      const rating = rows.rating[r]!;
      ratings.room(64);
      ratings.uint(id);
      ratings.byte(44);
      ratings.uint(item);
      ratings.byte(44);
      ratings.uint(rating);
      ratings.byte(44);
      ratings.uint(rows.timestamp[r]!);
      ratings.byte(10);
      rowTruth.room(48);
      rowTruth.uint(id);
      rowTruth.byte(44);
      rowTruth.uint(item);
      rowTruth.byte(44);
      rowTruth.int(rows.persona[r]!);
      rowTruth.byte(10);
      if (rating >= 4) positives++;
    }
    interactions += rows.length;
    truth.text(`${world.userTruthJson(u, plan)}\n`);
    const p1 = ratings.wait();
    const p2 = rowTruth.wait();
    const p3 = truth.wait();
    if (p1 || p2 || p3) await Promise.all([p1, p2, p3]);
    if (onProgress && ((u + 1) % every === 0 || u + 1 === cfg.users)) onProgress({ users: u + 1, totalUsers: cfg.users, interactions });
  }
  await Promise.all([ratings.close(), rowTruth.close(), truth.close()]);

  const summary: WorldSummary = { users: cfg.users, items: world.nItems, interactions, positives };
  const manifest = new ByteWriter(join(dir, WORLD_FILES.manifest));
  manifest.text(`${JSON.stringify({ config: cfg, categories: world.categoryNames, ...summary }, null, 2)}\n`);
  await manifest.close();
  return summary;
}
