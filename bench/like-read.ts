/**
 * The first read of a user right after one like, on the service's engine in-process (no HTTP, no
 * store): a saved persona model served the way `personae serve --model-file` serves it (every
 * training positive as a like), every user read once (their states cached, as after the service's
 * first reads), then a seeded sequence of rounds: a random user is read
 * (`recommendations?n=10&explain=true`), gets one like of a random item they have not seen, and is
 * read again. Prints the CPU milliseconds of the read after the like (p50, p99, mean) and a sha256
 * of every answer's JSON text in order, the same on every machine for the same model file and
 * arguments: a change of the read path that keeps the answers exact keeps the checksum.
 *
 *   node --import tsx bench/like-read.ts /tmp/m.model [rounds] [seed]
 *   BENCH_MARKS=/tmp/p/marks.json node --cpu-prof --cpu-prof-dir=/tmp/p/prof --import tsx bench/like-read.ts /tmp/m.model
 *   PROF_BASE=/tmp/p node bench/profile-phases.mjs likeRead
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Recommender } from '../src/api/recommender.js';
import { categoriesOf } from '../src/data/categories.js';
import { Engine } from '../src/serve/engine.js';
import { DEFAULT_FEEDBACK_TYPES, LiveData } from '../src/serve/live.js';

const [file, roundsArg, seedArg] = process.argv.slice(2);
if (!file) throw new Error('usage: node --import tsx bench/like-read.ts <model file> [rounds] [seed]');
const f = (await Recommender.load(file)).fitted;
const live = new LiveData(DEFAULT_FEEDBACK_TYPES);
const cats = f.categories;
live.upsertItems(Array.from({ length: f.items.size }, (_, i) => ({ id: f.items.id(i), title: f.titles?.[i] ?? '', categories: cats ? Array.from(categoriesOf(cats, i), (c) => cats.names[c]!) : [] })));
const { indptr, indices } = f.train.userItems;
const events: { user: string; item: string; type: string; value: number; ts: number; seq: number }[] = [];
for (let u = 0; u < f.users.size; u++) for (let x = indptr[u]!; x < indptr[u + 1]!; x++) events.push({ user: f.users.id(u), item: f.items.id(indices[x]!), type: 'like', value: 1, ts: 0, seq: events.length + 1 });
live.applyFeedback(events);
const meta = { items: f.items.toArray(), users: f.users.toArray(), feedbackSeq: events.length, erasureGen: 0 };
const record = { version: 1, name: f.modelName, path: file, sha256: '', trainedAt: '', params: {}, feedbackSeq: events.length, evaluation: null };
const engine = new Engine({ record, model: f.model, meta, popularity: f.train.itemPopularity }, live);
engine.warm();

const rounds = Number(roundsArg ?? 200);
let seed = Number(seedArg ?? 1) >>> 0 || 1;
const rand = (n: number): number => {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed % n;
};
const cpu = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
const users = f.users.toArray().filter((id) => live.users.has(id));
const opts = { n: 10, offset: 0, rerank: 'none', explain: true };
const hash = createHash('sha256');
// every user once first, as the service has after its first reads (their states are cached)
for (const user of users) hash.update(engine.recommendJson(user, opts));
// BENCH_MARKS=file: the timed reads' intervals in the clock of CPU profiles (bench/profile-phases.mjs, phase likeRead)
const marks: { likeRead: [number, number][] } = { likeRead: [] };
const now = (): number => Number(process.hrtime.bigint() / 1000n);
const spent: number[] = [];
let seq = events.length;
for (let r = 0; r < rounds; r++) {
  const user = users[rand(users.length)]!;
  hash.update(engine.recommendJson(user, opts));
  const seen = live.users.get(user)!.seen;
  let item = f.items.id(rand(f.items.size));
  while (seen.has(item)) item = f.items.id(rand(f.items.size));
  live.applyFeedback([{ user, item, type: 'like', value: 1, ts: 0, seq: ++seq }]);
  const [t0, m0] = [cpu(), now()];
  const text = engine.recommendJson(user, opts);
  spent.push(cpu() - t0);
  marks.likeRead.push([m0, now()]);
  hash.update(text);
}
if (process.env.BENCH_MARKS) writeFileSync(process.env.BENCH_MARKS, JSON.stringify(marks));
const sorted = spent.slice().sort((a, b) => a - b);
const q = (p: number): string => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(2);
const mean = spent.reduce((a, b) => a + b, 0) / Math.max(1, spent.length);
console.log(`${rounds} reads after a like: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, mean ${mean.toFixed(2)} ms CPU; answers sha256 ${hash.digest('hex')}`);
