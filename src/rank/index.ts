/**
 * Rerankers, chosen by `--rerank`: a reranker is a pipeline stage that takes a user's scores and a
 * best-first pool and returns the final order, so any model can be reranked.
 *
 * A spec is `name[:arg...]`; a trailing `:categories` or `:personas` picks the taste space (default:
 * the data's categories when it has them, else the model's personas). `parseRerankSpec` checks the
 * text before any model is fitted; `buildReranker` binds it to a split and a fitted model.
 */
import { ConfigError } from '../errors.js';
import type { ListReranker } from './pipeline.js';
import type { ItemCategories } from '../data/dataset.js';
import { hasPersonas, type Recommender } from '../models/model.js';
import { CalibratedReranker, type CalibratedOrder } from './calibrated.js';
import { ConsumptionReranker, DEFAULT_RHO } from './consumption.js';
import { ProportionalReranker, type ProportionalOrder } from './proportional.js';
import { categoryTasteSpace, personaTasteSpace, type TasteSpace, type TasteSpaceName } from './tastes.js';

export { CalibratedReranker, calibrateGreedy, type CalibratedOrder } from './calibrated.js';
export { ConsumptionReranker, consumptionSelect } from './consumption.js';
export { ProportionalReranker, proportionalSelect } from './proportional.js';
export type { TasteSpace, TasteSpaceName, UserTastes } from './tastes.js';

export const RERANK_HELP =
  'none | calibrated:<lambda in [0,1]>[:greedy] | proportional[:interleave] | consumption:<m>[:<rho in (0,1]>], ' +
  'optionally ending in :categories or :personas (the taste space; default: categories when the data has them, else the model personas)';

export type RerankSpec =
  | { kind: 'calibrated'; lambda: number; order: CalibratedOrder; space: TasteSpaceName | 'auto' }
  | { kind: 'proportional'; order: ProportionalOrder; space: TasteSpaceName | 'auto' }
  | { kind: 'consumption'; m: number; rho: number; space: TasteSpaceName | 'auto' };

/** What a reranker needs from the data: the item categories (a Split satisfies it). */
export interface RerankData {
  readonly log: { readonly categories: ItemCategories | null };
}

const FLAG = '--rerank';

function bad(spec: string, rule: string): ConfigError {
  return new ConfigError(`"${spec}": ${rule}; expected ${RERANK_HELP}`, FLAG);
}

/** Validates a --rerank value without binding it; `none` (or '') gives null. */
export function parseRerankSpec(spec: string): RerankSpec | null {
  const parts = spec.trim().split(':');
  const name = parts[0]!;
  if (name === 'none' || name === '') {
    if (parts.length > 1) throw bad(spec, '"none" takes no arguments');
    return null;
  }
  let space: TasteSpaceName | 'auto' = 'auto';
  const last = parts[parts.length - 1];
  if (parts.length > 1 && (last === 'categories' || last === 'personas')) {
    space = last;
    parts.pop();
  }
  const args = parts.slice(1);
  const num = (s: string | undefined): number => (s === undefined || s.trim() === '' ? NaN : Number(s));
  if (name === 'calibrated') {
    if (args.length < 1 || args.length > 2) throw bad(spec, 'calibrated needs one lambda, e.g. calibrated:0.5');
    const lambda = num(args[0]);
    if (!(lambda >= 0 && lambda <= 1)) throw bad(spec, `lambda must be a number in [0, 1], got "${args[0]}"`);
    if (args.length === 2 && args[1] !== 'greedy' && args[1] !== 'score') throw bad(spec, 'calibrated takes at most one option after lambda, "greedy" (or "score", the default)');
    return { kind: 'calibrated', lambda, order: args[1] === 'greedy' ? 'greedy' : 'score', space };
  }
  if (name === 'proportional') {
    if (args.length > 1 || (args.length === 1 && args[0] !== 'interleave' && args[0] !== 'score')) {
      throw bad(spec, 'proportional takes at most one option, "interleave" (or "score", the default)');
    }
    return { kind: 'proportional', order: args[0] === 'interleave' ? 'interleave' : 'score', space };
  }
  if (name === 'consumption') {
    if (args.length < 1 || args.length > 2) throw bad(spec, 'consumption needs m (items the user reads), e.g. consumption:3');
    const m = num(args[0]);
    if (!(Number.isInteger(m) && m >= 1)) throw bad(spec, `m must be a positive integer, got "${args[0]}"`);
    const rho = args.length === 2 ? num(args[1]) : DEFAULT_RHO;
    if (!(rho > 0 && rho <= 1)) throw bad(spec, `rho must be a number in (0, 1], got "${args[1]}"`);
    return { kind: 'consumption', m, rho, space };
  }
  throw bad(spec, `unknown reranker "${name}"`);
}

/** Whether a parsed spec reranks in the categories' taste space on this data (false for none). */
export function rerankUsesCategories(spec: RerankSpec | null, data: RerankData): boolean {
  return spec !== null && !(spec.space === 'personas' || (spec.space === 'auto' && !data.log.categories));
}

function tasteSpace(spec: RerankSpec, data: RerankData, model: Recommender | undefined): TasteSpace {
  const cats = data.log.categories;
  const modelName = model ? `model "${model.name}"` : 'no model';
  const wantPersonas = !rerankUsesCategories(spec, data);
  if (!wantPersonas) {
    if (!cats) throw new ConfigError(`${spec.kind} on categories: the data has no item categories`, FLAG);
    return categoryTasteSpace(cats);
  }
  if (!model || !hasPersonas(model)) {
    const why = spec.space === 'personas' ? `${spec.kind}:personas needs a model with personas` : `${spec.kind} needs a taste space: the data has no item categories, so it uses personas`;
    throw new ConfigError(`${why}, but ${modelName} has none (use --models personas, or data with categories)`, FLAG);
  }
  return personaTasteSpace(model);
}

/** Binds a parsed spec to the data and a fitted model (needed for the personas taste space). */
export function buildReranker(spec: RerankSpec | null, data: RerankData, model?: Recommender): ListReranker | null {
  if (!spec) return null;
  const space = tasteSpace(spec, data, model);
  if (spec.kind === 'calibrated') return new CalibratedReranker(spec.lambda, space, undefined, spec.order);
  if (spec.kind === 'proportional') return new ProportionalReranker(space, spec.order);
  return new ConsumptionReranker(spec.m, space, spec.rho);
}

/** Parses a --rerank value and binds it; `none` gives null (the model's own order). */
export function parseReranker(spec: string, data: RerankData, model?: Recommender): ListReranker | null {
  return buildReranker(parseRerankSpec(spec), data, model);
}
