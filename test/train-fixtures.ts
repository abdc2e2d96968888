/** Hand-written training sets and user batches for the model tests. */
import { trainSetFromPairs, type TrainSet } from '../src/data/train-set.js';
import type { UserBatch } from '../src/models/model.js';

/** The TrainSet of `rows` (row u = user u's items), item ranks = item indices, no categories. */
export function trainFromRows(nItems: number, rows: number[][]): TrainSet {
  const u: number[] = [];
  const i: number[] = [];
  rows.forEach((items, user) => items.forEach((item) => (u.push(user), i.push(item))));
  return trainSetFromPairs(rows.length, nItems, Int32Array.from(u), Int32Array.from(i), Int32Array.from({ length: nItems }, (_, k) => k), null);
}

/** A batch of unknown users (index -1) with these histories. */
export function batchOf(histories: number[][]): UserBatch {
  const indptr = new Int32Array(histories.length + 1);
  histories.forEach((h, b) => (indptr[b + 1] = indptr[b]! + h.length));
  return { users: new Int32Array(histories.length).fill(-1), indptr, items: Int32Array.from(histories.flat()) };
}
