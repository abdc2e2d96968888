// Matrix-factorisation kernels (BPR epochs, iALS row solves), float32 with f32x4 SIMD. Compiled
// by scripts/build-wasm.mjs into build/wasm/factors.wasm; driven from src/math/factor-kernels.ts,
// which owns the memory layout. Factor rows have a stride `ds` (the dimension rounded up to a
// multiple of 4, padding zero: every update keeps the padding at zero).
//
// Pointers are byte offsets into the (shared, imported) memory. No function here depends on which
// thread calls it: the iALS solves touch only their own rows and their own scratch.

// ---------------------------------------------------------------- random numbers
// xoshiro128** seeded exactly as src/math/rng.ts's Rng(seed), so `rngSeed(rng.seed)` followed by
// `rngNext()` reproduces that stream (tested).
let s0: u32 = 0;
let s1: u32 = 0;
let s2: u32 = 0;
let s3: u32 = 0;

@inline
function mix32(h: u32): u32 {
  h = (h ^ (h >>> 16)) * 0x85ebca6b;
  h = (h ^ (h >>> 13)) * 0xc2b2ae35;
  return h ^ (h >>> 16);
}

export function rngSeed(seed: u32): void {
  let h = mix32(seed ^ 0x5bd1e995);
  s0 = h = mix32(h + 0x9e3779b9);
  s1 = h = mix32(h + 0x9e3779b9);
  s2 = h = mix32(h + 0x9e3779b9);
  s3 = h = mix32(h + 0x9e3779b9);
  if ((s0 | s1 | s2 | s3) == 0) s0 = 1;
}

@inline
function nextU32(): u32 {
  const result = rotl<u32>(s1 * 5, 7) * 9;
  const t = s1 << 9;
  s2 ^= s0;
  s3 ^= s1;
  s1 ^= s2;
  s0 ^= s3;
  s2 ^= t;
  s3 = rotl<u32>(s3, 11);
  return result;
}

export function rngNext(): u32 {
  return nextU32();
}

// floor(u32 · n / 2^32): uniform in [0, n) up to a bias below n / 2^32.
@inline
function below(n: u32): u32 {
  return <u32>((<u64>nextU32() * <u64>n) >> 32);
}

@inline
function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// ---------------------------------------------------------------- BPR
const MAX_REDRAWS: i32 = 50;

