/**
 * Rerankers, chosen by `--rerank`: a reranker is a pipeline stage that takes a user's scores and a
 * best-first pool and returns the final order, so any model can be reranked.
 */
import { ConfigError } from '../errors.js';
import type { ListReranker } from '../eval/evaluate.js';
import type { Split } from '../data/split.js';

export const RERANK_HELP = 'none';

/** Parses a --rerank value; `none` gives null (the model's own order). */
export function parseReranker(spec: string, _split: Split): ListReranker | null {
  const [name] = spec.split(':');
  if (name === 'none' || spec === '') return null;
  throw new ConfigError(`unknown reranker "${spec}"; available: ${RERANK_HELP}`, '--rerank');
}
