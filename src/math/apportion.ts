/**
 * Largest-remainder (Hamilton) apportionment: whole slots shared in proportion to weights. The
 * proportional reranker shares list positions among tastes with it; the synthetic worlds share a
 * user's rows among their planted personas.
 */

/**
 * `slots` shared by `shares` (need not sum to 1; non-positive shares get none): each gets
 * floor(slots share / total), the slots left over go to the largest remainders (ties: the larger
 * share, then the lower index).
 */
export function largestRemainder(shares: ArrayLike<number>, slots: number): Int32Array {
  const n = shares.length;
  const out = new Int32Array(n);
  let total = 0;
  for (let g = 0; g < n; g++) if (shares[g]! > 0) total += shares[g]!;
  if (!(total > 0) || slots <= 0) return out;
  const rem: number[] = [];
  let given = 0;
  for (let g = 0; g < n; g++) {
    const s = shares[g]! > 0 ? shares[g]! : 0;
    const quota = (slots * s) / total;
    out[g] = Math.floor(quota + 1e-9);
    given += out[g]!;
    if (s > 0) rem.push(g);
  }
  const remainder = (g: number): number => (slots * shares[g]!) / total - out[g]!;
  rem.sort((a, b) => remainder(b) - remainder(a) || shares[b]! - shares[a]! || a - b);
  for (let r = 0; given < slots; r = (r + 1) % rem.length, given++) out[rem[r]!]!++;
  return out;
}
