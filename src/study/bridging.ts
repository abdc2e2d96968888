/**
 * Bridging users in the aggregation study: users who hold both sides of a disagreement (the
 * `split:51/49,bridge:0.15` world plants them; on a user's dataset a proxy finds them). What it
 * measures, per bridging test user: the side (0 = A, 1 = B) of each held-out item, their minority
 * side, hit@K on each side, and the share of their list's hits on each side against the share of
 * their held-out items on each side. The verdict of the claim "one vector, or one static cluster,
 * per user recreates the averaging problem one level down" is `bridgingVerdict`.
 */
import { summarise } from '../eval/stats.js';
import { rowOf } from '../data/csr.js';
import type { Split } from '../data/split.js';
import type { WorldTruth } from '../synth/world.js';
import { fmt, labelsByPair, paired, subset } from './common.js';
import type { Verdict } from './types.js';

/** Group codes of test users: 0 = A (majority), 1 = B (minority), 2 = bridging, -1 = none. */
export const GROUP_A = 0;
export const GROUP_B = 1;
export const GROUP_BRIDGE = 2;

/** The sides of each test user's held-out items and each test user's minority side. */
export interface TestSides {
  /** Per test user (test-user order): the side of each test item (row order of split.test), -1 = no side. */
  itemSide: Int8Array[];
  /** Per test user: the user's minority side (0 / 1) for bridging users, -1 for everyone else. */
  minoritySide: Int8Array;
  /** Per test user: the planted (or proxy) share of the user's rows on their minority side; null when not bridging. */
  minorityShare: (number | null)[];
}

/**
 * Sides from a planted world: each held-out item's side is the side of the row that produced it
 * (`truth.rowSide`; a bridging user's rows follow their persona's side), and a bridging user's
 * minority side is the side whose personas weigh less (ties: side B).
 */
export function plantedSides(split: Split, truth: WorldTruth): TestSides {
  const nItems = split.log.items.size;
  const sideOf = labelsByPair(split.log, truth.rowSide); // positives' sides by (user, item)
  const itemSide = Array.from(split.testUsers, (u) => {
    const items = rowOf(split.test, u);
    return Int8Array.from(items, (i) => sideOf.get(u * nItems + i) ?? -1);
  });
  const minoritySide = new Int8Array(split.testUsers.length).fill(-1);
  const minorityShare: (number | null)[] = new Array<number | null>(split.testUsers.length).fill(null);
  split.testUsers.forEach((u, pos) => {
    if (truth.userGroup[u] !== GROUP_BRIDGE) return;
    let a = 0;
    for (const p of truth.users[u]!.personas) if (p.side === 'A') a += p.weight;
    minoritySide[pos] = a > 0.5 ? 1 : 0;
    minorityShare[pos] = Math.min(a, 1 - a);
  });
  return { itemSide, minoritySide, minorityShare };
}

/** Relative rate at which an item must be consumed more by one cluster than the other to have a side (proxy truth). */
export const PROXY_ITEM_LIFT = 2;
/** A user bridges (proxy truth) when each side holds at least this share of their sided history items. */
export const PROXY_BRIDGE_SHARE = 0.3;

/**
 * Proxy sides for data without planted truth, from the two groups of the training users
 * (`userGroup`: 0 / 1 by user index, -1 unknown): an item's side is the group that consumes it at
 * least PROXY_ITEM_LIFT times more often per member than the other (else none); a test user bridges
 * when each side holds at least PROXY_BRIDGE_SHARE of the sided items of their history. Returns the
 * sides and each test user's group (0, 1 or 2).
 */
export function proxySides(split: Split, userGroup: Int8Array, testGroup: Int8Array): { sides: TestSides; group: Int8Array } {
  const train = split.train;
  const size = [0, 0];
  for (let u = 0; u < train.nUsers; u++) if (userGroup[u]! >= 0) size[userGroup[u]!]!++;
  const count = [new Float64Array(train.nItems), new Float64Array(train.nItems)];
  for (let u = 0; u < train.nUsers; u++) {
    const g = userGroup[u]!;
    if (g < 0) continue;
    for (const i of rowOf(train.userItems, u)) count[g]![i]! += 1;
  }
  const side = new Int8Array(train.nItems).fill(-1);
  for (let i = 0; i < train.nItems; i++) {
    const ra = (count[0]![i]! + 0.5) / Math.max(1, size[0]!);
    const rb = (count[1]![i]! + 0.5) / Math.max(1, size[1]!);
    if (count[0]![i]! + count[1]![i]! < 5) continue;
    if (ra >= PROXY_ITEM_LIFT * rb) side[i] = 0;
    else if (rb >= PROXY_ITEM_LIFT * ra) side[i] = 1;
  }
  const group = Int8Array.from(testGroup);
  const minoritySide = new Int8Array(split.testUsers.length).fill(-1);
  const minorityShare: (number | null)[] = new Array<number | null>(split.testUsers.length).fill(null);
  split.testUsers.forEach((u, pos) => {
    let a = 0;
    let b = 0;
    for (const i of rowOf(split.history, u)) {
      if (side[i] === 0) a++;
      else if (side[i] === 1) b++;
    }
    if (a + b === 0) return;
    const shareA = a / (a + b);
    if (Math.min(shareA, 1 - shareA) >= PROXY_BRIDGE_SHARE) {
      group[pos] = GROUP_BRIDGE;
      minoritySide[pos] = shareA > 0.5 ? 1 : 0;
      minorityShare[pos] = Math.min(shareA, 1 - shareA);
    }
  });
  const itemSide = Array.from(split.testUsers, (u) => Int8Array.from(rowOf(split.test, u), (i) => side[i]!));
  return { sides: { itemSide, minoritySide, minorityShare }, group };
}

