/**
 * Cholesky factorisation of small dense symmetric positive-definite matrices (row-major, n x n)
 * and the solves built on it: the ALS normal equations of `ials`, sparse-ease's per-item ridge
 * regressions, and the Laplace posterior of the onboarding and confidence code.
 */

/**
 * In place: the lower triangle of A becomes L with A = L Lᵀ (the upper triangle is neither read
 * nor written). A squared pivot below `floor` is raised to it (the default 1e-300 only guards the
 * ALS solves, whose regularised matrices never meet one; sparse-ease's sparsified Gram blocks can,
 * and floor at 1e-9); with `floor` null a pivot that is not positive throws instead.
 */
export function choleskyFactor(A: Float64Array, n: number, floor: number | null = 1e-300): void {
  for (let j = 0; j < n; j++) {
    let s = A[j * n + j]!;
    for (let k = 0; k < j; k++) s -= A[j * n + k]! * A[j * n + k]!;
    if (floor === null && !(s > 0)) throw new RangeError('cholesky: matrix is not positive definite');
    const l = Math.sqrt(floor === null ? s : Math.max(s, floor));
    A[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let t = A[i * n + j]!;
      for (let k = 0; k < j; k++) t -= A[i * n + k]! * A[j * n + k]!;
      A[i * n + j] = t / l;
    }
  }
}

/** The Cholesky factor L (lower, row-major, zero above the diagonal) of a; throws if a is not SPD. */
export function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) l[i * n + j] = a[i * n + j]!;
  choleskyFactor(l, n, null);
  return l;
}

/** b <- (L Lᵀ)⁻¹ b for a factor L of `choleskyFactor` / `cholesky`. */
export function choleskySubstitute(L: Float64Array, b: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    let t = b[i]!;
    for (let k = 0; k < i; k++) t -= L[i * n + k]! * b[k]!;
    b[i] = t / L[i * n + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    let t = b[i]!;
    for (let k = i + 1; k < n; k++) t -= L[k * n + i]! * b[k]!;
    b[i] = t / L[i * n + i]!;
  }
}

/** Solves A x = b in place (A <- its factor, b <- x) for SPD A given by its lower triangle; `floor` as in choleskyFactor. */
export function choleskySolve(A: Float64Array, b: Float64Array, n: number, floor: number | null = 1e-300): void {
  choleskyFactor(A, n, floor);
  choleskySubstitute(A, b, n);
}

/** (L Lᵀ)⁻¹ (full, row-major) from the factor L, column by column; written into `out`. */
export function choleskyInverse(L: Float64Array, n: number, out: Float64Array = new Float64Array(n * n)): Float64Array {
  const e = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    e.fill(0);
    e[c] = 1;
    choleskySubstitute(L, e, n);
    for (let a = 0; a < n; a++) out[a * n + c] = e[a]!;
  }
  return out;
}
