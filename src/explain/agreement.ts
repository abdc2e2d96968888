/**
 * Do the learned explanations name the planted taste? On a synthetic world (src/synth/world.ts)
 * every log row carries the planted persona that produced it. For each test user we
 *
 * 1. map each learned persona of the user to a planted persona, using only the user's TRAINING
 *    positives (learned persona of a history item = the arg-max of the explanation weights,
 *    planted persona = the row's truth; noise rows are ignored): the planted persona that most of
 *    the learned persona's items come from (many-to-one, so a taste split into two learned personas
 *    is not penalised), and, stricter, the best one-to-one matching (every assignment is tried for
 *    K <= 8; larger sets fall back to greedy);
 * 2. take the recommended hits (list items that are test positives produced by a planted persona)
 *    and count a hit as agreeing when the mapped explaining persona is the item's planted persona.
 *
 * The mapping never looks at the test rows, so the hits judge it. `baseline` is the same share when
 * every hit is explained by the user's largest learned persona (what a single-taste explanation
 * would get); `multiTaste` restricts everything to users with 2+ planted personas.
 */
import { rowOf } from '../data/csr.js';
import type { InteractionLog } from '../data/dataset.js';
import type { Split } from '../data/split.js';
import { personasFor, personaWeightsOf, type HasPersonas } from '../models/model.js';
import { argmax, personaSetSize } from '../models/persona-assignment.js';

export interface AgreementReport {
  /** Recommended hits with a planted persona (noise rows excluded). */
  hits: number;
  /** Share of those hits whose explaining persona maps to the item's planted persona (many-to-one map). */
  share: number;
  /** The same with the one-to-one matching (a learned persona left unmatched never agrees). */
  strictShare: number;
  /** The same share when every hit is explained by the user's largest learned persona. */
  baseline: number;
  /** Users with 2+ planted personas (in the training rows): hits, share, baseline. */
  multiTaste: { users: number; hits: number; share: number; baseline: number };
}

/** Planted persona of each (user, item) positive: key user * nItems + item -> persona of its latest positive row. */
export function plantedByPair(log: InteractionLog, rowPersona: Int8Array, minRating: number): Map<number, number> {
  const nItems = log.items.size;
  const out = new Map<number, number>();
  const when = new Map<number, number>();
  for (let r = 0; r < log.length; r++) {
    if (log.rating && !(log.rating[r]! >= minRating)) continue;
    const key = log.user[r]! * nItems + log.item[r]!;
    const t = log.timestamp ? log.timestamp[r]! : r;
    const prev = when.get(key);
    if (prev === undefined || t >= prev) {
      when.set(key, t);
      out.set(key, rowPersona[r]!);
    }
  }
  return out;
}

/** The best one-to-one map learned -> planted (-1 = unmatched) for a count table counts[l][p]. */
function bestMatching(counts: number[][], nPlanted: number): Int32Array {
  const kl = counts.length;
  const map = new Int32Array(kl).fill(-1);
  if (kl <= 8 && nPlanted <= 8) {
    let best = -1;
    const cur = new Int32Array(kl).fill(-1);
    const used = new Uint8Array(nPlanted);
    const rec = (l: number, total: number): void => {
      if (l === kl) {
        if (total > best) {
          best = total;
          map.set(cur);
        }
        return;
      }
      cur[l] = -1;
      rec(l + 1, total);
      for (let p = 0; p < nPlanted; p++) {
        if (used[p]) continue;
        used[p] = 1;
        cur[l] = p;
        rec(l + 1, total + counts[l]![p]!);
        used[p] = 0;
        cur[l] = -1;
      }
    };
    rec(0, 0);
    return map;
  }
  // greedy on the largest cells
  const cells: [number, number, number][] = [];
  counts.forEach((row, l) => row.forEach((c, p) => cells.push([c, l, p])));
  cells.sort((a, b) => b[0] - a[0] || a[1] - b[1] || a[2] - b[2]);
  const usedP = new Set<number>();
  for (const [, l, p] of cells) {
    if (map[l] !== -1 || usedP.has(p)) continue;
    map[l] = p;
    usedP.add(p);
  }
  return map;
}

/**
 * Agreement of the explaining persona with the planted persona over the recommended hits of
 * `lists` (one per split.testUsers entry). `rowPersona` is aligned with `split.log`'s rows.
 */
export function plantedAgreement(model: HasPersonas, split: Split, lists: readonly Int32Array[], rowPersona: Int8Array): AgreementReport {
  const nItems = split.log.items.size;
  const planted = plantedByPair(split.log, rowPersona, split.minRating);
  let hits = 0;
  let agree = 0;
  let strict = 0;
  let base = 0;
  const multi = { users: 0, hits: 0, agree: 0, base: 0 };
  split.testUsers.forEach((u, idx) => {
    const list = lists[idx]!;
    const history = rowOf(split.history, u);
    if (list.length === 0 || history.length === 0) return;
    const test = new Set(rowOf(split.test, u));
    const personas = personasFor(model, u, history);
    const k = personaSetSize(model, personas, history[0]!);
    if (k === 0) return;
    // planted personas of the training rows and the learned assignment of the history
    let nPlanted = 0;
    const pairs: [number, number][] = [];
    const size = new Array<number>(k).fill(0);
    for (const i of history) {
      const p = planted.get(u * nItems + i) ?? -1;
      const l = k === 1 ? 0 : argmax(personaWeightsOf(model, personas, i, history));
      size[l]!++;
      if (p < 0) continue;
      nPlanted = Math.max(nPlanted, p + 1);
      pairs.push([l, p]);
    }
    const counts = Array.from({ length: k }, () => new Array<number>(Math.max(1, nPlanted)).fill(0));
    for (const [l, p] of pairs) counts[l]![p]!++;
    const strictMap = bestMatching(counts, Math.max(1, nPlanted));
    const map = Int32Array.from(counts, (row) => (row.some((c) => c > 0) ? argmax(row) : -1));
    const largest = argmax(size);
    const plantedSet = new Set(pairs.map((x) => x[1]));
    const isMulti = plantedSet.size >= 2;
    if (isMulti) multi.users++;
    for (const item of list) {
      if (!test.has(item)) continue;
      const p = planted.get(u * nItems + item) ?? -1;
      if (p < 0) continue;
      const l = k === 1 ? 0 : argmax(personaWeightsOf(model, personas, item, history));
      const ok = map[l] === p ? 1 : 0;
      const okBase = map[largest] === p ? 1 : 0;
      hits++;
      agree += ok;
      strict += strictMap[l] === p ? 1 : 0;
      base += okBase;
      if (isMulti) {
        multi.hits++;
        multi.agree += ok;
        multi.base += okBase;
      }
    }
  });
  const r = (a: number, b: number): number => (b > 0 ? a / b : 0);
  return {
    hits,
    share: r(agree, hits),
    strictShare: r(strict, hits),
    baseline: r(base, hits),
    multiTaste: { users: multi.users, hits: multi.hits, share: r(multi.agree, multi.hits), baseline: r(multi.base, multi.hits) },
  };
}
