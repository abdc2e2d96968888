/**
 * Persona diagnostics of a ranked split (docs/protocol.md, "Persona diagnostics"), for any model
 * with personas (`HasPersonas`). Per test user, the persona set is the one that scores them
 * (`personasFor`: their own personas, or the fold-in of their history). A history item belongs to
 * its persona by `historyMembers` (the model's `personaMembers`, else the arg-max of the persona
 * weights); a list item to the arg-max of its persona weights (the explaining persona). A persona
 * is "owned" when at least one history item belongs to it.
 *
 * - `personasPerUser`: users by the number of rows of their persona set; `ownedPersonasPerUser`:
 *   users by the number of owned personas.
 * - `cosine`: for users with 2+ persona rows, the mean over pairs of rows of their cosine, then
 *   the mean over users (pairs with a zero row are skipped).
 * - `atK[K]`, over users with 2+ owned personas: `personasInTopK`, users by the number of owned
 *   personas that own at least one of the top K; `meanShareInTopK`, the mean of that number over the
 *   owned count (personaCoverage@K); p = each persona's share of the history, q = its share of the
 *   top K; `meanAbsShareGap`, per user the mean of |q_k - p_k| over the personas with p_k > 0 or
 *   q_k > 0; `personaCkl` and `personaJs`, PROTOCOL.md's ckl and tdd with "category" read as
 *   "persona"; `shareByRank`, the personas ranked by p within each user (largest first), with the
 *   mean p and q of rank r over the users that have r owned personas.
 */
import { rowOf } from '../data/csr.js';
import type { Split } from '../data/split.js';
import type { FidelityReport } from '../explain/fidelity.js';
import { historyMembers, personasFor, type HasPersonas } from '../models/model.js';
import { personaAssignment, personaSetSize } from '../models/persona-assignment.js';
import { calibrationKL, jensenShannon } from '../data/categories.js';

export interface PersonaShareByRank {
  /** 1 = the persona owning the largest share of the history. */
  rank: number;
  users: number;
  historyShare: number;
  topKShare: number;
}

export interface PersonaListDiagnostics {
  /** Users with 2+ owned personas (the numbers below are over them). */
  users: number;
  /** Users by the number of owned personas that own at least one of the top K. */
  personasInTopK: Record<string, number>;
  meanShareInTopK: number | null;
  meanAbsShareGap: number | null;
  personaCkl: number | null;
  personaJs: number | null;
  shareByRank: PersonaShareByRank[];
}

export interface PersonaDiagnostics {
  /** Test users with a non-empty persona set. */
  users: number;
  personasPerUser: Record<string, number>;
  ownedPersonasPerUser: Record<string, number>;
  meanPersonas: number | null;
  meanOwnedPersonas: number | null;
  /** Mean within-user cosine between persona rows, over users with 2+ rows. */
  cosine: { users: number; mean: number | null };
  /** Keyed by the cut-off K. */
  atK: Record<string, PersonaListDiagnostics>;
}

/** The parts of a split the diagnostics read. */
export type DiagnosticsSplit = Pick<Split, 'testUsers' | 'testUserModelIndex' | 'history'>;

/** Mean pairwise cosine of the k rows of `personas` (null when no pair has two non-zero rows). */
export function meanPairwiseCosine(personas: Float32Array, k: number): number | null {
  if (k < 2) return null;
  const d = personas.length / k;
  const norms = new Float64Array(k);
  for (let a = 0; a < k; a++) {
    let s = 0;
    for (let x = 0; x < d; x++) s += personas[a * d + x]! ** 2;
    norms[a] = Math.sqrt(s);
  }
  let sum = 0;
  let pairs = 0;
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      if (!(norms[a]! > 0 && norms[b]! > 0)) continue;
      let dot = 0;
      for (let x = 0; x < d; x++) dot += personas[a * d + x]! * personas[b * d + x]!;
      sum += dot / (norms[a]! * norms[b]!);
      pairs++;
    }
  }
  return pairs > 0 ? sum / pairs : null;
}

