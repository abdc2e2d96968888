/**
 * What a user's new state takes over from the previous one (src/serve/persona-rows.ts) gives the
 * same answers as computing it from scratch: two engines over the same live data and the same
 * sequence of requests, one reusing (the service), one whose every new state starts with nothing
 * taken over; the JSON of every answer must be byte-identical. Plus the pieces on their own: the
 * rows taken over are the rows of the same vectors, the one-pass profile fit equals the sorted
 * one, the mixture from shared rows equals the mixture from rescored rows.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { POSTERIOR_REFIT_EVERY, posteriorSpread, profileFit, type PosteriorWarmStart } from '../src/confidence/index.js';
import { onboardingBasis } from '../src/onboard/basis.js';
import { Rng } from '../src/math/rng.js';
import { PersonaModel } from '../src/models/personas.js';
import { personaSetFrom } from '../src/models/persona-assignment.js';
import { Engine } from '../src/serve/engine.js';
import type { LiveData } from '../src/serve/live.js';
import { mixtureScores } from '../src/serve/persona-mixture.js';
import { PersonaRows } from '../src/serve/persona-rows.js';
import type { UserState } from '../src/serve/user-state.js';
import { extractPositives } from '../src/data/split.js';
import { trainSetFromPairs } from '../src/data/train-set.js';
import { worldToLog } from '../src/synth/world.js';
import { liveFromTraining } from './serve-live.js';
import { mixtureByDefinition } from './mixture-reference.js';

const { log } = worldToLog({ users: 60, items: 120, categories: 5, meanInteractions: 25, seed: 11 });
const positives = extractPositives(log, 4);
const train = trainSetFromPairs(log.users.size, log.items.size, positives.user, positives.item, log.items.ranks(), log.categories);
const model = new PersonaModel({ epochs: 3, warmEpochs: 1, dim: 8, k: 3, itemsPerPersona: 4 });
await model.fit(train, { rng: new Rng(5).derive('model', 'personas'), threads: 1 });

/** An engine serving `m` over `live` (every training positive a like, seqs 1..n). */
function engineOf(m: PersonaModel, live: LiveData, feedbackSeq: number): Engine {
  const meta = { items: log.items.toArray(), users: log.users.toArray(), feedbackSeq, erasureGen: 0 };
  const record = { version: 1, name: 'personas', path: '', sha256: '', trainedAt: '', params: {}, feedbackSeq, evaluation: null };
  const e = new Engine({ record, model: m, meta, popularity: train.itemPopularity }, live);
  e.warm();
  return e;
}

function liveData(): { live: LiveData; seq: number } {
  return liveFromTraining(log, train);
}

/** Makes every new state of `e` start without what the previous state of its user had computed. */
function fromScratch(e: Engine): void {
  const states = (e as unknown as { states: { get(id: string): UserState } }).states;
  const get = states.get.bind(states);
  const fresh = new WeakSet<UserState>();
  states.get = (id: string): UserState => {
    const st = get(id);
    if (!fresh.has(st)) {
      fresh.add(st);
      st.rows = null;
    }
    return st;
  };
}

type Op = { kind: 'like' | 'view'; user: number; item: number } | { kind: 'read'; user: number; n: number; explain: boolean; hedge: boolean } | { kind: 'mute'; user: number; persona: number; muted: boolean; boost: number };

// few users, so that a sequence likes and reads the same user again and again: four training users
// with two or more personas, one with one, and two users the model was not trained on
const trained = Array.from({ length: log.users.size }, (_, u) => u);
const pool = [...trained.filter((u) => model.personaCount(u) >= 2).slice(0, 4), trained.find((u) => model.personaCount(u) === 1)!].map((u) => log.users.id(u));
const users = pool.length + 2;
const userId = (u: number): string => pool[u] ?? `new-${u}`;
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('like' as const), user: fc.nat(users - 1), item: fc.nat(log.items.size - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('view' as const), user: fc.nat(users - 1), item: fc.nat(log.items.size - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('mute' as const), user: fc.nat(users - 1), persona: fc.nat(4), muted: fc.boolean(), boost: fc.constantFrom(1, 2, 0.5) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('read' as const), user: fc.nat(users - 1), n: fc.constantFrom(5, 10, 40), explain: fc.boolean(), hedge: fc.boolean() }) },
);

