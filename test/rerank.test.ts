import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ItemCategories } from '../src/data/dataset.js';
import { ConfigError } from '../src/errors.js';
import type { ListReranker } from '../src/rank/pipeline.js';
import { calibrationKL } from '../src/data/categories.js';
import { largestRemainder } from '../src/math/apportion.js';
import type { HasPersonas, Recommender } from '../src/models/model.js';
import {
  calibrateGreedy,
  consumptionSelect,
  parseReranker,
  parseRerankSpec,
  proportionalSelect,
  RERANK_HELP,
  type UserTastes,
} from '../src/rank/index.js';
import { categoryTasteSpace, normalisedRelevance, personaTasteSpace } from '../src/rank/tastes.js';
import { coldList, popularDiverseOrder } from '../src/rank/cold-start.js';

/** Tastes of a pool where item j has exactly the tastes `of[j]`. */
function tastes(p: number[], of: number[][]): UserTastes {
  const ptr = new Int32Array(of.length + 1);
  of.forEach((t, j) => (ptr[j + 1] = ptr[j]! + t.length));
  return { n: p.length, p: Float64Array.from(p), ptr, idx: Int32Array.from(of.flat()) };
}

/** Categories CSR from a list of category lists per item. */
function categories(names: string[], of: number[][]): ItemCategories {
  const ptr = new Int32Array(of.length + 1);
  of.forEach((t, j) => (ptr[j + 1] = ptr[j]! + t.length));
  return { names, ptr, idx: Int32Array.from(of.flat()) };
}

const data = (cats: ItemCategories | null) => ({ log: { categories: cats } });

describe('calibrated (Steck greedy)', () => {
  it('lambda = 0 returns the score order', () => {
    const rel = Float64Array.from([1, 0.9, 0.9, 0.5, 0.4, 0.1]);
    const t = tastes([0.5, 0.5], [[0], [0], [0], [0], [1], [1]]);
    assert.deepEqual(Array.from(calibrateGreedy(rel, t, 4, 0)), [0, 1, 2, 3]);
  });

  it('lambda = 1 matches the target distribution on a toy', () => {
    // 10 items per taste, the dominant taste scored highest; p = (0.5, 0.3, 0.2)
    const of: number[][] = [];
    for (let g = 0; g < 3; g++) for (let j = 0; j < 10; j++) of.push([g]);
    const rel = Float64Array.from(of, (_, j) => 1 - j / 30);
    const t = tastes([0.5, 0.3, 0.2], of);
    const chosen = calibrateGreedy(rel, t, 10, 1);
    const counts = [0, 0, 0];
    for (const j of chosen) counts[of[j]![0]!]!++;
    assert.deepEqual(counts, [5, 3, 2]);
    // within a taste, the best items (ties of the KL term go to the earlier = better item)
    assert.deepEqual(Array.from(chosen).filter((j) => of[j]![0] === 1).sort((a, b) => a - b), [10, 11, 12]);
    // and plain score order would have been all taste 0
    const q = Float64Array.from(counts, (c) => c / 10);
    assert.ok(calibrationKL(Float64Array.of(0.5, 0.3, 0.2), q) < 1e-9);
  });

  it('hand-computed step: trades relevance for calibration as lambda grows', () => {
    // p = (0.5, 0.5); items: 0 (taste 0, r 1), 1 (taste 0, r 0.9), 2 (taste 1, r 0.5). After item 0,
    // adding 1 gives q = (1, 0): KL = 0.5 ln(0.5 / 0.995) + 0.5 ln(0.5 / 0.005) = 1.9585
    // adding 2 gives q = (0.5, 0.5): KL = 0. Item 2 wins when (1-l) 0.5 > (1-l) 0.9 - l 1.9585,
    // i.e. l * 1.9585 > (1 - l) * 0.4: l > 0.1696.
    const rel = Float64Array.of(1, 0.9, 0.5);
    const t = tastes([0.5, 0.5], [[0], [0], [1]]);
    assert.deepEqual(Array.from(calibrateGreedy(rel, t, 2, 0.16)), [0, 1]);
    assert.deepEqual(Array.from(calibrateGreedy(rel, t, 2, 0.18)), [0, 2]);
  });
});

