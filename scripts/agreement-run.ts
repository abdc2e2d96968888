/**
 * Measures explanation agreement with planted tastes on a synthetic world (docs/personas.md,
 * "Synthetic worlds"). Usage:
 *
 *   node --import tsx scripts/agreement-run.ts '<world config JSON>' [models=personas,bpr] [personas params JSON]
 *
 * worldToLog(config), the temporal-user split, one fit per model (seed 42, 2 threads), full-ranking
 * top-20 lists; prints ndcg@20, recall@20, minorityRecall@20 and ckl@20 per model, and for models
 * with personas the explanation fidelity and `plantedAgreement`.
 */
import { makeSplit } from '../src/data/split.js';
import { evaluateLists, rankTestUsers } from '../src/eval/evaluate.js';
import { Rng } from '../src/math/rng.js';
import { hasPersonas } from '../src/models/model.js';
import { createModel } from '../src/models/registry.js';
import { worldToLog } from '../src/synth/world.js';
import { plantedAgreement } from '../src/explain/agreement.js';
import { explanationFidelity } from '../src/explain/fidelity.js';

const worldConfig = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
const models = (process.argv[3] ?? 'personas,bpr').split(',');
const personasParams = JSON.parse(process.argv[4] ?? '{}') as Record<string, unknown>;
const t0 = Date.now();
const { log, truth } = worldToLog(worldConfig);
const split = makeSplit(log);
const secs = (t: number): string => `${((Date.now() - t) / 1000).toFixed(1)} s`;
console.log(`world ${JSON.stringify(worldConfig)}: ${log.length} rows, ${split.testUsers.length} test users, ${split.train.candidates.length} candidates (${secs(t0)})`);
for (const name of models) {
  const t1 = Date.now();
  const model = createModel(name, name === 'personas' ? personasParams : {});
  await model.fit(split.train, { rng: new Rng(42), threads: 2 });
  const lists = rankTestUsers(model, split, { k: 20 });
  const m = evaluateLists(split, lists, [20], 1).metrics;
  const f = (k: string): string => m[k]!.mean!.toFixed(4);
  let extra = '';
  if (hasPersonas(model)) {
    const fid = explanationFidelity(model, split, lists);
    const a = plantedAgreement(model, split, lists, truth.rowPersona);
    extra =
      ` | fidelity: explained ${fid.explainedShare.toFixed(3)}, rank drop ${fid.meanRankDrop.toFixed(1)} vs random ${fid.control.meanRankDrop.toFixed(1)} vs similar ${fid.similar.meanRankDrop.toFixed(1)}` +
      ` | agreement ${a.share.toFixed(3)} (baseline ${a.baseline.toFixed(3)}, one-to-one ${a.strictShare.toFixed(3)}, ${a.hits} hits)` +
      ` multi-taste ${a.multiTaste.share.toFixed(3)} (baseline ${a.multiTaste.baseline.toFixed(3)}, ${a.multiTaste.users} users)`;
  }
  console.log(`${name}: ndcg@20 ${f('ndcg@20')} recall@20 ${f('recall@20')} minorityRecall@20 ${f('minorityRecall@20')} ckl@20 ${f('ckl@20')} (${secs(t1)})${extra}`);
}