describe('a new state reuses what its user had computed, with the same answers', () => {
  it('random likes, views, persona settings and reads: every answer equals the from-scratch engine', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 30, maxLength: 60 }), (ops) => {
        const { live, seq: start } = liveData();
        let seq = start;
        const reuse = engineOf(model, live, start);
        const scratch = engineOf(PersonaModel.fromArtifact(model.toArtifact()), live, start);
        fromScratch(scratch);
        for (const o of ops) {
          const user = userId(o.user);
          if (o.kind === 'read') {
            const opts = { n: o.n, offset: 0, rerank: 'none', explain: o.explain, hedge: o.hedge };
            assert.equal(reuse.recommendJson(user, opts), scratch.recommendJson(user, opts));
            assert.deepEqual(reuse.personasOf(user), scratch.personasOf(user));
          } else if (o.kind === 'mute') live.setOverride({ user, persona: o.persona, muted: o.muted, boost: o.boost });
          else live.applyFeedback([{ user, item: log.items.id(o.item), type: o.kind, value: 1, ts: 0, seq: ++seq }]);
        }
      }),
      { numRuns: 25, seed: 7 },
    );
  });

  it('after a like, a training user keeps the logits of the trained personas (the same arrays) and scores only the new components', () => {
    const { live, seq } = liveData();
    const e = engineOf(model, live, seq);
    const u = Array.from({ length: log.users.size }, (_, x) => x).find((x) => model.personaCount(x) >= 2)!;
    const user = log.users.id(u);
    const opts = { n: 10, offset: 0, rerank: 'none', explain: true };
    e.recommendJson(user, opts);
    const peek = (): UserState => (e as unknown as { states: { peek(id: string): UserState } }).states.peek(user);
    const before = peek();
    const k = model.personaCount(u);
    const d = model.dim;
    const vec = (st: UserState, q: number): Float32Array => st.personas!.vectors.subarray(q * d, (q + 1) * d);
    const logitsBefore = Array.from({ length: k }, (_, q) => before.rows!.get(vec(before, q)));
    assert.ok(logitsBefore.every((z) => z !== null));
    const seen = live.users.get(user)!.seen;
    const item = log.items.toArray().find((id) => !seen.has(id))!;
    live.applyFeedback([{ user, item, type: 'like', value: 1, ts: 0, seq: seq + 1 }]);
    e.recommendJson(user, opts);
    const after = peek();
    assert.notEqual(after, before);
    assert.equal(after.personas!.k, k + 1);
    for (let q = 0; q < k; q++) assert.equal(after.rows!.get(vec(after, q)), logitsBefore[q], `trained persona ${q}: the same logits`);
    const recentLogits = after.rows!.get(vec(after, k));
    assert.ok(recentLogits && !logitsBefore.some((z) => z === recentLogits), 'the recent persona: its own logits');
    for (let q = 0; q <= k; q++) {
      const fresh = new Float32Array(log.items.size);
      model.scorePersonas(vec(after, q), fresh);
      assert.ok(sameBits(after.rows!.row(q), fresh), `persona ${q}: the row of its vector`);
    }
  });
});

