/**
 * The cost of one user's first read, the way the service computes it (src/serve/engine.ts, no
 * explanations): the persona set, its scores over the catalogue and the confidence over them
 * (src/serve/served-confidence.ts), for every trained user of a saved model, one after another in
 * one thread. Prints the CPU milliseconds per user of each step and a checksum of the confidences
 * (the same on every machine for the same model file).
 *
 *   node bin/personae.js train --data ../shared/data/ml-latest-small --model personas --out /tmp/m.model
 *   node --import tsx bench/user-read.ts /tmp/m.model [users]
 */
import { Recommender } from '../src/api/recommender.js';
import { userConfidence } from '../src/confidence/index.js';
import { hasPersonas } from '../src/models/model.js';
import { personaSetOf } from '../src/models/persona-assignment.js';
import { onboardingBasis } from '../src/onboard/basis.js';

const [file, usersArg] = process.argv.slice(2);
if (!file) throw new Error('usage: node --import tsx bench/user-read.ts <model file> [users]');
const f = (await Recommender.load(file)).fitted;
const model = f.model;
if (!hasPersonas(model)) throw new Error(`${file} holds a "${f.modelName}" model; this bench needs personas`);
onboardingBasis(model, f.train, { size: 16 }); // built once per model before the service serves (Engine.warm)
const { indptr, indices } = f.train.userItems;
const limit = Number(usersArg ?? Number.POSITIVE_INFINITY);
const cpu = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
const spent = { set: 0, scores: 0, confidence: 0 };
let users = 0;
let checksum = 0;
for (let u = 0; u < f.users.size && users < limit; u++) {
  if (indptr[u + 1] === indptr[u]) continue;
  const history = indices.slice(indptr[u], indptr[u + 1]);
  const t0 = cpu();
  const set = personaSetOf(model, u, history);
  const t1 = cpu();
  const row = new Float32Array(f.train.nItems);
  model.scorePersonas(set.vectors, row, history);
  const t2 = cpu();
  checksum += userConfidence(model, f.train, { ...set, scores: row }).confidence;
  const t3 = cpu();
  spent.set += t1 - t0;
  spent.scores += t2 - t1;
  spent.confidence += t3 - t2;
  users++;
}
const per = (ms: number): string => (ms / Math.max(1, users)).toFixed(2);
console.log(`${users} users: persona set ${per(spent.set)} ms, scores ${per(spent.scores)} ms, confidence ${per(spent.confidence)} ms CPU per user; confidence checksum ${checksum}`);
