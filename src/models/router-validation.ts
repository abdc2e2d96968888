/** The router's validation helpers: CPU time, a TrainSet restricted to some users and rows, ndcg of one score row. */
import { trainSetFromPairs } from '../data/train-set.js';
import type { TrainSet } from './model.js';

/** CPU seconds of this process (user + system, all threads): less sensitive to other jobs than wall time. */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** A TrainSet over the same index spaces holding only the rows of `keep` users, minus `drop`. */
export function restrictTrain(train: TrainSet, keep: (u: number) => boolean, drop?: (u: number, i: number) => boolean): TrainSet {
  const ui = train.userItems;
  const us: number[] = [];
  const is: number[] = [];
  for (let u = 0; u < train.nUsers; u++) {
    if (!keep(u)) continue;
    for (let e = ui.indptr[u]!; e < ui.indptr[u + 1]!; e++) {
      const i = ui.indices[e]!;
      if (drop && drop(u, i)) continue;
      us.push(u);
      is.push(i);
    }
  }
  return trainSetFromPairs(train.nUsers, train.nItems, Int32Array.from(us), Int32Array.from(is), train.itemRanks, train.categories);
}

/** ndcg@at (binary relevance) of one score row: top `at` of `candidates` not in `seen`, ties by item rank. */
export function ndcgOfScores(scores: Float32Array, candidates: Int32Array, seen: Set<number>, relevant: Set<number>, at: number, itemRanks: Int32Array): number {
  if (relevant.size === 0) return 0;
  const top: number[] = [];
  const better = (a: number, b: number): boolean => scores[a]! > scores[b]! || (scores[a] === scores[b] && itemRanks[a]! < itemRanks[b]!);
  for (const i of candidates) {
    if (seen.has(i) || Number.isNaN(scores[i]!)) continue;
    if (top.length < at) {
      top.push(i);
      for (let p = top.length - 1; p > 0 && better(top[p]!, top[p - 1]!); p--) [top[p], top[p - 1]] = [top[p - 1]!, top[p]!];
    } else if (better(i, top[at - 1]!)) {
      top[at - 1] = i;
      for (let p = at - 1; p > 0 && better(top[p]!, top[p - 1]!); p--) [top[p], top[p - 1]] = [top[p - 1]!, top[p]!];
    }
  }
  let dcg = 0;
  top.forEach((i, r) => {
    if (relevant.has(i)) dcg += 1 / Math.log2(r + 2);
  });
  let idcg = 0;
  for (let r = 0; r < Math.min(at, relevant.size); r++) idcg += 1 / Math.log2(r + 2);
  return dcg / idcg;
}
