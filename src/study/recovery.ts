/**
 * `personae study recovery`: do the learned personas match the planted ones? On worlds with
 * planted personas (src/synth), for every training user we take each training interaction's
 * explaining persona (the learned persona with the largest weight for the item, as explanations
 * use it) and its planted persona, and map learned to planted personas one-to-one so that the most
 * interactions agree (best match, per user). We report the agreement (share of interactions whose
 * explaining persona maps to their planted persona), the single-persona baseline (the share of the
 * user's largest planted persona: what one vector per user would get), and the share of minority
 * personas recovered (at least half of the minority persona's interactions explained by its
 * matched learned persona), as the model's K and the planted minority weight vary.
 *
 * On a user's dataset nothing is planted: the item's category (among its categories, the one most
 * frequent in the user's history) stands in for the planted persona, categories under 10% of a
 * user's history are left out, and only K varies. The output says so.
 */
import { rowOf } from '../data/csr.js';
import { DataError } from '../errors.js';
import type { InteractionLog } from '../data/dataset.js';
import { makeSplit, type Split } from '../data/split.js';
import { summarise } from '../eval/stats.js';
import { Rng } from '../math/rng.js';
import { hasPersonas, personasFor, personaWeightsOf, type HasPersonas, type Recommender } from '../models/model.js';
import { worldToLog, type WorldTruth } from '../synth/world.js';
import { fitModel, fmt, labelsByPair, markdownTable, paired, STUDY_RESAMPLES, worldConfigFor } from './common.js';
import type { Study, StudyChart, StudyContext, Verdict } from './types.js';

const KS = [1, 2, 4];
const QUICK_KS = [1, 3];
const MINORITY: [number, number][] = [
  [0.1, 0.15],
  [0.2, 0.25],
];
/** Worlds of the grid: smaller than the default world so that the grid fits in the time budget. */
const GRID_WORLD = { users: 1200, items: 1000, categories: 10, meanInteractions: 70 };
const MAX_USERS = 800;
/** A minority persona is recovered when its matched learned persona explains at least this share of its rows. */
export const RECOVERED_AT = 0.5;
/** Agreement must beat the single-persona baseline by this much (and its interval exclude 0). */
export const AGREEMENT_MARGIN = 0.02;

/** Best one-to-one map from planted personas (columns) to learned personas (rows) of a contingency table. */
export function bestMatch(table: number[][], nLearned: number, nPlanted: number): { matched: number; map: number[] } {
  let best = -1;
  let bestMap: number[] = [];
  const map = new Array<number>(nPlanted).fill(-1);
  const used = new Uint8Array(nLearned);
  const rec = (p: number, sum: number): void => {
    if (p === nPlanted) {
      if (sum > best) (best = sum), (bestMap = [...map]);
      return;
    }
    for (let l = 0; l < nLearned; l++) {
      if (used[l]) continue;
      used[l] = 1;
      map[p] = l;
      rec(p + 1, sum + table[l]![p]!);
      used[l] = 0;
    }
    map[p] = -1;
    rec(p + 1, sum); // planted persona p left unmatched (more planted than learned personas)
  };
  rec(0, 0);
  return { matched: Math.max(0, best), map: bestMap };
}

export interface UserRecovery {
  agreement: number;
  baseline: number;
  /** null when the user has a single planted persona. */
  minorityRecovered: number | null;
}

/** Per-user recovery from (explaining, planted) pairs; planted ids 0..nPlanted-1, minority = `minority` (or -1). */
export function userRecovery(explaining: readonly number[], planted: readonly number[], nLearned: number, nPlanted: number, minority: number): UserRecovery {
  const table = Array.from({ length: nLearned }, () => new Array<number>(nPlanted).fill(0));
  const plantedCount = new Array<number>(nPlanted).fill(0);
  for (let j = 0; j < explaining.length; j++) {
    table[explaining[j]!]![planted[j]!]!++;
    plantedCount[planted[j]!]!++;
  }
  const n = explaining.length;
  const { matched, map } = bestMatch(table, nLearned, nPlanted);
  let minorityRecovered: number | null = null;
  if (minority >= 0 && plantedCount[minority]! > 0) {
    const l = map[minority]!;
    minorityRecovered = l >= 0 && table[l]![minority]! >= RECOVERED_AT * plantedCount[minority]! ? 1 : 0;
  }
  return { agreement: n ? matched / n : 0, baseline: n ? Math.max(...plantedCount) / n : 0, minorityRecovered };
}

