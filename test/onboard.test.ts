import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { rowOf } from '../src/data/csr.js';
import { categoriesOf } from '../src/data/dataset.js';
import { makeSplit } from '../src/data/split.js';
import { Rng } from '../src/math/rng.js';
import { createModel } from '../src/models/registry.js';
import { bald, catalogueChoiceSet, CHOICE_SAMPLE, CHOICE_SAMPLE_ABOVE, createOnboarding, LaplacePosterior, OnboardingSession, sigmoid, symmetricEigen } from '../src/onboard/index.js';
import type { OnboardingBasis } from '../src/onboard/basis.js';
import { choiceMoments, choiceSoftmax, estimatedSoftmax, type ChoiceSet } from '../src/onboard/posterior.js';
import { simulatedAnswer } from '../src/study/onboarding.js';
import { worldToLog } from '../src/synth/world.js';

test('Laplace posterior: one logistic observation in 1-D matches the hand-solved MAP and variance', () => {
  const post = new LaplacePosterior(Float64Array.of(0), 1);
  post.observe({ d: Float64Array.of(1), offset: 0, y: 1, c: 1 });
  // MAP: w = 1 - sigma(w) (gradient of -w^2/2 + log sigma(w)); fixed point by iteration
  let w = 0;
  for (let i = 0; i < 200; i++) w = 1 - sigmoid(w);
  assert.ok(Math.abs(w - 0.4011) < 1e-3);
  assert.ok(Math.abs(post.mean[0]! - w) < 1e-6, `${post.mean[0]} vs ${w}`);
  const s = sigmoid(w);
  assert.ok(Math.abs(post.cov[0]! - 1 / (1 + s * (1 - s))) < 1e-6);
  // a second, opposite observation pulls the MAP back to 0 by symmetry
  post.observe({ d: Float64Array.of(1), offset: 0, y: 0, c: 1 });
  assert.ok(Math.abs(post.mean[0]!) < 1e-9);
  assert.ok(Math.abs(post.cov[0]! - 1 / (1 + 2 * 0.25)) < 1e-9);
});

test('Laplace posterior: an offset and a weight enter as in the likelihood sigma(offset + w.d)^c', () => {
  const post = new LaplacePosterior(Float64Array.of(0, 0), Float64Array.of(1, 4));
  post.observe({ d: Float64Array.of(0, 2), offset: 1, y: 0, c: 2 });
  // only w1 moves: stationarity w1/4 + 2 * 2 * sigma(1 + 2 w1) = 0
  const w1 = post.mean[1]!;
  assert.equal(post.mean[0], 0);
  assert.ok(Math.abs(w1 / 4 + 4 * sigmoid(1 + 2 * w1)) < 1e-8, `w1 ${w1}`);
});

test('Laplace posterior: a softmax choice moves the weights toward the chosen item', () => {
  const post = new LaplacePosterior(Float64Array.of(0), 1);
  post.choiceSet = { n: 3, x: Float64Array.of(-1, 0, 1), offset: Float64Array.of(0, 0, 0) };
  post.choose(2);
  // stationarity: w + E_p[x] - 1 = 0 with p = softmax(w x)
  const w = post.mean[0]!;
  const e = [Math.exp(-w), 1, Math.exp(w)];
  const z = e[0]! + e[1]! + e[2]!;
  assert.ok(w > 0);
  assert.ok(Math.abs(w + (e[2]! - e[0]!) / z - 1) < 1e-8);
});

