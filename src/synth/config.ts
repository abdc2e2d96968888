/** The world's configuration: one zod schema with every default (the default world), presets, populations. */
import { z } from 'zod';
import { ConfigError, issuePath } from '../errors.js';

const POPULATION_RE = /^(?:mixed|split:(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)(?:,bridge:(\d+(?:\.\d+)?))?)$/;
const POPULATION_HINT = "expected 'mixed', 'split:<A>/<B>' or 'split:<A>/<B>,bridge:<share>', e.g. 'split:51/49,bridge:0.15'";

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
    /**
     * 'mixed', or 'split:A/B' (e.g. 'split:51/49'): two groups opposed on the contested items;
     * 'split:A/B,bridge:s' adds a share s of bridging users who hold both sides (see parsePopulation).
     */
    population: z.string().regex(POPULATION_RE, POPULATION_HINT).default('mixed'),
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
    if (m && m[3] !== undefined) {
      if (Number(m[3]) > 1) ctx.addIssue({ code: 'custom', path: ['population'], message: `bridge share ${m[3]} is above 1` });
      if (Number(m[3]) > 0 && c.personaCounts.slice(1).reduce((a, b) => a + b, 0) <= 0) {
        ctx.addIssue({ code: 'custom', path: ['population'], message: 'bridging users need two or more personas: personaCounts gives none' });
      }
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
    throw new ConfigError(issue.message, issuePath('world', issue.path));
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

/**
 * `bridge` (only present when given): the share of users who are bridging users. A bridging user
 * holds both sides: their dominant persona takes the side of the group they were drawn into, their
 * minority persona the other side, any middle persona a side by a fair coin; a persona treats the
 * contested items as its side's group does. Their mix is the weight share of their personas on each
 * side; they have two or more personas.
 */
export type Population = { kind: 'mixed' } | { kind: 'split'; shareA: number; bridge?: number };

/**
 * Parses 'mixed', 'split:51/49' (group sizes are relative: 'split:2/1' is 2/3 vs 1/3) or
 * 'split:51/49,bridge:0.15' (15% of the users bridge the two groups; the rest split 51/49).
 */
export function parsePopulation(s: string): Population {
  const m = POPULATION_RE.exec(s);
  if (!m) throw new ConfigError(`${POPULATION_HINT}, got "${s}"`, 'world.population');
  if (m[1] === undefined) return { kind: 'mixed' };
  const a = Number(m[1]);
  const b = Number(m[2]);
  if (a + b <= 0) throw new ConfigError('the two group sizes must not both be 0', 'world.population');
  if (m[3] === undefined) return { kind: 'split', shareA: a / (a + b) };
  const bridge = Number(m[3]);
  if (bridge > 1) throw new ConfigError(`bridge share ${bridge} is above 1`, 'world.population');
  return { kind: 'split', shareA: a / (a + b), bridge };
}

export function maxPersonaCount(counts: readonly number[]): number {
  let k = 0;
  counts.forEach((p, i) => {
    if (p > 0) k = i + 1;
  });
  return k;
}

