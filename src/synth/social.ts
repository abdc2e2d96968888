/**
 * A planted friend graph on a world (`personae world --friends 5,diff:0.5,influence:0.2`).
 *
 * - Each user draws `friends` friends (follow edges: the user follows the friend, whose
 *   consumption reaches the user). A `diff` share of them (rounded per user, largest remainder
 *   over the users) have different planted tastes: no category in common with any of the user's
 *   personas; the others share the user's dominant category. Friends are drawn uniformly among the
 *   users that qualify (any other user when none does).
 * - Influence: each of the user's persona rows (rating >= 4) is, with probability `influence`,
 *   replaced by an item a random friend of theirs rated >= 4 among the friend's own (not
 *   influenced) rows, one the user has not met yet; the row keeps its timestamp and takes the
 *   friend's rating. The truth records the friend (`rowFriend`) and marks the row's persona -2.
 *
 * Determinism: the graph and the influence draw from `Rng(seed).derive('friends', ...)` per user.
 * The world is held in memory (the default world is ~250k rows).
 */
import type { InteractionLog } from '../data/dataset.js';
import type { SocialEdges } from '../data/social.js';
import { ConfigError } from '../errors.js';
import { Rng } from '../math/rng.js';
import type { WorldTruth } from './memory.js';

export interface FriendsSpec {
  /** Friends per user. */
  readonly friends: number;
  /** Share of a user's friends with different planted tastes. */
  readonly diff: number;
  /** Probability that a persona row comes through a friend. */
  readonly influence: number;
}

/** The edge file a world with friends writes next to its interactions. */
export const FRIENDS_FILE = 'friends.csv';

const FRIENDS_HINT = "expected 'N[,diff:<share>][,influence:<share>]', e.g. '5,diff:0.5,influence:0.2'";

/** Parses `--friends 5,diff:0.5,influence:0.2` (diff defaults to 0, influence to 0.2). */
export function parseFriends(s: string): FriendsSpec {
  const parts = s.split(',').map((p) => p.trim());
  const n = Number(parts[0]);
  if (parts[0] === '' || !Number.isInteger(n) || n < 1 || n > 1000) throw new ConfigError(`${FRIENDS_HINT}, got "${s}" (N is an integer 1..1000)`, '--friends');
  let diff = 0;
  let influence = 0.2;
  for (const p of parts.slice(1)) {
    const m = /^(diff|influence):(\d+(?:\.\d+)?)$/.exec(p);
    const v = m ? Number(m[2]) : NaN;
    if (!m || v > 1) throw new ConfigError(`${FRIENDS_HINT}, got "${p}" (shares are in [0, 1])`, '--friends');
    if (m[1] === 'diff') diff = v;
    else influence = v;
  }
  return { friends: n, diff, influence };
}

export interface SocialWorld {
  /** The world's log with the influenced rows replaced (same rows, users and items). */
  readonly log: InteractionLog;
  /** The truth with `rowPersona` -2 on rows that came through a friend. */
  readonly truth: WorldTruth;
  /** By user index: the friends drawn (user indices). */
  readonly friends: readonly Int32Array[];
  /** By user index: 1 for each friend in `friends` drawn with different tastes, else 0. */
  readonly differs: readonly Uint8Array[];
  /** By log row: the friend (user index) the row came through, -1 for the user's own rows. */
  readonly rowFriend: Int32Array;
  /** The follow edges in the log's string ids (user follows friend). */
  readonly edges: SocialEdges;
}

/** The planted category indices (of `log.categories`) of each user's personas. */
export function plantedCategories(log: InteractionLog, truth: WorldTruth): Set<number>[] {
  const index = new Map((log.categories?.names ?? []).map((n, i) => [n, i]));
  return truth.users.map((t) => new Set(t.personas.flatMap((p) => p.categories.map((c) => index.get(c) ?? -1))));
}

