/**
 * How `personae recommend` and `personae batch` score users: every candidate through the model's
 * `scoreBatch`, or, for a persona model whose catalogue has at least `--ann-min-items` candidates,
 * through per-persona ANN retrieval and an exact rerank of the retrieved pool
 * (src/models/persona-ann.ts; docs/scale.md). The retrieval path writes a score row that is
 * -Infinity outside the pool, so the list selection downstream is the same code either way.
 */
import type { Recommender, UserBatch } from '../models/model.js';
import { DEFAULT_ANN_MIN_ITEMS, PersonaRetriever, useAnn } from '../models/persona-ann.js';
import { PersonaModel } from '../models/personas.js';

export const ANN_FLAG_HELP = `persona models: retrieve candidates from an ANN index per persona, then rerank exactly, when the catalogue has at least this many candidate items (0: always score every candidate)`;

export { DEFAULT_ANN_MIN_ITEMS };

/** Scores a batch into `out` (rows of nItems); builds the ANN index on first use when it applies. */
export function batchScorer(model: Recommender, candidates: number, annMinItems: number): { readonly ann: boolean; score(batch: UserBatch, out: Float32Array, nItems: number): void } {
  if (!(model instanceof PersonaModel) || !useAnn(candidates, annMinItems)) {
    return { ann: false, score: (batch, out) => model.scoreBatch(batch, out) };
  }
  let retriever: PersonaRetriever | null = null;
  return {
    ann: true,
    score(batch, out, nItems) {
      retriever ??= new PersonaRetriever(model);
      for (let b = 0; b < batch.users.length; b++) {
        const history = batch.items.subarray(batch.indptr[b]!, batch.indptr[b + 1]!);
        retriever.scoreRow(batch.users[b]!, history, out.subarray(b * nItems, (b + 1) * nItems));
      }
    },
  };
}
