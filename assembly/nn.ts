// Dense layers of small neural networks (the Mult-VAE of src/models/multvae.ts): three float32
// matrix products with f32x4 SIMD and an Adam step. Compiled by scripts/build-wasm.mjs into
// build/wasm/nn.wasm; driven from src/math/nn-kernels.ts, which owns the memory layout and keeps a
// plain TypeScript reference of every function here (tested against each other).
//
// All matrices are row-major float32 with a row stride (ld, in floats). Each product computes the
// output block rows [i0, i1) x columns [j0, j1), summing the inner index over [p0, p1); with
// `acc` = 1 it adds to C, else it overwrites C. Every output element is one fixed sequence of
// float32 operations that depends only on (i, j, p0, p1), never on the block it was computed in,
// so any split of the output into blocks (and of the work between threads) gives identical bits.
//
// Shapes: NN and TN need (i1 - i0) a multiple of 4 and (j1 - j0) a multiple of 8; NT needs
// (i1 - i0) a multiple of 4, (j1 - j0) a multiple of 2 and (p1 - p0) a multiple of 4.

export function heapBase(): usize {
  return __heap_base;
}

// C[i][j] (+)= sum_p A[i][p] B[p][j]. Tiles of 4 rows x 8 columns; the B panel of a column tile
// stays in cache while the row tiles pass.
export function gemmNN(a: usize, b: usize, c: usize, lda: i32, ldb: i32, ldc: i32, i0: i32, i1: i32, j0: i32, j1: i32, p0: i32, p1: i32, acc: i32): void {
  const la = <usize>lda << 2;
  const lb = <usize>ldb << 2;
  const lc = <usize>ldc << 2;
  for (let j = j0; j < j1; j += 8) {
    for (let i = i0; i < i1; i += 4) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
      let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
      let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let pa = a + <usize>i * la + (<usize>p0 << 2);
      let pb = b + <usize>p0 * lb + (<usize>j << 2);
      const end = pa + (<usize>(p1 - p0) << 2);
      while (pa < end) {
        const b0 = v128.load(pb);
        const b1 = v128.load(pb, 16);
        let s = v128.load32_splat(pa);
        c00 = f32x4.add(c00, f32x4.mul(s, b0));
        c01 = f32x4.add(c01, f32x4.mul(s, b1));
        s = v128.load32_splat(pa + la);
        c10 = f32x4.add(c10, f32x4.mul(s, b0));
        c11 = f32x4.add(c11, f32x4.mul(s, b1));
        s = v128.load32_splat(pa + 2 * la);
        c20 = f32x4.add(c20, f32x4.mul(s, b0));
        c21 = f32x4.add(c21, f32x4.mul(s, b1));
        s = v128.load32_splat(pa + 3 * la);
        c30 = f32x4.add(c30, f32x4.mul(s, b0));
        c31 = f32x4.add(c31, f32x4.mul(s, b1));
        pa += 4;
        pb += lb;
      }
      storeTile(c + <usize>i * lc + (<usize>j << 2), lc, acc, c00, c01, c10, c11, c20, c21, c30, c31);
    }
  }
}

// C[i][j] (+)= sum_p A[p][i] B[p][j] (A transposed: e.g. a weight gradient, activations^T x
// output gradients). Tiles of 4 x 8; the four A values of a step are contiguous.
export function gemmTN(a: usize, b: usize, c: usize, lda: i32, ldb: i32, ldc: i32, i0: i32, i1: i32, j0: i32, j1: i32, p0: i32, p1: i32, acc: i32): void {
  const la = <usize>lda << 2;
  const lb = <usize>ldb << 2;
  const lc = <usize>ldc << 2;
  for (let j = j0; j < j1; j += 8) {
    for (let i = i0; i < i1; i += 4) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
      let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
      let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let pa = a + <usize>p0 * la + (<usize>i << 2);
      let pb = b + <usize>p0 * lb + (<usize>j << 2);
      for (let p = p0; p < p1; p++) {
        const b0 = v128.load(pb);
        const b1 = v128.load(pb, 16);
        let s = v128.load32_splat(pa);
        c00 = f32x4.add(c00, f32x4.mul(s, b0));
        c01 = f32x4.add(c01, f32x4.mul(s, b1));
        s = v128.load32_splat(pa, 4);
        c10 = f32x4.add(c10, f32x4.mul(s, b0));
        c11 = f32x4.add(c11, f32x4.mul(s, b1));
        s = v128.load32_splat(pa, 8);
        c20 = f32x4.add(c20, f32x4.mul(s, b0));
        c21 = f32x4.add(c21, f32x4.mul(s, b1));
        s = v128.load32_splat(pa, 12);
        c30 = f32x4.add(c30, f32x4.mul(s, b0));
        c31 = f32x4.add(c31, f32x4.mul(s, b1));
        pa += la;
        pb += lb;
      }
      storeTile(c + <usize>i * lc + (<usize>j << 2), lc, acc, c00, c01, c10, c11, c20, c21, c30, c31);
    }
  }
}

