/**
 * What the recommender contract (test/model-contract.test.ts) and the quality bands
 * (test/quality.test.ts) need to know about each registered model, in one map. Every model in the
 * registry must have an entry: both suites fail, naming the model, when one is missing, so a new
 * model cannot skip them silently.
 */
import type { ModelParams } from '../src/models/model.js';
import { ItemKnn } from '../src/models/itemknn.js';
import { Ials } from '../src/models/ials.js';
import { EaseScorer } from '../src/models/ease.js';
import { SparseEase } from '../src/models/sparse-ease.js';
import { MultVae } from '../src/models/multvae.js';

/** How scoring a training user's own history as an unknown user (-1) relates to scoring the user. */
export type FoldInProperty =
  /** Bit-identical: the scores are a function of the history alone. */
  | { readonly kind: 'identical'; readonly why: string }
  /**
   * The fold-in re-estimates the user's vector(s) with the items fixed, so it approximates the
   * fitted one: the mean overlap of the two top-20 lists (unseen candidates) over the probed
   * training users is at least `minTop20Overlap` (a share in [0, 1]).
   */
  | { readonly kind: 'close'; readonly minTop20Overlap: number; readonly why: string };

/** A model's ml-latest-small band (temporal-user, min rating 4, K = 20, seed 42), or why it has none. */
export type QualityBand =
  | {
      /** Parameters the band is measured at (over the defaults); `tune` searches the model's grid on validation first. */
      readonly params: ModelParams;
      readonly tune?: boolean;
      readonly ndcg: number;
      readonly recall: number;
      /** Where the measured value comes from. */
      readonly why: string;
    }
  | { readonly skip: string };

export interface ModelCase {
  /** Small, fast parameters for the contract's planted world (omitted: the defaults). */
  readonly small?: ModelParams;
  /** The fit draws from `ctx.rng`: another seed must give other scores (else the same scores). */
  readonly randomised: boolean;
  /**
   * The fit uses worker threads: `forceParallel` lowers the model's size threshold so the small
   * world takes the parallel path, and returns the undo. Or why the model has no threads.
   */
  readonly threads: { readonly forceParallel: () => () => void } | { readonly skip: string };
  readonly foldIn: FoldInProperty;
  readonly quality: QualityBand;
}

const noThreads = (why: string) => ({ skip: why });

/**
 * The threads case of a model whose fit goes parallel above size thresholds: the static
 * thresholds (class, field) are 0 while a case runs, then put back.
 */
function thresholdsAtZero(...switches: readonly (readonly [object, string])[]): { readonly forceParallel: () => () => void } {
  const field = (owner: object) => owner as Record<string, unknown>;
  return {
    forceParallel: () => {
      const saved = switches.map(([owner, key]) => {
        const v = field(owner)[key];
        if (typeof v !== 'number') throw new Error(`${key} is not a numeric threshold`);
        return v;
      });
      for (const [owner, key] of switches) field(owner)[key] = 0;
      return () => switches.forEach(([owner, key], i) => (field(owner)[key] = saved[i]));
    },
  };
}

