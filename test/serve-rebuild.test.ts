/**
 * The cheaper arithmetic of a user's rebuild after a like gives the numbers of the plain one, bit
 * for bit: a persona's row normaliser and mixture share read straight from its logits
 * (src/serve/persona-rows.ts), the one-pass `match` and the masked rank (src/serve/explanations.ts),
 * the remembered persona weights, and the confidence's fit row that skips the exact score of
 * candidates far from every history score (src/models/personas-train.ts `mixtureOrder`).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { profileFit } from '../src/confidence/index.js';
import { Rng } from '../src/math/rng.js';
import { PersonaModel } from '../src/models/personas.js';
import { personaSetFrom } from '../src/models/persona-assignment.js';
import { matcher, rankIn, seenTest } from '../src/serve/explanations.js';
import { mixtureScores } from '../src/serve/persona-mixture.js';
import { PersonaRows, rowLogNormaliser } from '../src/serve/persona-rows.js';
import { mixtureByDefinition } from './mixture-reference.js';
import { extractPositives } from '../src/data/split.js';
import { trainSetFromPairs } from '../src/data/train-set.js';
import { worldToLog } from '../src/synth/world.js';

const { log } = worldToLog({ users: 60, items: 120, categories: 5, meanInteractions: 25, seed: 11 });
const positives = extractPositives(log, 4);
const train = trainSetFromPairs(log.users.size, log.items.size, positives.user, positives.item, log.items.ranks(), log.categories);
const model = new PersonaModel({ epochs: 3, warmEpochs: 1, dim: 8, k: 3, itemsPerPersona: 4 });
await model.fit(train, { rng: new Rng(5).derive('model', 'personas'), threads: 1 });
const nItems = log.items.size;

/** Whether two typed arrays hold the same bytes. */
function sameBits(a: Float32Array | Float64Array, b: Float32Array | Float64Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** A training user's personas plus one folded in from `extra`, with the history grown by it. */
function setOf(u: number, extra: number): { vectors: Float32Array; history: Int32Array } {
  const h0 = train.userItems.indices.subarray(train.userItems.indptr[u]!, train.userItems.indptr[u + 1]!);
  const history = Int32Array.from(new Set([...h0, extra])).sort();
  const own = model.personaVectors(u);
  const recent = model.foldIn(Int32Array.of(extra));
  const vectors = new Float32Array(own.length + recent.length);
  vectors.set(own);
  vectors.set(recent, own.length);
  return { vectors, history };
}

const usersWithPersonas = Array.from({ length: log.users.size }, (_, u) => u).filter((u) => model.personaCount(u) > 0);

describe('a persona read from its logits', () => {
  it('has the row normaliser and the mixture share of its materialised row', () => {
    fc.assert(
      fc.property(fc.constantFrom(...usersWithPersonas), fc.nat(nItems - 1), fc.double({ min: 0.01, max: 3, noNaN: true }), (u, extra, c) => {
        const { vectors, history } = setOf(u, extra);
        const set = personaSetFrom(model, vectors, history);
        const rows = new PersonaRows(model, set, nItems);
        for (let q = 0; q < set.k; q++) {
          const row = new Float32Array(nItems);
          model.scorePersonas(vectors.slice(q * model.dim, (q + 1) * model.dim), row);
          // the normaliser first (the logits are computed on the way), then the share
          assert.equal(rows.logNormaliser(q), rowLogNormaliser(row));
          const want = new Float64Array(nItems).fill(0.25);
          const lse = rowLogNormaliser(row);
          for (let i = 0; i < nItems; i++) if (Number.isFinite(row[i]!)) want[i]! += c * Math.exp(row[i]! - lse);
          const got = new Float64Array(nItems).fill(0.25);
          rows.addSoftmax(q, c, got);
          assert.ok(sameBits(got, want), `persona ${q}`);
          assert.ok(sameBits(rows.row(q), row), `persona ${q}: its row`);
        }
      }),
      { numRuns: 30, seed: 3 },
    );
  });

  it('the mixture of a set with mutes and boosts equals the one summed from materialised rows', () => {
    fc.assert(
      fc.property(fc.constantFrom(...usersWithPersonas), fc.nat(nItems - 1), fc.array(fc.record({ q: fc.nat(4), muted: fc.boolean(), boost: fc.constantFrom(0.5, 1, 2) }), { maxLength: 3 }), (u, extra, settings) => {
        const { vectors, history } = setOf(u, extra);
        const set = personaSetFrom(model, vectors, history);
        const overrides = new Map(settings.map((o) => [o.q, { muted: o.muted, boost: o.boost }]));
        const fallback = new Float32Array(nItems).fill(-3);
        const got = new Float32Array(nItems);
        mixtureScores(set, overrides, fallback, got, new PersonaRows(model, set, nItems));
        const want = mixtureByDefinition(model, vectors, set.k, overrides, fallback);
        assert.ok(sameBits(got, want));
      }),
      { numRuns: 30, seed: 4 },
    );
  });

  it('derived rows are kept for the latest state that made one; an earlier state makes the same row again', () => {
    const [u1, u2] = usersWithPersonas;
    const a = setOf(u1!, 0);
    const b = setOf(u2!, 1);
    const ra = new PersonaRows(model, personaSetFrom(model, a.vectors, a.history), nItems);
    const rb = new PersonaRows(model, personaSetFrom(model, b.vectors, b.history), nItems);
    ra.logNormaliser(0); // logits only: no row is made
    const first = ra.row(0);
    assert.equal(ra.row(0), first, 'kept while it is the latest');
    rb.logNormaliser(0);
    rb.row(0); // derived from rb's logits: rb holds the rows now
    const again = ra.row(0);
    assert.notEqual(again, first, 'dropped once another state made a row');
    assert.ok(sameBits(again, first));
  });
});

describe("the mixture's kept sum and the recent persona's transient logits", () => {
  it('a new state with the same trained personas and weights takes the sum over them over, with the mixture of a fresh state', () => {
    const u = usersWithPersonas.find((x) => model.personaCount(x) >= 2)!;
    const a = setOf(u, 5);
    const b = setOf(u, 9); // the same trained personas, another recent one, a longer history
    const k = model.personaCount(u);
    const none = new Map<number, { muted: boolean; boost: number }>();
    const fallback = new Float32Array(nItems);
    const mix = (vectors: Float32Array, history: Int32Array, rows: PersonaRows, overrides = none): Float32Array => {
      const out = new Float32Array(nItems);
      mixtureScores(personaSetFrom(model, vectors, history), overrides, fallback, out, rows);
      return out;
    };
    const setA = personaSetFrom(model, a.vectors, a.history);
    const prev = new PersonaRows(model, setA, nItems, null, k);
    mix(a.vectors, a.history, prev);
    const next = new PersonaRows(model, personaSetFrom(model, b.vectors, b.history), nItems, prev, k);
    const prefixOf = (r: PersonaRows): unknown => (r as unknown as { prefix: unknown }).prefix;
    assert.ok(prefixOf(prev) !== null);
    assert.equal(prefixOf(next), prefixOf(prev), 'taken over');
    assert.ok(sameBits(mix(b.vectors, b.history, next), mix(b.vectors, b.history, new PersonaRows(model, personaSetFrom(model, b.vectors, b.history), nItems))));
    assert.equal(prefixOf(next), prefixOf(prev), 'used, not remade');
    // another weight (a boost) remakes the sum, with the fresh mixture's numbers
    const boosted = new Map([[0, { muted: false, boost: 2 }]]);
    const got = mix(b.vectors, b.history, next, boosted);
    assert.notEqual(prefixOf(next), prefixOf(prev));
    assert.ok(sameBits(got, mix(b.vectors, b.history, new PersonaRows(model, personaSetFrom(model, b.vectors, b.history), nItems), boosted)));
    // a state whose trained personas moved (another user's set) takes nothing over
    const other = setOf(usersWithPersonas.find((x) => x !== u && model.personaCount(x) === k)!, 9);
    assert.equal(prefixOf(new PersonaRows(model, personaSetFrom(model, other.vectors, other.history), nItems, prev, k)), null);
  });

  it("the transient persona's logits are dropped when another state computes, and come back the same", () => {
    const u = usersWithPersonas.find((x) => model.personaCount(x) >= 2)!;
    const k = model.personaCount(u);
    const a = setOf(u, 5);
    const rows = new PersonaRows(model, personaSetFrom(model, a.vectors, a.history), nItems, null, k);
    const recent = a.vectors.subarray(k * model.dim, (k + 1) * model.dim);
    rows.logNormaliser(0);
    rows.logNormaliser(k);
    const z = rows.get(recent);
    assert.ok(z !== null);
    const trained = rows.get(a.vectors.subarray(0, model.dim));
    assert.ok(trained !== null);
    const b = setOf(usersWithPersonas.find((x) => x !== u)!, 7);
    const other = new PersonaRows(model, personaSetFrom(model, b.vectors, b.history), nItems);
    other.logNormaliser(0);
    other.row(0); // another state derives a row: it holds now
    assert.equal(rows.get(recent), null, 'the recent persona: dropped');
    assert.equal(rows.get(a.vectors.subarray(0, model.dim)), trained, 'a trained persona: kept');
    const again = new Float32Array(nItems);
    model.scorePersonas(recent.slice(), again);
    assert.ok(sameBits(rows.row(k), again), 'made again: the same row');
    assert.ok(sameBits(rows.get(recent)!, z!), 'the same logits');
  });
});

describe('match and rank in one pass', () => {
  const scoresArb = fc.array(fc.oneof(fc.integer({ min: -5, max: 5 }).map((x) => x / 2), fc.constantFrom(-Infinity, Number.NaN)), { minLength: 1, maxLength: 60 });
  it('match of the probes equals counting per score, with ties, non-finite scores and seen items', () => {
    fc.assert(
      fc.property(scoresArb, fc.array(fc.nat(59)), fc.array(fc.nat(59), { maxLength: 12 }), (vals, seenIdx, picks) => {
        const scores = Float32Array.from(vals);
        const n = scores.length;
        const candidates = Int32Array.from({ length: n }, (_, i) => i).filter((i) => i % 7 !== 3);
        const seen = seenTest(Int32Array.from(new Set(seenIdx.filter((i) => i < n))).sort(), n);
        const probes = picks.map((i) => scores[i % n]!).concat([0.25, Number.NaN]);
        const one = matcher(scores, candidates, seen, probes.length, probes);
        const plain = matcher(scores, candidates, (i) => seen(i), 1);
        for (const s of [...probes, 1.75, -Infinity]) assert.equal(one(s), plain(s), `score ${s}`);
      }),
      { numRuns: 200, seed: 5 },
    );
    // a hand-made case: 5 allowed finite scores (item 4 is seen), 1 and 1.5 below 2
    const scores = Float32Array.of(1, 2, 2, 1.5, 0, Number.NaN);
    const seen = seenTest(Int32Array.of(4), 6);
    assert.equal(matcher(scores, Int32Array.of(0, 1, 2, 3, 4, 5), seen, 1, [2])(2), 50);
  });

  it('the rank with the seen mask equals the rank with the seen test', () => {
    fc.assert(
      fc.property(scoresArb, fc.array(fc.nat(59)), fc.nat(59), (vals, seenIdx, item) => {
        const own = Float32Array.from(vals);
        const n = own.length;
        const candidates = Int32Array.from({ length: n }, (_, i) => i).filter((i) => i % 5 !== 1);
        const seen = seenTest(Int32Array.from(new Set(seenIdx.filter((i) => i < n))).sort(), n);
        assert.equal(rankIn(own, item % n, candidates, seen), rankIn(own, item % n, candidates, (i) => seen(i)));
      }),
      { numRuns: 200, seed: 6 },
    );
    assert.equal(rankIn(Float32Array.of(3, 1, 2, 5), 2, Int32Array.of(0, 1, 2, 3), seenTest(Int32Array.of(3), 4)), 2);
  });
});

describe('the model side of a rebuild', () => {
  it('personaWeights asked again for the same set and history gives the same weights, in a fresh array', () => {
    const { vectors, history } = setOf(usersWithPersonas[0]!, 3);
    model.scorePersonas(vectors, new Float32Array(nItems), history);
    const item = history[0]!;
    const w1 = model.personaWeights(vectors, item, history);
    w1.fill(0); // a caller writing into its answer changes nothing remembered
    const w2 = model.personaWeights(vectors, item, history);
    const fresh = vectors.slice();
    model.scorePersonas(fresh, new Float32Array(nItems), history);
    assert.ok(sameBits(w2, model.personaWeights(fresh, item, history)));
    assert.ok(w2.some((w) => w > 0));
  });

  it("a row read for its order against the history ('history-order') orders every candidate as the exact row does", () => {
    let skipped = 0;
    fc.assert(
      fc.property(fc.constantFrom(...usersWithPersonas), fc.nat(nItems - 1), (u, extra) => {
        const { vectors, history } = setOf(u, extra);
        const exact = new Float32Array(nItems);
        model.scorePersonas(vectors, exact, history);
        const order = new Float32Array(nItems);
        model.scorePersonas(vectors.slice(), order, history, undefined, 'history-order');
        assert.equal(profileFit(order, train.candidates, history), profileFit(exact, train.candidates, history));
        for (const i of history) assert.ok(Object.is(order[i], exact[i]), `history item ${i}`);
        for (const i of train.candidates) {
          if (order[i] !== exact[i]) skipped++;
          for (const j of history) assert.equal(Math.sign(order[i]! - exact[j]!), Math.sign(exact[i]! - exact[j]!), `candidate ${i} against history item ${j}`);
        }
      }),
      { numRuns: 40, seed: 8 },
    );
    assert.ok(skipped > 0, 'some candidates were far from every history score');
  });
});