function bump(h: Record<string, number>, key: number): void {
  h[String(key)] = (h[String(key)] ?? 0) + 1;
}

/** Keys "0", "1", ... in numeric order (JSON objects keep insertion order). */
function sortedCounts(h: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(h).sort((a, b) => Number(a) - Number(b))) out[key] = h[key]!;
  return out;
}

const meanOf = (sum: number, n: number): number | null => (n > 0 ? sum / n : null);

/** Persona diagnostics of `lists` (one per split.testUsers entry, best first) at each cut-off in `ks`. */
export function personaDiagnostics(model: HasPersonas, split: DiagnosticsSplit, lists: readonly Int32Array[], ks: readonly number[]): PersonaDiagnostics {
  const perUser: Record<string, number> = {};
  const owned: Record<string, number> = {};
  let users = 0;
  let rowsSum = 0;
  let ownedSum = 0;
  let cosSum = 0;
  let cosUsers = 0;
  interface Acc {
    users: number;
    inTop: Record<string, number>;
    share: number;
    gap: number;
    ckl: number;
    js: number;
    byRank: { users: number; p: number; q: number }[];
  }
  const acc = new Map<number, Acc>(ks.map((k) => [k, { users: 0, inTop: {}, share: 0, gap: 0, ckl: 0, js: 0, byRank: [] }]));
  split.testUsers.forEach((u, idx) => {
    const history = rowOf(split.history, u);
    const list = lists[idx] ?? new Int32Array(0);
    if (history.length === 0) return;
    const personas = personasFor(model, split.testUserModelIndex[idx]!, history);
    const n = personaSetSize(model, personas, history[0]!);
    if (n === 0) return;
    users++;
    rowsSum += n;
    bump(perUser, n);
    const cos = meanPairwiseCosine(personas, n);
    if (cos !== null) {
      cosSum += cos;
      cosUsers++;
    }
    const members = historyMembers(model, personas, history);
    const p = new Float64Array(n);
    for (const q of members) if (q >= 0 && q < n) p[q]!++;
    let nOwned = 0;
    let total = 0;
    for (let q = 0; q < n; q++) {
      total += p[q]!;
      if (p[q]! > 0) nOwned++;
    }
    ownedSum += nOwned;
    bump(owned, nOwned);
    if (nOwned < 2) return;
    for (let q = 0; q < n; q++) p[q] = p[q]! / total;
    // personas by history share, largest first (ties: lower index)
    const order = Array.from({ length: n }, (_, q) => q)
      .filter((q) => p[q]! > 0)
      .sort((a, b) => p[b]! - p[a]! || a - b);
    const listAssign = personaAssignment(model, personas, list, history);
    for (const k of ks) {
      const a = acc.get(k)!;
      const top = listAssign.subarray(0, Math.min(k, listAssign.length));
      const q = new Float64Array(n);
      for (const x of top) if (x >= 0 && x < n) q[x]!++;
      if (top.length > 0) for (let g = 0; g < n; g++) q[g] = q[g]! / top.length;
      let present = 0;
      let gap = 0;
      let gapCount = 0;
      for (let g = 0; g < n; g++) {
        if (p[g]! > 0 && q[g]! > 0) present++;
        if (p[g]! > 0 || q[g]! > 0) {
          gap += Math.abs(q[g]! - p[g]!);
          gapCount++;
        }
      }
      a.users++;
      bump(a.inTop, present);
      a.share += present / nOwned;
      a.gap += gap / gapCount;
      a.ckl += calibrationKL(p, q, n);
      a.js += top.length === 0 ? 1 : jensenShannon(p, q, n);
      order.forEach((g, r) => {
        const row = (a.byRank[r] ??= { users: 0, p: 0, q: 0 });
        row.users++;
        row.p += p[g]!;
        row.q += q[g]!;
      });
    }
  });
  const atK: Record<string, PersonaListDiagnostics> = {};
  for (const [k, a] of acc) {
    atK[String(k)] = {
      users: a.users,
      personasInTopK: sortedCounts(a.inTop),
      meanShareInTopK: meanOf(a.share, a.users),
      meanAbsShareGap: meanOf(a.gap, a.users),
      personaCkl: meanOf(a.ckl, a.users),
      personaJs: meanOf(a.js, a.users),
      shareByRank: a.byRank.map((row, r) => ({ rank: r + 1, users: row.users, historyShare: row.p / row.users, topKShare: row.q / row.users })),
    };
  }
  return {
    users,
    personasPerUser: sortedCounts(perUser),
    ownedPersonasPerUser: sortedCounts(owned),
    meanPersonas: meanOf(rowsSum, users),
    meanOwnedPersonas: meanOf(ownedSum, users),
    cosine: { users: cosUsers, mean: meanOf(cosSum, cosUsers) },
    atK,
  };
}

