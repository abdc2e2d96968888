/**
 * Test helper: the service's live data over a generated log, with every training positive
 * recorded as a like (seqs 1..n) and every item titled `t<index>` with its categories.
 */
import { categoriesOf } from '../src/data/categories.js';
import type { InteractionLog } from '../src/data/dataset.js';
import type { TrainSet } from '../src/data/train-set.js';
import { DEFAULT_FEEDBACK_TYPES, LiveData } from '../src/serve/live.js';

export function liveFromTraining(log: InteractionLog, train: TrainSet): { live: LiveData; seq: number } {
  const live = new LiveData(DEFAULT_FEEDBACK_TYPES);
  const cats = log.categories!;
  live.upsertItems(Array.from({ length: log.items.size }, (_, i) => ({ id: log.items.id(i), title: `t${i}`, categories: Array.from(categoriesOf(cats, i), (c) => cats.names[c]!) })));
  const { indptr, indices } = train.userItems;
  const events = [];
  for (let u = 0; u < log.users.size; u++) for (let x = indptr[u]!; x < indptr[u + 1]!; x++) events.push({ user: log.users.id(u), item: log.items.id(indices[x]!), type: 'like', value: 1, ts: 0, seq: events.length + 1 });
  live.applyFeedback(events);
  return { live, seq: events.length };
}
