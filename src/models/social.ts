/**
 * `social`: friends' consumption added to a user's own preference, the idea of Social Poisson
 * Factorization (Chaney, Blei & Eliassi-Rad, "A Probabilistic Model for Using Social Networks in
 * Personalized Item Recommendation", RecSys 2015): a user may consume an item because of their own
 * taste or because a friend consumed it. Here the own preference is an implicit-ALS factor model
 * (`ials`, same parameters) and
 *
 *   s(u, i) = x_u . y_i + w_u * sum_{f in F(u)} [f consumed i in training]
 *
 * with F(u) the users whose consumption reaches u (`TrainSet.social`, from `--social FILE`) and
 * w_u >= 0 a learned per-user influence weight. The weights are fitted after the factors, with the
 * factors fixed: a pooled weight w0 first, then each user's by Newton steps on the BPR objective of
 * their training positives against sampled candidates, sum log sigma(s_p - s_n), with an L2 pull
 * `influenceReg` (w_u - w0)^2 / 2 towards w0. Without a graph (or for a user without friends, and
 * for users unknown to the model) the score is the base model's exactly. Memory: the base model
 * plus the graph and the training rows (interactions-sized). `explain` names the friends an item
 * came through.
 */
import { z } from 'zod';
import { rowOf, sortedHas, type Csr } from '../data/csr.js';
import type { Rng } from '../math/rng.js';
import { Ials, IalsConfig } from './ials.js';
import type { FitContext, ModelArtifact, ModelSpec, Recommender, TrainSet, UserBatch } from './model.js';

export const SocialConfig = IalsConfig.extend({
  /** L2 pull of each user's influence weight towards the pooled weight. */
  influenceReg: z.number().min(0).default(5),
  /** Newton steps of each influence fit. */
  influenceSteps: z.number().int().min(1).max(100).default(8),
  /** Sampled negative candidates per training positive in the influence fit. */
  influenceNegatives: z.number().int().min(1).max(100).default(2),
}).strict();
export type SocialConfig = z.infer<typeof SocialConfig>;

/** One friend's part in a score (see `SocialModel.explain`). */
export interface FriendShare {
  /** The friend's user index. */
  readonly friend: number;
  /** Their contribution to the score: the user's influence weight. */
  readonly contribution: number;
}

const EMPTY = new Int32Array(0);

export class SocialModel implements Recommender {
  readonly name = 'social';
  readonly params: SocialConfig;
  private base: Ials;
  private nItems = 0;
  /** users x users: whose consumption reaches each user (empty rows without a graph). */
  private graph: Csr = { rows: 0, cols: 0, indptr: new Int32Array(1), indices: EMPTY };
  /** users x items: the training rows (what each friend consumed). */
  private consumed: Csr = { rows: 0, cols: 0, indptr: new Int32Array(1), indices: EMPTY };
  private influence: Float32Array = new Float32Array(0);
  private pooled = 0;

  constructor(params: Partial<SocialConfig> = {}) {
    this.params = SocialConfig.parse(params);
    this.base = new Ials(this.baseParams());
  }

  private baseParams(): Partial<IalsConfig> {
    const { factors, alpha, reg, iterations, cgSteps } = this.params;
    return { factors, alpha, reg, iterations, cgSteps };
  }

  async fit(train: TrainSet, ctx: FitContext): Promise<void> {
    this.base = new Ials(this.baseParams());
    await this.base.fit(train, { ...ctx, rng: ctx.rng.derive('social', 'base') });
    this.nItems = train.nItems;
    this.consumed = train.userItems;
    this.graph = train.social ?? { rows: train.nUsers, cols: train.nUsers, indptr: new Int32Array(train.nUsers + 1), indices: EMPTY };
    this.influence = new Float32Array(train.nUsers);
    this.pooled = 0;
    if (this.graph.indices.length === 0) return;
    const pairs = this.samplePairs(train, ctx.rng.derive('social', 'pairs'));
    const users = Array.from({ length: train.nUsers }, (_, u) => u).filter((u) => pairs[u]!.ds.length > 0);
    // pooled weight: one Newton fit over every user's pairs, no prior
    this.pooled = newton(
      users.map((u) => pairs[u]!),
      0,
      0,
      this.params.influenceSteps,
    );
    for (const u of users) this.influence[u] = newton([pairs[u]!], this.pooled, this.params.influenceReg, this.params.influenceSteps);
    ctx.onProgress?.({ stage: 'social influence', done: 1, total: 1 });
  }