/** One line for the console (at cut-off k). */
export function personaDiagnosticsLine(model: string, d: PersonaDiagnostics, k: number): string {
  const f = (x: number | null, digits = 3): string => (x === null ? 'n/a' : x.toFixed(digits));
  const hist = (h: Record<string, number>): string =>
    Object.entries(h)
      .map(([key, v]) => `${key}:${v}`)
      .join(' ');
  const at = d.atK[String(k)];
  const atText = at
    ? `; at K=${k} over ${at.users} users with 2+ personas: personas in the top K ${hist(at.personasInTopK)}, mean share ${f(at.meanShareInTopK)}, ` +
      `share gap ${f(at.meanAbsShareGap)}, persona ckl ${f(at.personaCkl)}, persona JS ${f(at.personaJs)}; dominant persona ${f(at.shareByRank[0]?.historyShare ?? null, 2)} of the history -> ${f(at.shareByRank[0]?.topKShare ?? null, 2)} of the top K`
    : '';
  return (
    `Persona diagnostics of ${model} (${d.users} users): personas per user ${hist(d.personasPerUser)} (owning history items ${hist(d.ownedPersonasPerUser)}), ` +
    `within-user cosine ${f(d.cosine.mean)} over ${d.cosine.users} users${atText}`
  );
}

/** A Markdown table of the persona diagnostics and explanation fidelity of the models that have them (at cut-off k). */
export function personaDiagnosticsMarkdown(
  models: readonly { name: string; personaDiagnostics?: PersonaDiagnostics; explanationFidelity?: FidelityReport }[],
  k: number,
): string {
  const rows = models.filter((m) => m.personaDiagnostics || m.explanationFidelity);
  if (rows.length === 0) return '';
  const f = (x: number | null | undefined, digits = 3): string => (x === null || x === undefined ? '-' : x.toFixed(digits));
  const hist = (h: Record<string, number> | undefined): string => (h ? Object.entries(h).map(([key, v]) => `${key}: ${v}`).join(', ') : '-');
  const lines = [
    `| model | users | personas per user | within-user cosine | personas in top ${k} (users with 2+) | share in top ${k} | share gap | persona ckl@${k} | persona JS@${k} | explained share (top 10) | rank drop: explaining / random / similar | ratio to random |`,
    '|---|---:|---|---:|---|---:|---:|---:|---:|---:|---|---:|',
  ];
  for (const m of rows) {
    const d = m.personaDiagnostics;
    const at = d?.atK[String(k)];
    const fid = m.explanationFidelity;
    lines.push(
      `| ${m.name} | ${d?.users ?? '-'} | ${hist(d?.personasPerUser)} | ${f(d?.cosine.mean)} | ${hist(at?.personasInTopK)} | ${f(at?.meanShareInTopK)} | ${f(at?.meanAbsShareGap)} | ${f(at?.personaCkl)} | ${f(at?.personaJs)} | ` +
        `${fid ? f(fid.explainedShare) : '-'} | ${fid ? `${f(fid.meanRankDrop, 1)} / ${f(fid.control.meanRankDrop, 1)} / ${f(fid.similar.meanRankDrop, 1)}` : '-'} | ${fid ? f(fid.ratioToRandom, 1) : '-'} |`,
    );
  }
  return lines.join('\n');
}
