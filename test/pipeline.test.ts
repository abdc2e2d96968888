/**
 * The select step (src/rank/pipeline.ts) is the one place that turns scores into a list: evaluation
 * (`rankTestUsers`), the service's engine (`Engine.listOf`) and `personae recommend` give the same
 * list for the same model, user and reranker. All three read the same CSV files, fit the model the
 * same way (the CLI's seed derivation) and list every chosen user; the CLI runs in-process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { categoriesOf } from '../src/data/categories.js';
import { csrFromPairs, rowOf } from '../src/data/csr.js';
import type { InteractionLog } from '../src/data/dataset.js';
import { readDataset } from '../src/data/readers/index.js';
import { assembleSplit, extractPositives, type Split } from '../src/data/split.js';
import { rankTestUsers } from '../src/eval/evaluate.js';
import { Rng } from '../src/math/rng.js';
import type { Recommender } from '../src/models/model.js';
import { createModel } from '../src/models/registry.js';
import { parseReranker } from '../src/rank/index.js';
import { ListPipeline, select } from '../src/rank/pipeline.js';
import { buildProgram } from '../src/cli/index.js';
import { Engine } from '../src/serve/engine.js';
import { DEFAULT_FEEDBACK_TYPES, LiveData } from '../src/serve/live.js';
import { worldToLog } from '../src/synth/world.js';

const N = 10;
const SEED = 42;

test('select: plain top-k with the tie rule, exclusions, and a reranker on a best-first pool', () => {
  const scores = Float32Array.of(0.5, 0.9, 0.9, 0.1, 0.7, 0.9);
  // item 5 ranks before item 2 by ID: ties go to the lower ID rank
  const from = { candidates: Int32Array.of(0, 1, 2, 3, 4, 5), exclude: Int32Array.of(1), itemRanks: Int32Array.of(0, 1, 3, 4, 5, 2) };
  assert.deepEqual(Array.from(select(scores, from, { user: -1, history: new Int32Array(0) }, { k: 3 }).list), [5, 2, 4]);
  // a reranker sees a pool of poolSize(k) best items and writes the order
  const seen: number[][] = [];
  const reverse = {
    name: 'reverse',
    poolSize: (k: number) => k + 1,
    rerank(input: { pool: Int32Array; k: number }, out: Int32Array): number {
      seen.push(Array.from(input.pool));
      const r = Array.from(input.pool).reverse().slice(0, input.k);
      out.set(r);
      return r.length;
    },
  };
  const s = select(scores, from, { user: -1, history: new Int32Array(0) }, { k: 3, reranker: reverse });
  assert.deepEqual(seen, [[5, 2, 4, 0]]);
  assert.deepEqual(Array.from(s.list), [0, 4, 2]);
  // fewer candidates than k: a shorter list, never an excluded item
  const few = new ListPipeline({ k: 5 }).select(scores, { ...from, candidates: Int32Array.of(1, 3) }, { user: -1, history: new Int32Array(0) });
  assert.deepEqual(Array.from(few.list), [3]);
});

/** A small world written as CSV (positives only, so "seen" and "history" are the same items). */
function writeData(dir: string): { data: string; categories: string } {
  const { log } = worldToLog({ users: 120, items: 150, categories: 5, meanInteractions: 30, seed: 3 });
  const rows = ['user,item,rating,timestamp'];
  for (let r = 0; r < log.length; r++) {
    if (log.rating![r]! < 4) continue;
    rows.push(`${log.users.id(log.user[r]!)},${log.items.id(log.item[r]!)},${log.rating![r]},${log.timestamp![r]}`);
  }
  const data = join(dir, 'ratings.csv');
  writeFileSync(data, `${rows.join('\n')}\n`);
  const cats = log.categories!;
  const lines = ['item,categories'];
  for (let i = 0; i < log.items.size; i++) lines.push(`${log.items.id(i)},${Array.from(categoriesOf(cats, i), (c) => cats.names[c]).join('|')}`);
  const categories = join(dir, 'items.csv');
  writeFileSync(categories, `${lines.join('\n')}\n`);
  return { data, categories };
}

/** A split whose train set is every positive (what `personae recommend` fits on) and whose test users are `users`. */
function fullTrainSplit(log: InteractionLog, users: readonly number[]): Split {
  const positives = extractPositives(log, 4);
  const rows = csrFromPairs(log.users.size, log.items.size, positives.user, positives.item);
  const test = { user: Int32Array.from(users), item: Int32Array.from(users, (u) => rowOf(rows, u)[0]!), time: new Float64Array(users.length) };
  return assembleSplit(log, { protocol: 'temporal-user', minRating: 4, seed: SEED, positives: positives.user.length, positiveUsers: log.users.size }, { train: positives, test });
}