  /** Per user with friends: base score differences and friend-count differences of (positive, negative) pairs. */
  private samplePairs(train: TrainSet, rng: Rng): { ds: Float64Array; dc: Float64Array }[] {
    const d = this.params.factors;
    const X = this.base.userFactors;
    const Y = this.base.itemFactors;
    const { candidates } = train;
    const count = new Float64Array(train.nItems);
    const out: { ds: Float64Array; dc: Float64Array }[] = [];
    const score = (u: number, i: number): number => {
      let s = 0;
      for (let c = 0; c < d; c++) s += X[u * d + c]! * Y[i * d + c]!;
      return s;
    };
    for (let u = 0; u < train.nUsers; u++) {
      const friends = rowOf(this.graph, u);
      const own = rowOf(train.userItems, u);
      if (friends.length === 0 || own.length === 0 || candidates.length === 0) {
        out.push({ ds: new Float64Array(0), dc: new Float64Array(0) });
        continue;
      }
      const touched = this.friendCounts(friends, count);
      const r = rng.derive(u);
      const m = own.length * this.params.influenceNegatives;
      const ds = new Float64Array(m);
      const dc = new Float64Array(m);
      let k = 0;
      for (const p of own) {
        for (let q = 0; q < this.params.influenceNegatives; q++) {
          let n = candidates[r.int(candidates.length)]!;
          for (let t = 0; t < 10 && sortedHas(own, 0, own.length, n); t++) n = candidates[r.int(candidates.length)]!;
          ds[k] = score(u, p) - score(u, n);
          dc[k] = count[p]! - count[n]!;
          k++;
        }
      }
      for (const i of touched) count[i] = 0;
      out.push({ ds, dc });
    }
    return out;
  }

  /** Adds each friend's consumption into `count` (zeroed); returns the touched items. */
  private friendCounts(friends: Int32Array, count: Float64Array | Float32Array): number[] {
    const touched: number[] = [];
    for (const f of friends) {
      if (f >= this.consumed.rows) continue;
      for (const i of rowOf(this.consumed, f)) {
        if (count[i] === 0) touched.push(i);
        count[i]! += 1;
      }
    }
    return touched;
  }

  scoreBatch(batch: UserBatch, out: Float32Array): void {
    this.base.scoreBatch(batch, out);
    const n = this.nItems;
    const count = new Float32Array(n);
    for (let b = 0; b < batch.users.length; b++) {
      const u = batch.users[b]!;
      if (u < 0 || u >= this.influence.length) continue;
      const w = this.influence[u]!;
      if (w === 0) continue;
      const touched = this.friendCounts(rowOf(this.graph, u), count);
      const row = out.subarray(b * n, (b + 1) * n);
      for (const i of touched) {
        row[i]! += w * count[i]!;
        count[i] = 0;
      }
    }
  }

  /** A training user's influence weight (0 without friends or a graph). */
  influenceOf(user: number): number {
    return user >= 0 && user < this.influence.length ? this.influence[user]! : 0;
  }

  /** The pooled influence weight the per-user weights are pulled towards. */
  get pooledInfluence(): number {
    return this.pooled;
  }

  /**
   * The friends an item came through for a training user: each friend (in `TrainSet.social`) who
   * consumed `item` in training, with their contribution to the score (the user's weight),
   * ascending by friend index. Empty when the user's weight is 0 or no friend consumed it.
   */
  explain(user: number, item: number): FriendShare[] {
    const w = this.influenceOf(user);
    if (w === 0) return [];
    const out: FriendShare[] = [];
    for (const f of rowOf(this.graph, user)) {
      if (f < this.consumed.rows && sortedHas(this.consumed.indices, this.consumed.indptr[f]!, this.consumed.indptr[f + 1]!, item)) out.push({ friend: f, contribution: w });
    }
    return out;
  }