/** Per test user side measures of one model's lists (null where the user is not bridging or the measure is undefined). */
export interface SideHits {
  /** hit@K on the minority side's held-out items (null without any). */
  minorityHit: (number | null)[];
  /** hit@K on the majority side's held-out items (null without any). */
  majorityHit: (number | null)[];
  /** Share of the list's sided hits that are on the minority side (null without sided hits). */
  minorityHitShare: (number | null)[];
  /** Share of the user's sided held-out items on the minority side (null without any). */
  minorityHeldOutShare: (number | null)[];
}

/** Side measures of the top-`k` lists (test-user order) of bridging users. */
export function sideHits(split: Split, sides: TestSides, lists: readonly Int32Array[], k: number): SideHits {
  const n = split.testUsers.length;
  const out: SideHits = {
    minorityHit: new Array<number | null>(n).fill(null),
    majorityHit: new Array<number | null>(n).fill(null),
    minorityHitShare: new Array<number | null>(n).fill(null),
    minorityHeldOutShare: new Array<number | null>(n).fill(null),
  };
  split.testUsers.forEach((u, pos) => {
    const minor = sides.minoritySide[pos]!;
    if (minor < 0) return;
    const items = rowOf(split.test, u);
    const side = sides.itemSide[pos]!;
    const sideOf = new Map<number, number>();
    let nMin = 0;
    let nMaj = 0;
    items.forEach((i, j) => {
      if (side[j]! < 0) return;
      sideOf.set(i, side[j]!);
      if (side[j] === minor) nMin++;
      else nMaj++;
    });
    let hMin = 0;
    let hMaj = 0;
    const list = lists[pos]!;
    for (let r = 0; r < Math.min(k, list.length); r++) {
      const s = sideOf.get(list[r]!);
      if (s === undefined) continue;
      if (s === minor) hMin++;
      else hMaj++;
    }
    if (nMin > 0) out.minorityHit[pos] = hMin > 0 ? 1 : 0;
    if (nMaj > 0) out.majorityHit[pos] = hMaj > 0 ? 1 : 0;
    if (hMin + hMaj > 0) out.minorityHitShare[pos] = hMin / (hMin + hMaj);
    if (nMin + nMaj > 0) out.minorityHeldOutShare[pos] = nMin / (nMin + nMaj);
  });
  return out;
}

/** How a model enters the verdict. */
export type BridgeRole = 'global' | 'cluster' | 'one-vector' | 'personas' | 'other';

export interface BridgeRow {
  name: string;
  role: BridgeRole;
  /** Per test user hit@K (test-user order). */
  hits: (number | null)[];
  /** Per test user hit@K on the minority side's held-out items (bridging users only, else null). */
  minorityHits: (number | null)[];
}

/** The four service measures of the verdict. */
export const MEASURES = ['A', 'B', 'bridging', 'bridgingMinority'] as const;
export type Measure = (typeof MEASURES)[number];

/** A group (measure) is served well by a model when its mean is at least this share of the best any model reaches. */
export const BRIDGE_SERVED_WELL = 0.8;

export interface BridgingVerdict {
  verdict: Verdict;
  reason: string;
  /** Per model and measure: mean, served well, and personas minus the model (paired). */
  table: Record<string, Record<Measure, { mean: number | null; served: boolean; personasMinus: { mean: number; ci95: [number, number] } | null }>>;
  checks: {
    globalUnderservesMinority: boolean;
    clustersUnderserveBridging: boolean;
    oneVectorUnderserveBridging: boolean;
    personasServesAll: boolean;
    /** Per cluster / one-vector model: whether it under-serves the bridging users' minority side. */
    underservesBridging: Record<string, boolean>;
  };
}

/**
 * The verdict, fixed before the run. Measures: hit@K of group A, of group B, of the bridging
 * users, and of the bridging users on their minority side (hit@K on the held-out items of that
 * side). A model serves a measure well when its mean is at least BRIDGE_SERVED_WELL x the best any
 * model reaches; it under-serves it when it does not serve it well **and** personas beat it on it
 * (paired interval of personas - model above 0).
 * - holds: the global model under-serves group B; the static cluster model (the cluster row best on
 *   the bridging minority side, the most favourable to clusters) and every one-vector model
 *   under-serve the bridging users' minority side; personas serve all four measures.
 * - does-not-hold: no cluster or one-vector model under-serves the bridging users' minority side.
 * - mixed otherwise.
 */
