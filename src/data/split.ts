/**
 * Leak-safe, deterministic evaluation splits (PROTOCOL.md). Every split keeps the log's user and
 * item index spaces; a split is { train, test, history } over those spaces:
 * - train: the TrainSet a model is fitted on;
 * - test: per user, the items to find (sorted item indices);
 * - history: per test user, the items a model sees at scoring time (their TRAIN row under the
 *   temporal protocols, the folded-in 80% under users-holdout), never recommended back.
 */
import { createHash } from 'node:crypto';
import { csrFromPairs, type Csr } from './csr.js';
import type { InteractionLog } from './dataset.js';
import { compareIdStrings } from './ids.js';
import { ConfigError, DataError } from '../errors.js';
import { Rng } from '../math/rng.js';
import { trainSetFromPairs, type TrainSet } from './train-set.js';

export const PROTOCOLS = ['temporal-user', 'temporal-global', 'users-holdout'] as const;
export type ProtocolName = (typeof PROTOCOLS)[number];

export interface SplitOptions {
  protocol?: ProtocolName;
  /** Rows with rating >= minRating are positives (ignored for implicit data). Default 4. */
  minRating?: number;
  /** Only users-holdout draws random numbers. */
  seed?: number;
}

/** (user, item, time) triples in the log's index spaces. */
export interface Pairs {
  readonly user: Int32Array;
  readonly item: Int32Array;
  readonly time: Float64Array;
}

export interface SplitStats {
  positives: number;
  positiveUsers: number;
  trainUsers: number;
  candidates: number;
  trainPositives: number;
  testUsers: number;
  testPositives: number;
  testNotCandidates: number;
  splitHash: string;
  trainPairsSha256: string;
  testPairsSha256: string;
}

export interface Split {
  readonly protocol: ProtocolName;
  readonly minRating: number;
  readonly seed: number;
  readonly log: InteractionLog;
  readonly train: TrainSet;
  readonly trainPairs: Pairs;
  readonly testPairs: Pairs;
  /** Folded-in history pairs of held-out users (users-holdout only; empty otherwise). */
  readonly historyPairs: Pairs;
  /** user x item: the items to find. */
  readonly test: Csr;
  /** user x item: what the model sees for each test user (train row or folded-in history). */
  readonly history: Csr;
  /** Users with at least one test item, ascending. */
  readonly testUsers: Int32Array;
  /** For each test user (same order): their index in the TrainSet, or -1 when held out. */
  readonly testUserModelIndex: Int32Array;
  readonly stats: SplitStats;
}

/** Step 1: positives, deduplicated per (user, item) keeping the latest timestamp. */
export function extractPositives(log: InteractionLog, minRating: number): Pairs {
  const keep: number[] = [];
  for (let r = 0; r < log.length; r++) {
    if (log.rating && !(log.rating[r]! >= minRating)) continue;
    keep.push(r);
  }
  // time: the timestamp, or the row position when the log has no clock
  const timeOf = (r: number): number => (log.timestamp ? log.timestamp[r]! : r);
  const latest = new Map<number, number>(); // key user * nItems + item -> row
  const nItems = log.items.size;
  for (const r of keep) {
    const key = log.user[r]! * nItems + log.item[r]!;
    const prev = latest.get(key);
    if (prev === undefined || timeOf(r) >= timeOf(prev)) latest.set(key, r);
  }
  const rows = [...latest.values()].sort((a, b) => a - b);
  return {
    user: Int32Array.from(rows, (r) => log.user[r]!),
    item: Int32Array.from(rows, (r) => log.item[r]!),
    time: Float64Array.from(rows, timeOf),
  };
}

function pick(p: Pairs, idx: readonly number[]): Pairs {
  return {
    user: Int32Array.from(idx, (k) => p.user[k]!),
    item: Int32Array.from(idx, (k) => p.item[k]!),
    time: Float64Array.from(idx, (k) => p.time[k]!),
  };
}

const EMPTY_PAIRS: Pairs = { user: new Int32Array(0), item: new Int32Array(0), time: new Float64Array(0) };

