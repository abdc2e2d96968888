/**
 * `personae recommend`: one user's top items, from a model fitted now on every positive of --data
 * or loaded from --model-file (src/cli/model-file.ts says what is read from where). The list is
 * made by `userList` (src/cli/lists.ts), the same function `personae batch` uses.
 */
import { Command } from 'commander';
import { rowOf } from '../../data/csr.js';
import { ConfigError, NotFoundError } from '../../errors.js';
import { explanationSentence } from '../../explain/explain.js';
import { hasPersonas } from '../../models/model.js';
import { createModel, modelNames } from '../../models/registry.js';
import { buildReranker, parseRerankSpec, RERANK_HELP } from '../../rank/index.js';
import { listRows } from '../batch-output.js';
import { describeItem, explainContextOf, scoreUser, userList } from '../lists.js';
import { ANN_FLAG_HELP, DEFAULT_ANN_MIN_ITEMS, batchScorer } from '../ann-scoring.js';
import { checkModelFileFlags, fitOnLog, given, historiesFromLog, loadModelFile } from '../model-file.js';
import { createProgress } from '../progress.js';
import { addDataOptions, loadLog, parseInteger, type DataFlags } from '../shared.js';
import { parseParams } from './evaluate.js';

interface RecommendFlags extends Omit<DataFlags, 'data'> {
  data?: string;
  modelFile?: string;
  user: string;
  model: string;
  n: number;
  param: string[];
  rerank: string;
  explain?: boolean;
  hedge: boolean;
  json?: boolean;
  /** Persona models: score through ANN retrieval from this many candidates (0: never). */
  annMinItems: number;
  quiet?: boolean;
}

export function recommendCommand(): Command {
  const cmd = new Command('recommend').description("print a user's recommendations from a model fitted on --data or loaded from --model-file");
  addDataOptions(cmd, { requireData: false })
    .option('--model-file <file>', 'a model saved by `personae train` (no refit; with --data, histories come from the data)')
    .requiredOption('--user <id>', 'the user id (as in the data)')
    .option('--model <name>', `model (${modelNames().join(', ')})`, 'ease')
    .option('--n <n>', 'how many items', parseInteger('--n', 1), 10)
    .option('--param <model.key=value>', 'set a model parameter (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--rerank <spec>', `reranking stage: ${RERANK_HELP}`, 'none')
    .option('--explain', 'say which of the user\'s tastes (personas) each item serves (models with personas)')
    .option('--no-hedge', 'never hedge: the plain top-n even for a low-confidence user (persona models hedge by default)')
    .option('--json', 'print the list as JSON (the rows of `personae batch`)')
    // one user never pays back building the index, so retrieval is off unless asked for
    .option('--ann-min-items <n>', `${ANN_FLAG_HELP}; off by default here (building the index costs more than scoring one user; \`batch\` uses ${DEFAULT_ANN_MIN_ITEMS})`, parseInteger('--ann-min-items'), 0)
    .option('--quiet', 'no progress output')
    .action(async (flags: RecommendFlags) => {
      const rerankSpec = parseRerankSpec(flags.rerank);
      if (flags.data === undefined && flags.modelFile === undefined) throw new ConfigError('give --data (fit a model now) or --model-file (a model saved by personae train)', '--data');
      const progress = createProgress({ quiet: flags.quiet ?? false });
      let fitted;
      let user: number;
      let history: Int32Array;
      if (flags.modelFile !== undefined) {
        fitted = await loadModelFile(flags.modelFile, progress);
        checkModelFileFlags(cmd, fitted, flags);
        if (flags.explain && !hasPersonas(fitted.model)) throw new ConfigError(`model "${fitted.modelName}" has no personas to explain with`, '--explain');
        if (flags.data !== undefined) {
          const log = await loadLog({ ...flags, data: flags.data }, progress);
          const h = historiesFromLog(fitted, log, given(cmd, 'minRating') ? flags.minRating : fitted.minRating);
          const at = h.users.indexOf(flags.user);
          if (at < 0) throw new NotFoundError(`--user: no positives of user "${flags.user}" on items the model knows in ${flags.data}`);
          user = h.modelIndex[at]!;
          history = h.histories[at]!;
        } else {
          user = fitted.users.lookup(flags.user);
          if (user < 0) throw new NotFoundError(`--user: no user "${flags.user}" in ${flags.modelFile} (give --data with their history to fold them in)`);
          history = rowOf(fitted.train.userItems, user);
        }
      } else {
        // the model, its parameters and --explain are checked before the data is read
        const params = parseParams(flags.param)[flags.model] ?? {};
        const probe = createModel(flags.model, params);
        if (flags.explain && !hasPersonas(probe)) throw new ConfigError(`model "${flags.model}" has no personas to explain with; use --model personas`, '--explain');
        const log = await loadLog({ ...flags, data: flags.data! }, progress);
        if (log.users.lookup(flags.user) < 0) throw new NotFoundError(`--user: no user "${flags.user}" in ${flags.data}`);
        buildReranker(rerankSpec, { log }, probe); // fail before fitting if the reranker cannot run
        fitted = (await fitOnLog(log, { model: flags.model, params, seed: flags.seed, minRating: flags.minRating, progress })).fitted;
        user = fitted.users.lookup(flags.user);
        history = rowOf(fitted.train.userItems, user);
      }
      progress.stop();
      const f = fitted;
      const scores = new Float32Array(f.train.nItems);
      const set = scoreUser(f, batchScorer(f.model, f.train.candidates.length, flags.annMinItems), user, history, scores);
      const reranker = buildReranker(rerankSpec, { log: { categories: f.categories } }, f.model);
      const ctx = flags.explain ? explainContextOf(f) : null;
      const list = userList(f, ctx, user, history, scores, { n: flags.n, reranker, hedge: flags.hedge, explain: flags.explain ?? false }, set);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ user: flags.user, model: f.modelName, hedged: list.hedgeReasons, items: listRows(f, flags.user, list, flags.explain ?? false) })}\n`);
        return;
      }
      const by = `${f.modelName}${reranker ? `, reranked by ${reranker.name}` : ''}`;
      const out = process.stdout;
      out.write(`user ${flags.user}: ${history.length} positives; top ${list.items.length} by ${by}${list.hedgeReasons ? ', hedged' : ''}\n`);
      if (flags.explain && list.confidence) {
        out.write(`confidence: ${list.confidence.confidence.toFixed(2)}\n`);
        if (list.hedgeReasons) out.write(`hedged: ${list.hedgeReasons.join('; ')}\n`);
      }
      if (list.profile) {
        out.write(`tastes (personas, by share of the history):\n`);
        for (const p of [...list.profile.personaInfo].sort((a, b) => b.share - a.share)) {
          out.write(`  #${p.persona + 1} ${p.label ?? '(no categories)'}: ${Math.round(100 * p.share)}% of the history, e.g. ${p.anchorTitles.join('; ')}\n`);
        }
      }
      list.items.forEach((i, r) => {
        out.write(`${String(r + 1).padStart(3)}. ${describeItem(f, i)}  (score ${list.scores[r]!.toFixed(4)})\n`);
        const e = list.explanations?.[r];
        if (e?.explanation) out.write(`       ${explanationSentence(e.explanation)}\n`);
        else if (e?.withheld) out.write(`       (explanation withheld: ${e.withheld})\n`);
      });
    });
  return cmd;
}
