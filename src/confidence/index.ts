/**
 * Knowing when we are unsure (PRODUCT.md P10): the user's confidence (user-confidence.ts) and the
 * calibrated probability of each recommendation (calibration.ts). A low confidence hedges the
 * user's list (a rank stage, src/rank/hedge.ts) and withholds uncertain explanations
 * (src/explain/explain-or-withhold.ts).
 */
export * from './calibration.js';
export * from './user-confidence.js';