test('Laplace posterior: a choice set estimated from a sample that holds each row once fits as the set whose rows are each there twice', () => {
  // the whole set is every row of `half` twice, so its softmax has the same moments as half's and
  // log Z = log Z(half) + log 2: the estimate (half, scaled by n / estimate.n = 2) is exact here
  const rng = new Rng(3);
  const M = 3;
  const n = 40;
  const hx = Float64Array.from({ length: n * M }, () => rng.next() * 2 - 1);
  const ho = Float64Array.from({ length: n }, () => rng.next() - 0.5);
  const half: ChoiceSet = { n, x: hx, offset: ho };
  const twice = { n: 2 * n, x: new Float64Array(2 * n * M), offset: new Float64Array(2 * n) };
  for (let r = 0; r < n; r++) {
    for (const c of [r, n + r]) {
      twice.x.set(hx.subarray(r * M, (r + 1) * M), c * M);
      twice.offset[c] = ho[r]!;
    }
  }
  const fit = (set: ChoiceSet): LaplacePosterior => {
    const post = new LaplacePosterior(new Float64Array(M), 1);
    post.choiceSet = set;
    for (const r of [3, 17, 40 + 5, 29]) post.choices.push({ index: r, c: 1 });
    post.refit();
    return post;
  };
  const exact = fit(twice);
  const estimated = fit({ ...twice, estimate: half });
  for (let m = 0; m < M; m++) assert.ok(Math.abs(exact.mean[m]! - estimated.mean[m]!) < 1e-9, `mean ${m}`);
  for (let q = 0; q < M * M; q++) assert.ok(Math.abs(exact.cov[q]! - estimated.cov[q]!) < 1e-9, `cov ${q}`);
  const w = Float64Array.of(0.3, -0.2, 0.5);
  assert.ok(Math.abs(estimatedSoftmax({ ...twice, estimate: half }, w).logZ - choiceSoftmax(twice, w).logZ) < 1e-12);
  // and an estimate is used: a sample of a few rows moves the fit
  const few = fit({ ...twice, estimate: { n: 4, x: hx.slice(0, 4 * M), offset: ho.slice(0, 4) } });
  assert.ok(Math.abs(few.mean[0]! - exact.mean[0]!) > 1e-3);
});

test('the catalogue choice set is estimated from a seeded sample of CHOICE_SAMPLE distinct rows above CHOICE_SAMPLE_ABOVE items only', () => {
  const basisOf = (nItems: number): OnboardingBasis => {
    const M = 2;
    const rng = new Rng(nItems);
    return {
      size: M, nItems, dim: 1, candidates: Int32Array.from({ length: nItems }, (_, i) => i),
      base: Float64Array.from({ length: nItems }, () => rng.next()), dirs: Float64Array.from({ length: M * nItems }, () => rng.next()),
    } as unknown as OnboardingBasis;
  };
  const small = catalogueChoiceSet(basisOf(CHOICE_SAMPLE_ABOVE)).set;
  assert.equal(small.estimate, undefined);
  const b = basisOf(CHOICE_SAMPLE_ABOVE + 1000);
  const big = catalogueChoiceSet(b).set;
  const e = big.estimate!;
  assert.equal(e.n, CHOICE_SAMPLE);
  // each sampled row is a row of the set (its offset and coordinates), in ascending row order, none twice
  let last = -1;
  for (let t = 0; t < e.n; t++) {
    let r = last + 1;
    while (r < big.n && !(big.offset[r] === e.offset[t] && big.x[2 * r] === e.x[2 * t] && big.x[2 * r + 1] === e.x[2 * t + 1])) r++;
    assert.ok(r < big.n, `sample row ${t} is a row of the set after row ${last}`);
    last = r;
  }
  // the same basis contents give the same sample
  assert.deepEqual(catalogueChoiceSet(basisOf(CHOICE_SAMPLE_ABOVE + 1000)).set.estimate!.offset, e.offset);
});

/** The choice moments summed row by row, as the posterior's Hessian first did: the reference of `choiceMoments`. */
function rowByRowMoments(cs: ChoiceSet, n: number, p: Float64Array): { ex: Float64Array; exx: Float64Array } {
  const ex = new Float64Array(n);
  const exx = new Float64Array(n * n);
  for (let r = 0; r < cs.n; r++) {
    const pr = p[r]!;
    if (pr < 1e-12) continue;
    for (let i = 0; i < n; i++) {
      const xi = pr * cs.x[r * n + i]!;
      ex[i] = ex[i]! + xi;
      for (let j = 0; j <= i; j++) exx[i * n + j] = exx[i * n + j]! + xi * cs.x[r * n + j]!;
    }
  }
  return { ex, exx };
}

