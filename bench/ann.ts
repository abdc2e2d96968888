/**
 * Per-persona ANN retrieval against exact scoring (docs/scale.md): fits the persona model, builds
 * the HNSW index over its item target vectors (bias folded in), and for a seeded sample of training
 * users compares the top 100 of retrieval + rerank with the top 100 of exact full scoring
 * (history excluded, ties by item index). Prints recall@100 (mean and minimum), the pool size and
 * per-user times of both paths.
 *
 *   node --import tsx bench/ann.ts                                   # ml-latest-small
 *   node --import tsx bench/ann.ts --world 20000x50000               # a generated world, users x items
 *   node --import tsx bench/ann.ts --users 300 --epochs 20 --per-persona 200 --ef 256 --m 16 --sample 4096 --metric ip
 *
 * --serve: the same comparison through the service's engine (src/serve/ann-retrieval.ts): two
 * engines over one live mirror holding every training positive as a like, one retrieving
 * (`--ann-min-items 1`), one scoring exactly (0); each sampled user is read cold in both
 * (`recommendations?n=100`, no explanations) and the recall@100 of the retrieved list against the
 * exact one is printed, with the index build time (wall, on the worker thread) and the CPU ms of both cold reads (on a loaded
 * machine these are not benchmark figures).
 *
 *   node --import tsx bench/ann.ts --serve --world 10000x50000 --mean 40 --epochs 5 --users 200
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readDataset } from '../src/data/readers/index.js';
import { makeSplit } from '../src/data/split.js';
import { Rng } from '../src/math/rng.js';
import { PersonaRetriever } from '../src/models/persona-ann.js';
import { PersonaModel } from '../src/models/personas.js';
import { singleUserBatch } from '../src/models/model.js';
import { writeWorld } from '../src/synth/files.js';
import { ML_SMALL } from '../test/helpers.js';
import type { InteractionLog } from '../src/data/dataset.js';
import type { TrainSet } from '../src/data/train-set.js';
import { categoriesOf } from '../src/data/categories.js';
import { Engine } from '../src/serve/engine.js';
import { DEFAULT_FEEDBACK_TYPES, LiveData } from '../src/serve/live.js';

/** The exact top n of a score row over the candidates, `history` (ascending) excluded, ties by index. */
export function exactTop(scores: Float32Array, candidates: Int32Array, history: Int32Array, n: number): Int32Array {
  const hist = new Set(history);
  const c = Array.from(candidates).filter((j) => !hist.has(j));
  c.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return Int32Array.from(c.slice(0, n));
}

export interface AnnRecall {
  users: number;
  candidates: number;
  meanRecall: number;
  minRecall: number;
  meanPool: number;
  exactNormaliser: boolean;
  buildSeconds: number;
  exactMsPerUser: number;
  annMsPerUser: number;
}

/** Recall@n of retrieval against exact scoring for `users` seeded training users of a fitted model. */
export function annRecall(model: PersonaModel, retriever: PersonaRetriever, histories: { indptr: Int32Array; indices: Int32Array }, nItems: number, users: Int32Array, n: number, buildSeconds: number): AnnRecall {
  const cand = model.candidateItems();
  const full = new Float32Array(nItems);
  let sum = 0;
  let min = 1;
  let pool = 0;
  let tExact = 0;
  let tAnn = 0;
  for (const u of users) {
    const hist = histories.indices.slice(histories.indptr[u]!, histories.indptr[u + 1]!);
    let t = performance.now();
    model.scoreBatch(singleUserBatch(u, hist), full);
    const exact = exactTop(full, cand, hist, n);
    tExact += performance.now() - t;
    t = performance.now();
    const got = retriever.recommend(u, hist, n);
    tAnn += performance.now() - t;
    const e = new Set(exact);
    let hit = 0;
    for (const j of got.items) if (e.has(j)) hit++;
    const r = exact.length > 0 ? hit / exact.length : 1;
    sum += r;
    min = Math.min(min, r);
    pool += got.pool;
  }
  return {
    users: users.length,
    candidates: cand.length,
    meanRecall: sum / users.length,
    minRecall: min,
    meanPool: pool / users.length,
    exactNormaliser: retriever.exactNormaliser,
    buildSeconds,
    exactMsPerUser: tExact / users.length,
    annMsPerUser: tAnn / users.length,
  };
}

export interface ServeRecall {
  users: number;
  candidates: number;
  meanRecall: number;
  minRecall: number;
  /** Users whose two lists are the same items in the same order. */
  sameOrder: number;
  buildSeconds: number;
  exactColdMs: { p50: number; p99: number };
  annColdMs: { p50: number; p99: number };
}

/**
 * Recall@n of the service's retrieved lists against its exact ones (module comment, --serve):
 * `users` are training user indices of `train` (in `log`'s index spaces), each read cold once.
 */