interface Truthful {
  /** Per training user u: item -> planted persona id (dense per user), and the user's minority id. */
  planted(u: number): { items: Int32Array; persona: Int32Array; nPlanted: number; minority: number };
}

/** Planted truth of a world: the persona that produced each positive (noise rows are not positives). */
function worldTruth(split: Split, truth: WorldTruth): Truthful {
  const nItems = split.log.items.size;
  const byPair = labelsByPair(split.log, truth.rowPersona);
  return {
    planted(u) {
      const row = rowOf(split.train.userItems, u);
      const items: number[] = [];
      const persona: number[] = [];
      for (const i of row) {
        const p = byPair.get(u * nItems + i);
        if (p === undefined) continue;
        items.push(i);
        persona.push(p);
      }
      const nPlanted = truth.users[u]!.personas.length;
      return { items: Int32Array.from(items), persona: Int32Array.from(persona), nPlanted, minority: nPlanted >= 2 ? nPlanted - 1 : -1 };
    },
  };
}

/** Proxy truth on real data: the item's category most frequent in the user's history; categories under 10% dropped. */
function categoryTruth(split: Split): Truthful {
  const cats = split.log.categories!;
  const nCat = cats.names.length;
  return {
    planted(u) {
      const row = rowOf(split.train.userItems, u);
      const freq = new Float64Array(nCat);
      for (const i of row) for (let e = cats.ptr[i]!; e < cats.ptr[i + 1]!; e++) freq[cats.idx[e]!]! += 1;
      const label = Array.from(row, (i) => {
        let best = -1;
        for (let e = cats.ptr[i]!; e < cats.ptr[i + 1]!; e++) if (best < 0 || freq[cats.idx[e]!]! > freq[best]!) best = cats.idx[e]!;
        return best;
      });
      const count = new Map<number, number>();
      for (const c of label) count.set(c, (count.get(c) ?? 0) + 1);
      const kept = [...count.entries()].filter(([, n]) => n >= 0.1 * row.length).sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      const id = new Map(kept.map(([c], j) => [c, j]));
      const items: number[] = [];
      const persona: number[] = [];
      row.forEach((i, j) => {
        const p = id.get(label[j]!);
        if (p !== undefined) (items.push(i), persona.push(p));
      });
      return { items: Int32Array.from(items), persona: Int32Array.from(persona), nPlanted: kept.length, minority: kept.length >= 2 ? kept.length - 1 : -1 };
    },
  };
}

export interface RecoveryCell {
  k: number;
  minorityWeight: [number, number] | null;
  agreement: (number | null)[];
  baseline: (number | null)[];
  minorityRecovered: (number | null)[];
}

/** Recovery of one fitted model over (a sample of) the training users. */
function measure(model: Recommender & HasPersonas, split: Split, truth: Truthful, users: readonly number[]): Omit<RecoveryCell, 'k' | 'minorityWeight'> {
  const out = { agreement: [] as (number | null)[], baseline: [] as (number | null)[], minorityRecovered: [] as (number | null)[] };
  for (const u of users) {
    const t = truth.planted(u);
    if (t.items.length < 5 || t.nPlanted === 0) continue;
    const history = rowOf(split.train.userItems, u);
    const personas = personasFor(model, u, history);
    const dim = Number(model.params.dim);
    const nLearned = Math.max(1, Math.round(personas.length / dim));
    const explaining = Array.from(t.items, (i) => {
      const w = personaWeightsOf(model, personas, i, history);
      let best = 0;
      for (let k = 1; k < w.length; k++) if (w[k]! > w[best]!) best = k;
      return best;
    });
    const r = userRecovery(explaining, Array.from(t.persona), Math.max(nLearned, ...explaining.map((e) => e + 1)), t.nPlanted, t.minority);
    out.agreement.push(r.agreement);
    out.baseline.push(r.baseline);
    out.minorityRecovered.push(r.minorityRecovered);
  }
  return out;
}