test('choiceMoments is bit for bit the row-by-row sum, rows with p < 1e-12 skipped', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 19 }),
      fc.integer({ min: 1, max: 60 }),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.double({ min: 0, max: 30, noNaN: true }),
      (dim, rows, seed, scale) => {
        const rng = new Rng(seed);
        const x = Float64Array.from({ length: rows * dim }, () => (rng.next() - 0.5) * 4);
        const cs: ChoiceSet = { n: rows, x, offset: Float64Array.from({ length: rows }, () => (rng.next() - 0.5) * 2 * scale) };
        const w = Float64Array.from({ length: dim }, () => (rng.next() - 0.5) * scale);
        const { p } = choiceSoftmax(cs, w);
        // some rows exactly at and just under the skip threshold
        if (rows > 2) {
          p[0] = 1e-12;
          p[1] = 0.999e-12;
        }
        const ex = new Float64Array(dim);
        const exx = new Float64Array(dim * dim);
        choiceMoments(cs, dim, p, ex, exx);
        const ref = rowByRowMoments(cs, dim, p);
        assert.deepEqual(ex, ref.ex);
        for (let i = 0; i < dim; i++) for (let j = 0; j <= i; j++) assert.ok(Object.is(exx[i * dim + j], ref.exx[i * dim + j]), `exx[${i}][${j}]`);
      },
    ),
    { seed: 11, numRuns: 200 },
  );
});

test('Laplace posterior: a new choice set is refitted on its own softmax, not the last one kept', () => {
  const rng = new Rng(5);
  const set = (): ChoiceSet => ({ n: 50, x: Float64Array.from({ length: 150 }, () => rng.next() - 0.5), offset: Float64Array.from({ length: 50 }, () => rng.next()) });
  const a = set();
  const b = set();
  const fresh = new LaplacePosterior(new Float64Array(3), 1);
  fresh.choiceSet = b;
  fresh.choices.push({ index: 4, c: 1 }, { index: 9, c: 1 });
  fresh.refit();
  const reused = new LaplacePosterior(new Float64Array(3), 1);
  reused.choiceSet = a;
  reused.choices.push({ index: 4, c: 1 }, { index: 9, c: 1 });
  reused.refit();
  reused.mean = new Float64Array(3);
  reused.choiceSet = b;
  reused.refit();
  assert.deepEqual(reused.mean, fresh.mean);
  assert.deepEqual(reused.cov, fresh.cov);
  assert.notDeepEqual(fresh.mean, new Float64Array(3));
});

test('BALD is largest for an uncertain preference and vanishes without weight uncertainty', () => {
  assert.ok(bald(0, 4) > bald(0, 1));
  assert.ok(bald(0, 4) > bald(3, 4));
  assert.ok(bald(0, 0) < 1e-9);
  assert.ok(bald(0, 1e6) > 0.9 && bald(0, 1e6) <= 1);
});

test('symmetricEigen recovers a known decomposition', () => {
  const a = Float64Array.of(2, 1, 0, 1, 2, 0, 0, 0, 5);
  const { values, vectors } = symmetricEigen(a, 3);
  assert.deepEqual(Array.from(values, (v) => Math.round(v * 1e9) / 1e9), [5, 3, 1]);
  // A v = lambda v for each column
  for (let m = 0; m < 3; m++) {
    for (let i = 0; i < 3; i++) {
      let s = 0;
      for (let j = 0; j < 3; j++) s += a[i * 3 + j]! * vectors[j * 3 + m]!;
      assert.ok(Math.abs(s - values[m]! * vectors[i * 3 + m]!) < 1e-9);
    }
  }
});

