/**
 * The persona model's parameters (validated, with their defaults; docs/personas.md lists them)
 * and the adaptive-K rule that every persona set follows.
 */
import { z } from 'zod';

export const PersonasConfig = z
  .object({
    /** Maximum personas per user (1 = the one-vector twin). */
    k: z.number().int().min(1).max(32).default(4),
    dim: z.number().int().min(2).max(1024).default(64),
    /** Adaptive K: one persona per this many history items (at least 1, at most k). */
    itemsPerPersona: z.number().int().min(1).default(10),
    /** Clusters with fewer items are dropped and their items re-assigned. */
    minClusterItems: z.number().int().min(1).default(3),
    /** Lloyd rounds of the per-history clustering. */
    clusterIters: z.number().int().min(1).default(10),
    /** Persona = |C_k|^-alpha x the sum of its items' context vectors. */
    alpha: z.number().min(0).max(1).default(0.5),
    /** Mixture weights pi_k ~ |C_k|^gamma (0: every persona weighs the same). */
    gamma: z.number().min(-2).max(2).default(0),
    /** Share of each history held out as targets per epoch (the rest builds the personas). */
    holdout: z.number().gt(0).lt(1).default(0.25),
    /** Adam learning rate (decays linearly to lrEnd x by the last epoch). */
    lr: z.number().positive().default(0.01),
    lrEnd: z.number().min(0).max(1).default(0.1),
    /** L2 on the item vectors (applied to the rows a batch touches). */
    l2Item: z.number().min(0).default(0.1),
    /** Learn a bias per item (initialised to centred log popularity). */
    itemBias: z.boolean().default(true),
    epochs: z.number().int().min(1).default(20),
    /** The first epochs use one persona per user (the clusters need trained vectors). */
    warmEpochs: z.number().int().min(0).default(5),
    /** The fitted vectors are the mean of the snapshots after the last this-many epochs. */
    avgEpochs: z.number().int().min(1).default(1),
    batchSize: z.number().int().min(1).default(32),
    /** Shared negatives per batch (sampled softmax with logQ correction). */
    negatives: z.number().int().min(1).default(500),
    /** Negatives are drawn with probability proportional to popularity^negPower. */
    negPower: z.number().min(0).max(1).default(0.5),
    skipEps: z.number().min(0).default(1e-4),
    initStd: z.number().positive().default(0.05),
    /**
     * Weight beta of the sparse neighbour term: persona k adds beta |C_k|^-alpha x the sum over its
     * own items j of sim(i, j) to z_k(i), for the items i that keep j among their `neighbours` most similar
     * (item-kNN cosine with `shrink`). 0 = off. The one-vector twin gets the same term over its
     * whole history.
     */
    itemItem: z.number().min(0).default(0),
    /**
     * Weight lambda of the whole-history component for users with 2+ personas: the score is
     * log(lambda softmax(Q . p_all + B) + (1 - lambda) sum_k pi_k softmax(Q . p_k + B)), p_all =
     * |H|^-alpha sum_{j in H} W_j. With one persona it is that persona (the twin is unchanged).
     */
    whole: z.number().min(0).max(1).default(0.7),
    /**
     * Training softmax: exact over every candidate when the catalogue has at most this many
     * candidates, else `negatives` sampled items (logQ correction). 0 = always sampled.
     */
    fullSoftmax: z.number().int().min(0).default(20000),
    /**
     * Cost cap of the exact softmax: it also needs (training users) x candidates at most this
     * (its epoch costs that many list entries x (K + 1) x d), else the sampled softmax runs.
     * The default keeps ml-latest-small (about 6M) and the default world (about 5M) exact and
     * samples from 50k users x 10k items (500M) up. 0 = always sampled.
     */
    fullSoftmaxWork: z.number().min(0).default(5e7),
    /**
     * How a user with 2+ personas is ranked: 'mixture' by the mixture score; 'shares' deals the
     * first `slateSize` places to the personas in proportion to their shares and fills each from
     * that persona's own ranking, de-duplicated; 'calibrated' fills them greedily trading the
     * mixture score against the KL divergence between the shares and the listed items' persona
     * responsibilities, weight `slateLambda` (src/models/persona-slate.ts). Scoring only: the fit
     * is the same. With one persona all three are the same ranking.
     */
    slate: z.enum(['mixture', 'shares', 'calibrated']).default('mixture'),
    /** Weight lambda of the calibration term of slate 'calibrated' (0: the mixture ranking). */
    slateLambda: z.number().min(0).max(1).default(0.5),
    /** Places of the share slate (the list's first places; later items keep the mixture order). */
    slateSize: z.number().int().min(1).max(10000).default(100),
    /** Share of persona k in the slate ~ |C_k|^slateGamma; unset: the mixture's weights (gamma). */
    slateGamma: z.number().min(-2).max(2).optional(),
    /**
     * Weight w of the whole-history softmax in each persona's own slate ranking,
     * log(w soft_all + (1 - w) soft_k); unset: `whole`.
     */
    slateWhole: z.number().min(0).max(1).optional(),
    neighbours: z.number().int().min(1).default(100),
    shrink: z.number().min(0).default(10),
  })
  .strict();
export type PersonasConfig = z.infer<typeof PersonasConfig>;

/** The adaptive-K rule: one persona per `itemsPerPersona` history items, at least 1, at most k. */
export function adaptiveK(historyLength: number, cfg: Pick<PersonasConfig, 'k' | 'itemsPerPersona'>): number {
  if (historyLength <= 0) return 0;
  return Math.max(1, Math.min(cfg.k, Math.floor(historyLength / cfg.itemsPerPersona)));
}

/**
 * Whether a fit trains with the exact softmax: at most `fullSoftmax` candidates and at most
 * `fullSoftmaxWork` training users x candidates (docs/personas.md, Training).
 */
export function exactSoftmax(users: number, candidates: number, cfg: Pick<PersonasConfig, 'fullSoftmax' | 'fullSoftmaxWork'>): boolean {
  return candidates <= cfg.fullSoftmax && users * candidates <= cfg.fullSoftmaxWork;
}