export async function serveRecall(model: PersonaModel, log: InteractionLog, train: TrainSet, users: Int32Array, n: number, retrieval: ConstructorParameters<typeof PersonaRetriever>[1]): Promise<ServeRecall> {
  const live = new LiveData(DEFAULT_FEEDBACK_TYPES);
  const cats = log.categories;
  live.upsertItems(Array.from({ length: log.items.size }, (_, i) => ({ id: log.items.id(i), title: log.titles?.[i] ?? '', categories: cats ? Array.from(categoriesOf(cats, i), (c) => cats.names[c]!) : [] })));
  const { indptr, indices } = train.userItems;
  const events: { user: string; item: string; type: string; value: number; ts: number; seq: number }[] = [];
  for (let u = 0; u < train.nUsers; u++) for (let x = indptr[u]!; x < indptr[u + 1]!; x++) events.push({ user: log.users.id(u), item: log.items.id(indices[x]!), type: 'like', value: 1, ts: 0, seq: events.length + 1 });
  live.applyFeedback(events);
  const meta = { items: log.items.toArray(), users: log.users.toArray(), feedbackSeq: events.length, erasureGen: 0 };
  const record = { version: 1, name: 'personas', path: '', sha256: '', trainedAt: '', params: {}, feedbackSeq: events.length, evaluation: null };
  const loaded = { record, model, meta, popularity: train.itemPopularity };
  const exact = new Engine(loaded, live, { minItems: 0 });
  exact.warm();
  const ann = new Engine(loaded, live, { minItems: 1, ...(retrieval ? { retrieval } : {}) });
  const t0 = performance.now();
  ann.warm(); // starts the index build on a worker thread
  await ann.ann.ready;
  if (ann.ann.error) throw new Error(ann.ann.error);
  const buildSeconds = (performance.now() - t0) / 1000;
  const cpu = (): number => {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1000;
  };
  const opts = { n, offset: 0, rerank: 'none', explain: false };
  const ids = (json: string): string[] => (JSON.parse(json) as { items: { id: string }[] }).items.map((x) => x.id);
  const [tExact, tAnn] = [[] as number[], [] as number[]];
  let sum = 0;
  let min = 1;
  let same = 0;
  for (const u of users) {
    const id = log.users.id(u);
    let t = cpu();
    const e = ids(exact.recommendJson(id, opts));
    tExact.push(cpu() - t);
    t = cpu();
    const a = ids(ann.recommendJson(id, opts));
    tAnn.push(cpu() - t);
    const want = new Set(e);
    let hit = 0;
    for (const x of a) if (want.has(x)) hit++;
    const r = e.length > 0 ? hit / e.length : 1;
    sum += r;
    min = Math.min(min, r);
    if (a.join() === e.join()) same++;
  }
  const q = (xs: number[]): { p50: number; p99: number } => {
    const s = xs.slice().sort((x, y) => x - y);
    const at = (p: number): number => Math.round(100 * s[Math.min(s.length - 1, Math.floor(p * s.length))]!) / 100;
    return { p50: at(0.5), p99: at(0.99) };
  };
  return { users: users.length, candidates: model.candidateItems().length, meanRecall: sum / users.length, minRecall: min, sameOrder: same, buildSeconds, exactColdMs: q(tExact), annColdMs: q(tAnn) };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string, def: string): string => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : def;
  };
  const world = opt('--world', '');
  let dir = ML_SMALL;
  let tmp: string | null = null;
  if (world) {
    const [users, items] = world.split('x').map(Number);
    if (!users || !items) throw new Error('--world needs USERSxITEMS, e.g. 20000x50000');
    tmp = mkdtempSync(join(tmpdir(), 'personae-ann-'));
    await writeWorld({ seed: 42, users, items, meanInteractions: Number(opt('--mean', '50')) }, tmp);
    dir = tmp;
  }
  try {
    const log = await readDataset(dir);
    const split = makeSplit(log);
    const model = new PersonaModel({ epochs: Number(opt('--epochs', '20')) });
    await model.fit(split.train, { rng: new Rng(42).derive('model', 'personas'), threads: Number(opt('--threads', '1')) });
    if (argv.includes('--serve')) {
      const active = Array.from({ length: split.train.nUsers }, (_, u) => u).filter((u) => split.train.userItems.indptr[u + 1]! > split.train.userItems.indptr[u]!);
      const users = Int32Array.from(new Rng(7).shuffle(active).slice(0, Number(opt('--users', '300'))));
      const retrieval = { perPersona: Number(opt('--per-persona', '200')), expansionSearch: Number(opt('--ef', '256')), connectivity: Number(opt('--m', '16')), normaliserSample: Number(opt('--sample', '4096')) };
      const r = await serveRecall(model, log, split.train, users, 100, retrieval);
      console.log(JSON.stringify({ data: world ? `world ${world}` : 'ml-latest-small', mode: 'serve', ...r }));
      return;
    }
    const t0 = performance.now();
    const retriever = new PersonaRetriever(model, { perPersona: Number(opt('--per-persona', '200')), expansionSearch: Number(opt('--ef', '256')), connectivity: Number(opt('--m', '16')), metric: opt('--metric', 'l2-transform') as 'l2-transform' | 'ip', normaliserSample: Number(opt('--sample', '4096')) });
    const build = (performance.now() - t0) / 1000;
    const active = Array.from({ length: split.train.nUsers }, (_, u) => u).filter((u) => split.train.userItems.indptr[u + 1]! > split.train.userItems.indptr[u]!);
    const users = Int32Array.from(new Rng(7).shuffle(active).slice(0, Number(opt('--users', '300'))));
    const r = annRecall(model, retriever, split.train.userItems, split.train.nItems, users, 100, build);
    console.log(JSON.stringify({ data: world ? `world ${world}` : 'ml-latest-small', metric: retriever.index.options.metric, ...r }));
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('ann.ts')) await main();