/** Whether two typed arrays hold the same bytes. */
function sameBits(a: Float32Array | Float64Array, b: Float32Array | Float64Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('PersonaRows', () => {
  it('takes over logits only for a bit-identical vector, wherever it sits in the new set; rows derived from them are the model\'s rows', () => {
    const d = model.dim;
    const h = train.userItems.indices.subarray(train.userItems.indptr[0]!, train.userItems.indptr[1]!);
    const a = model.foldIn(h);
    const ka = a.length / d;
    assert.ok(ka >= 2);
    const prev = new PersonaRows(model, personaSetFrom(model, a, h), log.items.size);
    prev.row(0);
    prev.row(1);
    const z0 = prev.get(a.subarray(0, d))!;
    const z1 = prev.get(a.subarray(d, 2 * d))!;
    assert.ok(z0 && z1);
    // the new set: persona 1 first, then persona 0 nudged by one ulp-sized change
    const b = new Float32Array(2 * d);
    b.set(a.subarray(d, 2 * d), 0);
    b.set(a.subarray(0, d), d);
    b[d] = Math.fround(b[d]! * (1 + 2 ** -20)) === b[d] ? b[d]! + 1e-3 : Math.fround(b[d]! * (1 + 2 ** -20));
    const next = new PersonaRows(model, personaSetFrom(model, b, h), log.items.size, prev);
    assert.equal(next.get(b.subarray(0, d)), z1);
    assert.equal(next.get(b.subarray(d, 2 * d)), null);
    for (let q = 0; q < 2; q++) {
      const fresh = new Float32Array(log.items.size);
      model.scorePersonas(b.subarray(q * d, (q + 1) * d), fresh);
      assert.ok(sameBits(next.row(q), fresh), `row ${q}`);
      // a row derived from kept logits is the row the model computes
      assert.ok(sameBits(next.row(q), fresh), `row ${q} again`);
    }
    assert.notEqual(next.get(b.subarray(d, 2 * d)), z0);
  });

  it('scoring a set with its history from kept logits gives the same scores and normalisers, and uses them', () => {
    fc.assert(
      fc.property(fc.nat(log.users.size - 1), fc.nat(log.items.size - 1), (u, extra) => {
        const h0 = train.userItems.indices.subarray(train.userItems.indptr[u]!, train.userItems.indptr[u + 1]!);
        fc.pre(h0.length > 0);
        // a trained set plus a persona folded in from one more item, scored with the longer history
        const h = Int32Array.from(new Set([...h0, extra])).sort();
        const recent = model.foldIn(Int32Array.of(extra));
        const vectors = new Float32Array(model.personaVectors(u).length + recent.length);
        vectors.set(model.personaVectors(u));
        vectors.set(recent, model.personaVectors(u).length);
        const set = personaSetFrom(model, vectors, h);
        const rows = new PersonaRows(model, set, log.items.size);
        for (let q = 0; q < set.k; q++) rows.row(q);
        const want = new Float32Array(log.items.size);
        model.scorePersonas(vectors.slice(), want, h);
        const got = new Float32Array(log.items.size);
        model.scorePersonas(vectors, got, h, rows);
        assert.ok(sameBits(got, want));
        // the persona weights read the normalisers of that scoring: the same weights
        const fresh = vectors.slice();
        model.scorePersonas(fresh, new Float32Array(log.items.size), h);
        for (const i of h) assert.ok(sameBits(model.personaWeights(vectors, i, h), model.personaWeights(fresh, i, h)));
        // logits that differ change the scores: they are used, not recomputed
        const off = { get: (p: Float32Array) => (rows.get(p) ? rows.get(p)!.map((z) => z + 1e-3 * (z > 0 ? 1 : -1)) : null), put: () => {} };
        const moved = new Float32Array(log.items.size);
        model.scorePersonas(vectors, moved, h, off);
        assert.ok(!sameBits(moved, want));
      }),
      { numRuns: 20, seed: 5 },
    );
  });

  it('the mixture from shared rows equals the mixture from each persona rescored', () => {
    fc.assert(
      fc.property(fc.nat(log.users.size - 1), fc.array(fc.tuple(fc.boolean(), fc.constantFrom(1, 2, 0.25)), { maxLength: 4 }), (u, settings) => {
        const h = train.userItems.indices.subarray(train.userItems.indptr[u]!, train.userItems.indptr[u + 1]!);
        fc.pre(h.length > 0);
        const set = personaSetFrom(model, model.foldIn(h), h);
        const overrides = new Map(settings.map(([muted, boost], q) => [q, { muted, boost }]));
        const fallback = new Float32Array(log.items.size).fill(0.5);
        const got = new Float32Array(log.items.size);
        mixtureScores(set, overrides, fallback, got, new PersonaRows(model, set, log.items.size));
        const want = mixtureByDefinition(model, set.vectors, set.k, overrides, fallback);
        assert.deepEqual(got, want);
      }),
      { numRuns: 30, seed: 3 },
    );
  });
});

describe('profileFit', () => {
  /** The definition: each history score's rank among the sorted candidate scores. */
  function sortedFit(scores: Float32Array, candidates: Int32Array, history: Int32Array): number {
    if (history.length === 0) return 0;
    const sorted = Float64Array.from(candidates, (i) => scores[i]!).sort();
    const n = sorted.length;
    let auc = 0;
    let used = 0;
    for (const i of history) {
      const s = scores[i]!;
      if (!Number.isFinite(s)) continue;
      let lo = 0;
      while (lo < n && sorted[lo]! < s) lo++;
      let up = lo;
      while (up < n && sorted[up] === s) up++;
      auc += (lo + 0.5 * (up - lo - 1)) / Math.max(1, n - 1);
      used++;
    }
    return used === 0 ? 0 : Math.min(1, Math.max(0, 2 * (auc / used - 0.5)));
  }

  it('equals the sorted definition bit for bit, with ties, -0, infinities and NaN', () => {
    const value = fc.oneof(fc.constantFrom(0, -0, 1, 2, -Infinity, Infinity, Number.NaN), fc.float({ noNaN: false }), fc.integer({ min: -3, max: 3 }));
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 60 }), fc.array(fc.nat(200), { maxLength: 20 }), fc.array(fc.nat(200), { maxLength: 80 }), (vals, hist, cand) => {
        const scores = Float32Array.from(vals);
        const n = scores.length;
        const history = Int32Array.from(hist.map((i) => i % n));
        const candidates = Int32Array.from(new Set(cand.map((i) => i % n))).sort();
        assert.ok(Object.is(profileFit(scores, candidates, history), sortedFit(scores, candidates, history)));
      }),
      { numRuns: 500, seed: 9 },
    );
  });
});

