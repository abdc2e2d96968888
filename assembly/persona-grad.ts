// The per-user row loops of the persona model's gradient (src/models/personas-train.ts userGrad,
// driven by src/math/persona-kernels.ts): building the components from the kept history items and
// sending the components' gradient back to those items' context rows. Compiled by
// scripts/build-wasm.mjs into build/wasm/persona-grad.wasm over the same shared memory as
// build/wasm/personas.wasm (the arena).
//
// Both reproduce the plain loops bit for bit: every element gets the same float64 operations in
// the same order (the SIMD lanes run over x, one element each); a float32 row is rounded once per
// update, after the float64 add. Pointers are byte offsets into the imported memory.

// P (K = k + whole rows of d float64) = for each kept history item h (roles[h] == 0), in order:
// P_{assign[h]} += W_{items[h]} and, with whole, P_k += W_{items[h]}; then P_q *= scale[q].
// items, assign: n int32; roles: n bytes; scale: K float64.
export function buildP(W: usize, d: i32, items: usize, roles: usize, assign: usize, n: i32, k: i32, whole: i32, scale: usize, P: usize): void {
  const K = k + whole;
  const rowW = <usize>d << 2;
  const rowP = <usize>d << 3;
  const d2 = d & ~1;
  memory.fill(P, 0, <usize>K * rowP);
  for (let h = 0; h < n; h++) {
    if (load<u8>(roles + <usize>h) != 0) continue;
    const wo = W + <usize>load<i32>(items + (<usize>h << 2)) * rowW;
    addRow(P + <usize>load<i32>(assign + (<usize>h << 2)) * rowP, wo, d, d2);
    if (whole != 0) addRow(P + <usize>k * rowP, wo, d, d2);
  }
  for (let q = 0; q < K; q++) {
    const po = P + <usize>q * rowP;
    const s = load<f64>(scale + (<usize>q << 3));
    const sv = f64x2.splat(s);
    let x = 0;
    for (; x < d2; x += 2) {
      const p = po + (<usize>x << 3);
      v128.store(p, f64x2.mul(v128.load(p), sv));
    }
    for (; x < d; x++) store<f64>(po + (<usize>x << 3), load<f64>(po + (<usize>x << 3)) * s);
  }
}

// p[x] += w[x] (float64 row p, float32 row w)
@inline
function addRow(p: usize, w: usize, d: i32, d2: i32): void {
  let x = 0;
  for (; x < d2; x += 2) {
    const a = p + (<usize>x << 3);
    v128.store(a, f64x2.add(v128.load(a), f64x2.promote_low_f32x4(v128.load64_zero(w + (<usize>x << 2)))));
  }
  for (; x < d; x++) store<f64>(p + (<usize>x << 3), load<f64>(p + (<usize>x << 3)) + <f64>load<f32>(w + (<usize>x << 2)));
}

// For each kept history item h (roles[h] == 0), in order, j = items[h], q = assign[h]:
// gW_j = f32(gW_j + scale[q] gP_q) and then, with whole, gW_j = f32(gW_j + scale[k] gP_k).
export function backW(gW: usize, d: i32, items: usize, roles: usize, assign: usize, n: i32, k: i32, whole: i32, scale: usize, gP: usize): void {
  const rowW = <usize>d << 2;
  const rowP = <usize>d << 3;
  const d2 = d & ~1;
  const sk = load<f64>(scale + (<usize>k << 3));
  for (let h = 0; h < n; h++) {
    if (load<u8>(roles + <usize>h) != 0) continue;
    const go = gW + <usize>load<i32>(items + (<usize>h << 2)) * rowW;
    const q = load<i32>(assign + (<usize>h << 2));
    axpyRow(go, load<f64>(scale + (<usize>q << 3)), gP + <usize>q * rowP, d, d2);
    if (whole != 0) axpyRow(go, sk, gP + <usize>k * rowP, d, d2);
  }
}

// g[x] = f32(g[x] + s p[x]) (float32 row g, float64 row p)
@inline
function axpyRow(g: usize, s: f64, p: usize, d: i32, d2: i32): void {
  const sv = f64x2.splat(s);
  let x = 0;
  for (; x < d2; x += 2) {
    const a = g + (<usize>x << 2);
    const v = f64x2.add(f64x2.promote_low_f32x4(v128.load64_zero(a)), f64x2.mul(sv, v128.load(p + (<usize>x << 3))));
    v128.store64_lane(a, f32x4.demote_f64x2_zero(v), 0);
  }
  for (; x < d; x++) store<f32>(g + (<usize>x << 2), <f32>(<f64>load<f32>(g + (<usize>x << 2)) + s * load<f64>(p + (<usize>x << 3))));
}
