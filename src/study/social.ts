/**
 * `personae study social`: do friends with different tastes bring items from outside a user's
 * usual orbit, and does a model that lets friends' consumption influence a user's scores beat one
 * that does not (the claim of Social Poisson Factorization, Chaney, Blei & Eliassi-Rad 2015)?
 *
 * Three worlds of the same size and seed (the default world, or the quick one): friends of
 * similar tastes (`--friends 5,diff:0,influence:0.2`: every friend shares the user's dominant
 * category), friends of different tastes (`5,diff:1,influence:0.2`: no friend shares any of the
 * user's planted categories), and no graph (the plain world). On each, `ials` (the own preference
 * alone) and `social` (the same ials, fitted on the same random stream, plus the learned influence
 * of friends' training consumption) rank the temporal-user test items. Reported per world and
 * model: ndcg@20, minorityRecall@20, and the share of hits (top-20 items in the user's test set)
 * outside the user's planted tastes (no category in common with any of their planted personas).
 *
 * Verdict rule (fixed before any run), on the different-tastes world, paired per user with 95%
 * bootstrap intervals, social minus ials: (a) ndcg@20 and (b) the number of hits outside the
 * user's planted tastes. The claim holds when both intervals are above 0; does not hold when the
 * ndcg@20 interval is below 0, or when neither is above 0; mixed otherwise. The no-graph world
 * checks that social reduces to its base (identical lists); the similar-tastes world is reported
 * beside it.
 */
import { rowOf } from '../data/csr.js';
import { ConfigError } from '../errors.js';
import { categoriesOf } from '../data/dataset.js';
import { makeSplit, type Split } from '../data/split.js';
import { socialGraph, withSocial } from '../data/social.js';
import type { PairedResult } from '../eval/stats.js';
import { Rng } from '../math/rng.js';
import { createModel } from '../models/registry.js';
import { plantFriends, plantedCategories, type FriendsSpec } from '../synth/social.js';
import { worldToLog } from '../synth/world.js';
import { fmt, markdownTable, paired, scoreModel, worldConfigFor } from './common.js';
import type { StudyChart, StudyContext, Verdict } from './types.js';
import type { Study } from './types.js';

const K = 20;
export const SOCIAL_WORLDS = ['similar', 'different', 'none'] as const;
export type SocialWorldName = (typeof SOCIAL_WORLDS)[number];
const SPECS: Record<SocialWorldName, FriendsSpec | null> = {
  similar: { friends: 5, diff: 0, influence: 0.2 },
  different: { friends: 5, diff: 1, influence: 0.2 },
  none: null,
};
const MODELS = ['ials', 'social'] as const;

/** The study's rule (module comment) from the two paired differences on the different-tastes world. */
export function socialVerdict(ndcg: PairedResult, outside: PairedResult): { verdict: Verdict; reason: string } {
  const a = ndcg.ci95[0] > 0;
  const b = outside.ci95[0] > 0;
  const verdict: Verdict = a && b ? 'holds' : ndcg.ci95[1] < 0 || (!a && !b) ? 'does-not-hold' : 'mixed';
  const iv = (r: PairedResult, d: number): string => `${fmt(r.mean, d)} [${fmt(r.ci95[0], d)}, ${fmt(r.ci95[1], d)}]`;
  return {
    verdict,
    reason:
      `friends of different tastes, social minus ials, paired per user: ndcg@${K} ${iv(ndcg, 4)}, hits outside the planted tastes per user ${iv(outside, 3)}. ` +
      'Holds when both intervals are above 0; does not hold when the ndcg interval is below 0 or neither is above 0.',
  };
}

/** Per test user: the hits of `list` and those outside the user's planted categories. */
export function outsideHits(split: Split, lists: readonly Int32Array[], planted: readonly Set<number>[]): { hits: number[]; outside: number[] } {
  const cats = split.log.categories;
  const hits: number[] = [];
  const outside: number[] = [];
  split.testUsers.forEach((u, b) => {
    const test = rowOf(split.test, u);
    const set = new Set(test);
    let h = 0;
    let o = 0;
    for (const i of lists[b]!) {
      if (!set.has(i)) continue;
      h++;
      if (cats && !Array.from(categoriesOf(cats, i)).some((c) => planted[u]!.has(c))) o++;
    }
    hits.push(h);
    outside.push(o);
  });
  return { hits, outside };
}

interface Row {
  world: SocialWorldName;
  model: string;
  ndcg: [number, number, number] | null;
  minorityRecall: [number, number, number] | null;
  outsideShare: number;
  hits: number;
}

