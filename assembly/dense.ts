// Dense symmetric positive definite inverse by the blocked sweep operator (symmetric Gauss-Jordan
// without pivoting), float32 with f32x4 SIMD. Compiled by scripts/build-wasm.mjs into
// build/wasm/dense.wasm; driven from src/math/dense.ts, which owns the memory layout and the
// schedule (these functions are the schedule's chunks; each chunk's arithmetic depends only on its
// inputs, never on which thread runs it, so results do not depend on the number of threads).
//
// The matrix A (N x N, row-major, N a multiple of PH) lives in (shared) memory; only its lower
// triangle is read or meaningful until `finish`. Sweeping the block K (rows/cols k0 .. k0+kb) with
// D = A_KK^-1 and the other indices O:
//   A_OO <- A_OO - A_OK D A_KO    (lower triangle only: the O(n^3) part, `panel`)
//   A_OK <- A_OK D,  A_KK <- -D
// After every block has been swept A holds -A^-1; `finish` negates it and fills the upper triangle.
//
// Layouts (all float32, byte pointers):
//   Vp  the panel V = A_{:,K} packed as 8-column tiles: Vp[jt][p][c] = V[8 jt + c][p]
//       (p stride 8 floats, tile stride NB * 8 floats).
//   Dp  D packed the same way: Dp[qt][p][c] = D[p][8 qt + c].
//   Wp  W = V_I D for one row panel, row-major with row stride NB floats.

// Block size of the sweep (the k dimension of the update) and height of a row panel.
const NB: i32 = 128;
const PH: i32 = 32;

export function blockSize(): i32 {
  return NB;
}

export function panelHeight(): i32 {
  return PH;
}

export function heapBase(): usize {
  return __heap_base;
}

// D = A_KK^-1 in float64 (in-place Gauss-Jordan, no pivoting: A_KK is a Schur complement of an SPD
// matrix, hence SPD), then rounded into Dp. d64: kb * kb float64 scratch. Returns 0, or 1 + the
// index (in the block) of the first pivot that is not positive: the matrix is not SPD.
export function invDiag(a: usize, n: i32, k0: i32, kb: i32, d64: usize, dp: usize): i32 {
  let bad = 0;
  const rowBytes = <usize>n << 2;
  const kb8 = <usize>kb << 3;
  for (let p = 0; p < kb; p++) {
    const src = a + <usize>(k0 + p) * rowBytes + (<usize>k0 << 2);
    for (let q = 0; q <= p; q++) {
      const x = <f64>load<f32>(src + (<usize>q << 2));
      store<f64>(d64 + <usize>p * kb8 + (<usize>q << 3), x);
      store<f64>(d64 + <usize>q * kb8 + (<usize>p << 3), x);
    }
  }
  for (let k = 0; k < kb; k++) {
    const rowK = d64 + <usize>k * kb8;
    const pk = load<f64>(rowK + (<usize>k << 3));
    if (bad == 0 && !(pk > 0 && pk < Infinity)) bad = k + 1;
    const piv = 1.0 / pk;
    const vpiv = f64x2.splat(piv);
    for (let j = 0; j < kb; j += 2) {
      const at = rowK + (<usize>j << 3);
      v128.store(at, f64x2.mul(v128.load(at), vpiv));
    }
    store<f64>(rowK + (<usize>k << 3), piv);
    for (let i = 0; i < kb; i++) {
      if (i == k) continue;
      const rowI = d64 + <usize>i * kb8;
      const f = load<f64>(rowI + (<usize>k << 3));
      if (f == 0) continue;
      const vf = f64x2.splat(f);
      for (let j = 0; j < kb; j += 2) {
        const at = rowI + (<usize>j << 3);
        v128.store(at, f64x2.sub(v128.load(at), f64x2.mul(vf, v128.load(rowK + (<usize>j << 3)))));
      }
      store<f64>(rowI + (<usize>k << 3), -f * piv);
    }
  }
  for (let p = 0; p < kb; p++) {
    for (let q = 0; q < kb; q++) {
      const x = <f32>load<f64>(d64 + <usize>p * kb8 + (<usize>q << 3));
      store<f32>(dp + (<usize>((q >> 3) * NB * 8 + p * 8 + (q & 7)) << 2), x);
    }
  }
  return bad;
}