export interface RecoveryVerdict {
  verdict: Verdict;
  reason: string;
  /** Per minority setting (or the one proxy setting): the best K and whether it recovers. */
  settings: { minorityWeight: [number, number] | null; bestK: number; agreement: number | null; gain: number; gainCi: [number, number]; minorityRecovered: number | null; recovers: boolean }[];
}

/** Per minority setting, some K >= 2 must beat the single-persona baseline and recover half the minority personas (reported: that K, else the K with the best agreement). */
export function recoveryVerdict(cells: readonly RecoveryCell[], seed: number): RecoveryVerdict {
  const keys = [...new Set(cells.map((c) => JSON.stringify(c.minorityWeight)))];
  const settings = keys.map((key) => {
    const inSetting = cells.filter((c) => JSON.stringify(c.minorityWeight) === key);
    // K = 1 is one vector per user (it equals the baseline by construction): the best K is chosen among K >= 2
    const several = inSetting.filter((c) => c.k >= 2);
    const group = several.length > 0 ? several : inSetting;
    const mean = (c: RecoveryCell): number => summarise(c.agreement, seed, 1).mean ?? 0;
    const judged = group.map((c) => {
      const gain = paired(c.agreement, c.baseline, seed);
      const rec = summarise(c.minorityRecovered, seed, 1).mean;
      const recovers = gain.ci95[0] > 0 && gain.mean > AGREEMENT_MARGIN && (rec ?? 0) >= RECOVERED_AT;
      return { minorityWeight: c.minorityWeight, bestK: c.k, agreement: mean(c), gain: gain.mean, gainCi: gain.ci95, minorityRecovered: rec, recovers };
    });
    // the first K that recovers, else the K with the best agreement
    return judged.find((j) => j.recovers) ?? judged.reduce((a, b) => ((b.agreement ?? 0) > (a.agreement ?? 0) ? b : a));
  });
  const all = settings.every((s) => s.recovers);
  const none = settings.every((s) => !(s.gainCi[0] > 0 && s.gain > AGREEMENT_MARGIN));
  const verdict: Verdict = all ? 'holds' : none ? 'does-not-hold' : 'mixed';
  const reason = settings
    .map(
      (s) =>
        `${s.minorityWeight ? `minority weight ${s.minorityWeight[0]}-${s.minorityWeight[1]}` : 'proxy truth'}: ${s.recovers ? 'recovered at' : 'no K recovers; best agreement at'} K=${s.bestK}, agreement ${fmt(s.agreement)} ` +
        `(${fmt(s.gain)} [${fmt(s.gainCi[0])}, ${fmt(s.gainCi[1])}] above the single-persona baseline; needed > ${AGREEMENT_MARGIN}), minority personas recovered ${fmt(s.minorityRecovered)} (needed >= ${RECOVERED_AT})`,
    )
    .join('; ');
  return { verdict, reason: reason + '.', settings };
}

function sampleUsers(split: Split, seed: number, max: number): number[] {
  const users: number[] = [];
  for (let u = 0; u < split.train.nUsers; u++) if (rowOf(split.train.userItems, u).length >= 5) users.push(u);
  if (users.length <= max) return users;
  const rng = new Rng(seed).derive('recovery-users');
  for (let j = users.length - 1; j > 0; j--) {
    const k = rng.int(j + 1);
    [users[j], users[k]] = [users[k]!, users[j]!];
  }
  return users.slice(0, max).sort((a, b) => a - b);
}