/** ceil(0.2 n) in exact integer arithmetic (0.2 * 15 is 3.0000000000000004 in floating point). */
export function testCount(n: number): number {
  return Math.floor((n + 4) / 5);
}

/** Groups pair indices by user, each group sorted by (time, item id) as PROTOCOL.md step 2 says. */
function chronologicalByUser(p: Pairs, log: InteractionLog): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (let k = 0; k < p.user.length; k++) {
    const g = groups.get(p.user[k]!);
    if (g) g.push(k);
    else groups.set(p.user[k]!, [k]);
  }
  const itemRank = log.items.ranks();
  for (const g of groups.values()) g.sort((a, b) => p.time[a]! - p.time[b]! || itemRank[p.item[a]!]! - itemRank[p.item[b]!]!);
  return groups;
}

/** Steps 2-3 applied to `p`: per user with n >= 5 positives, the last ceil(0.2 n) are test. */
export function temporalUserCut(p: Pairs, log: InteractionLog): { train: Pairs; test: Pairs } {
  const train: number[] = [];
  const test: number[] = [];
  for (const g of chronologicalByUser(p, log).values()) {
    const nTest = g.length >= 5 ? testCount(g.length) : 0;
    const cut = g.length - nTest;
    for (let j = 0; j < g.length; j++) (j < cut ? train : test).push(g[j]!);
  }
  return { train: pick(p, train), test: pick(p, test) };
}

/** One cut time: the last ceil(20%) of positives by (time, user id, item id) are test. */
function temporalGlobalCut(p: Pairs, log: InteractionLog): { train: Pairs; test: Pairs } {
  const userRank = log.users.ranks();
  const itemRank = log.items.ranks();
  const order = Array.from(p.user.keys()).sort(
    (a, b) => p.time[a]! - p.time[b]! || userRank[p.user[a]!]! - userRank[p.user[b]!]! || itemRank[p.item[a]!]! - itemRank[p.item[b]!]!,
  );
  const cut = order.length - testCount(order.length);
  const trainIdx = order.slice(0, cut);
  const hasTrain = new Set(trainIdx.map((k) => p.user[k]!));
  // test users need at least one train positive; the others' late positives are dropped
  const testIdx = order.slice(cut).filter((k) => hasTrain.has(p.user[k]!));
  return { train: pick(p, trainIdx), test: pick(p, testIdx) };
}

/** Users with >= 5 positives in id order, shuffled by the stream Rng(seed).derive('users-holdout'). */
function shuffledEligible(groups: Map<number, number[]>, log: InteractionLog, seed: number): number[] {
  const userRank = log.users.ranks();
  const eligible = [...groups.entries()].filter(([, g]) => g.length >= 5).map(([u]) => u);
  eligible.sort((a, b) => userRank[a]! - userRank[b]!);
  const rng = new Rng(seed).derive('users-holdout');
  rng.shuffle(eligible);
  return eligible;
}

/** The users in `heldOut` held out (their earliest 80% folded in, the rest scored); everyone else trains. */
function holdOutUsers(p: Pairs, groups: Map<number, number[]>, heldOut: ReadonlySet<number>): { train: Pairs; test: Pairs; history: Pairs } {
  const train: number[] = [];
  const test: number[] = [];
  const history: number[] = [];
  for (const [u, g] of groups) {
    if (!heldOut.has(u)) {
      train.push(...g);
      continue;
    }
    const cut = g.length - testCount(g.length);
    for (let j = 0; j < g.length; j++) (j < cut ? history : test).push(g[j]!);
  }
  return { train: pick(p, train), test: pick(p, test), history: pick(p, history) };
}

/** A seeded 20% of users (with >= 5 positives) held out: 80% earliest folded in, 20% scored. */
function usersHoldoutCut(p: Pairs, log: InteractionLog, seed: number): { train: Pairs; test: Pairs; history: Pairs } {
  const groups = chronologicalByUser(p, log);
  const eligible = shuffledEligible(groups, log, seed);
  return holdOutUsers(p, groups, new Set(eligible.slice(0, Math.round(0.2 * eligible.length))));
}