export const MODEL_CASES: Readonly<Record<string, ModelCase>> = {
  pop: {
    randomised: false,
    threads: noThreads('pop counts training positives; its fit takes no threads'),
    foldIn: { kind: 'identical', why: 'every user gets the same popularity scores' },
    quality: {
      params: {},
      ndcg: 0.074,
      recall: 0.09,
      why: 'measured 0.0748 / 0.0912 (BENCHMARKS.md); pop is deterministic, so the band is a floor for the tie rule and the split',
    },
  },
  itemknn: {
    small: { k: 20 },
    randomised: false,
    threads: thresholdsAtZero([ItemKnn, 'parallelMinWork']),
    foldIn: { kind: 'identical', why: 'scores are sums of item-item similarities over the history' },
    quality: { params: {}, tune: true, ndcg: 0.103, recall: 0.135, why: 'tuned on validation: 0.1090 / 0.1418 (BENCHMARKS.md)' },
  },
  ease: {
    small: { lambda: 50 },
    randomised: false,
    threads: thresholdsAtZero([EaseScorer, 'parallelMinItems']),
    foldIn: { kind: 'identical', why: 'score(u) = x_u B depends on the history alone' },
    quality: { params: { lambda: 300 }, ndcg: 0.118, recall: 0.153, why: 'the tuner picks lambda 300: 0.1215 / 0.1585 (BENCHMARKS.md)' },
  },
  'sparse-ease': {
    small: { neighbours: 20, pool: 40 },
    randomised: false,
    threads: thresholdsAtZero([SparseEase, 'parallelMinFlops'], [ItemKnn, 'parallelMinWork']),
    foldIn: { kind: 'identical', why: 'score(u) = x_u B (B sparse) depends on the history alone' },
    quality: {
      params: {},
      ndcg: 0.115,
      recall: 0.148,
      why: 'measured at the defaults: 0.1192 / 0.1531 (docs/scale.md; ease at lambda 300: 0.1215 / 0.1585)',
    },
  },
  bpr: {
    small: { factors: 8, epochs: 25 },
    randomised: true,
    threads: noThreads('the BPR epoch is one sequential SGD kernel; its fit takes no threads'),
    foldIn: {
      kind: 'close',
      minTop20Overlap: 0.75,
      why: 'measured 0.864 / 0.832 / 0.850 with fit seeds 11 / 12 / 13; fold-in fits a user vector to the history by BPR steps with the items fixed, not the SGD trajectory of the fit',
    },
    quality: { params: { lr: 0.05, reg: 0.01, epochs: 250 }, ndcg: 0.098, recall: 0.129, why: 'the tuner picks 250 epochs: 0.1070 / 0.1390 (BENCHMARKS.md)' },
  },
  ials: {
    small: { factors: 8, iterations: 5 },
    randomised: true,
    threads: thresholdsAtZero([Ials, 'parallelMinFlops']),
    foldIn: {
      kind: 'close',
      minTop20Overlap: 0.9,
      why: 'measured 0.973 with fit seeds 11, 12 and 13; fold-in solves the user half-step against the final item factors; the fitted vector solved it against the previous ones',
    },
    quality: { params: { alpha: 1, reg: 15, iterations: 15 }, ndcg: 0.114, recall: 0.148, why: 'the tuner picks these: 0.1193 / 0.1573 (BENCHMARKS.md)' },
  },
  multvae: {
    small: { hidden: 32, latent: 8, epochs: 15, batch: 50 },
    randomised: true,
    threads: thresholdsAtZero([MultVae, 'parallelMinWork']),
    foldIn: { kind: 'identical', why: 'every user, known or not, is encoded from the history in the batch (the mean of q(z | x)); nothing is stored per user' },
    quality: { skip: 'a default fit (200 epochs) takes 3-4 CPU minutes on ml-latest-small, too long for the suite; measured 0.0997 / 0.1372 (docs/models.md)' },
  },
  personas: {
    // the default code paths (clustered histories, mixture scoring), small and short
    small: { dim: 8, epochs: 6, warmEpochs: 3, negatives: 50 },
    randomised: true,
    // the persona epochs always run on the pool when threads > 1 (the EASE switch is inert for it)
    threads: thresholdsAtZero([EaseScorer, 'parallelMinItems']),
    foldIn: { kind: 'identical', why: "a training user's personas are the fold-in of their training history (clustering and sums, no optimisation); scoring is the same function of the history" },
    quality: { params: {}, ndcg: 0.113, recall: 0.15, why: 'the defaults, seed 42: 0.1204 / 0.1557 (docs/personas.md, the tuned run picks the defaults)' },
  },
  din: {
    small: { dim: 8, epochs: 4, negatives: 50 },
    randomised: true,
    // the din epochs always run on the pool when threads > 1 (the EASE switch is inert for it)
    threads: thresholdsAtZero([EaseScorer, 'parallelMinItems']),
    foldIn: { kind: 'identical', why: 'the history is the user: scores are attention over the history items, nothing is stored per user but the order of their training rows (which the whole-history default does not read)' },
    quality: { skip: 'measured with evaluate in docs/models.md#din; a tuned fit takes minutes on ml-latest-small' },
  },
  social: {
    small: { factors: 8, iterations: 5 },
    randomised: true,
    // its base is ials: the same switch sends the factor fit to the workers
    threads: thresholdsAtZero([Ials, 'parallelMinFlops']),
    foldIn: {
      kind: 'close',
      minTop20Overlap: 0.9,
      why: 'the contract world has no social graph, so social scores as its ials base (fold-in solves the user half-step against the final item factors); an unknown user has no friends',
    },
    quality: { skip: 'ml-latest-small has no social graph: social is the ials base there; its own numbers are study social (docs/studies.md)' },
  },
  router: {
    small: { clusters: 2, candidates: 'pop,itemknn,ials', scope: 'both', validationUsers: 50 },
    randomised: true,
    threads: noThreads('the router hands its thread count to its base model and specialists, whose own cases check that results do not depend on it'),
    foldIn: {
      kind: 'close',
      minTop20Overlap: 0.9,
      why: "a training user goes to their k-means cluster's specialist; the same history as an unknown user goes to the cluster of its base-model fold-in (usually the same) and its specialist folds it in",
    },
    quality: { skip: 'a router of pop, itemknn and ials; the router study reports its ml-latest-small ndcg@20 (docs/studies.md#router: 0.119, as ials)' },
  },
};

/** The model's entry, or an error that says what to add. */
export function modelCase(name: string): ModelCase {
  const c = MODEL_CASES[name];
  if (!c) {
    throw new Error(
      `model "${name}" is registered but test/model-cases.ts has no MODEL_CASES entry: add its small parameters ` +
        `({} or omitted = the defaults), whether its fit is randomised, its threads hook or skip reason, its fold-in ` +
        `property and its ml-latest-small quality band (or a skip reason)`,
    );
  }
  return c;
}
