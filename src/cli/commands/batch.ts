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
 *
 * With --threads > 1, ranges of users are listed by worker threads (src/cli/batch-users.ts), a
 * bounded number of ranges in flight, and written in user order as they arrive: the file is the
 * same for any number of threads.
 */
import { Command, Option } from 'commander';
import { ConfigError } from '../../errors.js';
import { defaultThreads, toShared, WorkerPool } from '../../math/pool.js';
import { hasPersonas } from '../../models/model.js';
import { buildReranker, parseRerankSpec, RERANK_HELP } from '../../rank/index.js';
import { batchFormatOf, openRowSink, type ListRow } from '../batch-output.js';
import { ANN_FLAG_HELP, DEFAULT_ANN_MIN_ITEMS } from '../ann-scoring.js';
import { BatchLister, type BatchJob, type BatchSettings, type BatchUsers } from '../batch-users.js';
import { given, historiesFromLog, loadModelFile } from '../model-file.js';
import { createProgress } from '../progress.js';
import { addDataOptions, loadLog, parseInteger, type DataFlags } from '../shared.js';

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
  threads: number;
  quiet?: boolean;
}

/** Users per range handed to a worker. */
const RANGE = 16;

const rangeUrl = new URL(import.meta.url.endsWith('.ts') ? '../batch-users.ts' : '../batch-users.js', import.meta.url).href;

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
    .addOption(new Option('--threads <n>', 'worker threads listing users (the file does not depend on it)').argParser(parseInteger('--threads', 1)).default(defaultThreads()))
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
  buildReranker(rerankSpec, { log: { categories: f.categories } }, f.model); // a reranker that cannot run fails here
  let users: BatchUsers;
  if (flags.data !== undefined) {
    const log = await loadLog({ ...flags, data: flags.data }, progress);
    const h = historiesFromLog(f, log, given(cmd, 'minRating') ? flags.minRating : f.minRating);
    if (h.unknownItems > 0) progress.log(`ignored ${h.unknownItems} positives on items the model does not know`);
    if (h.emptyUsers > 0) progress.log(`${h.emptyUsers} users have no positive on an item the model knows: no list`);
    const known = h.modelIndex.reduce((a, u) => a + (u >= 0 ? 1 : 0), 0);
    progress.log(`${h.users.length} users from ${flags.data}: ${known} known to the model, ${h.users.length - known} folded in`);
    const indptr = new Int32Array(h.users.length + 1);
    h.histories.forEach((x, k) => (indptr[k + 1] = indptr[k]! + x.length));
    const items = new Int32Array(indptr[h.users.length]!);
    h.histories.forEach((x, k) => items.set(x, indptr[k]!));
    users = { ids: h.users, modelIndex: h.modelIndex, indptr, items };
  } else {
    const { indptr: uptr, indices } = f.train.userItems;
    const idx: number[] = [];
    for (let u = 0; u < f.users.size; u++) if (uptr[u + 1]! > uptr[u]!) idx.push(u);
    const modelIndex = Int32Array.from(idx);
    const indptr = new Int32Array(idx.length + 1);
    idx.forEach((u, k) => (indptr[k + 1] = indptr[k]! + uptr[u + 1]! - uptr[u]!));
    const items = new Int32Array(indptr[idx.length]!);
    idx.forEach((u, k) => items.set(indices.subarray(uptr[u]!, uptr[u + 1]!), indptr[k]!));
    users = { ids: idx.map((u) => f.users.id(u)), modelIndex, indptr, items };
  }
  const settings: BatchSettings = { n: flags.n, rerank: flags.rerank, hedge: flags.hedge, explain: flags.explain ?? false, annMinItems: flags.annMinItems };
  const total = users.ids.length;
  const threads = Math.max(1, Math.min(flags.threads, Math.ceil(total / RANGE)));
  const sink = openRowSink(flags.out, settings.explain);
  let rows = 0;
  const write = async (r: ListRow[], done: number): Promise<void> => {
    rows += r.length;
    await sink.add(r);
    progress.update('batch', done, total, 'users');
  };
  const pool = threads > 1 ? new WorkerPool(threads) : null;
  try {
    if (!pool) {
      const lister = new BatchLister(f, settings);
      for (let start = 0; start < total; start += RANGE) {
        const end = Math.min(total, start + RANGE);
        await write(lister.rows(users, start, end, users.ids.slice(start, end)), end);
      }
    } else {
      // ranges go out in order, at most 2 per thread in flight, and are written in order
      const job: BatchJob = { modelFile: flags.modelFile, settings, users: { modelIndex: toShared(users.modelIndex), indptr: toShared(users.indptr), items: toShared(users.items) } };
      const inflight: { end: number; rows: Promise<ListRow[]> }[] = [];
      let next = 0;
      while (next < total || inflight.length > 0) {
        while (next < total && inflight.length < 2 * threads) {
          const start = next;
          const end = Math.min(total, start + RANGE);
          const p = pool.run<ListRow[]>(rangeUrl, 'batchRange', [job, start, end, users.ids.slice(start, end)]);
          p.catch(() => undefined); // awaited in order below; a failure there stops the run
          inflight.push({ end, rows: p });
          next = end;
        }
        const head = inflight.shift()!;
        await write(await head.rows, head.end);
      }
    }
    await sink.close();
  } catch (err) {
    sink.abort();
    throw err;
  } finally {
    await pool?.close();
  }
  progress.stop();
  process.stderr.write(`wrote ${rows} rows (${total} users, top ${flags.n}) to ${flags.out}\n`);
  return { users: total, rows };
}
