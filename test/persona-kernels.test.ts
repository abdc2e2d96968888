import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adamArenaRows, arenaViews, candidateDots, chunkKernel, personaArena } from '../src/math/persona-kernels.js';
import { Rng } from '../src/math/rng.js';
import { dot } from '../src/models/personas-cluster.js';
import { exactSoftmax, PersonasConfig } from '../src/models/personas-config.js';
import { csrFromPairs, columnCounts, transpose } from '../src/data/csr.js';
import { CHUNKS, touch } from '../src/models/item-train.js';
import type { TrainSet } from '../src/models/model.js';
import { PersonaAdam, PIECE_ROWS } from '../src/models/personas-adam.js';
import { personaTrainState } from '../src/models/personas-state.js';

/** Float32 values of mixed magnitude (so that the float64 rounding of every order differs). */
function randomF32(n: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.next() - 0.5) * Math.pow(10, Math.floor(rng.next() * 6) - 3));
}

describe('persona kernels (assembly/personas.ts)', () => {
  // d = 7 and 13 exercise the tail (d mod 4) that the plain loop adds to its first partial sum
  for (const d of [4, 7, 13, 64]) {
    it(`zRows and backRows reproduce the plain float64 loops bit for bit (d = ${d})`, () => {
      const rng = new Rng(d);
      const nItems = 50;
      const K = 3;
      const arena = personaArena(nItems, d, 2, K, 40);
      const { Q, gQ } = arenaViews(arena, nItems);
      Q.set(randomF32(nItems * d, rng));
      gQ[1]!.set(randomF32(nItems * d, rng));
      const kern = chunkKernel(arena, 1);
      const list = [3, 17, 0, 49, 25, 8];
      kern.list.set(list);
      for (let x = 0; x < K * d; x++) kern.P[x] = (rng.next() - 0.5) * 3.7;
      kern.on.set([1, 0, 1]);
      kern.z.fill(7);
      kern.k.zRows(arena.Q, d, kern.s.P, K, kern.s.on, kern.s.list, list.length, kern.s.z);
      for (let c = 0; c < list.length; c++) {
        for (let q = 0; q < K; q++) {
          const want = q === 1 ? 7 : dot(Q, list[c]! * d, kern.P, q * d, d);
          assert.equal(kern.z[c * K + q], want, `z[${c}, ${q}]`);
        }
      }
      // backward over entries 0, 2, 3, 5 with some zero coefficients
      const entries = [0, 2, 3, 5];
      kern.idx.set(entries);
      for (let x = 0; x < list.length * K; x++) kern.coef[x] = x % 4 === 1 ? 0 : (rng.next() - 0.5) * 0.3;
      for (let x = 0; x < K * d; x++) kern.gP[x] = (rng.next() - 0.5) * 0.01;
      const gP = Float64Array.from(kern.gP);
      const g = Float32Array.from(gQ[1]!);
      for (const c of entries) {
        const qo = list[c]! * d;
        for (let q = 0; q < K; q++) {
          const cq = kern.coef[c * K + q]!;
          if (cq === 0) continue;
          for (let x = 0; x < d; x++) {
            gP[q * d + x] += cq * Q[qo + x]!;
            g[qo + x] = g[qo + x]! + cq * kern.P[q * d + x]!;
          }
        }
      }
      kern.k.backRows(arena.Q, arena.gQ[1]!, d, kern.s.P, kern.s.gP, K, kern.s.list, kern.s.coef, kern.s.idx, entries.length);
      assert.deepEqual(Array.from(kern.gP), Array.from(gP));
      assert.deepEqual(Array.from(gQ[1]!), Array.from(g));
      // chunk 0's gradient buffer is untouched
      assert.ok(arenaViews(arena, nItems).gQ[0]!.every((v) => v === 0));
    });
  }

  for (const [d, masks] of [[8, [7, 7, 7]], [6, [7, 7, 7]], [8, [5, 2, 7]], [7, [1, 6, 4]]] as const) {
    it(`adamRows steps the listed W and Q rows as the plain float64 loop does over the chunks in each row's mask, and zeroes those gradients (d = ${d}, masks ${masks})`, () => {
      const rng = new Rng(11 + d);
      const nItems = 12;
      const arena = personaArena(nItems, d, 4, 2, 4);
      const buf = arena.memory.buffer;
      const v = arenaViews(arena, nItems);
      const n = nItems * d;
      const M = [new Float32Array(buf, arena.mW, n), new Float32Array(buf, arena.mQ, n)];
      const V = [new Float32Array(buf, arena.vW, n), new Float32Array(buf, arena.vQ, n)];
      for (const a of [v.W, v.Q, ...v.gW, ...v.gQ, ...M]) a.set(randomF32(n, rng));
      for (const a of V) a.set(randomF32(n, rng).map(Math.abs));
      const rows = [7, 2, 10];
      new Int32Array(buf, arena.rows, 3).set(rows);
      new Uint8Array(buf, arena.masks, 3).set(masks);
      const c1 = new Float64Array(buf, arena.c1, 3);
      const c2 = new Float64Array(buf, arena.c2, 3);
      rows.forEach((_, r) => {
        c1[r] = 1 / (1 - Math.pow(0.9, r + 1));
        c2[r] = 1 / (1 - Math.pow(0.999, r + 1));
      });
      const [lr, l2, chunks] = [0.01, 0.1, 3];
      const want = [v.W, v.Q].map((X, s) => {
        const x2 = Float32Array.from(X);
        const m2 = Float32Array.from(M[s]!);
        const v2 = Float32Array.from(V[s]!);
        const G = (s === 0 ? v.gW : v.gQ).map((g) => Float32Array.from(g));
        rows.forEach((j, r) => {
          for (let x = j * d; x < (j + 1) * d; x++) {
            let g = 0;
            for (let c = 0; c < chunks; c++) {
              if (!(masks[r]! & (1 << c))) continue;
              g += G[c]![x]!;
              G[c]![x] = 0;
            }
            g += l2 * x2[x]!;
            const m = (m2[x] = 0.9 * m2[x]! + (1 - 0.9) * g);
            const vv = (v2[x] = 0.999 * v2[x]! + (1 - 0.999) * g * g);
            x2[x] = x2[x]! - (lr * m * c1[r]!) / (Math.sqrt(vv * c2[r]!) + 1e-8);
          }
        });
        return { x2, m2, v2, G };
      });
      adamArenaRows(arena, chunks, 0, rows.length, lr, l2);
      [v.W, v.Q].forEach((X, s) => {
        assert.deepEqual(Array.from(X), Array.from(want[s]!.x2));
        assert.deepEqual(Array.from(M[s]!), Array.from(want[s]!.m2));
        assert.deepEqual(Array.from(V[s]!), Array.from(want[s]!.v2));
        (s === 0 ? v.gW : v.gQ).forEach((g, c) => assert.deepEqual(Array.from(g), Array.from(want[s]!.G[c]!), `chunk ${c}`));
      });
    });
  }

  for (const [d, whole] of [[64, true], [7, true], [5, false]] as const) {
    it(`buildP and backW reproduce the plain loops over the kept history items bit for bit (d = ${d}, whole ${whole})`, () => {
      const rng = new Rng(31 + d);
      const nItems = 40;
      const k = 3;
      const K = whole ? k + 1 : k;
      const arena = personaArena(nItems, d, 2, k + 1, 30);
      const v = arenaViews(arena, nItems);
      v.W.set(randomF32(nItems * d, rng));
      v.gW[1]!.set(randomF32(nItems * d, rng));
      const kern = chunkKernel(arena, 1);
      const items = [5, 0, 39, 12, 5, 20, 7, 33, 1];
      const groups = [0, 2, 1, 0, 2, 2, 1, 0, 1];
      const roles = [0, 1, 0, 0, 0, 1, 0, 0, 1];
      const scale = Array.from({ length: K }, () => 0.1 + rng.next());
      kern.items.set(items);
      kern.groups.set(groups);
      kern.roles.set(roles);
      kern.scale.set(scale);
      kern.P.fill(9);
      const n = items.length;
      kern.g.buildP(arena.W, d, kern.s.items, kern.s.roles, kern.s.groups, n, k, whole ? 1 : 0, kern.s.scale, kern.s.P);
      const P = new Float64Array(K * d);
      for (let h = 0; h < n; h++) {
        if (roles[h]) continue;
        for (let x = 0; x < d; x++) P[groups[h]! * d + x] += v.W[items[h]! * d + x]!;
        if (whole) for (let x = 0; x < d; x++) P[k * d + x] += v.W[items[h]! * d + x]!;
      }
      for (let q = 0; q < K; q++) for (let x = 0; x < d; x++) P[q * d + x] *= scale[q]!;
      assert.deepEqual(Array.from(kern.P.subarray(0, K * d)), Array.from(P));
      for (let x = 0; x < K * d; x++) kern.gP[x] = (rng.next() - 0.5) * Math.pow(10, Math.floor(rng.next() * 4) - 2);
      const gW = Float32Array.from(v.gW[1]!);
      for (let h = 0; h < n; h++) {
        if (roles[h]) continue;
        const wo = items[h]! * d;
        for (let x = 0; x < d; x++) gW[wo + x] = gW[wo + x]! + scale[groups[h]!]! * kern.gP[groups[h]! * d + x]!;
        if (whole) for (let x = 0; x < d; x++) gW[wo + x] = gW[wo + x]! + scale[k]! * kern.gP[k * d + x]!;
      }
      kern.g.backW(arena.gW[1]!, d, kern.s.items, kern.s.roles, kern.s.groups, n, k, whole ? 1 : 0, kern.s.scale, kern.s.gP);
      assert.deepEqual(Array.from(v.gW[1]!), Array.from(gW));
      assert.ok(v.gW[0]!.every((x) => x === 0), 'the other chunk is untouched');
    });
  }

  it('the kernel exp is Math.exp bit for bit (edge cases, the softmax range, random bit patterns)', () => {
    const g = chunkKernel(personaArena(4, 4, 1, 1, 4), 0).g;
    const rng = new Rng(77);
    const xs = [0, -0, 1, -1, 0.5, 709.78, 709.79, -745.1, -745.2, -708.4, -720, Infinity, -Infinity, NaN, 1e-300, -1e-9, 0.34657359027997264, 1.0397207708399179, -1.0397207708399179];
    for (let i = 0; i < 200_000; i++) xs.push(-60 * rng.next(), (rng.next() - 0.5) * 4, -1460 * rng.next() + 710);
    const bits = new Float64Array(1);
    const words = new Uint32Array(bits.buffer);
    for (let i = 0; i < 50_000; i++) {
      words[0] = rng.nextU32();
      words[1] = rng.nextU32();
      xs.push(bits[0]!);
    }
    let differ = 0;
    for (const x of xs) if (!Object.is(g.exp(x), Math.exp(x))) differ++;
    assert.equal(differ, 0);
  });

  it('logitRows and coefRows reproduce the plain softmax loops bit for bit', () => {
    const rng = new Rng(9);
    const nItems = 30;
    const K = 3;
    const arena = personaArena(nItems, 4, 1, K, 20);
    const v = arenaViews(arena, nItems);
    v.B.set(randomF32(nItems, rng));
    const kern = chunkKernel(arena, 0);
    const ks = kern.s;
    const list = [4, 9, 0, 29, 13, 7, 21, 2];
    const [len, nt] = [list.length, 3];
    const logw = Array.from({ length: len }, (_, c) => (c < nt ? 0 : Math.log(1 + rng.next())));
    kern.list.set(list);
    kern.logw.set(logw);
    kern.on.set([1, 0, 1]);
    const z0 = Array.from({ length: len * K }, () => (rng.next() - 0.5) * 20);
    kern.z.set(z0);
    kern.g.logitRows(arena.B, ks.list, ks.logw, len, K, ks.on, ks.z, ks.mx, ks.sums);
    const z = z0.slice();
    for (const q of [0, 2]) {
      let m = -Infinity;
      for (let c = 0; c < len; c++) {
        z[c * K + q] = z[c * K + q]! + v.B[list[c]!]! + logw[c]! + 0;
        m = Math.max(m, z[c * K + q]!);
      }
      let sum = 0;
      for (let c = 0; c < len; c++) sum += Math.exp(z[c * K + q]! - m);
      assert.equal(kern.mx[q], m);
      assert.equal(kern.sums[q], sum);
    }
    assert.deepEqual(Array.from(kern.z.subarray(0, len * K)), z);
    // coefficients: R_q exp(z - lse_q) - resp for the targets; entry 5 falls below skipEps
    const lse = [3.1, 0, 2.2];
    const R = [0.7, 0, 2.3];
    kern.lse.set(lse);
    kern.R.set(R);
    const resp = Array.from({ length: nt * K }, () => rng.next());
    kern.resp.set(resp);
    z[5 * K] = -200;
    z[5 * K + 2] = -200;
    kern.z.set(z);
    const skipEps = 1e-4;
    const n = kern.g.coefRows(ks.z, K, ks.on, ks.lse, ks.R, ks.resp, nt, len, skipEps, ks.coef, ks.idx, ks.tots);
    const idx: number[] = [];
    const tots: number[] = [];
    for (let c = 0; c < len; c++) {
      let tot = 0;
      let mass = 0;
      for (const q of [0, 1, 2]) {
        if (q === 1) {
          assert.equal(kern.coef[c * K + q], 0);
          continue;
        }
        const sm = R[q]! * Math.exp(z[c * K + q]! - lse[q]!);
        mass += sm;
        const g = sm - (c < nt ? resp[c * K + q]! : 0);
        assert.equal(kern.coef[c * K + q], g);
        tot += g;
      }
      if (c >= nt && mass < skipEps) continue;
      idx.push(c);
      tots.push(tot);
    }
    assert.equal(idx.includes(5), false);
    assert.equal(n, idx.length);
    assert.deepEqual(Array.from(kern.idx.subarray(0, n)), idx);
    assert.deepEqual(Array.from(kern.tots.subarray(0, n)), tots);
  });

  it('logitRows and coefRows match the plain loops for odd and even K and list lengths, off components and extreme logits', () => {
    const rng = new Rng(91);
    const nItems = 40;
    const Kmax = 6;
    const arena = personaArena(nItems, 4, 1, Kmax, 24);
    const v = arenaViews(arena, nItems);
    v.B.set(randomF32(nItems, rng));
    const kern = chunkKernel(arena, 0);
    const ks = kern.s;
    let cases = 0;
    for (const K of [1, 2, 3, 4, 5, 6]) {
      for (const len of [1, 2, 3, 8, 11, 24]) {
        const nt = Math.max(1, Math.min(len - 1, 3));
        const list = Array.from({ length: len }, () => Math.floor(rng.next() * nItems));
        const logw = Array.from({ length: len }, (_, c) => (c < nt ? 0 : Math.log(0.1 + rng.next())));
        // every other case turns one component off (the second lane of a pair when K >= 2)
        const on = Array.from({ length: K }, (_, q) => (K > 1 && (K + len) % 2 === 0 && q === 1 ? 0 : 1));
        // logits over the softmax range and, in a few entries, far past exp's overflow and underflow
        const z0 = Array.from({ length: len * K }, (_, x) => (x % 7 === 3 ? (rng.next() < 0.5 ? -800 : 750) : (rng.next() - 0.5) * 40));
        kern.list.set(list);
        kern.logw.set(logw);
        kern.on.set(on);
        kern.z.set(z0);
        kern.g.logitRows(arena.B, ks.list, ks.logw, len, K, ks.on, ks.z, ks.mx, ks.sums);
        const z = z0.slice();
        for (let q = 0; q < K; q++) {
          if (!on[q]) continue;
          let m = -Infinity;
          for (let c = 0; c < len; c++) {
            z[c * K + q] = z[c * K + q]! + v.B[list[c]!]! + logw[c]! + 0;
            m = Math.max(m, z[c * K + q]!);
          }
          let sum = 0;
          for (let c = 0; c < len; c++) sum += Math.exp(z[c * K + q]! - m);
          assert.equal(kern.mx[q], m, `K ${K} len ${len} q ${q}`);
          assert.equal(kern.sums[q], sum, `K ${K} len ${len} q ${q}`);
        }
        assert.deepEqual(Array.from(kern.z.subarray(0, len * K)), z);
        const lse = Array.from({ length: K }, (_, q) => (on[q] ? kern.mx[q]! + Math.log(kern.sums[q]!) : 0));
        const R = Array.from({ length: K }, (_, q) => (on[q] ? rng.next() * 3 : 0));
        const resp = Array.from({ length: nt * K }, () => rng.next());
        kern.lse.set(lse);
        kern.R.set(R);
        kern.resp.set(resp);
        const skipEps = 1e-3;
        const n = kern.g.coefRows(ks.z, K, ks.on, ks.lse, ks.R, ks.resp, nt, len, skipEps, ks.coef, ks.idx, ks.tots);
        const idx: number[] = [];
        const tots: number[] = [];
        for (let c = 0; c < len; c++) {
          let tot = 0;
          let mass = 0;
          for (let q = 0; q < K; q++) {
            if (!on[q]) {
              assert.equal(kern.coef[c * K + q], 0);
              continue;
            }
            const sm = R[q]! * Math.exp(z[c * K + q]! - lse[q]!);
            mass += sm;
            const g = sm - (c < nt ? resp[c * K + q]! : 0);
            assert.equal(kern.coef[c * K + q], g, `K ${K} len ${len} coef ${c}, ${q}`);
            tot += g;
          }
          if (c >= nt && mass < skipEps) continue;
          idx.push(c);
          tots.push(tot);
        }
        assert.equal(n, idx.length, `K ${K} len ${len}`);
        assert.deepEqual(Array.from(kern.idx.subarray(0, n)), idx);
        assert.deepEqual(Array.from(kern.tots.subarray(0, n)), tots);
        cases++;
      }
    }
    assert.equal(cases, 36);
  });

  it('candidateDots equals the plain dot of float32 rows, for every candidate and component', () => {
    const rng = new Rng(5);
    const d = 10;
    const Q = randomF32(30 * d, rng);
    const P = randomF32(4 * d, rng);
    const cand = Int32Array.from([1, 4, 5, 9, 22, 29]);
    for (const [base, k] of [[0, 4], [d, 2], [3 * d, 1]] as const) {
      const z = candidateDots(Q, P, base, k, d, cand);
      for (let c = 0; c < cand.length; c++) for (let q = 0; q < k; q++) assert.equal(z[c * k + q], dot(Q, cand[c]! * d, P, base + q * d, d));
    }
  });

  it('exact softmax only within both the candidate cap and the users x candidates cap', () => {
    const cfg = PersonasConfig.parse({});
    assert.equal(exactSoftmax(610, 9742, cfg), true); // ml-latest-small
    assert.equal(exactSoftmax(2500, 2000, cfg), true); // the default world
    assert.equal(exactSoftmax(20_000, 20_000, cfg), false);
    assert.equal(exactSoftmax(100_000, 20_000, cfg), false);
    assert.equal(exactSoftmax(10, 20_001, cfg), false); // over the candidate cap
    assert.equal(exactSoftmax(5000, 10_000, cfg), true); // exactly the work cap
    assert.equal(exactSoftmax(5001, 10_000, cfg), false);
    assert.equal(exactSoftmax(1, 1, { fullSoftmax: 20000, fullSoftmaxWork: 0 }), false);
  });
});

