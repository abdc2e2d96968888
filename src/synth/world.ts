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
 * - `population: 'split:51/49,bridge:0.15'`: 15% of the users are bridging users who hold both
 *   sides: two or more personas, the dominant one on their drawn group's side, the minority one on
 *   the other side, middle ones by a fair coin; each persona treats the contested items as its
 *   side's group does. The truth records each persona's side and each row's side (`rowSide`).
 *
 * Determinism: the catalogue comes from `rng.derive('world', ...)`, user u from
 * `rng.derive('user', u)` alone, so generating any range of users, in any chunking, gives the
 * same rows. Generation streams user by user; `writeWorld` writes with back-pressure, so memory is
 * flat in the number of users and interactions (it grows with the catalogue only).
 */
// The generator is split by concern; this module keeps the one public entry point.
export * from './config.js';
export * from './names.js';
export * from './model.js';
export * from './generate.js';
export * from './sampler.js';
export * from './memory.js';
export * from './files.js';