/** sha256 of the lines `user,item\n` (original ids) sorted by (user, item), numerically when numeric. */
export function pairsSha256(p: Pairs, log: InteractionLog): string {
  const userRank = log.users.ranks();
  const itemRank = log.items.ranks();
  const order = Array.from(p.user.keys()).sort((a, b) => userRank[p.user[a]!]! - userRank[p.user[b]!]! || itemRank[p.item[a]!]! - itemRank[p.item[b]!]!);
  const h = createHash('sha256');
  let chunk = '';
  for (const k of order) {
    chunk += `${log.users.id(p.user[k]!)},${log.items.id(p.item[k]!)}\n`;
    if (chunk.length > 1 << 16) {
      h.update(chunk);
      chunk = '';
    }
  }
  h.update(chunk);
  return h.digest('hex');
}

/** The TrainSet of a set of train pairs, in the log's index spaces. */
export function buildTrainSet(log: InteractionLog, train: Pairs): TrainSet {
  return trainSetFromPairs(log.users.size, log.items.size, train.user, train.item, log.items.ranks(), log.categories, train.time);
}

/** Assembles a Split from its parts (used by makeSplit, validationSplit and loadSplit). */
export function assembleSplit(
  log: InteractionLog,
  meta: { protocol: ProtocolName; minRating: number; seed: number; positives: number; positiveUsers: number },
  parts: { train: Pairs; test: Pairs; history?: Pairs },
): Split {
  const nUsers = log.users.size;
  const nItems = log.items.size;
  const train = buildTrainSet(log, parts.train);
  const historyPairs = parts.history ?? EMPTY_PAIRS;
  const test = csrFromPairs(nUsers, nItems, parts.test.user, parts.test.item);
  const folded = csrFromPairs(nUsers, nItems, historyPairs.user, historyPairs.item);
  const testUsers: number[] = [];
  for (let u = 0; u < nUsers; u++) if (test.indptr[u + 1]! > test.indptr[u]!) testUsers.push(u);
  const heldOut = new Uint8Array(nUsers);
  for (const u of historyPairs.user) heldOut[u] = 1;
  // history = train row for training users, folded-in row for held-out users
  const histUser: number[] = [];
  const histItem: number[] = [];
  for (const u of testUsers) {
    const src = heldOut[u] ? folded : train.userItems;
    for (let k = src.indptr[u]!; k < src.indptr[u + 1]!; k++) {
      histUser.push(u);
      histItem.push(src.indices[k]!);
    }
  }
  const history = csrFromPairs(nUsers, nItems, Int32Array.from(histUser), Int32Array.from(histItem));
  let testNotCandidates = 0;
  for (const i of parts.test.item) if (train.itemPopularity[i] === 0) testNotCandidates++;
  let trainUsers = 0;
  for (let u = 0; u < nUsers; u++) if (train.userItems.indptr[u + 1]! > train.userItems.indptr[u]!) trainUsers++;
  const trainPairsSha256 = pairsSha256(parts.train, log);
  const testPairsSha256 = pairsSha256(parts.test, log);
  const splitHash = createHash('sha256')
    .update(`${meta.protocol}|${meta.minRating}|${trainPairsSha256}|${testPairsSha256}|${pairsSha256(historyPairs, log)}`)
    .digest('hex')
    .slice(0, 16);
  return {
    protocol: meta.protocol,
    minRating: meta.minRating,
    seed: meta.seed,
    log,
    train,
    trainPairs: parts.train,
    testPairs: parts.test,
    historyPairs,
    test,
    history,
    testUsers: Int32Array.from(testUsers),
    testUserModelIndex: Int32Array.from(testUsers, (u) => (heldOut[u] ? -1 : u)),
    stats: {
      positives: meta.positives,
      positiveUsers: meta.positiveUsers,
      trainUsers,
      candidates: train.candidates.length,
      trainPositives: parts.train.user.length,
      testUsers: testUsers.length,
      testPositives: parts.test.user.length,
      testNotCandidates,
      splitHash,
      trainPairsSha256,
      testPairsSha256,
    },
  };
}