describe('proportional', () => {
  it('largest remainder: floors first, leftovers to the largest remainders', () => {
    // quotas 2, 1.2, 0.8 -> 2, 1, 0 + the leftover to taste 2 (remainder 0.8)
    assert.deepEqual(Array.from(largestRemainder([0.5, 0.3, 0.2], 4)), [2, 1, 1]);
    // quotas 10/3 each: 3, 3, 3 and the last slot to the lowest index on a full tie
    assert.deepEqual(Array.from(largestRemainder([1, 1, 1], 10)), [4, 3, 3]);
    // quotas 7, 2.1, 0.7, 0.2: 7, 2, 0, 0 + one slot to remainder 0.7
    assert.deepEqual(Array.from(largestRemainder([0.7, 0.21, 0.07, 0.02], 10)), [7, 2, 1, 0]);
    assert.deepEqual(Array.from(largestRemainder([0, 0], 5)), [0, 0]);
  });

  it('fills each taste with its best items, then orders by score (or interleaves)', () => {
    // pool best-first: A A A A B A B C; p = (0.5, 0.3, 0.2) over 4 slots -> A 2, B 1, C 1
    const of = [[0], [0], [0], [0], [1], [0], [1], [2]];
    const t = tastes([0.5, 0.3, 0.2], of);
    assert.deepEqual(Array.from(proportionalSelect(t, of.length, 4)), [0, 1, 4, 7]);
    // interleave at k = 4: deficits at position 1: A 0.5, B 0.25, C 0.25 -> A; then B (0.5 vs A 0),
    // then C (0.75) vs A (0.5) -> C; then A
    assert.deepEqual(Array.from(proportionalSelect(t, of.length, 4, 'interleave')), [0, 4, 7, 1]);
  });

  it('gives slots a taste cannot fill to the best remaining items', () => {
    const of = [[0], [0], [0], [1]];
    const t = tastes([0.5, 0.5], of);
    // B gets 2 slots but has only item 3: the free slot goes to item 1
    assert.deepEqual(Array.from(proportionalSelect(t, of.length, 4)), [0, 1, 2, 3]);
    assert.deepEqual(Array.from(proportionalSelect(t, of.length, 3)), [0, 1, 3]);
  });
});

describe('consumption', () => {
  it('m = 1 picks the top item', () => {
    const rel = Float64Array.of(1, 0.95, 0.9, 0.5);
    const t = tastes([0.7, 0.3], [[1], [0], [0], [1]]);
    assert.equal(consumptionSelect(rel, t, 4, 1)[0], 0);
    assert.deepEqual(Array.from(consumptionSelect(rel, t, 4, 1)), [0, 1, 2, 3]);
  });

  it('m = 3 with two equally likely tastes picks items of both', () => {
    // A items score highest; with rho 0.3: h(A0|A) = 0.6, then A1 gains 0.5*0.4*0.588 = 0.118 while
    // B0 gains 0.5*0.48 = 0.24
    const rel = Float64Array.of(1, 0.98, 0.96, 0.94, 0.8, 0.78);
    const of = [[0], [0], [0], [0], [1], [1]];
    const chosen = Array.from(consumptionSelect(rel, tastes([0.5, 0.5], of), 6, 3, 0.3));
    const head = chosen.slice(0, 3).map((j) => of[j]![0]);
    assert.ok(head.includes(0) && head.includes(1), `first 3: ${chosen.slice(0, 3)}`);
    assert.deepEqual(chosen.slice(0, 2), [0, 4]);
    // after m, the rest by score
    assert.deepEqual(chosen.slice(3), chosen.slice(3).sort((a, b) => a - b));
    // default rho 0.1: h(A0|A) = 0.2; A1 gains 0.5*0.8*0.196 = 0.0784, B0 (r 0.9) 0.5*0.18 = 0.09
    const rel2 = Float64Array.of(1, 0.98, 0.96, 0.94, 0.9, 0.78);
    assert.deepEqual(Array.from(consumptionSelect(rel2, tastes([0.5, 0.5], of), 6, 3)).slice(0, 2), [0, 4]);
    // the score order would have read only taste A
    assert.deepEqual(Array.from(consumptionSelect(rel, tastes([0.5, 0.5], of), 6, 1)).slice(0, 3), [0, 1, 2]);
  });

  it('tends to the score order as rho -> 0', () => {
    const rel = Float64Array.of(1, 0.98, 0.96, 0.8);
    const of = [[0], [0], [0], [1]];
    assert.deepEqual(Array.from(consumptionSelect(rel, tastes([0.5, 0.5], of), 4, 4, 1e-4)), [0, 1, 2, 3]);
  });
});