export function bridgingVerdict(rows: readonly BridgeRow[], group: Int8Array, seed: number, k = 10): BridgingVerdict {
  const keep: Record<Measure, (pos: number) => boolean> = {
    A: (p) => group[p] === GROUP_A,
    B: (p) => group[p] === GROUP_B,
    bridging: (p) => group[p] === GROUP_BRIDGE,
    bridgingMinority: (p) => group[p] === GROUP_BRIDGE,
  };
  const values = (r: BridgeRow, m: Measure): (number | null)[] => subset(m === 'bridgingMinority' ? r.minorityHits : r.hits, keep[m]);
  const mean = (r: BridgeRow, m: Measure): number | null => summarise(values(r, m), seed, 1).mean;
  const personas = rows.find((r) => r.role === 'personas');
  if (!personas) throw new Error('bridgingVerdict: needs a personas row');
  const best = Object.fromEntries(MEASURES.map((m) => [m, Math.max(0, ...rows.map((r) => mean(r, m) ?? 0))])) as Record<Measure, number>;
  const table: BridgingVerdict['table'] = {};
  for (const r of rows) {
    table[r.name] = Object.fromEntries(
      MEASURES.map((m) => {
        const v = mean(r, m);
        const d = r === personas ? null : paired(values(personas, m), values(r, m), seed);
        return [m, { mean: v, served: v !== null && v >= BRIDGE_SERVED_WELL * best[m], personasMinus: d && d.n > 0 ? { mean: d.mean, ci95: d.ci95 } : null }];
      }),
    ) as Record<Measure, BridgingVerdict['table'][string][Measure]>;
  }
  const underserves = (r: BridgeRow, m: Measure): boolean => {
    const t = table[r.name]![m];
    return !t.served && t.personasMinus !== null && t.personasMinus.ci95[0] > 0;
  };
  const global = rows.find((r) => r.role === 'global');
  const globalUnderservesMinority = global ? underserves(global, 'B') : false;
  const clusters = rows.filter((r) => r.role === 'cluster');
  const bestCluster = clusters.reduce<BridgeRow | null>((b, r) => (b === null || (mean(r, 'bridgingMinority') ?? 0) > (mean(b, 'bridgingMinority') ?? 0) ? r : b), null);
  const oneVector = rows.filter((r) => r.role === 'one-vector');
  const underservesBridging: Record<string, boolean> = {};
  for (const r of [...(bestCluster ? [bestCluster] : []), ...oneVector]) underservesBridging[r.name] = underserves(r, 'bridgingMinority');
  const clustersUnderserveBridging = bestCluster !== null && underservesBridging[bestCluster.name]!;
  const oneVectorUnderserveBridging = oneVector.length > 0 && oneVector.every((r) => underservesBridging[r.name]);
  const personasServesAll = MEASURES.every((m) => table[personas.name]![m].served);
  const any = Object.values(underservesBridging).some((x) => x);
  const verdict: Verdict =
    globalUnderservesMinority && clustersUnderserveBridging && oneVectorUnderserveBridging && personasServesAll ? 'holds' : !any ? 'does-not-hold' : 'mixed';
  const d = (r: BridgeRow, m: Measure): string => {
    const t = table[r.name]![m];
    const pm = t.personasMinus;
    return `${fmt(t.mean)}${pm ? ` (personas ${pm.mean >= 0 ? '+' : ''}${fmt(pm.mean)} [${fmt(pm.ci95[0])}, ${fmt(pm.ci95[1])}])` : ''}`;
  };
  const reason = [
    `"served well" = at least ${BRIDGE_SERVED_WELL} x the best any model reaches (hit@${k}: A ${fmt(best.A)}, B ${fmt(best.B)}, bridging ${fmt(best.bridging)}, bridging minority side ${fmt(best.bridgingMinority)}); "under-serves" = not served well and personas better with the paired interval above 0`,
    global ? `global ${global.name} on B: ${d(global, 'B')} -> ${globalUnderservesMinority ? 'under-serves the minority group' : 'does not under-serve the minority group'}` : 'no global row',
    bestCluster
      ? `static clusters (${bestCluster.name}, the best cluster row there) on the bridging users' minority side: ${d(bestCluster, 'bridgingMinority')} -> ${clustersUnderserveBridging ? 'under-serves' : 'does not under-serve'}`
      : 'no cluster row',
    ...oneVector.map((r) => `one-vector ${r.name} on the bridging minority side: ${d(r, 'bridgingMinority')} -> ${underservesBridging[r.name] ? 'under-serves' : 'does not under-serve'}`),
    `personas: A ${fmt(table[personas.name]!.A.mean)}, B ${fmt(table[personas.name]!.B.mean)}, bridging ${fmt(table[personas.name]!.bridging.mean)}, bridging minority side ${fmt(table[personas.name]!.bridgingMinority.mean)} -> ${personasServesAll ? 'serves all three groups' : `does not serve ${MEASURES.filter((m) => !table[personas.name]![m].served).join(', ')} well`}`,
  ];
  return { verdict, reason: reason.join('; ') + '.', table, checks: { globalUnderservesMinority, clustersUnderserveBridging, oneVectorUnderserveBridging, personasServesAll, underservesBridging } };
}
