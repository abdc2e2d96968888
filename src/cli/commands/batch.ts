/**
 * `personae batch --model-file m.model [--data D] --out recs.jsonl|csv|parquet [--n 20] [--explain]`:
 * every user's list, written as one row per (user, rank) and streamed: users are scored in small
 * batches (batch = single, test/model-contract.test.ts) and each batch's rows go to the file before
 * the next is scored, so memory holds one batch of score rows, never the output.
 *
 * Users: without --data, every user the model was trained on with at least one training positive
 * (in the model's order), with their saved positives as history; with --data, every user of D with
 * a positive on an item the model knows, with those positives as history (src/cli/model-file.ts).
 * Each list is `userList` (src/cli/lists.ts), the one `personae recommend` prints.
 */
import { Command } from 'commander';
import { ConfigError } from '../../errors.js';
import { hasPersonas, type UserBatch } from '../../models/model.js';
import { buildReranker, parseRerankSpec, RERANK_HELP } from '../../rank/index.js';
import { listRows, openRowSink } from '../batch-output.js';
import { explainContextOf, userList } from '../lists.js';
import { ANN_FLAG_HELP, DEFAULT_ANN_MIN_ITEMS, batchScorer } from '../ann-scoring.js';
import { given, historiesFromLog, loadModelFile } from '../model-file.js';
import { createProgress } from '../progress.js';
import { addDataOptions, loadLog, parseInteger, type DataFlags } from '../shared.js';
import { batchFormatOf } from '../batch-output.js';

interface BatchFlags extends Omit<DataFlags, 'data'> {
  data?: string;
  modelFile: string;
  out: string;
  n: number;
  rerank: string;
  explain?: boolean;
  hedge: boolean;
  /** Persona models: score through ANN retrieval from this many candidates (0: never). */
  annMinItems: number;
  quiet?: boolean;
}

/** Score rows per scoring batch: at most 256 users and 16M floats (64 MiB). */
export function scoringBatchSize(nItems: number): number {
  return Math.max(1, Math.min(256, Math.floor((1 << 24) / Math.max(1, nItems))));
}

export function batchCommand(): Command {
  const cmd = new Command('batch').description("write every user's recommendations from a saved model to a JSONL, CSV or Parquet file (streamed)");
  addDataOptions(cmd, { requireData: false })
    .requiredOption('--model-file <file>', 'a model saved by `personae train`')
    .requiredOption('--out <file>', 'output file: .jsonl, .csv or .parquet (one row per user and rank)')
    .option('--n <n>', 'items per user', parseInteger('--n', 1), 20)
    .option('--rerank <spec>', `reranking stage: ${RERANK_HELP}`, 'none')
    .option('--explain', 'add the taste each item serves (taste, label, explanation, withheld columns)')
    .option('--no-hedge', 'never hedge: the plain top-n even for low-confidence users')
    .option('--ann-min-items <n>', ANN_FLAG_HELP, parseInteger('--ann-min-items'), DEFAULT_ANN_MIN_ITEMS)
    .option('--quiet', 'no progress output')
    .action(async (flags: BatchFlags) => {
      await runBatch(cmd, flags);
    });
  return cmd;
}

export async function runBatch(cmd: Command, flags: BatchFlags): Promise<{ users: number; rows: number }> {
  batchFormatOf(flags.out); // a bad --out fails before anything is read
  const rerankSpec = parseRerankSpec(flags.rerank);
  const progress = createProgress({ quiet: flags.quiet ?? false });
  const f = await loadModelFile(flags.modelFile, progress);
  if (flags.explain && !hasPersonas(f.model)) throw new ConfigError(`model "${f.modelName}" has no personas to explain with`, '--explain');
  const reranker = buildReranker(rerankSpec, { log: { categories: f.categories } }, f.model);
  let users: string[];
  let modelIndex: Int32Array;
  let historyOf: (k: number) => Int32Array;
  if (flags.data !== undefined) {
    const log = await loadLog({ ...flags, data: flags.data }, progress);
    const h = historiesFromLog(f, log, given(cmd, 'minRating') ? flags.minRating : f.minRating);
    if (h.unknownItems > 0) progress.log(`ignored ${h.unknownItems} positives on items the model does not know`);
    if (h.emptyUsers > 0) progress.log(`${h.emptyUsers} users have no positive on an item the model knows: no list`);
    const known = h.modelIndex.reduce((a, u) => a + (u >= 0 ? 1 : 0), 0);
    progress.log(`${h.users.length} users from ${flags.data}: ${known} known to the model, ${h.users.length - known} folded in`);
    ({ users, modelIndex } = h);
    historyOf = (k) => h.histories[k]!;
  } else {
    const { indptr, indices } = f.train.userItems;
    const idx: number[] = [];
    for (let u = 0; u < f.users.size; u++) if (indptr[u + 1]! > indptr[u]!) idx.push(u);
    modelIndex = Int32Array.from(idx);
    users = idx.map((u) => f.users.id(u));
    historyOf = (k) => indices.subarray(indptr[modelIndex[k]!]!, indptr[modelIndex[k]! + 1]!);
  }
  const ctx = flags.explain ? explainContextOf(f) : null;
  const settings = { n: flags.n, reranker, hedge: flags.hedge, explain: flags.explain ?? false };
  const nItems = f.train.nItems;
  const size = scoringBatchSize(nItems);
  const scores = new Float32Array(size * nItems);
  const scorer = batchScorer(f.model, f.train.candidates.length, flags.annMinItems);
  const sink = openRowSink(flags.out, settings.explain);
  let rows = 0;
  try {
    for (let start = 0; start < users.length; start += size) {
      const end = Math.min(users.length, start + size);
      const histories = Array.from({ length: end - start }, (_, b) => historyOf(start + b));
      const indptr = new Int32Array(end - start + 1);
      histories.forEach((h, b) => (indptr[b + 1] = indptr[b]! + h.length));
      const items = new Int32Array(indptr[end - start]!);
      histories.forEach((h, b) => items.set(h, indptr[b]!));
      const batch: UserBatch = { users: modelIndex.slice(start, end), indptr, items };
      scorer.score(batch, scores, nItems);
      for (let b = 0; b < end - start; b++) {
        const list = userList(f, ctx, batch.users[b]!, histories[b]!, scores.subarray(b * nItems, (b + 1) * nItems), settings);
        const r = listRows(f, users[start + b]!, list, settings.explain);
        rows += r.length;
        await sink.add(r);
      }
      progress.update('batch', end, users.length, 'users');
    }
    await sink.close();
  } catch (err) {
    sink.abort();
    throw err;
  }
  progress.stop();
  process.stderr.write(`wrote ${rows} rows (${users.length} users, top ${flags.n}) to ${flags.out}\n`);
  return { users: users.length, rows };
}