describe('parseReranker', () => {
  const cats = categories(['A', 'B'], [[0], [1], [0, 1]]);
  it('parses the specs and names the flag on bad input', () => {
    assert.equal(parseReranker('none', data(cats)), null);
    assert.equal(parseRerankSpec('calibrated:0.5')?.kind, 'calibrated');
    assert.deepEqual(parseRerankSpec('consumption:3:0.5:personas'), { kind: 'consumption', m: 3, rho: 0.5, space: 'personas' });
    assert.deepEqual(parseRerankSpec('proportional:interleave'), { kind: 'proportional', order: 'interleave', space: 'auto' });
    assert.match(parseReranker('calibrated:0.25', data(cats))!.name, /calibrated:0.25 \(categories\)/);
    for (const bad of ['calibrated', 'calibrated:1.5', 'calibrated:-0.1', 'calibrated:x', 'consumption', 'consumption:0', 'consumption:2.5', 'consumption:3:0', 'proportional:zigzag', 'mmr:0.3', 'none:1']) {
      assert.throws(() => parseReranker(bad, data(cats)), (e: unknown) => e instanceof ConfigError && /--rerank/.test(e.message), bad);
    }
    assert.match(RERANK_HELP, /calibrated/);
  });

  it('needs categories or a persona model', () => {
    const plain = { name: 'ease' } as unknown as Recommender;
    assert.throws(() => parseReranker('proportional', data(null), plain), (e: unknown) => e instanceof ConfigError && /personas/.test(e.message));
    assert.throws(() => parseReranker('calibrated:0.5:personas', data(cats), plain), ConfigError);
    assert.throws(() => parseReranker('calibrated:0.5:categories', data(null)), ConfigError);
  });
});

/** A tiny persona model: item vectors V (nItems x d), one persona set per user, attention = softmax(p.v / 0.25). */
class FakePersonas implements HasPersonas {
  constructor(
    private readonly V: Float32Array,
    private readonly P: Float32Array[],
    private readonly d: number,
  ) {}
  personaCount(u: number): number {
    return (this.P[u]?.length ?? 0) / this.d;
  }
  personaVectors(u: number): Float32Array {
    return this.P[u]!.slice();
  }
  attention(u: number, i: number): Float32Array {
    return this.attentionFor(this.P[u]!, i);
  }
  foldIn(): Float32Array {
    return this.P[0]!.slice();
  }
  attentionFor(ps: Float32Array, i: number): Float32Array {
    const k = ps.length / this.d;
    const z = Array.from({ length: k }, (_, q) => {
      let s = 0;
      for (let x = 0; x < this.d; x++) s += ps[q * this.d + x]! * this.V[i * this.d + x]!;
      return s / 0.25;
    });
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const sum = e.reduce((a, b) => a + b, 0);
    return Float32Array.from(e, (v) => v / sum);
  }
  scorePersonas(): void {
    throw new Error('not used');
  }
}