function engineFor(log: InteractionLog, split: Split, model: Recommender): Engine {
  const live = new LiveData(DEFAULT_FEEDBACK_TYPES);
  live.upsertItems(Array.from({ length: log.items.size }, (_, i) => ({ id: log.items.id(i), title: '', categories: Array.from(categoriesOf(log.categories!, i), (c) => log.categories!.names[c]!) })));
  const events = Array.from(split.trainPairs.user, (u, k) => ({ user: log.users.id(u), item: log.items.id(split.trainPairs.item[k]!), type: 'like', value: 1, ts: 0, seq: k + 1 }));
  live.applyFeedback(events);
  const meta = { items: Array.from({ length: log.items.size }, (_, i) => log.items.id(i)), users: Array.from({ length: log.users.size }, (_, u) => log.users.id(u)), feedbackSeq: events.length };
  const record = { version: 1, name: model.name, path: '', sha256: '', trainedAt: '', params: {}, feedbackSeq: events.length, evaluation: null };
  return new Engine({ record, model, meta, popularity: split.train.itemPopularity }, live);
}

/** `personae recommend` in-process: the item IDs of its list (the data has no titles, so lines show IDs). */
async function cliList(args: string[]): Promise<string[]> {
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    await buildProgram().parseAsync(['node', 'personae', 'recommend', ...args]);
  } finally {
    process.stdout.write = write;
  }
  const ids: string[] = [];
  for (const line of out.join('').split('\n')) {
    const m = /^\s*\d+\. (\S+) {2}\[/.exec(line);
    if (m) ids.push(m[1]!);
  }
  return ids;
}

const CASES: { model: string; params: Record<string, number>; flags: string[]; reranks: string[] }[] = [
  { model: 'ease', params: { lambda: 50 }, flags: ['--param', 'ease.lambda=50'], reranks: ['none', 'calibrated:0.5', 'proportional', 'consumption:3'] },
  {
    model: 'personas',
    params: { epochs: 4, warmEpochs: 2, avgEpochs: 1, dim: 16 },
    flags: ['--param', 'personas.epochs=4', '--param', 'personas.warmEpochs=2', '--param', 'personas.avgEpochs=1', '--param', 'personas.dim=16'],
    reranks: ['none', 'proportional:personas', 'calibrated:0.5:categories'],
  },
];

test('evaluate, the engine and personae recommend give identical lists for the same model, user and reranker', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'personae-pipeline-'));
  const files = writeData(dir);
  const log = await readDataset(files.data, { format: 'auto', skipBadRows: false, columns: {}, categories: files.categories });
  // users with short, medium and long histories
  const positives = extractPositives(log, 4);
  const size = new Int32Array(log.users.size);
  for (const u of positives.user) size[u]!++;
  const bySize = Array.from(size.keys()).sort((a, b) => size[a]! - size[b]! || a - b);
  const users = [bySize[0]!, bySize[30]!, bySize[80]!, bySize[bySize.length - 1]!].sort((a, b) => a - b);
  const split = fullTrainSplit(log, users);
  for (const c of CASES) {
    const model = createModel(c.model, c.params);
    await model.fit(split.train, { rng: new Rng(SEED).derive('model', c.model), threads: 1 });
    const engine = engineFor(log, split, model);
    for (const rerank of c.reranks) {
      const reranker = parseReranker(rerank, split, model);
      const evaluated = rankTestUsers(model, split, { k: N, reranker });
      for (const [b, u] of split.testUsers.entries()) {
        const id = log.users.id(u);
        const fromEval = Array.from(evaluated[b]!, (i) => log.items.id(i));
        const fromEngine = Array.from(engine.listOf(id, N, rerank, false), (i) => log.items.id(i));
        const what = `${c.model}, rerank ${rerank}, user ${id}`;
        assert.equal(fromEval.length, N, what);
        assert.deepEqual(fromEngine, fromEval, `engine vs evaluate: ${what}`);
        // the CLI refits per call: check it on two of the users
        if (b % 2 === 1) continue;
        const fromCli = await cliList(['--data', files.data, '--categories', files.categories, '--user', id, '--model', c.model, ...c.flags, '--n', String(N), '--rerank', rerank, '--no-hedge', '--quiet']);
        assert.deepEqual(fromCli, fromEval, `recommend vs evaluate: ${what}`);
      }
    }
  }
});