describe('the persona optimiser (src/models/personas-adam.ts)', () => {
  /** A training state over `nItems` items (two users, every item a candidate) and its optimiser. */
  function stateOf(nItems: number, d: number): { st: ReturnType<typeof personaTrainState>; opt: PersonaAdam } {
    const users = Int32Array.from({ length: nItems }, (_, j) => j % 2);
    const items = Int32Array.from({ length: nItems }, (_, j) => j);
    const userItems = csrFromPairs(2, nItems, users, items);
    const train: TrainSet = {
      nUsers: 2, nItems, userItems, itemUsers: transpose(userItems), itemPopularity: columnCounts(userItems),
      candidates: items, itemRanks: items, categories: null,
    };
    const cfg = PersonasConfig.parse({ dim: d });
    const st = personaTrainState(train, cfg, items, { ptr: new Int32Array(nItems + 1), idx: new Int32Array(0), val: new Float32Array(0) }, 10, new Rng(3));
    return { st, opt: new PersonaAdam(st, true) };
  }

  it('a step run piece by piece in any order equals the step, and steps each touched row once with the chunks that touched it', () => {
    const [nItems, d] = [1500, 6];
    const a = stateOf(nItems, d);
    const b = stateOf(nItems, d);
    assert.deepEqual(a.st.W, b.st.W);
    const rng = new Rng(8);
    // three batches; chunks touch overlapping random rows (more than PIECE_ROWS in a chunk) with random gradients
    for (let batch = 0; batch < 3; batch++) {
      for (let c = 0; c < CHUNKS; c++) {
        const n = Math.floor(rng.next() * 2.5 * PIECE_ROWS);
        for (let r = 0; r < n; r++) {
          const j = Math.floor(rng.next() * (nItems / 2)) * (c % 2 === 0 ? 1 : 2);
          const gw = randomF32(d, rng);
          const gq = randomF32(d, rng);
          const gb = rng.next() - 0.5;
          for (const s of [a.st, b.st]) {
            touch(s, c, j);
            for (let x = 0; x < d; x++) {
              s.gW[c]![j * d + x] += gw[x]!;
              s.gQ[c]![j * d + x] += gq[x]!;
            }
            s.gB[c]![j] += gb;
          }
        }
      }
      const touched = new Set<number>();
      for (let c = 0; c < CHUNKS; c++) for (let r = 0; r < a.st.nTouched[c]!; r++) touched.add(a.st.touched[c]![r]!);
      const before = Int32Array.from(a.opt.shared.steps);
      a.opt.step(CHUNKS, 0.01, 0.1);
      const pieces = b.opt.pieces(CHUNKS);
      assert.ok(pieces > CHUNKS, 'several pieces per chunk');
      for (let p = pieces - 1; p >= 0; p--) b.opt.stepPiece(p, CHUNKS, 0.01, 0.1);
      b.opt.clear(CHUNKS);
      for (let j = 0; j < nItems; j++) assert.equal(a.opt.shared.steps[j], before[j]! + (touched.has(j) ? 1 : 0), `steps of row ${j}`);
      assert.deepEqual(b.opt.shared.steps, a.opt.shared.steps);
      assert.deepEqual(b.st.W, a.st.W);
      assert.deepEqual(b.st.Q, a.st.Q);
      assert.deepEqual(b.st.B, a.st.B);
      // the gradient buffers and touch marks are clear for the next batch
      for (let c = 0; c < CHUNKS; c++) {
        assert.equal(a.st.nTouched[c], 0);
        assert.ok(a.st.gW[c]!.every((x) => x === 0) && a.st.gQ[c]!.every((x) => x === 0) && a.st.gB[c]!.every((x) => x === 0));
        assert.ok(a.st.marks[c]!.every((x) => x === 0) && b.st.marks[c]!.every((x) => x === 0));
      }
    }
  });

  it('steps a row the same as ItemAdam whichever chunks touched it', () => {
    // one row touched by chunks 1 and 3 only: W moves by Adam on the sum of their gradients plus l2
    const [nItems, d] = [10, 4];
    const { st, opt } = stateOf(nItems, d);
    const j = 7;
    const w0 = Array.from(st.W.subarray(j * d, (j + 1) * d));
    touch(st, 1, j);
    touch(st, 3, j);
    st.gW[1]!.set([0.5, -0.25, 0.125, 1], j * d);
    st.gW[3]!.set([0.25, 0.25, -0.5, 2], j * d);
    opt.step(CHUNKS, 0.01, 0.1);
    for (let x = 0; x < d; x++) {
      // chunk 1's then chunk 3's float32 entries summed in float64, plus l2 W; moments from zero, step count 1
      const g = [0.5, -0.25, 0.125, 1][x]! + [0.25, 0.25, -0.5, 2][x]! + 0.1 * w0[x]!;
      const m = (1 - 0.9) * g;
      const v = (1 - 0.999) * g * g;
      const want = Math.fround(w0[x]! - (0.01 * m * (1 / (1 - 0.9))) / (Math.sqrt(v * (1 / (1 - 0.999))) + 1e-8));
      assert.equal(st.W[j * d + x], want, `W[${j}, ${x}]`);
    }
  });
});