  details(): Record<string, unknown> {
    let withFriends = 0;
    let sum = 0;
    for (let u = 0; u < this.influence.length; u++) {
      if (this.graph.indptr[u + 1]! > this.graph.indptr[u]!) {
        withFriends++;
        sum += this.influence[u]!;
      }
    }
    return { usersWithFriends: withFriends, pooledInfluence: this.pooled, meanInfluence: withFriends > 0 ? sum / withFriends : 0 };
  }

  toArtifact(): ModelArtifact {
    const b = this.base.toArtifact();
    return {
      kind: 'social',
      version: 1,
      config: { ...this.params },
      arrays: {
        ...b.arrays,
        graphIndptr: this.graph.indptr,
        graphIndices: this.graph.indices,
        consumedIndptr: this.consumed.indptr,
        consumedIndices: this.consumed.indices,
        influence: this.influence,
        pooled: Float32Array.of(this.pooled),
        nItems: Int32Array.of(this.nItems),
      },
    };
  }

  static fromArtifact(a: ModelArtifact): SocialModel {
    const m = new SocialModel(a.config as Partial<SocialConfig>);
    m.base = Ials.fromArtifact({ kind: 'ials', version: 1, config: m.baseParams() as Record<string, number>, arrays: { userFactors: a.arrays.userFactors!, itemFactors: a.arrays.itemFactors! } });
    const gp = a.arrays.graphIndptr as Int32Array;
    const cp = a.arrays.consumedIndptr as Int32Array;
    m.nItems = (a.arrays.nItems as Int32Array)[0]!;
    m.graph = { rows: gp.length - 1, cols: gp.length - 1, indptr: gp, indices: a.arrays.graphIndices as Int32Array };
    m.consumed = { rows: cp.length - 1, cols: m.nItems, indptr: cp, indices: a.arrays.consumedIndices as Int32Array };
    m.influence = a.arrays.influence as Float32Array;
    m.pooled = (a.arrays.pooled as Float32Array)[0]!;
    return m;
  }
}

/**
 * argmax over w >= 0 of sum log sigma(ds + w dc) - reg (w - prior)^2 / 2 over every pair set, by
 * Newton steps from `prior` (the objective is concave in w).
 */
export function newton(sets: readonly { ds: Float64Array; dc: Float64Array }[], prior: number, reg: number, steps: number): number {
  let w = prior;
  for (let s = 0; s < steps; s++) {
    let g = -reg * (w - prior);
    let h = -reg;
    for (const { ds, dc } of sets) {
      for (let k = 0; k < ds.length; k++) {
        const c = dc[k]!;
        if (c === 0) continue;
        const z = ds[k]! + w * c;
        const sig = 1 / (1 + Math.exp(z)); // sigma(-z) = d/dz log sigma(z)
        g += sig * c;
        h -= sig * (1 - sig) * c * c;
      }
    }
    if (h >= -1e-12) break;
    const next = Math.max(0, w - g / h);
    if (Math.abs(next - w) < 1e-9) {
      w = next;
      break;
    }
    w = next;
  }
  return w;
}

export const socialSpec: ModelSpec = {
  name: 'social',
  description: "own preference (implicit ALS) plus a learned per-user influence of friends' consumption (the idea of SPF, Chaney, Blei & Eliassi-Rad 2015); needs --social",
  schema: SocialConfig,
  create: (params) => new SocialModel(params as Partial<SocialConfig>),
  fromArtifact: (a) => SocialModel.fromArtifact(a),
  tuningGrid: [
    { alpha: 1, reg: 15, influenceReg: 5 },
    { alpha: 1, reg: 15, influenceReg: 1 },
    { alpha: 2, reg: 20, influenceReg: 5 },
  ],
};
