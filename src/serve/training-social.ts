/**
 * The store's social edges in a training job (training.ts, train-worker.ts): the edges between
 * users the job trains on, by id, and their graph in the job's user index space (TrainSet.social,
 * what the `social` model reads; the other models ignore it). An edge with an end that has no
 * positive feedback is left out: such a user is not in the training data, and a friend without
 * consumption brings nothing.
 */
import type { IdMap } from '../data/ids.js';
import { socialGraph, withSocial, type SocialEdges } from '../data/social.js';
import type { Split } from '../data/split.js';
import type { TrainSet } from '../data/train-set.js';
import type { EdgeRecord } from '../store/types.js';

/** Where a graph built here comes from, as errors name it. */
const SOURCE = 'the store (social_edges)';

/** The edges with both ends in `users`, or null when there are none. */
export function trainingEdges(edges: readonly EdgeRecord[], users: IdMap): SocialEdges | null {
  const out: { user: string[]; friend: string[]; kind: SocialEdges['kind'][number][] } = { user: [], friend: [], kind: [] };
  for (const e of edges) {
    if (users.lookup(e.user) < 0 || users.lookup(e.friend) < 0) continue;
    out.user.push(e.user);
    out.friend.push(e.friend);
    out.kind.push(e.kind);
  }
  return out.user.length > 0 ? out : null;
}

/** `train` with the graph of `edges` in the user index space of `users` (unchanged without edges). */
export function withTrainingEdges(train: TrainSet, edges: SocialEdges | null, users: IdMap): TrainSet {
  return edges ? { ...train, social: socialGraph(edges, users, SOURCE) } : train;
}

/** `split` with the graph of `edges` in its log's user space (unchanged without edges). */
export function splitWithTrainingEdges(split: Split, edges: SocialEdges | null): Split {
  return edges ? withSocial(split, socialGraph(edges, split.log.users, SOURCE)) : split;
}