@inline
function storeTile(c: usize, lc: usize, acc: i32, c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128): void {
  if (acc != 0) {
    c00 = f32x4.add(v128.load(c), c00);
    c01 = f32x4.add(v128.load(c, 16), c01);
    c10 = f32x4.add(v128.load(c + lc), c10);
    c11 = f32x4.add(v128.load(c + lc, 16), c11);
    c20 = f32x4.add(v128.load(c + 2 * lc), c20);
    c21 = f32x4.add(v128.load(c + 2 * lc, 16), c21);
    c30 = f32x4.add(v128.load(c + 3 * lc), c30);
    c31 = f32x4.add(v128.load(c + 3 * lc, 16), c31);
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c + lc, c10);
  v128.store(c + lc, c11, 16);
  v128.store(c + 2 * lc, c20);
  v128.store(c + 2 * lc, c21, 16);
  v128.store(c + 3 * lc, c30);
  v128.store(c + 3 * lc, c31, 16);
}

// (x0 + x1) + (x2 + x3): the fixed lane order of every NT sum.
@inline
function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// C[i][j] (+)= sum_p A[i][p] B[j][p] (B transposed: e.g. output gradients x weights^T). Tiles of
// 4 rows x 2 columns, each entry a 4-lane partial sum over p, folded by hsum at the end.
export function gemmNT(a: usize, b: usize, c: usize, lda: i32, ldb: i32, ldc: i32, i0: i32, i1: i32, j0: i32, j1: i32, p0: i32, p1: i32, acc: i32): void {
  const la = <usize>lda << 2;
  const lb = <usize>ldb << 2;
  const lc = <usize>ldc << 2;
  for (let i = i0; i < i1; i += 4) {
    for (let j = j0; j < j1; j += 2) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
      let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
      let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      const a0 = a + <usize>i * la;
      const b0 = b + <usize>j * lb;
      for (let p = <usize>p0 << 2; p < (<usize>p1 << 2); p += 16) {
        const x0 = v128.load(b0 + p);
        const x1 = v128.load(b0 + lb + p);
        let s = v128.load(a0 + p);
        c00 = f32x4.add(c00, f32x4.mul(s, x0));
        c01 = f32x4.add(c01, f32x4.mul(s, x1));
        s = v128.load(a0 + la + p);
        c10 = f32x4.add(c10, f32x4.mul(s, x0));
        c11 = f32x4.add(c11, f32x4.mul(s, x1));
        s = v128.load(a0 + 2 * la + p);
        c20 = f32x4.add(c20, f32x4.mul(s, x0));
        c21 = f32x4.add(c21, f32x4.mul(s, x1));
        s = v128.load(a0 + 3 * la + p);
        c30 = f32x4.add(c30, f32x4.mul(s, x0));
        c31 = f32x4.add(c31, f32x4.mul(s, x1));
      }
      const o = c + <usize>i * lc + (<usize>j << 2);
      ntStore(o, acc, hsum(c00), hsum(c01));
      ntStore(o + lc, acc, hsum(c10), hsum(c11));
      ntStore(o + 2 * lc, acc, hsum(c20), hsum(c21));
      ntStore(o + 3 * lc, acc, hsum(c30), hsum(c31));
    }
  }
}

@inline
function ntStore(o: usize, acc: i32, x: f32, y: f32): void {
  if (acc != 0) {
    x = load<f32>(o) + x;
    y = load<f32>(o, 4) + y;
  }
  store<f32>(o, x);
  store<f32>(o, y, 4);
}

// One Adam step (Kingma & Ba) over n floats (a multiple of 4) of parameters w with gradient g
// and moments m, v: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// w -= lr * (m / c1) / (sqrt(v / c2) + eps), with the bias corrections c1 = 1 - b1^t, c2 = 1 - b2^t.
export function adam(w: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, b1: f32, b2: f32, eps: f32, c1: f32, c2: f32): void {
  const vb1 = f32x4.splat(b1);
  const vb1c = f32x4.splat(1 - b1);
  const vb2 = f32x4.splat(b2);
  const vb2c = f32x4.splat(1 - b2);
  const vc1 = f32x4.splat(1 / c1);
  const vc2 = f32x4.splat(1 / c2);
  const veps = f32x4.splat(eps);
  const vlr = f32x4.splat(lr);
  const end = <usize>n << 2;
  for (let o: usize = 0; o < end; o += 16) {
    const gg = v128.load(g + o);
    const mm = f32x4.add(f32x4.mul(vb1, v128.load(m + o)), f32x4.mul(vb1c, gg));
    const vv = f32x4.add(f32x4.mul(vb2, v128.load(v + o)), f32x4.mul(vb2c, f32x4.mul(gg, gg)));
    v128.store(m + o, mm);
    v128.store(v + o, vv);
    const step = f32x4.div(f32x4.mul(vlr, f32x4.mul(mm, vc1)), f32x4.add(f32x4.sqrt(f32x4.mul(vv, vc2)), veps));
    v128.store(w + o, f32x4.sub(v128.load(w + o), step));
  }
}