export function makeSplit(log: InteractionLog, opts: SplitOptions = {}): Split {
  const protocol = opts.protocol ?? 'temporal-user';
  if (!PROTOCOLS.includes(protocol)) throw new ConfigError(`unknown protocol "${protocol}"; expected one of ${PROTOCOLS.join(', ')}`, '--protocol');
  const minRating = opts.minRating ?? 4;
  if (!Number.isFinite(minRating)) throw new ConfigError(`must be a number, got ${minRating}`, '--min-rating');
  const seed = opts.seed ?? 42;
  const positives = extractPositives(log, minRating);
  if (positives.user.length === 0) {
    throw new DataError(`no positives: no row has rating >= ${minRating} (lower --min-rating?)`, { file: log.name });
  }
  const positiveUsers = new Set(positives.user).size;
  const meta = { protocol, minRating, seed, positives: positives.user.length, positiveUsers };
  if (protocol === 'temporal-user') return assembleSplit(log, meta, temporalUserCut(positives, log));
  if (protocol === 'temporal-global') return assembleSplit(log, meta, temporalGlobalCut(positives, log));
  return assembleSplit(log, meta, usersHoldoutCut(positives, log, seed));
}

/**
 * The validation split for tuning (PROTOCOL.md step 5): steps 2-3 applied to TRAIN alone. Its
 * candidates are the items with a validation-train positive. TEST is never looked at.
 */
export function validationSplit(split: Split): Split {
  const cut = temporalUserCut(split.trainPairs, split.log);
  const positiveUsers = new Set(split.trainPairs.user).size;
  const v = assembleSplit(
    split.log,
    { protocol: 'temporal-user', minRating: split.minRating, seed: split.seed, positives: split.trainPairs.user.length, positiveUsers },
    cut,
  );
  // the social graph (users x users) is the same on the validation split
  return split.train.social ? { ...v, train: { ...v.train, social: split.train.social } } : v;
}

/**
 * Cross-validation folds (`evaluate --folds k`), users-holdout only: the users with >= 5 positives,
 * shuffled as for the single split, are cut into k consecutive parts of round(f n / k) ..
 * round((f + 1) n / k); fold f holds out part f (earliest 80% folded in, the rest scored) and trains
 * on every other user. Each eligible user is held out exactly once; with k = 5 the first fold is the
 * single users-holdout split. The temporal protocols have no random numbers: every repetition would
 * be the same split, so they are refused.
 */
/** Throws a ConfigError unless `k` folds can be made under `protocol` (see makeFolds). */
export function checkFolds(protocol: ProtocolName, k: number): void {
  if (!Number.isInteger(k) || k < 2) throw new ConfigError(`expected an integer >= 2, got ${k}`, '--folds');
  if (protocol !== 'users-holdout') {
    throw new ConfigError(
      `${protocol} is deterministic (it draws no random numbers), so every fold would be the same split; cross-validation folds need --protocol users-holdout (each user held out once), and --seeds n gives the spread over model seeds under ${protocol}`,
      '--folds',
    );
  }
}

export function makeFolds(log: InteractionLog, opts: SplitOptions & { folds: number }): Split[] {
  const protocol = opts.protocol ?? 'temporal-user';
  const k = opts.folds;
  checkFolds(protocol, k);
  const minRating = opts.minRating ?? 4;
  const seed = opts.seed ?? 42;
  const positives = extractPositives(log, minRating);
  if (positives.user.length === 0) throw new DataError(`no positives: no row has rating >= ${minRating} (lower --min-rating?)`, { file: log.name });
  const groups = chronologicalByUser(positives, log);
  const eligible = shuffledEligible(groups, log, seed);
  if (eligible.length < k) throw new ConfigError(`${k} folds need at least ${k} users with >= 5 positives; the data has ${eligible.length}`, '--folds');
  const meta = { protocol, minRating, seed, positives: positives.user.length, positiveUsers: groups.size };
  const bound = (f: number): number => Math.round((f * eligible.length) / k);
  return Array.from({ length: k }, (_, f) => assembleSplit(log, meta, holdOutUsers(positives, groups, new Set(eligible.slice(bound(f), bound(f + 1))))));
}