describe('a due posterior refit deferred off the read', () => {
  it('answers the Newton step, schedules one refit of the latest history, whose exact fit becomes the anchor', () => {
    const basis = onboardingBasis(model, train, { size: 16 });
    const u = Array.from({ length: log.users.size }, (_, x) => x).find((x) => train.userItems.indptr[x + 1]! - train.userItems.indptr[x]! >= POSTERIOR_REFIT_EVERY + 6)!;
    const hist = Array.from(train.userItems.indices.subarray(train.userItems.indptr[u]!, train.userItems.indptr[u + 1]!));
    const prefix = (n: number): Int32Array => Int32Array.from(hist.slice(0, n)).sort();
    const queue: (() => void)[] = [];
    const deferred: PosteriorWarmStart = { anchor: null, defer: (f) => queue.push(f) };
    const inline: PosteriorWarmStart = { anchor: null };
    const n0 = hist.length - POSTERIOR_REFIT_EVERY - 2;
    // the first fit is exact and immediate; the next ones are the same Newton steps either way
    assert.equal(posteriorSpread(basis, prefix(n0), deferred), posteriorSpread(basis, prefix(n0)));
    posteriorSpread(basis, prefix(n0), inline);
    const anchor = deferred.anchor!;
    for (let j = 1; j < POSTERIOR_REFIT_EVERY; j++) assert.equal(posteriorSpread(basis, prefix(n0 + j), deferred), posteriorSpread(basis, prefix(n0 + j), inline));
    assert.equal(queue.length, 0);
    // due: the inline warm start refits exactly, the deferred one answers a Newton step from the same anchor
    const h8 = prefix(n0 + POSTERIOR_REFIT_EVERY);
    const exact8 = posteriorSpread(basis, h8);
    assert.equal(posteriorSpread(basis, h8, inline), exact8);
    const step8 = posteriorSpread(basis, h8, deferred);
    assert.equal(deferred.anchor, anchor);
    assert.notEqual(step8, exact8);
    assert.ok(Math.abs(step8 - exact8) < 0.02, `${step8} vs ${exact8}`);
    assert.equal(queue.length, 1);
    // another history before the refit ran: still a Newton step, no second refit scheduled
    const h9 = prefix(n0 + POSTERIOR_REFIT_EVERY + 1);
    const fresh: PosteriorWarmStart = { anchor: { ...anchor, updates: 0 } };
    assert.equal(posteriorSpread(basis, h9, deferred), posteriorSpread(basis, h9, fresh));
    assert.equal(queue.length, 1);
    // the refit fits the latest history exactly: its anchor is the one an exact fit of h9 leaves
    queue.shift()!();
    const exact9: PosteriorWarmStart = { anchor: null };
    posteriorSpread(basis, h9, exact9);
    assert.notEqual(deferred.anchor, anchor);
    assert.deepEqual(deferred.anchor, exact9.anchor);
    assert.equal(deferred.pending, null);
    // and the next answer is one Newton step from it
    const h10 = prefix(n0 + POSTERIOR_REFIT_EVERY + 2);
    assert.equal(posteriorSpread(basis, h10, deferred), posteriorSpread(basis, h10, exact9));
  });

  it('the service: the read that makes a refit due answers at once, the refit runs when the event loop is next idle', async () => {
    const { live, seq: start } = liveData();
    let seq = start;
    const e = engineOf(model, live, start);
    const user = pool[0]!;
    const opts = { n: 10, offset: 0, rerank: 'none', explain: true };
    const peek = (): UserState => (e as unknown as { states: { peek(id: string): UserState } }).states.peek(user);
    e.recommendJson(user, opts);
    const posterior = peek().posterior;
    assert.equal(posterior.anchor!.updates, 0);
    const items = log.items.toArray().filter((id) => !live.users.get(user)!.seen.has(id));
    for (let j = 1; j <= POSTERIOR_REFIT_EVERY; j++) {
      live.applyFeedback([{ user, item: items[j]!, type: 'like', value: 1, ts: 0, seq: ++seq }]);
      e.recommendJson(user, opts);
      assert.equal(peek().posterior, posterior, 'one posterior across the states');
      assert.equal(posterior.anchor!.updates, j);
      assert.equal(posterior.pending ?? null, j === POSTERIOR_REFIT_EVERY ? peek().history : null);
    }
    await new Promise((r) => setImmediate(r));
    assert.equal(posterior.pending, null);
    assert.equal(posterior.anchor!.updates, 0);
  });
});