// Whether indices[lo .. hi) (ascending) contains x.
function sortedHas(indices: usize, lo: i32, hi: i32, x: i32): bool {
  hi--;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = load<i32>(indices + (<usize>mid << 2));
    if (v == x) return true;
    if (v < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

// One BPR epoch (Rendle et al. 2009; see src/models/bpr.ts): nnz samples, each a uniform positive
// k (user posUser[k], item indices[k]) and a uniform candidate negative j the user has not liked
// (the `liked` bitset, user-major, or a binary search in the user's row when liked = 0), redrawn
// at most MAX_REDRAWS times. Returns the mean -ln σ(x_uij) over every 4th sample.
export function bprEpoch(
  seed: u32,
  liked: usize,
  nItems: i32,
  U: usize,
  V: usize,
  bias: usize,
  posUser: usize,
  indptr: usize,
  indices: usize,
  nnz: i32,
  cand: usize,
  nCand: i32,
  ds: i32,
  lr: f32,
  reg: f32,
): f64 {
  rngSeed(seed);
  const decay: f32 = 1 - lr * reg;
  const vdecay = f32x4.splat(decay);
  const rowBytes = <usize>ds << 2;
  let loss: f64 = 0;
  let used = 0;
  for (let s = 0; s < nnz; s++) {
    const k = below(<u32>nnz);
    const u = load<i32>(posUser + (<usize>k << 2));
    const i = load<i32>(indices + (<usize>k << 2));
    let j = load<i32>(cand + (<usize>below(<u32>nCand) << 2));
    let redraws = 0;
    if (liked != 0) {
      const base = u * nItems;
      for (;;) {
        const bit = <u32>(base + j);
        if (((load<u32>(liked + (<usize>(bit >>> 5) << 2)) >>> (bit & 31)) & 1) == 0) break;
        if (++redraws > MAX_REDRAWS) break;
        j = load<i32>(cand + (<usize>below(<u32>nCand) << 2));
      }
    } else {
      const lo = load<i32>(indptr + (<usize>u << 2));
      const hi = load<i32>(indptr + (<usize>(u + 1) << 2));
      while (sortedHas(indices, lo, hi, j)) {
        if (++redraws > MAX_REDRAWS) break;
        j = load<i32>(cand + (<usize>below(<u32>nCand) << 2));
      }
    }
    if (redraws > MAX_REDRAWS) continue;
    const uo = U + <usize>u * rowBytes;
    const io = V + <usize>i * rowBytes;
    const jo = V + <usize>j * rowBytes;
    // x = u·(v_i - v_j) + b_i - b_j
    let acc0 = f32x4.splat(0);
    let acc1 = f32x4.splat(0);
    let f: usize = 0;
    const end = rowBytes;
    for (; f + 32 <= end; f += 32) {
      acc0 = f32x4.add(acc0, f32x4.mul(v128.load(uo + f), f32x4.sub(v128.load(io + f), v128.load(jo + f))));
      acc1 = f32x4.add(acc1, f32x4.mul(v128.load(uo + f, 16), f32x4.sub(v128.load(io + f, 16), v128.load(jo + f, 16))));
    }
    if (f < end) acc0 = f32x4.add(acc0, f32x4.mul(v128.load(uo + f), f32x4.sub(v128.load(io + f), v128.load(jo + f))));
    const bi = bias + (<usize>i << 2);
    const bj = bias + (<usize>j << 2);
    const x: f64 = <f64>(hsum(f32x4.add(acc0, acc1)) + (load<f32>(bi) - load<f32>(bj)));
    const ex = Math.exp(x);
    if ((s & 3) == 0) {
      loss += x > 30 ? Math.exp(-x) : Math.log1p(ex) - x;
      used++;
    }
    const g = <f32>(<f64>lr / (1 + ex)); // lr·σ(-x)
    const vg = f32x4.splat(g);
    for (f = 0; f < end; f += 16) {
      const uu = v128.load(uo + f);
      const p = v128.load(io + f);
      const q = v128.load(jo + f);
      const gu = f32x4.mul(vg, uu);
      v128.store(uo + f, f32x4.add(f32x4.mul(vdecay, uu), f32x4.mul(vg, f32x4.sub(p, q))));
      v128.store(io + f, f32x4.add(f32x4.mul(vdecay, p), gu));
      v128.store(jo + f, f32x4.sub(f32x4.mul(vdecay, q), gu));
    }
    store<f32>(bi, decay * load<f32>(bi) + g);
    store<f32>(bj, decay * load<f32>(bj) - g);
  }
  return used > 0 ? loss / <f64>used : 0;
}

// ---------------------------------------------------------------- iALS
// Rows with at most SMALL_ROW positives are solved exactly (Woodbury), the others by CG.
const SMALL_ROW: i32 = 4;

// Scratch floats per participant: x, r, p, ap (ds each), w (SMALL_ROW ds), then 64 bytes of f64
// for the small system (k: 16, z: 4; 20 f64 = 160 bytes).
export function scratchBytes(ds: i32): i32 {
  return (4 + SMALL_ROW) * ds * 4 + 160;
}

export function smallRow(): i32 {
  return SMALL_ROW;
}

// out = M v for the symmetric ds x ds M (f32): out = Σ_c v[c] M[c, :], 16 outputs at a time.
function matVec(m: usize, v: usize, out: usize, ds: i32): void {
  const rowBytes = <usize>ds << 2;
  let a: usize = 0;
  for (; a + 64 <= rowBytes; a += 64) {
    let o0 = f32x4.splat(0);
    let o1 = f32x4.splat(0);
    let o2 = f32x4.splat(0);
    let o3 = f32x4.splat(0);
    let row = m + a;
    for (let c = 0; c < ds; c++) {
      const vc = v128.load32_splat(v + (<usize>c << 2));
      o0 = f32x4.add(o0, f32x4.mul(vc, v128.load(row)));
      o1 = f32x4.add(o1, f32x4.mul(vc, v128.load(row, 16)));
      o2 = f32x4.add(o2, f32x4.mul(vc, v128.load(row, 32)));
      o3 = f32x4.add(o3, f32x4.mul(vc, v128.load(row, 48)));
      row += rowBytes;
    }
    v128.store(out + a, o0);
    v128.store(out + a, o1, 16);
    v128.store(out + a, o2, 32);
    v128.store(out + a, o3, 48);
  }
  for (; a < rowBytes; a += 16) {
    let o0 = f32x4.splat(0);
    let row = m + a;
    for (let c = 0; c < ds; c++) {
      o0 = f32x4.add(o0, f32x4.mul(v128.load32_splat(v + (<usize>c << 2)), v128.load(row)));
      row += rowBytes;
    }
    v128.store(out + a, o0);
  }
}

@inline
function dotV(a: usize, b: usize, rowBytes: usize): f32 {
  let s = f32x4.splat(0);
  for (let f: usize = 0; f < rowBytes; f += 16) s = f32x4.add(s, f32x4.mul(v128.load(a + f), v128.load(b + f)));
  return hsum(s);
}

// out += Σ_{h∈[h0,h1)} (ca + cb·(y_j·v)) y_j, y_j the row idx[h] of f: four rows at a time.
function accumulate(idx: usize, h0: i32, h1: i32, f: usize, ds: i32, v: usize, ca: f32, cb: f32, out: usize): void {
  const rowBytes = <usize>ds << 2;
  let h = h0;
  for (; h + 4 <= h1; h += 4) {
    const at = idx + (<usize>h << 2);
    const y0 = f + <usize>load<i32>(at) * rowBytes;
    const y1 = f + <usize>load<i32>(at, 4) * rowBytes;
    const y2 = f + <usize>load<i32>(at, 8) * rowBytes;
    const y3 = f + <usize>load<i32>(at, 12) * rowBytes;
    let t0 = f32x4.splat(0);
    let t1 = f32x4.splat(0);
    let t2 = f32x4.splat(0);
    let t3 = f32x4.splat(0);
    for (let k: usize = 0; k < rowBytes; k += 16) {
      const vk = v128.load(v + k);
      t0 = f32x4.add(t0, f32x4.mul(v128.load(y0 + k), vk));
      t1 = f32x4.add(t1, f32x4.mul(v128.load(y1 + k), vk));
      t2 = f32x4.add(t2, f32x4.mul(v128.load(y2 + k), vk));
      t3 = f32x4.add(t3, f32x4.mul(v128.load(y3 + k), vk));
    }
    const c0 = f32x4.splat(ca + cb * hsum(t0));
    const c1 = f32x4.splat(ca + cb * hsum(t1));
    const c2 = f32x4.splat(ca + cb * hsum(t2));
    const c3 = f32x4.splat(ca + cb * hsum(t3));
    for (let k: usize = 0; k < rowBytes; k += 16) {
      const s01 = f32x4.add(f32x4.mul(c0, v128.load(y0 + k)), f32x4.mul(c1, v128.load(y1 + k)));
      const s23 = f32x4.add(f32x4.mul(c2, v128.load(y2 + k)), f32x4.mul(c3, v128.load(y3 + k)));
      v128.store(out + k, f32x4.add(v128.load(out + k), f32x4.add(s01, s23)));
    }
  }
  for (; h < h1; h++) {
    const y0 = f + <usize>load<i32>(idx + (<usize>h << 2)) * rowBytes;
    const c0 = f32x4.splat(ca + cb * dotV(y0, v, rowBytes));
    for (let k: usize = 0; k < rowBytes; k += 16) v128.store(out + k, f32x4.add(v128.load(out + k), f32x4.mul(c0, v128.load(y0 + k))));
  }
}

// Exact solve of a row with m <= SMALL_ROW positives (Woodbury identity with B⁻¹ = gramInv, see
// src/models/ials.ts): w_a = B⁻¹ y_a, g = (1+α) Σ w_a, (I/α + [y_a·w_b]) z = [y_a·g], x = g - Σ z_a w_a.
function solveSmall(idx: usize, h0: i32, h1: i32, other: usize, gramInv: usize, ds: i32, alpha: f32, x: usize, w: usize, kz: usize): void {
  const m = h1 - h0;
  const rowBytes = <usize>ds << 2;
  const c1 = f32x4.splat(<f32>1.0 + alpha);
  for (let f: usize = 0; f < rowBytes; f += 16) v128.store(x + f, f32x4.splat(0));
  for (let a = 0; a < m; a++) {
    const ya = other + <usize>load<i32>(idx + (<usize>(h0 + a) << 2)) * rowBytes;
    const wa = w + <usize>a * rowBytes;
    matVec(gramInv, ya, wa, ds);
    for (let f: usize = 0; f < rowBytes; f += 16) v128.store(x + f, f32x4.add(v128.load(x + f), f32x4.mul(c1, v128.load(wa + f))));
  }
  if (alpha == 0) return;
  const z = kz + 128;
  for (let a = 0; a < m; a++) {
    const ya = other + <usize>load<i32>(idx + (<usize>(h0 + a) << 2)) * rowBytes;
    for (let b = 0; b < m; b++) {
      const s = <f64>dotV(ya, w + <usize>b * rowBytes, rowBytes);
      store<f64>(kz + (<usize>(a * m + b) << 3), a == b ? s + 1 / <f64>alpha : s);
    }
    store<f64>(z + (<usize>a << 3), <f64>dotV(ya, x, rowBytes));
  }
  // Cholesky of the m x m k (lower triangle), then the two substitutions on z
  for (let j = 0; j < m; j++) {
    let s = load<f64>(kz + (<usize>(j * m + j) << 3));
    for (let q = 0; q < j; q++) {
      const l = load<f64>(kz + (<usize>(j * m + q) << 3));
      s -= l * l;
    }
    const l = Math.sqrt(Math.max(s, 1e-300));
    store<f64>(kz + (<usize>(j * m + j) << 3), l);
    for (let i = j + 1; i < m; i++) {
      let t = load<f64>(kz + (<usize>(i * m + j) << 3));
      for (let q = 0; q < j; q++) t -= load<f64>(kz + (<usize>(i * m + q) << 3)) * load<f64>(kz + (<usize>(j * m + q) << 3));
      store<f64>(kz + (<usize>(i * m + j) << 3), t / l);
    }
  }
  for (let i = 0; i < m; i++) {
    let t = load<f64>(z + (<usize>i << 3));
    for (let q = 0; q < i; q++) t -= load<f64>(kz + (<usize>(i * m + q) << 3)) * load<f64>(z + (<usize>q << 3));
    store<f64>(z + (<usize>i << 3), t / load<f64>(kz + (<usize>(i * m + i) << 3)));
  }
  for (let i = m - 1; i >= 0; i--) {
    let t = load<f64>(z + (<usize>i << 3));
    for (let q = i + 1; q < m; q++) t -= load<f64>(kz + (<usize>(q * m + i) << 3)) * load<f64>(z + (<usize>q << 3));
    store<f64>(z + (<usize>i << 3), t / load<f64>(kz + (<usize>(i * m + i) << 3)));
  }
  for (let a = 0; a < m; a++) {
    const za = f32x4.splat(<f32>load<f64>(z + (<usize>a << 3)));
    const wa = w + <usize>a * rowBytes;
    for (let f: usize = 0; f < rowBytes; f += 16) v128.store(x + f, f32x4.sub(v128.load(x + f), f32x4.mul(za, v128.load(wa + f))));
  }
}

// Re-solves rows [lo, hi) of `target` against the fixed `other` (implicit ALS, Hu, Koren & Volinsky
// 2008): row r solves (G + α Σ_{j∈H_r} y_j y_jᵀ) x = (1 + α) Σ_{j∈H_r} y_j with G = otherᵀother +
// reg·I (`gram`, f32 ds x ds, zero padding), by `cgSteps` conjugate-gradient steps from the current
// row, or exactly (Woodbury with `gramInv`) when it has at most SMALL_ROW positives. Rows without
// positives become 0. When `loss` != 0, loss[r] (f64) = Σ_{j∈H_r} [(1+α)(1-s)^2 - s^2], s = x·y_j.
// Small rows first, then CG rows, so one d x d matrix at a time is in cache.
export function solveRows(
  ptr: usize,
  idx: usize,
  other: usize,
  target: usize,
  gram: usize,
  gramInv: usize,
  ds: i32,
  alpha: f32,
  cgSteps: i32,
  lo: i32,
  hi: i32,
  loss: usize,
  scratch: usize,
): void {
  const rowBytes = <usize>ds << 2;
  const x = scratch;
  const r = x + rowBytes;
  const p = r + rowBytes;
  const ap = p + rowBytes;
  const w = ap + rowBytes;
  const kz = w + <usize>SMALL_ROW * rowBytes;
  const c1: f32 = <f32>1.0 + alpha;
  for (let pass = 0; pass < 2; pass++) {
    for (let row = lo; row < hi; row++) {
      const to = target + <usize>row * rowBytes;
      const h0 = load<i32>(ptr + (<usize>row << 2));
      const h1 = load<i32>(ptr + (<usize>(row + 1) << 2));
      const small = h1 - h0 <= SMALL_ROW;
      if (small != (pass == 0)) continue;
      if (h0 == h1) {
        for (let f: usize = 0; f < rowBytes; f += 16) v128.store(to + f, f32x4.splat(0));
        if (loss != 0) store<f64>(loss + (<usize>row << 3), 0);
        continue;
      }
      if (small) solveSmall(idx, h0, h1, other, gramInv, ds, alpha, x, w, kz);
      else {
        memory.copy(x, to, rowBytes);
        // r = b - A x = Σ_j (c1 - α s_j) y_j - G x
        matVec(gram, x, r, ds);
        for (let f: usize = 0; f < rowBytes; f += 16) v128.store(r + f, f32x4.neg(v128.load(r + f)));
        accumulate(idx, h0, h1, other, ds, x, c1, -alpha, r);
        let rs = <f64>dotV(r, r, rowBytes);
        if (rs > 1e-20) {
          memory.copy(p, r, rowBytes);
          for (let step = 0; step < cgSteps; step++) {
            // ap = A p = G p + α Σ_j (y_j·p) y_j
            matVec(gram, p, ap, ds);
            accumulate(idx, h0, h1, other, ds, p, 0, alpha, ap);
            const pap = <f64>dotV(p, ap, rowBytes);
            if (!(pap > 0)) break;
            const st = f32x4.splat(<f32>(rs / pap));
            for (let f: usize = 0; f < rowBytes; f += 16) {
              v128.store(x + f, f32x4.add(v128.load(x + f), f32x4.mul(st, v128.load(p + f))));
              v128.store(r + f, f32x4.sub(v128.load(r + f), f32x4.mul(st, v128.load(ap + f))));
            }
            const rsNew = <f64>dotV(r, r, rowBytes);
            if (rsNew < 1e-20) break;
            const beta = f32x4.splat(<f32>(rsNew / rs));
            for (let f: usize = 0; f < rowBytes; f += 16) v128.store(p + f, f32x4.add(v128.load(r + f), f32x4.mul(beta, v128.load(p + f))));
            rs = rsNew;
          }
        }
      }
      memory.copy(to, x, rowBytes);
      if (loss != 0) {
        let l: f64 = 0;
        for (let h = h0; h < h1; h++) {
          const s = <f64>dotV(other + <usize>load<i32>(idx + (<usize>h << 2)) * rowBytes, x, rowBytes);
          l += <f64>c1 * (1 - s) * (1 - s) - s * s;
        }
        store<f64>(loss + (<usize>row << 3), l);
      }
    }
  }
}

// out (f32 ds x ds, upper triangle by 4-column groups: entries (a, b) with b >= a & ~3) =
// Σ f_r f_rᵀ over the rows r in [lo, hi) with positives (ptr[r+1] > ptr[r]).
export function rowsGram(ptr: usize, f: usize, ds: i32, lo: i32, hi: i32, out: usize): void {
  const rowBytes = <usize>ds << 2;
  memory.fill(out, 0, <usize>ds * rowBytes);
  for (let row = lo; row < hi; row++) {
    if (load<i32>(ptr + (<usize>(row + 1) << 2)) == load<i32>(ptr + (<usize>row << 2))) continue;
    const fr = f + <usize>row * rowBytes;
    for (let a = 0; a < ds; a++) {
      const fa = v128.load32_splat(fr + (<usize>a << 2));
      const o = out + <usize>a * rowBytes;
      for (let b: usize = (<usize>a & ~3) << 2; b < rowBytes; b += 16) v128.store(o + b, f32x4.add(v128.load(o + b), f32x4.mul(fa, v128.load(fr + b))));
    }
  }
}

// out (f64 ds x ds, full symmetric) = Σ_b parts[b] (f32 ds x ds from rowsGram), in block order.
export function sumGrams(parts: usize, nBlocks: i32, ds: i32, out: usize): void {
  const rowBytes = <usize>ds << 2;
  const partBytes = <usize>ds * rowBytes;
  memory.fill(out, 0, partBytes << 1);
  for (let q = 0; q < nBlocks; q++) {
    const part = parts + <usize>q * partBytes;
    for (let a = 0; a < ds; a++) {
      const src = part + <usize>a * rowBytes;
      const dst = out + (<usize>a * rowBytes << 1);
      for (let b = a; b < ds; b++) store<f64>(dst + (<usize>b << 3), load<f64>(dst + (<usize>b << 3)) + <f64>load<f32>(src + (<usize>b << 2)));
    }
  }
  for (let a = 0; a < ds; a++) for (let b = 0; b < a; b++) store<f64>(out + (<usize>(a * ds + b) << 3), load<f64>(out + (<usize>(b * ds + a) << 3)));
}

export function heapBase(): usize {
  return __heap_base;
}
