/** `personae recommend`: fit a model on every positive of a dataset and list one user's top items. */
import { Command } from 'commander';
import { rowOf } from '../../data/csr.js';
import { categoriesOf } from '../../data/dataset.js';
import { buildTrainSet, extractPositives } from '../../data/split.js';
import { explainOrWithhold, hedge, userConfidence } from '../../confidence/index.js';
import { ConfigError, NotFoundError } from '../../errors.js';
import { explainContext, explanationSentence, personaProfile } from '../../explain/explain.js';
import { Rng } from '../../math/rng.js';
import { TopKSelector } from '../../math/topk.js';
import { defaultThreads } from '../../math/pool.js';
import { hasPersonas, personasFor, singleUserBatch } from '../../models/model.js';
import { humanReasons } from '../../serve/engine.js';
import { createModel, modelNames } from '../../models/registry.js';
import { createProgress } from '../progress.js';
import { addDataOptions, loadLog, parseInteger, type DataFlags } from '../shared.js';
import { buildReranker, parseRerankSpec, RERANK_HELP } from '../../rank/index.js';
import { parseParams } from './evaluate.js';

interface RecommendFlags extends DataFlags {
  user: string;
  model: string;
  n: number;
  param: string[];
  rerank: string;
  explain?: boolean;
  hedge: boolean;
  quiet?: boolean;
}

export function recommendCommand(): Command {
  const cmd = new Command('recommend').description("fit a model on all positives and print a user's recommendations");
  addDataOptions(cmd)
    .requiredOption('--user <id>', 'the user id (as in the data)')
    .option('--model <name>', `model (${modelNames().join(', ')})`, 'ease')
    .option('--n <n>', 'how many items', parseInteger('--n', 1), 10)
    .option('--param <model.key=value>', 'set a model parameter (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--rerank <spec>', `reranking stage: ${RERANK_HELP}`, 'none')
    .option('--explain', 'say which of the user\'s tastes (personas) each item serves (models with personas)')
    .option('--no-hedge', 'never hedge: the plain top-n even for a low-confidence user (persona models hedge by default)')
    .option('--quiet', 'no progress output')
    .action(async (flags: RecommendFlags) => {
      const rerankSpec = parseRerankSpec(flags.rerank);
      // the model, its parameters and --explain are checked before the data is read
      const model = createModel(flags.model, parseParams(flags.param)[flags.model] ?? {});
      if (flags.explain && !hasPersonas(model)) throw new ConfigError(`model "${flags.model}" has no personas to explain with; use --model personas`, '--explain');
      const progress = createProgress({ quiet: flags.quiet ?? false });
      const log = await loadLog(flags, progress);
      const user = log.users.lookup(flags.user);
      if (user < 0) throw new NotFoundError(`--user: no user "${flags.user}" in ${flags.data}`);
      const train = buildTrainSet(log, extractPositives(log, flags.minRating));
      buildReranker(rerankSpec, { log }, model); // fail before fitting if the reranker cannot run
      await model.fit(train, {
        rng: new Rng(flags.seed).derive('model', flags.model),
        threads: defaultThreads(),
        onProgress: (e) => progress.update(`${flags.model} fit`, e.done, e.total),
      });
      progress.stop();
      const history = rowOf(train.userItems, user);
      const scores = new Float32Array(train.nItems);
      model.scoreBatch(singleUserBatch(user, history), scores);
      const reranker = buildReranker(rerankSpec, { log }, model);
      const poolK = reranker ? Math.max(flags.n, reranker.poolSize(flags.n)) : flags.n;
      const pool = new Int32Array(poolK);
      const found = new TopKSelector(poolK).select(scores, train.candidates, train.itemRanks, history, pool);
      const out = new Int32Array(flags.n);
      let n = Math.min(found, flags.n);
      if (reranker) n = reranker.rerank({ user, history, scores, pool: pool.subarray(0, found), k: flags.n }, out);
      else out.set(pool.subarray(0, n));
      // confidence (src/confidence) and, below 0.5 without a reranker, the hedged list
      const confidence = hasPersonas(model) ? userConfidence(model, train, { user, history }) : null;
      let hedgeReasons: string[] | null = null;
      if (confidence && hasPersonas(model) && !reranker && flags.hedge) {
        const h = hedge({ model, train, personas: personasFor(model, user, history), history, scores, confidence, n: flags.n, categories: log.categories ?? null });
        if (h.hedged) {
          out.set(h.items.subarray(0, flags.n));
          n = Math.min(flags.n, h.items.length);
          hedgeReasons = humanReasons(confidence, h.reasons);
        }
      }
      const describe = (i: number): string => {
        const title = log.titles?.[i] ?? log.items.id(i);
        const cats = log.categories ? [...categoriesOf(log.categories, i)].map((c) => log.categories!.names[c]).join('|') : '';
        return `${title}${cats ? `  [${cats}]` : ''}`;
      };
      const by = `${flags.model}${reranker ? `, reranked by ${reranker.name}` : ''}`;
      process.stdout.write(`user ${flags.user}: ${history.length} positives; top ${n} by ${by}${hedgeReasons ? ', hedged' : ''}\n`);
      if (flags.explain && confidence) {
        process.stdout.write(`confidence: ${confidence.confidence.toFixed(2)}\n`);
        if (hedgeReasons) process.stdout.write(`hedged: ${hedgeReasons.join('; ')}\n`);
      }
      const ctx = flags.explain ? explainContext(train, log) : null;
      const profile = ctx && hasPersonas(model) ? personaProfile(model, { user, history }, ctx) : null;
      if (profile && hasPersonas(model)) {
        process.stdout.write(`tastes (personas, by share of the history):\n`);
        for (const p of [...profile.personaInfo].sort((a, b) => b.share - a.share)) {
          process.stdout.write(`  #${p.persona + 1} ${p.label ?? '(no categories)'}: ${Math.round(100 * p.share)}% of the history, e.g. ${p.anchorTitles.join('; ')}\n`);
        }
      }
      for (let r = 0; r < n; r++) {
        process.stdout.write(`${String(r + 1).padStart(3)}. ${describe(out[r]!)}  (score ${scores[out[r]!]!.toFixed(4)})\n`);
        const e = ctx && profile && confidence && hasPersonas(model) ? explainOrWithhold(model, profile, out[r]!, ctx, confidence) : null;
        if (e?.explanation) process.stdout.write(`       ${explanationSentence(e.explanation)}\n`);
        else if (e?.withheld) process.stdout.write(`       (explanation withheld: ${e.withheld})\n`);
      }
    });
  return cmd;
}