// Packs the columns [c0, c1) (multiples of 8) of V = A_{:,K} (symmetric view of the lower
// triangle) into Vp, skipping the columns of K itself (never read).
export function packV(a: usize, n: i32, k0: i32, kb: i32, vp: usize, c0: i32, c1: i32): void {
  const rowBytes = <usize>n << 2;
  for (let o = c0; o < c1; o += 8) {
    if (o >= k0 && o < k0 + kb) continue;
    const tile = vp + (<usize>((o >> 3) * NB * 8) << 2);
    if (o < k0) {
      // V[o + c][p] = A[k0 + p][o + c]: 8 contiguous floats per p
      for (let p = 0; p < kb; p++) {
        const src = a + <usize>(k0 + p) * rowBytes + (<usize>o << 2);
        const dst = tile + (<usize>p << 5);
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
      }
    } else {
      // V[o + c][p] = A[o + c][k0 + p]: transpose 8 row segments
      for (let c = 0; c < 8; c++) {
        const src = a + <usize>(o + c) * rowBytes + (<usize>k0 << 2);
        const dst = tile + (<usize>c << 2);
        for (let p = 0; p < kb; p++) store<f32>(dst + (<usize>p << 5), load<f32>(src + (<usize>p << 2)));
      }
    }
  }
}

// W tile (4 rows i0.., 8 columns q0..) = V_rows D: the V rows come from Vp (p stride 32 bytes,
// consecutive rows 4 bytes apart), D from Dp (p stride 32 bytes).
@inline
function wTile(vsrc: usize, dsrc: usize, kb: i32, out: usize): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0);
  let a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0);
  let a30 = f32x4.splat(0), a31 = f32x4.splat(0);
  for (let p = 0; p < kb; p++) {
    const d0 = v128.load(dsrc);
    const d1 = v128.load(dsrc, 16);
    let s = v128.load32_splat(vsrc);
    a00 = f32x4.add(a00, f32x4.mul(s, d0));
    a01 = f32x4.add(a01, f32x4.mul(s, d1));
    s = v128.load32_splat(vsrc, 4);
    a10 = f32x4.add(a10, f32x4.mul(s, d0));
    a11 = f32x4.add(a11, f32x4.mul(s, d1));
    s = v128.load32_splat(vsrc, 8);
    a20 = f32x4.add(a20, f32x4.mul(s, d0));
    a21 = f32x4.add(a21, f32x4.mul(s, d1));
    s = v128.load32_splat(vsrc, 12);
    a30 = f32x4.add(a30, f32x4.mul(s, d0));
    a31 = f32x4.add(a31, f32x4.mul(s, d1));
    vsrc += 32;
    dsrc += 32;
  }
  const rs: usize = <usize>NB << 2;
  v128.store(out, a00);
  v128.store(out, a01, 16);
  v128.store(out + rs, a10);
  v128.store(out + rs, a11, 16);
  v128.store(out + 2 * rs, a20);
  v128.store(out + 2 * rs, a21, 16);
  v128.store(out + 3 * rs, a30);
  v128.store(out + 3 * rs, a31, 16);
}

// C tile (4 x 8 at c, row stride ldc bytes) -= W rows (row-major, stride NB) * V tile (Vp).
// Every element: C - (((0 + w0 v0) + w1 v1) + ...), the same sequence whoever runs the tile.
@inline
function updateTile(c: usize, ldc: usize, w: usize, v: usize, kb: i32): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0);
  let a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0);
  let a30 = f32x4.splat(0), a31 = f32x4.splat(0);
  // (unrolling this loop by two makes V8 spill accumulators: 15 xmm registers are all in use)
  const end = w + (<usize>kb << 2);
  while (w < end) {
    const v0 = v128.load(v);
    const v1 = v128.load(v, 16);
    let s = v128.load32_splat(w);
    a00 = f32x4.add(a00, f32x4.mul(s, v0));
    a01 = f32x4.add(a01, f32x4.mul(s, v1));
    s = v128.load32_splat(w, NB * 4);
    a10 = f32x4.add(a10, f32x4.mul(s, v0));
    a11 = f32x4.add(a11, f32x4.mul(s, v1));
    s = v128.load32_splat(w, NB * 8);
    a20 = f32x4.add(a20, f32x4.mul(s, v0));
    a21 = f32x4.add(a21, f32x4.mul(s, v1));
    s = v128.load32_splat(w, NB * 12);
    a30 = f32x4.add(a30, f32x4.mul(s, v0));
    a31 = f32x4.add(a31, f32x4.mul(s, v1));
    w += 4;
    v += 32;
  }
  v128.store(c, f32x4.sub(v128.load(c), a00));
  v128.store(c, f32x4.sub(v128.load(c, 16), a01), 16);
  c += ldc;
  v128.store(c, f32x4.sub(v128.load(c), a10));
  v128.store(c, f32x4.sub(v128.load(c, 16), a11), 16);
  c += ldc;
  v128.store(c, f32x4.sub(v128.load(c), a20));
  v128.store(c, f32x4.sub(v128.load(c, 16), a21), 16);
  c += ldc;
  v128.store(c, f32x4.sub(v128.load(c), a30));
  v128.store(c, f32x4.sub(v128.load(c, 16), a31), 16);
}

