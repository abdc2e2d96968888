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
 * factors fixed, on the multinomial likelihood of each user's training positives over the
 * candidates, softmax(t x_u.y + w c_u): first a pooled (t, w0) on a seeded sample of users, then
 * each user's w by Newton steps with t fixed and an L2 pull `influenceReg` (w_u - w0)^2 / 2
 * towards w0; the stored weight is w_u / t (the base scores' scale). Without a graph (or for a user without friends, and
 * for users unknown to the model) the score is the base model's exactly, and fitted on the same
 * random stream the base is the `ials` fit. Memory: the base model
 * plus the graph and the training rows (interactions-sized). `explain` names the friends an item
 * came through.
 */
import { z } from 'zod';
import { rowOf, sortedHas, type Csr } from '../data/csr.js';
import { Ials, IalsConfig } from './ials.js';
import { trainUserBatch, type FitContext, type ModelArtifact, type ModelSpec, type Recommender, type TrainSet, type UserBatch } from './model.js';

export const SocialConfig = IalsConfig.extend({
  /** L2 pull of each user's influence weight towards the pooled weight. */
  influenceReg: z.number().min(0).default(50),
  /** Newton steps of each influence fit. */
  influenceSteps: z.number().int().min(1).max(100).default(8),
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
/** Users in the pooled (temperature, weight) fit, a seeded sample. */
const POOLED_USERS = 400;

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
  /** The pooled temperature of the base scores in the influence fit (stored weights are divided by it, so they add to the base scores). */
  private temperature = 1;

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
    // the base draws exactly as `ials` does from the same stream: without a graph, social = ials
    await this.base.fit(train, ctx);
    this.nItems = train.nItems;
    this.consumed = train.userItems;
    this.graph = train.social ?? { rows: train.nUsers, cols: train.nUsers, indptr: new Int32Array(train.nUsers + 1), indices: EMPTY };
    this.influence = new Float32Array(train.nUsers);
    this.pooled = 0;
    this.temperature = 1;
    if (this.graph.indices.length === 0) return;
    const users: number[] = [];
    for (let u = 0; u < train.nUsers; u++) if (this.graph.indptr[u + 1]! > this.graph.indptr[u]! && train.userItems.indptr[u + 1]! > train.userItems.indptr[u]!) users.push(u);
    if (users.length === 0 || train.candidates.length === 0) return;
    // pooled (temperature, weight) on a seeded sample of users, then each user's weight
    const sample = ctx.rng.derive('social', 'sample').shuffle(Int32Array.from(users)).subarray(0, Math.min(users.length, POOLED_USERS));
    const rows = Array.from(sample, (u) => this.userRows(train, u));
    const pooled = softmaxNewton(rows, 1, 0, 0, this.params.influenceSteps, true);
    this.temperature = pooled.temperature;
    this.pooled = pooled.weight;
    for (const u of users) {
      const r = this.userRows(train, u);
      this.influence[u] = softmaxNewton([r], this.temperature, this.pooled, this.params.influenceReg, this.params.influenceSteps, false).weight / this.temperature;
    }
    this.pooled /= this.temperature;
    ctx.onProgress?.({ stage: 'social influence', done: 1, total: 1 });
  }

  /** A training user's base scores and friend counts over the candidates, and their positives' positions. */
  private userRows(train: TrainSet, u: number): UserRowsOf {
    const { candidates, nItems } = train;
    const full = new Float32Array(nItems);
    this.base.scoreBatch(trainUserBatch(train, Int32Array.of(u)), full);
    const count = new Float32Array(nItems);
    this.friendCounts(rowOf(this.graph, u), count);
    const s = new Float64Array(candidates.length);
    const c = new Float64Array(candidates.length);
    const pos: number[] = [];
    const own = rowOf(train.userItems, u);
    candidates.forEach((i, k) => {
      s[k] = full[i]!;
      c[k] = count[i]!;
      if (sortedHas(own, 0, own.length, i)) pos.push(k);
    });
    return { s, c, pos: Int32Array.from(pos) };
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

/** One user's rows for the influence fit: candidates' base scores s and friend counts c, positives' positions. */
export interface UserRowsOf {
  readonly s: Float64Array;
  readonly c: Float64Array;
  readonly pos: Int32Array;
}

/**
 * Newton steps on the multinomial log-likelihood of the users' positives over the candidates,
 *   sum_u [ sum_{p in P_u} (t s_p + w c_p) - |P_u| log sum_i exp(t s_i + w c_i) ] - reg (w - prior)^2 / 2,
 * in (t, w) when `fitTemperature`, else in w with t fixed; w >= 0, t > 0. Concave in (t, w).
 */
export function softmaxNewton(
  rows: readonly UserRowsOf[],
  temperature: number,
  prior: number,
  reg: number,
  steps: number,
  fitTemperature: boolean,
): { temperature: number; weight: number } {
  let t = temperature;
  let w = prior;
  for (let step = 0; step < steps; step++) {
    // gradient g and Hessian H (negative definite) in (t, w)
    let gt = 0;
    let gw = -reg * (w - prior);
    let htt = 0;
    let htw = 0;
    let hww = -reg;
    for (const { s, c, pos } of rows) {
      if (pos.length === 0) continue;
      let max = -Infinity;
      for (let k = 0; k < s.length; k++) max = Math.max(max, t * s[k]! + w * c[k]!);
      let z = 0;
      let ms = 0;
      let mc = 0;
      let mss = 0;
      let msc = 0;
      let mcc = 0;
      for (let k = 0; k < s.length; k++) {
        const e = Math.exp(t * s[k]! + w * c[k]! - max);
        z += e;
        ms += e * s[k]!;
        mc += e * c[k]!;
        mss += e * s[k]! * s[k]!;
        msc += e * s[k]! * c[k]!;
        mcc += e * c[k]! * c[k]!;
      }
      ms /= z;
      mc /= z;
      const n = pos.length;
      let ps = 0;
      let pc = 0;
      for (const k of pos) {
        ps += s[k]!;
        pc += c[k]!;
      }
      gt += ps - n * ms;
      gw += pc - n * mc;
      htt -= n * (mss / z - ms * ms);
      htw -= n * (msc / z - ms * mc);
      hww -= n * (mcc / z - mc * mc);
    }
    let dt = 0;
    let dw = 0;
    if (fitTemperature) {
      const det = htt * hww - htw * htw;
      if (det > 1e-12) {
        dt = -(hww * gt - htw * gw) / det;
        dw = -(-htw * gt + htt * gw) / det;
      } else if (htt < -1e-12) {
        // no friend count varies (singular in w): the temperature alone
        dt = -gt / htt;
      } else break;
    } else {
      if (!(hww < -1e-12)) break;
      dw = -gw / hww;
    }
    const nt = fitTemperature ? Math.max(1e-6, t + dt) : t;
    const nw = Math.max(0, w + dw);
    const done = Math.abs(nt - t) < 1e-9 && Math.abs(nw - w) < 1e-9;
    t = nt;
    w = nw;
    if (done) break;
  }
  return { temperature: t, weight: w };
}

export const socialSpec: ModelSpec = {
  name: 'social',
  description: "own preference (implicit ALS) plus a learned per-user influence of friends' consumption (the idea of SPF, Chaney, Blei & Eliassi-Rad 2015); needs --social",
  schema: SocialConfig,
  create: (params) => new SocialModel(params as Partial<SocialConfig>),
  fromArtifact: (a) => SocialModel.fromArtifact(a),
  tuningGrid: [
    { alpha: 1, reg: 15, influenceReg: 50 },
    { alpha: 1, reg: 15, influenceReg: 5 },
    { alpha: 1, reg: 15, influenceReg: 500 },
    { alpha: 2, reg: 20, influenceReg: 50 },
  ],
};
