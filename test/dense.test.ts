import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpdWorkspace, invertSpd, invertSpdReference } from '../src/math/dense.js';
import { cholesky, choleskyFactor, choleskyInverse, choleskySolve, choleskySubstitute } from '../src/math/cholesky.js';
import { easeWeights } from '../src/models/ease.js';
import { WorkerPool } from '../src/math/pool.js';
import { Rng } from '../src/math/rng.js';

/** A Gram-like SPD matrix: X^T X + lambda I with X a random sparse binary (2n x n). */
function randomSpd(n: number, seed: number, lambda = 5, density = 0.1): Float64Array {
  const rng = new Rng(seed);
  const g = new Float64Array(n * n);
  const row: number[] = [];
  for (let u = 0; u < 2 * n; u++) {
    row.length = 0;
    for (let i = 0; i < n; i++) if (rng.next() < density) row.push(i);
    for (const i of row) for (const j of row) g[i * n + j]! += 1;
  }
  for (let i = 0; i < n; i++) g[i * n + i]! += lambda;
  return g;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

test('invertSpdReference inverts a 3 x 3 matrix exactly', () => {
  const p = invertSpdReference([3, 2, 1, 2, 4, 2, 1, 2, 3], 3);
  const expected = [0.5, -0.25, 0, -0.25, 0.5, -0.25, 0, -0.25, 0.5];
  for (let i = 0; i < 9; i++) assert.ok(Math.abs(p[i]! - expected[i]!) < 1e-15, `entry ${i}: ${p[i]}`);
});

test('the wasm kernel matches the float64 reference (block and panel edges)', async () => {
  for (const n of [1, 5, 31, 32, 33, 67, 130, 257]) {
    const g = randomSpd(n, n);
    const ref = invertSpdReference(g, n);
    const got = await invertSpd(Float32Array.from(g), n);
    let err = 0;
    for (let i = 0; i < n * n; i++) err = Math.max(err, Math.abs(got[i]! - ref[i]!));
    const rel = err / maxAbs(ref);
    assert.ok(rel < 2e-6, `n=${n}: max abs error ${err} (relative ${rel})`);
    // symmetric output
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) assert.equal(got[i * n + j], got[j * n + i]);
  }
});

test('inverse times A is the identity', async () => {
  const n = 200;
  const g = randomSpd(n, 7, 20);
  const p = await invertSpd(Float32Array.from(g), n);
  let err = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += p[i * n + k]! * g[k * n + j]!;
      err = Math.max(err, Math.abs(s - (i === j ? 1 : 0)));
    }
  }
  assert.ok(err < 1e-4, `max |P A - I| = ${err}`);
});

test('results are bit-identical whatever the number of threads', async () => {
  const n = 700;
  const g = Float32Array.from(randomSpd(n, 3, 10, 0.05));
  const pool = new WorkerPool(2);
  try {
    const runs: { opts: Parameters<SpdWorkspace['invert']>[0]; out?: Float32Array; chunks?: number[] }[] = [
      { opts: {} },
      { opts: { pool, threads: 1, callerWorks: false } },
      { opts: { pool, threads: 2, callerWorks: false } },
      { opts: { pool, threads: 3 } },
    ];
    for (const r of runs) {
      const ws = new SpdWorkspace(n);
      ws.set(g);
      r.chunks = await ws.invert(r.opts);
      r.out = ws.toDense();
    }
    assert.equal(runs[1]!.chunks!.length, 1);
    assert.ok(runs[1]!.chunks![0]! > 0);
    assert.equal(runs[2]!.chunks!.length, 2);
    for (const r of runs.slice(1)) {
      assert.ok(Buffer.from(r.out!.buffer).equals(Buffer.from(runs[0]!.out!.buffer)), `differs with ${JSON.stringify({ ...r.opts, pool: undefined })}`);
    }
    // the EASE output too
    const ease = [{ output: 'ease' as const }, { pool, threads: 2, callerWorks: false, output: 'ease' as const }].map(async (opts) => {
      const ws = new SpdWorkspace(n);
      ws.set(g);
      await ws.invert(opts);
      return ws.toDense();
    });
    const [b1, b2] = [await ease[0]!, await ease[1]!];
    assert.ok(Buffer.from(b1.buffer).equals(Buffer.from(b2.buffer)), 'EASE output differs with 2 workers');
  } finally {
    await pool.close();
  }
});

test("output 'ease' gives B = I - P / diag(P) (column-wise) from the same sweep", async () => {
  const n = 150;
  const g = Float32Array.from(randomSpd(n, 11, 8));
  const p = await invertSpd(g, n);
  const expected = easeWeights(p, n, n);
  const ws = new SpdWorkspace(n);
  ws.set(g);
  await ws.invert({ output: 'ease' });
  const b = ws.toDense();
  let err = 0;
  for (let i = 0; i < n * n; i++) err = Math.max(err, Math.abs(b[i]! - expected[i]!));
  assert.ok(err < 1e-6 * maxAbs(expected), `max abs difference ${err}`);
  for (let i = 0; i < n; i++) assert.equal(b[i * n + i], 0);
  // B_ij = -P_ij / P_jj, not symmetric in general
  assert.ok(Math.abs(b[1]! + p[1]! / p[n + 1]!) < 1e-6);
});

test('a matrix that is not positive definite is rejected', async () => {
  await assert.rejects(invertSpd(Float32Array.of(1, 2, 2, 1), 2), /not \(numerically\) positive definite/);
  assert.throws(() => invertSpdReference([0, 1, 1, 0], 2), /not positive definite/);
});

test('cholesky: the factor, solve and inverse of a hand-computed 2x2 SPD matrix; strict mode rejects a non-SPD one', () => {
  // [[4, 2], [2, 3]] = L Lᵀ with L = [[2, 0], [1, √2]]; its inverse is [[3, -2], [-2, 4]] / 8
  const a = Float64Array.of(4, 2, 2, 3);
  const l = cholesky(a, 2);
  assert.deepEqual(Array.from(l), [2, 0, 1, Math.SQRT2]);
  assert.deepEqual(Array.from(a), [4, 2, 2, 3], 'cholesky copies');
  const b = Float64Array.of(2, 1); // A x = b -> x = [0.5, 0]
  choleskySubstitute(l, b, 2);
  assert.ok(Math.abs(b[0]! - 0.5) < 1e-12 && Math.abs(b[1]!) < 1e-12, String(b));
  const inv = choleskyInverse(l, 2);
  [3 / 8, -2 / 8, -2 / 8, 4 / 8].forEach((v, k) => assert.ok(Math.abs(inv[k]! - v) < 1e-12, `inv[${k}] = ${inv[k]}`));
  const inPlace = Float64Array.of(4, 99, 2, 3); // the upper triangle is not read
  const x = Float64Array.of(2, 1);
  choleskySolve(inPlace, x, 2);
  assert.ok(Math.abs(x[0]! - 0.5) < 1e-12 && Math.abs(x[1]!) < 1e-12);
  assert.throws(() => cholesky(Float64Array.of(1, 2, 2, 1), 2), /not positive definite/);
  const clamped = Float64Array.of(1, 0, 2, 1); // not SPD: the non-strict factor clamps the pivot instead
  choleskyFactor(clamped, 2);
  assert.ok(Number.isFinite(clamped[0]!) && clamped[3]! > 0);
});