describe('every reranker', () => {
  it('returns min(k, pool) distinct pool items, never a history item (property)', () => {
    const specs = ['calibrated:0', 'calibrated:0.5', 'calibrated:1', 'proportional', 'proportional:interleave', 'consumption:1', 'consumption:3', 'consumption:5:1'];
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 40 }),
        fc.integer({ min: 1, max: 25 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.boolean(),
        (nItems, k, seed, usePersonas) => {
          let s = seed;
          const rand = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
          const of = Array.from({ length: nItems }, () => [...new Set([Math.floor(rand() * 4), Math.floor(rand() * 4)])].slice(0, 1 + Math.floor(rand() * 2)));
          const cats = categories(['a', 'b', 'c', 'd'], of);
          const history = Int32Array.from(Array.from({ length: nItems }, (_, i) => i).filter(() => rand() < 0.3));
          if (history.length === 0) return;
          // ties and NaN included; the pool may even contain history items
          const scores = Float32Array.from({ length: nItems }, () => (rand() < 0.1 ? Number.NaN : Math.round(rand() * 5) / 5));
          const pool = Int32Array.from(Array.from({ length: nItems }, (_, i) => i).filter(() => rand() < 0.8));
          const d = 3;
          const model = new FakePersonas(
            Float32Array.from({ length: nItems * d }, () => rand() - 0.5),
            [Float32Array.from({ length: d * (1 + Math.floor(rand() * 3)) }, () => rand() - 0.5)],
            d,
          );
          for (const spec of specs) {
            const space = usePersonas ? `${spec}:personas` : spec;
            const rr: ListReranker = parseReranker(space, data(cats), model as unknown as Recommender)!;
            const out = new Int32Array(k);
            const n = rr.rerank({ user: 0, history, scores, pool, k }, out);
            const free = Array.from(pool).filter((i) => !history.includes(i));
            assert.equal(n, Math.min(k, free.length), space);
            const got = Array.from(out.subarray(0, n));
            assert.equal(new Set(got).size, n, `${space}: distinct`);
            for (const i of got) {
              assert.ok(free.includes(i), `${space}: ${i} is a pool item outside the history`);
            }
          }
        },
      ),
      { numRuns: 150, seed: 7 },
    );
  });

  it('normalises relevance to [0, 1] over the pool', () => {
    const r = normalisedRelevance(Float32Array.of(5, 3, Number.NaN, 1, -Infinity), Int32Array.of(0, 1, 2, 3, 4));
    assert.deepEqual(Array.from(r), [1, 0.5, 0, 0, 0]);
    assert.deepEqual(Array.from(normalisedRelevance(Float32Array.of(2, 2), Int32Array.of(0, 1))), [1, 1]);
  });

  it('taste spaces: categories from p(g|i), personas from the arg-max attention', () => {
    const cats = categories(['a', 'b'], [[0], [1], [0, 1], [1]]);
    const t = categoryTasteSpace(cats).forUser({ user: 0, history: Int32Array.of(0, 2) }, Int32Array.of(1, 3));
    assert.deepEqual(Array.from(t.p), [0.75, 0.25]);
    assert.deepEqual(Array.from(t.idx), [1, 1]);
    // two personas along the axes; items 0, 1 lean to persona 0, items 2, 3 to persona 1
    const model = new FakePersonas(Float32Array.of(1, 0, 2, 0, 0, 1, 0, 2), [Float32Array.of(1, 0, 0, 1)], 2);
    const pt = personaTasteSpace(model).forUser({ user: 0, history: Int32Array.of(0, 1, 2) }, Int32Array.of(3));
    assert.equal(pt.n, 2);
    assert.deepEqual(Array.from(pt.p), [2 / 3, 1 / 3]);
    assert.deepEqual(Array.from(pt.idx), [1]);
    // a persona set given as a value is used instead of the user index's (here the axes swapped)
    const swapped = personaTasteSpace(model).forUser({ user: 0, history: Int32Array.of(0, 1, 2), personas: { vectors: Float32Array.of(0, 1, 1, 0), k: 2, history: Int32Array.of(0, 1, 2) } }, Int32Array.of(3));
    assert.deepEqual(Array.from(swapped.p), [1 / 3, 2 / 3]);
    assert.deepEqual(Array.from(swapped.idx), [0]);
  });
});

describe('cold start (rank/cold-start.ts)', () => {
  it('orders popular but diverse: popularity / (1 + uses of its categories), then takes the list minus exclusions within the allowed', () => {
    // items 0, 1 in category a, items 2, 3 in b; popularity 10, 9, 8, 1
    const cats = categories(['a', 'b'], [[0], [0], [1], [1]]);
    const { order, scores } = popularDiverseOrder(Int32Array.of(0, 1, 2, 3), cats, Int32Array.of(10, 9, 8, 1), Int32Array.of(0, 1, 2, 3));
    // 0 (10); then 2 (8 > 9 / 2); then 1 (4.5 > 1 / 2); then 3
    assert.deepEqual(Array.from(order), [0, 2, 1, 3]);
    assert.deepEqual(Array.from(scores), [1, 0.9, 0.8, 0.1].map(Math.fround));
    assert.deepEqual(Array.from(coldList(order, Int32Array.of(2), Int32Array.of(1, 2, 3), 2)), [1, 3]);
    assert.deepEqual(Array.from(coldList(order, new Int32Array(0), null, 3)), [0, 2, 1]);
    // past the pool, by popularity only
    assert.deepEqual(Array.from(popularDiverseOrder(Int32Array.of(0, 1, 2, 3), cats, Int32Array.of(10, 9, 8, 1), Int32Array.of(0, 1, 2, 3), { poolSize: 2 }).order), [0, 1, 2, 3]);
  });
});