test('simulated answers follow the history', () => {
  const h = Int32Array.of(2, 5, 9);
  assert.equal(simulatedAnswer(h, { a: 2, b: 3 }), 'a');
  assert.equal(simulatedAnswer(h, { a: 3, b: 9 }), 'b');
  assert.equal(simulatedAnswer(h, { a: 5, b: 9 }), 'both');
  assert.equal(simulatedAnswer(h, { a: 1, b: 3 }), 'neither');
});

// one small world and model shared by the tests below
const world = worldToLog({ users: 500, items: 300, categories: 6, meanInteractions: 40, seed: 7 });
const split = makeSplit(world.log, { protocol: 'users-holdout', seed: 7 });
const modelReady = (async () => {
  const m = createModel('personas', { epochs: 8, warmEpochs: 4, avgEpochs: 2 });
  await m.fit(split.train, { rng: new Rng(7).derive('model'), threads: 1 });
  return m;
})();

test('pure BALD question choice picks the pool pair with the most information', async () => {
  const model = await modelReady;
  const s = createOnboarding(model, split.train, { pool: 25, choiceWeight: 0 });
  const history = rowOf(split.history, split.testUsers[0]!);
  for (let step = 0; step < 3; step++) {
    const q = s.next()!;
    const pool = Array.from(s.basis.pool).filter((i) => !s.answers().some((a) => a.a === i || a.b === i));
    let best = -1;
    for (let x = 0; x < pool.length; x++) for (let y = x + 1; y < pool.length; y++) best = Math.max(best, s.information({ a: pool[x]!, b: pool[y]! }));
    assert.ok(Math.abs(s.information(q) - best) < 1e-9, `step ${step}: ${s.information(q)} vs best ${best}`);
    s.answer(q, simulatedAnswer(history, q));
  }
});

test('after 10 simulated answers the recovered taste mix is closer to the planted one than the prior', async () => {
  const model = await modelReady;
  const cats = world.log.categories!;
  const nCat = cats.names.length;
  const catIndex = new Map(cats.names.map((n, i) => [n, i]));
  const share = world.truth.config.mixedPersonaShare;
  const planted = (u: number): Float64Array => {
    const p = new Float64Array(nCat);
    for (const persona of world.truth.users[u]!.personas) {
      const cs = persona.categories.map((c) => catIndex.get(c)!);
      if (cs.length === 1) p[cs[0]!] = p[cs[0]!]! + persona.weight;
      else {
        p[cs[0]!] = p[cs[0]!]! + persona.weight * (1 - share);
        p[cs[1]!] = p[cs[1]!]! + persona.weight * share;
      }
    }
    return p;
  };
  const mixOf = (items: Int32Array): Float64Array => {
    const p = new Float64Array(nCat);
    for (const i of items) {
      const c = categoriesOf(cats, i);
      for (const x of c) p[x] = p[x]! + 1 / c.length / items.length;
    }
    return p;
  };
  const tv = (a: Float64Array, b: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
    return s / 2;
  };
  let prior = 0;
  let after = 0;
  let closer = 0;
  const users = Array.from(split.testUsers).slice(0, 40);
  for (const u of users) {
    const s = createOnboarding(model, split.train, { pool: 60 });
    const truth = planted(u);
    const d0 = tv(mixOf(s.recommend(50)), truth);
    const history = rowOf(split.history, u);
    for (let q = 0; q < 10; q++) {
      const question = s.next()!;
      s.answer(question, simulatedAnswer(history, question));
    }
    const d10 = tv(mixOf(s.recommend(50)), truth);
    prior += d0 / users.length;
    after += d10 / users.length;
    if (d10 < d0) closer++;
    assert.equal(s.answered, 10);
    assert.ok(s.posteriorSpread() < 1);
  }
  assert.ok(after < prior - 0.05, `mean TV distance after 10 answers ${after.toFixed(3)} vs prior ${prior.toFixed(3)}`);
  assert.ok(closer > users.length / 2, `${closer}/${users.length} users closer`);
});

