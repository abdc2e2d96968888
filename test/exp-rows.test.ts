import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { addExpScaled, addExpScaledAt, expRow, mixtureTerms, sumExpShift, sumExpShiftFinite } from '../src/math/exp-rows.js';
import { Rng } from '../src/math/rng.js';

/** The indices where a and b differ bit for bit (Object.is), at most 5. */
function differences(xs: Float64Array, got: Float64Array): string[] {
  const out: string[] = [];
  for (let i = 0; i < xs.length && out.length < 5; i++) if (!Object.is(got[i], Math.exp(xs[i]!))) out.push(`exp(${xs[i]}) = ${got[i]}, Math.exp ${Math.exp(xs[i]!)}`);
  return out;
}

/** Values on and around fdlibm's branch points, and the specials. */
function edges(): number[] {
  const points = [0, 1, 0.5, 2, 709.782712893384, 709.7822265625, 708, 745.1332191019411, 745.1332191019412, 0.34657359027997264, 1.0397207708399179, 2 ** -28, 2 ** -54, 1e-300, 5e-324, 1022 * Math.LN2, 1021 * Math.LN2, 1020.5 * Math.LN2, 1e10, Number.MAX_VALUE];
  for (let k = -1100; k <= 1030; k++) points.push(k * Math.LN2, (k + 0.5) * Math.LN2);
  const out = [Number.NaN, Infinity, -Infinity];
  const bits = new Float64Array(1);
  const words = new Uint32Array(bits.buffer);
  for (const p of points) {
    for (const s of [p, -p]) {
      bits[0] = s;
      const [lo, hi] = [words[0]!, words[1]!];
      for (const d of [-2, -1, 0, 1, 2]) {
        // neighbours by the low word, and the high word's boundary (low word 0 / all ones)
        words[0] = (lo + d) >>> 0;
        words[1] = hi;
        out.push(bits[0]!);
        words[0] = d < 0 ? 0xffffffff : d;
        words[1] = (hi + Math.sign(d)) >>> 0;
        out.push(bits[0]!);
      }
    }
  }
  return out;
}