export const recoveryStudy: Study = {
  name: 'recovery',
  claim:
    "Learned personas recover the planted ones: each interaction's explaining persona agrees with its planted persona (best one-to-one match per user) clearly more often than one vector per user could, and most minority personas are recovered, as K and the minority weight vary.",
  async run(ctx: StudyContext) {
    const ks = ctx.quick ? QUICK_KS : KS;
    const splitOpts = { protocol: ctx.protocol ?? 'temporal-user', minRating: ctx.minRating ?? 4, seed: ctx.seed } as const;
    const cells: RecoveryCell[] = [];
    let label: string;
    const runGrid = async (split: Split, truth: Truthful, mw: [number, number] | null): Promise<void> => {
      const users = sampleUsers(split, ctx.seed, ctx.quick ? 300 : MAX_USERS);
      for (const k of ks) {
        ctx.onProgress?.('recovery', cells.length, ks.length * (ctx.log ? 1 : MINORITY.length), `K=${k}${mw ? ` minority ${mw.join('-')}` : ''}`);
        const model = await fitModel('personas', split, ctx, { k }, `personas-k${k}`);
        if (!hasPersonas(model)) throw new Error('the personas model has no personas');
        cells.push({ k, minorityWeight: mw, ...measure(model, split, truth, users) });
      }
    };
    if (ctx.log) {
      const log: InteractionLog = ctx.log;
      if (!log.categories) throw new DataError('the recovery study needs item categories as the proxy truth on real data (give --categories FILE)', { file: ctx.dataLabel ?? log.name });
      const split = makeSplit(log, splitOpts);
      await runGrid(split, categoryTruth(split), null);
      label = `${ctx.dataLabel ?? log.name} (no planted truth: item categories are the proxy personas)`;
    } else {
      const base = ctx.quick ? {} : GRID_WORLD;
      for (const mw of MINORITY) {
        const cfg = worldConfigFor(ctx, { ...base, minorityWeight: mw });
        const { log, truth } = worldToLog(cfg);
        const split = makeSplit(log, splitOpts);
        await runGrid(split, worldTruth(split, truth), mw);
      }
      const c = worldConfigFor(ctx, base);
      label = `worlds of ${c.users} users, ${c.items} items, ${c.categories} categories (seed ${c.seed ?? 42}) with minority weight ${MINORITY.map((m) => m.join('-')).join(' and ')}`;
    }
    const v = recoveryVerdict(cells, ctx.seed);
    const rows = cells.map((c) => ({
      k: c.k,
      minorityWeight: c.minorityWeight,
      users: c.agreement.length,
      agreement: summarise(c.agreement, ctx.seed, STUDY_RESAMPLES),
      baseline: summarise(c.baseline, ctx.seed, STUDY_RESAMPLES),
      minorityRecovered: summarise(c.minorityRecovered, ctx.seed, STUDY_RESAMPLES),
    }));
    const ci = (s: { mean: number | null; ci95: [number, number] | null }): string => (s.mean === null ? 'n/a' : `${fmt(s.mean)} [${fmt(s.ci95![0])}, ${fmt(s.ci95![1])}]`);
    const table = markdownTable(
      ['minority weight', 'K', 'users', 'agreement (best match)', 'single-persona baseline', 'minority personas recovered'],
      rows.map((r) => [r.minorityWeight ? r.minorityWeight.join('-') : 'proxy (categories)', String(r.k), String(r.users), ci(r.agreement), ci(r.baseline), ci(r.minorityRecovered)]),
    );
    const settings = [...new Set(rows.map((r) => JSON.stringify(r.minorityWeight)))];
    const seriesOf = (pick: (r: (typeof rows)[number]) => number | null, what: string) =>
      settings.map((s) => {
        const rs = rows.filter((r) => JSON.stringify(r.minorityWeight) === s);
        const mw = JSON.parse(s) as [number, number] | null;
        return { name: `${what}${mw ? ` (minority ${mw.join('-')})` : ''}`, y: ks.map((k) => pick(rs.find((r) => r.k === k)!)) };
      });
    const charts: StudyChart[] = [
      {
        title: 'agreement of explaining and planted personas vs K',
        kind: 'line',
        x: ks,
        xLabel: 'K (model personas per user, at most)',
        yLabel: 'agreement',
        series: [...seriesOf((r) => r.agreement.mean, 'agreement'), ...seriesOf((r) => r.baseline.mean, 'single-persona baseline')],
      },
      {
        title: 'share of minority personas recovered vs K',
        kind: 'line',
        x: ks,
        xLabel: 'K (model personas per user, at most)',
        yLabel: 'minority personas recovered',
        series: seriesOf((r) => r.minorityRecovered.mean, 'recovered'),
      },
    ];
    return {
      study: 'recovery',
      claim: recoveryStudy.claim,
      verdict: v.verdict,
      verdictReason: v.reason,
      data: label,
      results: { ks, minorityWeights: ctx.log ? null : MINORITY, recoveredAt: RECOVERED_AT, agreementMargin: AGREEMENT_MARGIN, settings: v.settings, cells: rows },
      table,
      charts,
    };
  },
};
