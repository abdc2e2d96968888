/**
 * The work of `personae batch` over a range of its users, the same in the main thread and in a
 * worker: each user is scored with `scoreUser` and listed with `userList` (src/cli/lists.ts, what
 * `personae recommend` does), and turned into output rows. A worker loads the model file once and
 * is handed the users as a CSR over shared memory, so a range's rows depend only on the file, the
 * settings and the users: the output is the same for any number of threads.
 */
import type { FittedModel } from '../api/recommender.js';
import { Recommender } from '../api/recommender.js';
import { buildReranker, parseRerankSpec } from '../rank/index.js';
import { batchScorer } from './ann-scoring.js';
import { listRows, type ListRow } from './batch-output.js';
import { explainContextOf, scoreUser, userList, type ListSettings, type UserScorer } from './lists.js';
import type { ExplainContext } from '../explain/explain.js';

/** The settings of a batch run (plain data: they go to the workers). */
export interface BatchSettings {
  readonly n: number;
  /** The --rerank spec. */
  readonly rerank: string;
  readonly hedge: boolean;
  readonly explain: boolean;
  readonly annMinItems: number;
}

/** The users of a batch run: ids, the model's index of each (-1: folded in) and their histories as a CSR. */
export interface BatchUsers {
  readonly ids: readonly string[];
  readonly modelIndex: Int32Array;
  /** ids.length + 1 offsets into `items`. */
  readonly indptr: Int32Array;
  /** Each user's history, ascending item indices of the model. */
  readonly items: Int32Array;
}

/** One user list after another, from a loaded model and the run's settings. */
export class BatchLister {
  private readonly settings: ListSettings;
  private readonly ctx: ExplainContext | null;
  private readonly scorer: UserScorer;
  private readonly row: Float32Array;

  constructor(
    private readonly f: FittedModel,
    s: BatchSettings,
  ) {
    const reranker = buildReranker(parseRerankSpec(s.rerank), { log: { categories: f.categories } }, f.model);
    this.settings = { n: s.n, reranker, hedge: s.hedge, explain: s.explain };
    this.ctx = s.explain ? explainContextOf(f) : null;
    this.scorer = batchScorer(f.model, f.train.candidates.length, s.annMinItems);
    this.row = new Float32Array(f.train.nItems);
  }

  /** The rows of users [start, end) of `users`, in user then rank order; ids[k - start] names user k. */
  rows(users: Omit<BatchUsers, 'ids'>, start: number, end: number, ids: readonly string[]): ListRow[] {
    const out: ListRow[] = [];
    for (let k = start; k < end; k++) {
      const user = users.modelIndex[k]!;
      const history = users.items.subarray(users.indptr[k]!, users.indptr[k + 1]!);
      const set = scoreUser(this.f, this.scorer, user, history, this.row);
      const list = userList(this.f, this.ctx, user, history, this.row, this.settings, set);
      for (const r of listRows(this.f, ids[k - start]!, list, this.settings.explain)) out.push(r);
    }
    return out;
  }
}

/** What a worker needs for a range: the model file, the settings and the users (CSR over shared memory). */
export interface BatchJob {
  readonly modelFile: string;
  readonly settings: BatchSettings;
  readonly users: Omit<BatchUsers, 'ids'>;
}

// per worker: the model file's lister, loaded on the first range
let loaded: { key: string; lister: Promise<BatchLister> } | null = null;

/** Worker entry (src/math/pool.ts): the rows of users [start, end) of the job, `ids` naming them. */
export async function batchRange(job: BatchJob, start: number, end: number, ids: string[]): Promise<ListRow[]> {
  const key = JSON.stringify([job.modelFile, job.settings]);
  if (loaded?.key !== key) loaded = { key, lister: Recommender.load(job.modelFile).then((r) => new BatchLister(r.fitted, job.settings)) };
  return (await loaded.lister).rows(job.users, start, end, ids);
}
