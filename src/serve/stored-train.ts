/**
 * A served model's training positives read from the store (the user cache, live.ts: no mirror of
 * every user's feedback to rebuild them from). Read once per loaded model, before its engine
 * serves: the positives up to the model's feedback seq that this process has applied, as (model
 * user row, model item index) pairs; `servedTrainSet` (model-file.ts) builds the training set
 * from them exactly as it does from the mirror.
 */
import type { Store } from '../store/types.js';
import { isPositive } from './feedback-policy.js';
import type { LiveData } from './live.js';

export interface TrainPositives {
  users: Int32Array;
  items: Int32Array;
}

/** What is read of a loaded model (model-file.ts LoadedModel): its ID spaces and feedback seq. */
interface ServedSpaces {
  meta: { feedbackSeq: number; users: readonly string[]; items: readonly string[] };
}

const read = new WeakMap<ServedSpaces, TrainPositives>();

const PAGE = 50_000;

/** The positives of `loaded` read by `readTrainPositives`, if any. */
export function trainPositivesOf(loaded: ServedSpaces): TrainPositives | undefined {
  return read.get(loaded);
}

/** With the user cache: reads the model's training positives from the store, one page of feedback at a time. */
export async function readTrainPositives(store: Store, live: LiveData, loaded: ServedSpaces): Promise<void> {
  if (!live.cache || read.has(loaded)) return;
  const cut = loaded.meta.feedbackSeq;
  const userRow = new Map(loaded.meta.users.map((id, u) => [id, u]));
  const itemIndex = new Map(loaded.meta.items.map((id, i) => [id, i]));
  let users: Int32Array = new Int32Array(1 << 16);
  let items: Int32Array = new Int32Array(1 << 16);
  let n = 0;
  for (let seq = 0; seq < cut; ) {
    const rows = await store.feedbackSince(seq, PAGE);
    for (const e of rows) {
      if (e.seq > cut) break;
      const u = userRow.get(e.user);
      const i = itemIndex.get(e.item);
      if (u === undefined || i === undefined || !live.applied(e.seq) || !isPositive(live.policy, e.type, e.value)) continue;
      if (n === users.length) {
        const grow = (a: Int32Array): Int32Array => {
          const b = new Int32Array(a.length * 2);
          b.set(a);
          return b;
        };
        users = grow(users);
        items = grow(items);
      }
      users[n] = u;
      items[n++] = i;
    }
    if (rows.length < PAGE) break;
    seq = rows[rows.length - 1]!.seq;
  }
  read.set(loaded, { users: users.slice(0, n), items: items.slice(0, n) });
}