export const socialStudy: Study = {
  name: 'social',
  claim:
    "Friends with different tastes bring items from outside a user's usual orbit, and a model that lets friends' consumption influence a user's scores beats one without it (Social Poisson Factorization, Chaney, Blei & Eliassi-Rad 2015).",
  async run(ctx: StudyContext) {
    if (ctx.log) throw new ConfigError('social plants friend graphs on a world whose tastes are known; it has no --data mode', '--data');
    const cfg = worldConfigFor(ctx);
    const params = ctx.quick ? { factors: 32, iterations: 6 } : {};
    const rows: Row[] = [];
    const perUser: Partial<Record<SocialWorldName, Record<string, { ndcg: (number | null)[]; outside: number[]; lists: Int32Array[] }>>> = {};
    // one world; plantFriends copies what it changes
    const base = worldToLog(cfg);
    for (const world of SOCIAL_WORLDS) {
      const spec = SPECS[world];
      const w = spec ? plantFriends(base, spec, ctx.seed) : null;
      const log = w ? w.log : base.log;
      const truth = w ? w.truth : base.truth;
      let split = makeSplit(log, { protocol: 'temporal-user', minRating: 4, seed: ctx.seed });
      if (w) split = withSocial(split, socialGraph(w.edges, log.users, `${world} world`));
      const planted = plantedCategories(log, truth);
      perUser[world] = {};
      for (const name of MODELS) {
        ctx.onProgress?.(`${world} ${name}`, 0, 1);
        const model = createModel(name, params);
        // both models fit on the same stream: social's base is then the ials fit
        await model.fit(split.train, { rng: new Rng(ctx.seed).derive('study-social', world), threads: ctx.threads });
        const s = scoreModel(model, split, [K], ctx.seed);
        const o = outsideHits(split, s.lists, planted);
        const hits = o.hits.reduce((a, b) => a + b, 0);
        const out = o.outside.reduce((a, b) => a + b, 0);
        const triple = (key: string): [number, number, number] | null => {
          const m = s.metrics[key];
          return m && m.mean !== null ? [m.mean, m.ci95?.[0] ?? m.mean, m.ci95?.[1] ?? m.mean] : null;
        };
        rows.push({ world, model: name, ndcg: triple(`ndcg@${K}`), minorityRecall: triple(`minorityRecall@${K}`), outsideShare: hits > 0 ? out / hits : 0, hits });
        perUser[world]![name] = { ndcg: s.perUser[`ndcg@${K}`]!, outside: o.outside, lists: s.lists };
        ctx.onProgress?.(`${world} ${name}`, 1, 1);
      }
    }
    const diff = perUser.different!;
    const ndcgDiff = paired(diff.social!.ndcg, diff.ials!.ndcg, ctx.seed);
    const outsideDiff = paired(diff.social!.outside, diff.ials!.outside, ctx.seed);
    const similarNdcg = paired(perUser.similar!.social!.ndcg, perUser.similar!.ials!.ndcg, ctx.seed);
    const none = perUser.none!;
    const reducesToBase = none.ials!.lists.every((l, b) => {
      const m = none.social!.lists[b]!;
      return l.length === m.length && l.every((x, j) => x === m[j]);
    });
    const v = socialVerdict(ndcgDiff, outsideDiff);
    const cell = (x: [number, number, number] | null): string => (x ? `${fmt(x[0], 4)} [${fmt(x[1], 4)}, ${fmt(x[2], 4)}]` : 'n/a');
    const table = markdownTable(
      ['world', 'model', `ndcg@${K}`, `minorityRecall@${K}`, 'hits outside planted tastes', 'hits'],
      rows.map((r) => [r.world, r.model, cell(r.ndcg), cell(r.minorityRecall), fmt(r.outsideShare, 3), String(r.hits)]),
    );
    const chart = (label: string, value: (r: Row) => number | null): StudyChart => ({
      title: `${label} by world`,
      kind: 'bar',
      x: [...SOCIAL_WORLDS],
      xLabel: 'friend graph',
      yLabel: label,
      series: MODELS.map((m) => ({ name: m, y: SOCIAL_WORLDS.map((wn) => value(rows.find((r) => r.world === wn && r.model === m)!)) })),
    });
    return {
      study: 'social',
      claim: socialStudy.claim,
      verdict: v.verdict,
      verdictReason: `${v.reason} No graph: social's lists ${reducesToBase ? 'are identical to' : 'differ from'} ials's. Similar tastes: ndcg@${K} social minus ials ${fmt(similarNdcg.mean, 4)} [${fmt(similarNdcg.ci95[0], 4)}, ${fmt(similarNdcg.ci95[1], 4)}].`,
      data: `${ctx.quick ? 'quick' : 'default'} world (${cfg.users} users, ${cfg.items} items, seed ${cfg.seed ?? 42}) with planted friend graphs`,
      results: {
        k: K,
        worlds: SPECS,
        params,
        rows,
        different: { ndcg: ndcgDiff, outsideHits: outsideDiff },
        similar: { ndcg: similarNdcg },
        noGraphReducesToBase: reducesToBase,
      },
      table,
      charts: [chart(`ndcg@${K}`, (r) => r.ndcg?.[0] ?? null), chart(`minorityRecall@${K}`, (r) => r.minorityRecall?.[0] ?? null), chart('share of hits outside planted tastes', (r) => r.outsideShare)],
    };
  },
};