describe('anchors of an explained item', () => {
  it('anchorsForItem picks the members a full sort by similarity (earlier member on ties) puts first', async () => {
    const { anchorsForItem } = await import('../src/serve/explanations.js');
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: -2, max: 2 }), { minLength: 3, maxLength: 3 }), { minLength: 2, maxLength: 30 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 0, max: 6 }),
        (rows, picks, count) => {
          const n = rows.length;
          const vectors = Float32Array.from(rows.flat());
          const norms = Float32Array.from(rows, (r) => Math.sqrt(r.reduce((a, x) => a + x * x, 0)));
          const v = { dim: 3, vectors, norms };
          const members = [...new Set(picks.map((p) => p % n))];
          const item = picks[0]! % n;
          const cos = (b: number): number => {
            let s = 0;
            for (let k = 0; k < 3; k++) s += vectors[item * 3 + k]! * vectors[b * 3 + k]!;
            const nn = norms[item]! * norms[b]!;
            return nn > 0 ? s / nn : 0;
          };
          const want = members.map((m, r) => ({ m, r, s: cos(m) })).sort((x, y) => y.s - x.s || x.r - y.r).slice(0, count).map((x) => x.m);
          assert.deepEqual(anchorsForItem(v, members, item, count), want);
        },
      ),
      { seed: 9, numRuns: 400 },
    );
  });
});