describe('exp-rows (SIMD exp)', () => {
  it('expRow is Math.exp bit for bit on edge cases at every position of a lane pair', () => {
    const e = edges();
    // each value in lane 0 and lane 1, next to an ordinary value and next to a rare one
    for (const other of [-3.25, Number.NaN]) {
      for (const lane of [0, 1]) {
        const xs = new Float64Array(2 * e.length + 1).fill(other);
        for (let i = 0; i < e.length; i++) xs[2 * i + lane] = e[i]!;
        const got = new Float64Array(xs.length);
        expRow(xs, got);
        assert.deepEqual(differences(xs, got), []);
      }
    }
  });

  it('expRow is Math.exp bit for bit on 4 million seeded values across the whole range', () => {
    const rng = new Rng(2026);
    const n = 1 << 20;
    const xs = new Float64Array(n);
    const got = new Float64Array(n);
    const bits = new Float64Array(1);
    const words = new Uint32Array(bits.buffer);
    const draws: (() => number)[] = [
      () => -60 * rng.next(), // the softmax range (shifted by the maximum)
      () => -1500 * rng.next() + 750, // past both thresholds
      () => (rng.next() - 0.5) * 4 * 2 ** -Math.floor(rng.next() * 40), // near zero, every scale
      () => {
        words[0] = rng.nextU32();
        words[1] = rng.nextU32();
        return bits[0]!; // any bit pattern (NaNs, infinities, subnormals)
      },
    ];
    for (const draw of draws) {
      for (let i = 0; i < n; i++) xs[i] = draw();
      expRow(xs, got);
      assert.deepEqual(differences(xs, got), []);
    }
  });

  /** A float32 score row: finite logits, some -Infinity (not candidates), some NaN and +Infinity. */
  function row(rng: Rng, n: number): Float32Array {
    const r = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      r[i] = u < 0.1 ? -Infinity : u < 0.11 ? Number.NaN : u < 0.115 ? Infinity : -40 * rng.next() + 3;
    }
    return r;
  }

  it('sumExpShift, sumExpShiftFinite, addExpScaled and addExpScaledAt reproduce their JS loops bit for bit', () => {
    const rng = new Rng(5);
    for (const n of [0, 1, 2, 3, 7, 100, 9743]) {
      for (let rep = 0; rep < 5; rep++) {
        const z = new Float64Array(n);
        for (let i = 0; i < n; i++) z[i] = rng.next() < 0.05 ? -Infinity : -30 * rng.next() + 5;
        let m = -Infinity;
        for (let i = 0; i < n; i++) if (z[i]! > m) m = z[i]!;
        let want = 0;
        for (let i = 0; i < n; i++) want += Math.exp(z[i]! - m);
        assert.ok(Object.is(sumExpShift(z, m), want), `sumExpShift n=${n}`);

        const r = row(rng, n);
        let rm = -Infinity;
        for (let i = 0; i < n; i++) if (Number.isFinite(r[i]!) && r[i]! > rm) rm = r[i]!;
        let rs = 0;
        for (let i = 0; i < n; i++) if (Number.isFinite(r[i]!)) rs += Math.exp(r[i]! - rm);
        assert.ok(Object.is(sumExpShiftFinite(r, rm), rs), `sumExpShiftFinite n=${n}`);

        const lse = rm + Math.log(rs);
        const c = rep === 0 ? 1 : rng.next();
        const acc = new Float64Array(n);
        for (let i = 0; i < n; i++) acc[i] = rng.next() < 0.3 ? 0 : rng.next() < 0.1 ? -0 : rng.next();
        const plain = acc.slice();
        for (let i = 0; i < n; i++) if (Number.isFinite(r[i]!)) plain[i]! += c * Math.exp(r[i]! - lse);
        addExpScaled(acc, r, lse, c);
        for (let i = 0; i < n; i++) assert.ok(Object.is(acc[i], plain[i]), `addExpScaled n=${n} at ${i}: ${acc[i]} vs ${plain[i]}`);

        // the same row over every other entry of a twice as long accumulator (odd entries untouched)
        const idx = Int32Array.from({ length: n }, (_, x) => 2 * x);
        const wide = new Float64Array(2 * n);
        for (let i = 0; i < 2 * n; i++) wide[i] = rng.next() < 0.3 ? 0 : rng.next() < 0.1 ? -0 : rng.next();
        const wantWide = wide.slice();
        for (let x = 0; x < n; x++) if (Number.isFinite(r[x]!)) wantWide[2 * x]! += c * Math.exp(r[x]! - lse);
        addExpScaledAt(wide, idx, r, lse, c);
        for (let i = 0; i < 2 * n; i++) assert.ok(Object.is(wide[i], wantWide[i]), `addExpScaledAt n=${n} at ${i}: ${wide[i]} vs ${wantWide[i]}`);
      }
    }
  });

  it('the sum adds in index order (not lane pairs first)', () => {
    // e^0 = 1, then terms of about 0.75 ulp(1) / 2 each: in order each is absorbed by rounding,
    // while a pair added first (1.5 half-ulps) would move the sum
    const z = new Float64Array(101).fill(Math.log(0.75 * 2 ** -53));
    z[0] = 0;
    let want = 0;
    for (let i = 0; i < z.length; i++) want += Math.exp(z[i]!);
    let pairs = Math.exp(z[0]!);
    for (let i = 1; i + 1 < z.length; i += 2) pairs += Math.exp(z[i]!) + Math.exp(z[i + 1]!);
    assert.equal(want, 1);
    assert.notEqual(pairs, want);
    assert.ok(Object.is(sumExpShift(z, 0), want));
  });

  it('mixtureTerms reproduces mixtureAt\'s maxima and sums bit for bit (odd counts, -Infinity, NaN, signed zeros, k = 1)', () => {
    const rng = new Rng(11);
    for (const k of [1, 2, 3, 6]) {
      for (const n of [1, 2, 5, 301]) {
        const z = new Float64Array(n * k + 7);
        for (let i = 0; i < z.length; i++) {
          const u = rng.next();
          z[i] = u < 0.05 ? -Infinity : u < 0.07 ? Number.NaN : u < 0.09 ? 0 : u < 0.11 ? -0 : -20 * rng.next() + 4;
        }
        const lse = Float64Array.from({ length: k }, () => (rng.next() < 0.2 ? 0 : 3 * rng.next()));
        const logPi = Float64Array.from({ length: k }, () => (k === 1 || rng.next() < 0.2 ? -0 : Math.log(rng.next())));
        const terms = mixtureTerms(z, k, lse, logPi, n);
        const list = Int32Array.from({ length: n }, (_, x) => (x * 7 + 3) % n);
        const plainM = new Float64Array(n);
        for (let c = 0; c < n; c++) {
          let m = -Infinity;
          for (let q = 0; q < k; q++) m = Math.max(m, z[c * k + q]! - lse[q]! + logPi[q]!);
          plainM[c] = m;
          assert.ok(Object.is(terms.maxima[c], m), `maxima k=${k} n=${n} c=${c}: ${terms.maxima[c]} vs ${m}`);
        }
        const sums = terms.sums(list, n);
        for (let x = 0; x < n; x++) {
          const c = list[x]!;
          let sum = 0;
          for (let q = 0; q < k; q++) sum += Math.exp(z[c * k + q]! - lse[q]! + logPi[q]! - plainM[c]!);
          assert.ok(Object.is(sums[x], sum), `sums k=${k} n=${n} c=${c}: ${sums[x]} vs ${sum}`);
        }
      }
    }
    const t = mixtureTerms(new Float64Array(4), 2, new Float64Array(2), new Float64Array(2), 2);
    sumExpShift(new Float64Array(3), 0);
    assert.throws(() => t.sums(new Int32Array([0]), 1), /replaced its copy/);
  });
});