// One row panel [r0, r0 + PH) of a sweep step: W = V_I D (into wp), the lower-triangle update of
// the panel's rows (all columns but K), then A_IK <- W (or its mirror A_KI for I above K).
// Panels inside K write A_KK <- -D instead.
export function panel(a: usize, n: i32, k0: i32, kb: i32, vp: usize, dp: usize, wp: usize, r0: i32): void {
  const rowBytes = <usize>n << 2;
  if (r0 >= k0 && r0 < k0 + kb) {
    for (let i = r0; i < r0 + PH; i++) {
      const p = i - k0;
      const dst = a + <usize>i * rowBytes + (<usize>k0 << 2);
      for (let q = 0; q < kb; q++) {
        store<f32>(dst + (<usize>q << 2), -load<f32>(dp + (<usize>((q >> 3) * NB * 8 + p * 8 + (q & 7)) << 2)));
      }
    }
    return;
  }
  // W = V_I D
  for (let it = 0; it < PH; it += 4) {
    const i = r0 + it;
    const vsrc = vp + (<usize>((i >> 3) * NB * 8 + (i & 7)) << 2);
    for (let q = 0; q < kb; q += 8) {
      wTile(vsrc, dp + (<usize>((q >> 3) * NB * 8) << 2), kb, wp + (<usize>(it * NB + q) << 2));
    }
  }
  // lower-triangle update of rows [r0, r0 + PH): 8-column tiles, 4-row tiles
  const rEnd = r0 + PH;
  for (let j = 0; j < rEnd; j += 8) {
    if (j >= k0 && j < k0 + kb) continue;
    const vt = vp + (<usize>((j >> 3) * NB * 8) << 2);
    let it = 0;
    // skip 4-row tiles entirely above the diagonal (all their columns j.. > their rows)
    if (j > r0) it = (j - r0) & ~3;
    for (; it < PH; it += 4) {
      const i = r0 + it;
      updateTile(a + <usize>i * rowBytes + (<usize>j << 2), rowBytes, wp + (<usize>(it * NB) << 2), vt, kb);
    }
  }
  // A_IK <- W
  if (r0 >= k0 + kb) {
    for (let it = 0; it < PH; it++) {
      const src = wp + (<usize>(it * NB) << 2);
      const dst = a + <usize>(r0 + it) * rowBytes + (<usize>k0 << 2);
      for (let q = 0; q < kb; q += 4) v128.store(dst + (<usize>q << 2), v128.load(src + (<usize>q << 2)));
    }
  } else {
    for (let q = 0; q < kb; q++) {
      const dst = a + <usize>(k0 + q) * rowBytes + (<usize>r0 << 2);
      for (let it = 0; it < PH; it++) store<f32>(dst + (<usize>it << 2), load<f32>(wp + (<usize>(it * NB + q) << 2)));
    }
  }
}

// Final pass for row panel [r0, r0 + PH). A holds M = -A^-1 in its lower triangle.
// mode 0: writes A^-1 into both triangles (the panel's lower part and its mirror, which no other
//   chunk touches).
// mode 1 (EASE): writes B = I - P / diag(P) column-wise off the diagonal, P = A^-1:
//   B_ij = -P_ij / P_jj = -M_ij / M_jj; the diagonal keeps M_ii = -P_ii (read by the other chunks;
//   B_ii = 0 is left to the caller).
export function finish(a: usize, n: i32, r0: i32, mode: i32): void {
  const rowBytes = <usize>n << 2;
  for (let j0 = 0; j0 <= r0; j0 += PH) {
    for (let i = r0; i < r0 + PH; i++) {
      const jEnd = j0 + PH < i + 1 ? j0 + PH : i + 1;
      const row = a + <usize>i * rowBytes;
      if (mode == 0) {
        for (let j = j0; j < jEnd; j++) {
          const x = -load<f32>(row + (<usize>j << 2));
          store<f32>(row + (<usize>j << 2), x);
          store<f32>(a + <usize>j * rowBytes + (<usize>i << 2), x);
        }
      } else {
        const mii = load<f32>(row + (<usize>i << 2));
        for (let j = j0; j < jEnd; j++) {
          if (j == i) continue;
          const m = load<f32>(row + (<usize>j << 2));
          const mjj = load<f32>(a + <usize>j * rowBytes + (<usize>j << 2));
          store<f32>(row + (<usize>j << 2), -m / mjj);
          store<f32>(a + <usize>j * rowBytes + (<usize>i << 2), -m / mii);
        }
      }
    }
  }
}