/** Plants a friend graph and its influence on a world in memory (see the module comment). */
export function plantFriends(world: { log: InteractionLog; truth: WorldTruth }, spec: FriendsSpec, seed: number): SocialWorld {
  const { log, truth } = world;
  const nUsers = log.users.size;
  const cats = plantedCategories(log, truth);
  const dominant = truth.users.map((t) => t.personas[0]?.categories[0] ?? '');
  const byDominant = new Map<string, number[]>();
  dominant.forEach((c, u) => {
    const list = byDominant.get(c) ?? [];
    list.push(u);
    byDominant.set(c, list);
  });
  const root = new Rng(seed).derive('friends');
  // how many different-taste friends each user gets: diff x N, the remainders spread over users
  let carry = 0;
  const friends: Int32Array[] = [];
  const differs: Uint8Array[] = [];
  for (let u = 0; u < nUsers; u++) {
    const r = root.derive('graph', u);
    carry += spec.diff * spec.friends;
    const nDiff = Math.min(spec.friends, Math.floor(carry + 1e-9));
    carry -= nDiff;
    const chosen = new Set<number>();
    const fs: number[] = [];
    const ds: number[] = [];
    const same = byDominant.get(dominant[u]!) ?? [];
    for (let k = 0; k < spec.friends && nUsers > 1; k++) {
      const wantDiff = k < nDiff;
      let pick = -1;
      for (let t = 0; t < 200 && pick < 0; t++) {
        const v = wantDiff || same.length <= 1 ? r.int(nUsers) : same[r.int(same.length)]!;
        if (v === u || chosen.has(v)) continue;
        if (wantDiff && [...cats[v]!].some((c) => cats[u]!.has(c))) continue;
        pick = v;
      }
      for (let t = 0; t < 200 && pick < 0; t++) {
        const v = r.int(nUsers);
        if (v !== u && !chosen.has(v)) pick = v;
      }
      if (pick < 0) continue;
      chosen.add(pick);
      fs.push(pick);
      ds.push(wantDiff && ![...cats[pick]!].some((c) => cats[u]!.has(c)) ? 1 : 0);
    }
    friends.push(Int32Array.from(fs));
    differs.push(Uint8Array.from(ds));
  }
  // each user's rows are contiguous in the world's log (user by user)
  const start = new Int32Array(nUsers + 1);
  for (let k = 0; k < log.length; k++) start[log.user[k]! + 1]!++;
  for (let u = 0; u < nUsers; u++) start[u + 1]! += start[u]!;
  const minRating = 4;
  const cache = new Map<number, number[]>();
  const ownPositives = (f: number): number[] => {
    const hit = cache.get(f);
    if (hit) return hit;
    const out: number[] = [];
    for (let k = start[f]!; k < start[f + 1]!; k++) if (truth.rowPersona[k]! >= 0 && log.rating![k]! >= minRating) out.push(k);
    cache.set(f, out);
    return out;
  };
  const item = Int32Array.from(log.item);
  const rating = Float32Array.from(log.rating!);
  const rowPersona = Int8Array.from(truth.rowPersona);
  const rowFriend = new Int32Array(log.length).fill(-1);
  for (let u = 0; u < nUsers; u++) {
    const fs = friends[u]!;
    if (fs.length === 0 || spec.influence <= 0) continue;
    const r = root.derive('influence', u);
    const met = new Set<number>();
    for (let k = start[u]!; k < start[u + 1]!; k++) met.add(log.item[k]!);
    for (let k = start[u]!; k < start[u + 1]!; k++) {
      if (truth.rowPersona[k]! < 0 || log.rating![k]! < minRating) continue;
      if (r.next() >= spec.influence) continue;
      const f = fs[r.int(fs.length)]!;
      const pool = ownPositives(f).filter((q) => !met.has(log.item[q]!));
      if (pool.length === 0) continue;
      const q = pool[r.int(pool.length)]!;
      met.add(log.item[q]!);
      item[k] = log.item[q]!;
      rating[k] = log.rating![q]!;
      rowPersona[k] = -2;
      rowFriend[k] = f;
    }
  }
  const user: string[] = [];
  const friend: string[] = [];
  friends.forEach((fs, u) => {
    for (const f of fs) {
      user.push(log.users.id(u));
      friend.push(log.users.id(f));
    }
  });
  const edges: SocialEdges = { user, friend, kind: user.map(() => 'follow' as const) };
  return { log: { ...log, item, rating }, truth: { ...truth, rowPersona }, friends, differs, rowFriend, edges };
}

/**
 * The graph as a CSV edge file, as `--social` reads it: user,friend,kind,different_tastes (the
 * last column is ground truth: 1 when the friend was drawn with different tastes; readers ignore it).
 */
export function friendsCsv(w: SocialWorld): string {
  const parts = ['user,friend,kind,different_tastes\n'];
  w.friends.forEach((fs, u) => {
    fs.forEach((f, k) => parts.push(`${w.log.users.id(u)},${w.log.users.id(f)},follow,${w.differs[u]![k]}\n`));
  });
  return parts.join('');
}

/** interactions-truth.csv of a world with friends: user,item,persona,friend (friend empty for own rows; persona -2 = through a friend). */
export function interactionsTruthCsv(w: SocialWorld): string {
  const parts = ['user,item,persona,friend\n'];
  for (let k = 0; k < w.log.length; k++) {
    const f = w.rowFriend[k]!;
    parts.push(`${w.log.users.id(w.log.user[k]!)},${w.log.items.id(w.log.item[k]!)},${w.truth.rowPersona[k]},${f >= 0 ? w.log.users.id(f) : ''}\n`);
  }
  return parts.join('');
}

/** ratings.csv of a world with friends (user,item,rating,timestamp), as writeWorld writes it. */
export function ratingsCsv(w: SocialWorld): string {
  const parts = ['user,item,rating,timestamp\n'];
  const { log } = w;
  for (let k = 0; k < log.length; k++) parts.push(`${log.users.id(log.user[k]!)},${log.items.id(log.item[k]!)},${log.rating![k]},${log.timestamp![k]}\n`);
  return parts.join('');
}
