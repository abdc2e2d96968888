/**
 * The frozen training set a model is fitted on: the training positives in both CSR orientations,
 * the item popularity, the candidates and the tie ranks, in the log's index spaces.
 */
import { columnCounts, csrFromPairs, transpose, type Csr } from './csr.js';
import type { ItemCategories } from './categories.js';

export interface TrainSet {
  readonly nUsers: number;
  readonly nItems: number;
  /** user x item, the training positives. */
  readonly userItems: Csr;
  /** item x user, the transpose. */
  readonly itemUsers: Csr;
  /** Training positives per item. */
  readonly itemPopularity: Int32Array;
  /** Items with at least one training positive, ascending: the only items ever recommended. */
  readonly candidates: Int32Array;
  /** Rank of each item's original ID (the tie rule of PROTOCOL.md). */
  readonly itemRanks: Int32Array;
  /** Item categories when the data has them (models may use them, e.g. for persona labels). */
  readonly categories: ItemCategories | null;
  /**
   * Optional: the time of each userItems entry (same order as userItems.indices; the latest when
   * a pair repeats), when the training set was built from timed pairs (a split). Models that
   * read a history in order (e.g. din's `recent` window) use it; without it they take the rows'
   * item order.
   */
  readonly userItemTime?: Float64Array;
  /**
   * Optional: the social graph (`--social FILE`), users x users: row u lists the users whose
   * consumption reaches u, ascending. Models that read friends (e.g. `social`) use it; the others
   * ignore it.
   */
  readonly social?: Csr;
}

/**
 * The TrainSet of (user[k], item[k]) positives in nUsers x nItems: both CSR orientations, the
 * item popularity, and the candidates (the items with at least one positive), ascending.
 */
export function trainSetFromPairs(
  nUsers: number,
  nItems: number,
  user: Int32Array,
  item: Int32Array,
  itemRanks: Int32Array,
  categories: ItemCategories | null,
  time?: Float64Array,
): TrainSet {
  const userItems = csrFromPairs(nUsers, nItems, user, item);
  let userItemTime: Float64Array | undefined;
  if (time) {
    // the latest time of each (user, item), placed at the pair's position in its sorted row:
    // pairs grouped by user (counting sort), each group ordered by item, repeats keep the latest
    const start = new Int32Array(nUsers + 1);
    for (let k = 0; k < user.length; k++) start[user[k]! + 1]!++;
    for (let u = 0; u < nUsers; u++) start[u + 1]! += start[u]!;
    const fill = start.slice(0, nUsers);
    const byUser = new Int32Array(user.length);
    for (let k = 0; k < user.length; k++) byUser[fill[user[k]!]!++] = k;
    userItemTime = new Float64Array(userItems.indices.length);
    for (let u = 0; u < nUsers; u++) {
      const group = byUser.subarray(start[u]!, start[u + 1]!).sort((a, b) => item[a]! - item[b]!);
      let p = userItems.indptr[u]! - 1;
      let last = -1;
      for (const k of group) {
        if (item[k] !== last) {
          p++;
          last = item[k]!;
          userItemTime[p] = time[k]!;
        } else if (time[k]! > userItemTime[p]!) userItemTime[p] = time[k]!;
      }
    }
  }
  const itemUsers = transpose(userItems);
  const itemPopularity = columnCounts(userItems);
  const candidates: number[] = [];
  for (let i = 0; i < nItems; i++) if (itemPopularity[i]! > 0) candidates.push(i);
  return {
    nUsers,
    nItems,
    userItems,
    itemUsers,
    itemPopularity,
    candidates: Int32Array.from(candidates),
    itemRanks,
    categories,
    ...(userItemTime ? { userItemTime } : {}),
  };
}

