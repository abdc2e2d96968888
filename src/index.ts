/**
 * The public API of the `personae` package: a list of re-exports, nothing else.
 *
 * - The high-level `Recommender` (string ids in and out; fit, recommend with explanations, fold-in,
 *   save, load): src/api/recommender.ts.
 * - The pieces below it, for research code: readers, splits, the model catalogue (with
 *   `registerModel` for models defined outside the repository), rerankers, metrics, statistics,
 *   explanations, synthetic worlds and the studies' runner.
 *
 * The HTTP service is `personae/serve` (it loads fastify and the stores; this entry does not).
 */

// --- high level ---
export {
  Recommender,
  logFromInteractions,
  type Explanation,
  type FitOptions,
  type FoldedUser,
  type Interaction,
  type ItemInfo,
  type RecommendOptions,
  type RecommendedItem,
  type Recommendations,
  type Taste,
} from './api/recommender.js';

export { VERSION } from './version.js';
export { ConfigError, DataError, ModelFitError, NotFoundError, type Place } from './errors.js';

// --- data: readers, logs, id maps, splits ---
export { readDataset, detectFormat, DATASET_FORMATS, type ColumnNames, type DatasetFormat, type ReadOptions } from './data/readers/index.js';
export { LogBuilder, categoriesOf, type InteractionLog, type ItemCategories } from './data/dataset.js';
export { IdMap } from './data/ids.js';
export { rowOf, type Csr } from './data/csr.js';
export {
  PROTOCOLS,
  buildTrainSet,
  extractPositives,
  makeSplit,
  validationSplit,
  type Pairs,
  type ProtocolName,
  type Split,
  type SplitOptions,
  type SplitStats,
} from './data/split.js';
export { loadSplit, saveSplit, type SplitManifest } from './data/split-io.js';

// --- models ---
export {
  createModel,
  isBuiltInModel,
  modelFromArtifact,
  modelNames,
  modelSpec,
  registerModel,
  MODEL_NAME,
} from './models/registry.js';
export {
  hasPersonas,
  isFoldIn,
  personasFor,
  runEpochs,
  singleUserBatch,
  trainUserBatch,
  type FitContext,
  type FoldIn,
  type HasPersonas,
  type ModelArtifact,
  type ModelParams,
  type ModelSpec,
  type ParamValue,
  type ProgressEvent,
  type Recommender as Model,
  type TrainSet,
  type UserBatch,
} from './models/model.js';
export { decodeArtifact, encodeArtifact, readArtifactFile, saveArtifact, type LoadedArtifact } from './models/artifact.js';
export { Rng } from './math/rng.js';
export { TopKSelector } from './math/topk.js';

// --- rerankers ---
export {
  CalibratedReranker,
  ConsumptionReranker,
  ProportionalReranker,
  RERANK_HELP,
  buildReranker,
  parseRerankSpec,
  parseReranker,
  type RerankData,
  type RerankSpec,
} from './rank/index.js';

// --- evaluation: metrics, ranking, experiments, statistics ---
export {
  METRIC_NAMES,
  arpAt,
  coverage,
  dcgAt,
  evaluateUser,
  giniIndex,
  hitAt,
  metricKeys,
  mrrAt,
  ndcgAt,
  recallAt,
  type MetricContext,
  type MetricName,
  type UserEvalInput,
} from './eval/metrics.js';
export {
  compareModels,
  evaluateLists,
  rankTestUsers,
  type ListEvaluation,
  type RankOptions,
} from './eval/evaluate.js';
export { buildCategories, calibrationKL, jensenShannon, tasteDistribution } from './data/categories.js';
export { ListPipeline, select, type CandidateSet, type ListReranker, type ListSubject, type Selection, type SelectOptions } from './rank/pipeline.js';
export { runExperiment, type ExperimentOptions, type ExperimentResult, type ModelResult } from './eval/experiment.js';
export {
  bootstrapCI,
  mean,
  pairedDifference,
  pairedTTestP,
  wilcoxonSignedRankP,
  type BootstrapOptions,
  type BootstrapResult,
  summarise,
  type MetricSummary,
  type MetricValues,
  type PairedResult,
} from './eval/stats.js';

// --- explanations ---
export {
  explainContext,
  explainItem,
  explanationSentence,
  personaProfile,
  type ExplainContext,
  type ItemExplanation,
  type PersonaInfo,
  type PersonaProfile,
} from './explain/explain.js';
export { withheldByWeights, type WeightRule } from './explain/withhold.js';

// --- synthetic worlds ---
export {
  DEFAULT_WORLD,
  WORLD_PRESETS,
  generateWorld,
  resolveWorldConfig,
  worldToLog,
  type WorldConfig,
  type WorldConfigInput,
  type WorldTruth,
} from './synth/world.js';

// --- studies ---
export { STUDIES, findStudy, studyNames, type Study, type StudyContext, type StudyJson, type Verdict } from './study/index.js';
export { executeStudy, studyText } from './study/run.js';