test('a session restores from its JSON to the same posterior and recommendations', async () => {
  const model = await modelReady;
  const s = createOnboarding(model, split.train, { pool: 40, seed: 3 });
  const history = rowOf(split.history, split.testUsers[1]!);
  for (let q = 0; q < 5; q++) {
    const question = s.next()!;
    s.answer(question, simulatedAnswer(history, question));
  }
  const json = JSON.parse(JSON.stringify(s.toJSON()));
  const r = OnboardingSession.restore(model, split.train, json);
  assert.deepEqual(Array.from(r.posteriorMean()), Array.from(s.posteriorMean()));
  assert.deepEqual(Array.from(r.recommend(10)), Array.from(s.recommend(10)));
  assert.deepEqual(r.next(), s.next());
  // liked items are never recommended back
  const rec = new Set(s.recommend(100));
  for (const i of s.liked()) assert.ok(!rec.has(i));
  assert.throws(() => s.answer({ a: 1, b: 1 }, 'a'), /two different items/);
});

test('personae onboard runs with piped answers and shows recommendations after each', async () => {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const { writeWorld } = await import('../src/synth/world.js');
  const dir = join(mkdtempSync(join(tmpdir(), 'personae-onboard-')), 'world');
  await writeWorld({ users: 300, items: 200, categories: 5, meanInteractions: 30, seed: 3 }, dir);
  const root = fileURLToPath(new URL('..', import.meta.url));
  const script =
    "import { onboardCommand } from './src/cli/commands/onboard.ts';" +
    'await onboardCommand().parseAsync(process.argv.slice(1), { from: "user" });';
  const args = ['--data', dir, '--quiet', '--n', '3', '--pool', '30', '--param', 'personas.epochs=4', '--param', 'personas.warmEpochs=2', '--param', 'personas.avgEpochs=1'];
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, '--', ...args], { cwd: root, encoding: 'utf8', input: 'a\nmaybe\nboth\nneither\nb\nquit\n' });
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /recommendations after 0 answers:/);
  assert.match(out, /question 1: which would you rather watch\?/);
  assert.match(out, /please answer a, b, both, neither or quit/);
  assert.match(out, /recommendations after 4 answers:/);
  assert.doesNotMatch(out, /recommendations after 5 answers/);
  assert.match(out, /done after 4 answers/);
  // each recommendation block lists 3 items
  const block = out.split('recommendations after 4 answers:\n')[1]!.split('\n').slice(0, 3);
  assert.ok(block.every((l) => /^\s+\d\. /.test(l)), block.join('|'));
});

test('study onboarding (quick): JSON per the contract, one value per question count', async () => {
  const { onboardingStudy } = await import('../src/study/onboarding.js');
  const json = await onboardingStudy.run({ seed: 42, threads: 1, log: null, dataLabel: null, quick: true });
  assert.equal(json.study, 'onboarding');
  assert.ok(['holds', 'does-not-hold', 'mixed'].includes(json.verdict));
  const r = json.results as {
    questions: number[];
    'ndcg@20': Record<string, number[]>;
    'recall@20': Record<string, number[]>;
    fullHistory: Record<string, number>;
    intervals: Record<string, Record<string, [number, number][]>>;
    shareOfFullHistoryAt10: number;
  };
  assert.deepEqual(r.questions, Array.from({ length: 21 }, (_, q) => q));
  for (const metric of ['ndcg@20', 'recall@20'] as const) {
    for (const s of ['adaptive', 'random', 'popular']) {
      assert.equal(r[metric][s]!.length, 21);
      assert.equal(r.intervals[metric]![s]!.length, 21);
    }
    // every strategy starts from the same prior list
    assert.equal(r[metric].adaptive![0], r[metric].random![0]);
    assert.ok(r.fullHistory[metric]! > 0);
  }
  assert.ok(Math.abs(r.shareOfFullHistoryAt10 - r['ndcg@20'].adaptive![10]! / r.fullHistory['ndcg@20']!) < 1e-3);
  assert.match(json.data, /quick world/);
  for (const c of json.charts) for (const s of c.series) assert.equal(s.y.length, c.x.length);
});
