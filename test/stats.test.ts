import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  bootstrapCI,
  logGamma,
  mean,
  normalTwoSidedP,
  pairedDifference,
  pairedTTestP,
  regularizedIncompleteBeta,
  studentTCdf,
  studentTTwoSidedP,
  wilcoxonSignedRankP,
} from '../src/eval/stats.js';

function close(actual: number, expected: number, tol = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);
}

test('mean drops null and NaN; NaN without values', () => {
  assert.equal(mean([1, null, 3, Number.NaN]), 2);
  assert.ok(Number.isNaN(mean([null])));
});

test('special functions match known values', () => {
  close(logGamma(0.5), 0.5723649429247001); // ln sqrt(pi)
  close(logGamma(5), Math.log(24));
  // I_0.3(2, 5) = P(Binomial(6, 0.3) >= 2) = 1 - 0.7^6 - 6 * 0.3 * 0.7^5 = 1 - 0.117649 - 0.302526
  close(regularizedIncompleteBeta(0.3, 2, 5), 0.579825);
  // Student t, two-sided (scipy: 2 * stats.t.sf(|t|, df))
  close(studentTTwoSidedP(2, 10), 0.07338803477074037);
  close(studentTTwoSidedP(1, 5), 0.3632174676491229);
  close(studentTTwoSidedP(-1, 5), 0.3632174676491229);
  close(studentTCdf(-2, 10), 0.03669401738537018);
  close(studentTCdf(2, 10), 0.9633059826146299);
  close(studentTCdf(0, 7), 0.5);
  // Large df (100k users) converges: scipy 2 * t.sf(3.5, 1e5) = 0.00046546053937110036
  close(studentTTwoSidedP(3.5, 100000), 0.00046546053937110036, 1e-13);
  close(normalTwoSidedP(1.96), 0.04999579029644087); // scipy 2 * norm.sf(1.96)
  close(normalTwoSidedP(0), 1);
});

test('bootstrapCI: constant values, exclusion of missing values, n = 0', () => {
  assert.deepEqual(bootstrapCI([0.25, 0.25, 0.25], { seed: 1 }), { mean: 0.25, ci: [0.25, 0.25], n: 3 });
  const r = bootstrapCI([1, null, Number.NaN, 3], { seed: 7 });
  assert.equal(r.n, 2);
  assert.equal(r.mean, 2);
  // Resample means of {1, 3} are 1, 2, 3 with probabilities 1/4, 1/2, 1/4: the 2.5% / 97.5% quantiles
  // of 1,000 draws are the extremes.
  assert.deepEqual(r.ci, [1, 3]);
  const empty = bootstrapCI([null], { seed: 1 });
  assert.equal(empty.n, 0);
  assert.ok(Number.isNaN(empty.mean) && Number.isNaN(empty.ci[0]) && Number.isNaN(empty.ci[1]));
});

test('bootstrapCI: a wider level gives a wider interval, and the seed changes the draw', () => {
  const values = Array.from({ length: 200 }, (_, i) => ((i * 37) % 101) / 100);
  const a = bootstrapCI(values, { seed: 42 });
  const wide = bootstrapCI(values, { seed: 42, level: 0.99 });
  assert.ok(wide.ci[0] <= a.ci[0] && wide.ci[1] >= a.ci[1]);
  assert.notDeepEqual(bootstrapCI(values, { seed: 43 }).ci, a.ci);
});

test('paired t-test and Wilcoxon on hand-computed differences', () => {
  // d = a - b = [2, 3, 0, 3, 3, -1] (pairs with a null or NaN are dropped: n = 6)
  const a = [3, 5, 4, 6, 7, 2, null, 1];
  const b = [1, 2, 4, 3, 4, 3, 5, Number.NaN];
  const r = pairedDifference(a, b, { seed: 3 });
  assert.equal(r.n, 6);
  close(r.mean, 5 / 3);
  assert.ok(r.ci95[0] <= r.mean && r.mean <= r.ci95[1]);
  // mean 5/3, sd^2 = (1 + 16 + 25 + 16 + 16 + 64) / 9 / 5 = 138/45, t = (5/3) / sqrt(138/45/6) = 2.33126, df = 5
  // scipy.stats.ttest_1samp(d, 0).pvalue
  close(r.pValue, 0.06710577143519894, 1e-12);
  // Wilcoxon: drop the 0; |d| = 1(-), 2, 3, 3, 3 -> ranks 1, 2, 4, 4, 4 (ties averaged); W+ = 2 + 12 = 14,
  // E = 5*6/4 = 7.5, Var = 5*6*11/24 - (3^3 - 3)/48 = 13.25, z = 6.5 / sqrt(13.25) = 1.78569,
  // p = 2 (1 - Phi(z)) (= scipy.stats.wilcoxon(d, zero_method='wilcox', correction=False, method='approx'))
  close(r.wilcoxonPValue, 0.07414989773822228, 1e-12);
});

test('paired tests: all-positive differences and degenerate cases', () => {
  // d = [2, 3, 0, 3, 3]: t = 2.2 / sqrt(1.7 / 5) = 3.77297, df = 4; Wilcoxon W+ = 1 + 3*3 = 10, E = 5, Var = 7.5 - 0.5
  const d = Float64Array.from([2, 3, 0, 3, 3]);
  close(pairedTTestP(d), 0.019554212720304602, 1e-12);
  close(wilcoxonSignedRankP(d), 0.05878172135535886, 1e-12); // 2 (1 - Phi(5 / sqrt 7))
  // Identical models: no difference at all.
  const same = pairedDifference([0.1, 0.5, 0.3], [0.1, 0.5, 0.3], { seed: 1 });
  assert.deepEqual({ ...same }, { mean: 0, ci95: [0, 0], pValue: 1, wilcoxonPValue: 1, n: 3 });
  // A constant non-zero shift has no spread: the t-test is certain.
  assert.equal(pairedTTestP(Float64Array.from([0.5, 0.5, 0.5])), 0);
  assert.ok(Number.isNaN(pairedTTestP(Float64Array.from([1]))));
  assert.throws(() => pairedDifference([1], [1, 2], { seed: 1 }), RangeError);
});

test('property: the bootstrap interval contains the mean and is deterministic per seed', () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      (values, seed) => {
        const r = bootstrapCI(values, { seed, resamples: 200 });
        assert.ok(r.ci[0] <= r.mean + 1e-9 && r.mean - 1e-9 <= r.ci[1], `${r.mean} not in ${r.ci}`);
        assert.deepEqual(bootstrapCI(values, { seed, resamples: 200 }), r);
      },
    ),
  );
});

test('property: p-values are in [0, 1] and symmetric in the order of the models', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 10 })), { minLength: 2, maxLength: 30 }), (pairs) => {
      const a = pairs.map((p) => p[0] / 10);
      const b = pairs.map((p) => p[1] / 10);
      const ab = pairedDifference(a, b, { seed: 5, resamples: 50 });
      const ba = pairedDifference(b, a, { seed: 5, resamples: 50 });
      for (const p of [ab.pValue, ab.wilcoxonPValue]) assert.ok(p >= 0 && p <= 1, `p = ${p}`);
      close(ab.pValue, ba.pValue, 1e-12);
      close(ab.wilcoxonPValue, ba.wilcoxonPValue, 1e-12);
    }),
  );
});
