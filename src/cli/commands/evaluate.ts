/** `personae evaluate`: the PROTOCOL.md command-line contract. */
import { attachSocialFile } from '../../data/social.js';
import { Command, Option } from 'commander';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { checkFolds, makeFolds, validationSplit } from '../../data/split.js';
import { ConfigError } from '../../errors.js';
import { runExperiment } from '../../eval/experiment.js';
import { runFolds } from '../../eval/folds.js';
import { htmlReport } from '../../eval/report/html.js';
import { markdownTables, splitSummary } from '../../eval/report/markdown.js';
import { buildResultsJson, foldSplitJson, perUserCsv, type EvaluationJson } from '../../eval/results.js';
import { defaultThreads } from '../../math/pool.js';
import { saveArtifact } from '../../models/artifact.js';
import type { ModelParams, ParamValue } from '../../models/model.js';
import { createModel, modelNames, parseModelSpecs } from '../../models/registry.js';
import { fidelityLine, slicesMarkdown } from '../../eval/slices.js';
import { personaDiagnosticsLine } from '../../eval/persona-diagnostics.js';
import { DEFAULT_FIDELITY_USERS } from '../../explain/fidelity.js';
import { parseRerankSpec, RERANK_HELP } from '../../rank/index.js';
import { createProgress } from '../progress.js';
import { addDataOptions, describeSplit, loadLog, parseInteger, parseKs, splitFor, type DataFlags } from '../shared.js';

interface EvaluateFlags extends DataFlags {
  models: string;
  rerank: string;
  k: number[];
  tune?: boolean;
  out?: string;
  report?: string;
  perUser?: string;
  param: string[];
  threads: number;
  saveModels?: string;
  quiet?: boolean;
  on: 'test' | 'validation';
  fidelityUsers: number;
  seeds: number;
  folds?: number;
}

/** `--param ease.lambda=300` (repeatable) -> { ease: { lambda: 300 } }. */
export function parseParams(values: readonly string[]): Record<string, ModelParams> {
  const out: Record<string, Record<string, ParamValue>> = {};
  for (const v of values) {
    const m = /^([\w-]+)\.([\w-]+)=(.+)$/.exec(v);
    if (!m) throw new ConfigError(`expected model.param=value (e.g. ease.lambda=300), got "${v}"`, '--param');
    const [, model, key, raw] = m as unknown as [string, string, string, string];
    const num = Number(raw);
    (out[model] ??= {})[key] = raw === 'true' ? true : raw === 'false' ? false : Number.isFinite(num) ? num : raw;
  }
  return out;
}

export function evaluateCommand(): Command {
  const cmd = new Command('evaluate').description('split a dataset, fit models, and report full-ranking metrics with 95% intervals');
  addDataOptions(cmd)
    .option(
      '--models <list>',
      `comma-separated model specs, each a model (${modelNames().join(', ')}) with optional fixed parameters, e.g. ease,personas,personas:k=1,ease:lambda=200`,
      'pop,itemknn,ease,bpr,ials',
    )
    .option('--rerank <spec>', `reranking stage: ${RERANK_HELP}`, 'none')
    .option('--k <list>', 'cut-offs', parseKs, [10, 20])
    .option('--tune', 'tune each model on the validation split (never on TEST), then refit on TRAIN')
    .option('--out <file>', 'write the results JSON')
    .option('--report <file>', 'write a self-contained HTML report')
    .option('--per-user <file>', "write every test user's metric values (CSV)")
    .option('--social <file>', 'friendship/follow edges (CSV/TSV/JSONL: user, friend, optional kind) for models that read friends (social)')
    .option('--split <dir>', 'use a split saved by `personae split` instead of splitting --data')
    .addOption(new Option('--on <part>', 'evaluate on TEST, or on the validation split built from TRAIN alone (for choosing settings without touching TEST)').choices(['test', 'validation']).default('test'))
    .option('--param <model.key=value>', 'set a model parameter (repeatable); tuning keeps it fixed', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .addOption(new Option('--fidelity-users <n>', 'users (a seeded sample) the counterfactual explanation fidelity of persona models checks; 0 = all').argParser(parseInteger('--fidelity-users', 0)).default(DEFAULT_FIDELITY_USERS))
    .option('--save-models <dir>', 'save each fitted model artifact into this folder (<spec>.model, ":" written as "_")')
    .addOption(new Option('--seeds <n>', 'fit each model with n seeds (--seed, --seed + 1, ...) and report the mean and spread of every metric over them').argParser(parseInteger('--seeds', 1)).default(1))
    .addOption(new Option('--folds <k>', 'cross-validation under users-holdout: k folds, each user held out once; per-fold results and the mean with a 95% t-interval over the folds').argParser(parseInteger('--folds', 2)))
    .addOption(new Option('--threads <n>', 'worker threads (results do not depend on it)').argParser(parseInteger('--threads', 1)).default(defaultThreads()))
    .option('--quiet', 'no progress output')
    .action(async (flags: EvaluateFlags) => {
      await runEvaluate(flags);
    });
  return cmd;
}

export async function runEvaluate(flags: EvaluateFlags): Promise<EvaluationJson> {
  const startedAt = new Date();
  const progress = createProgress({ quiet: flags.quiet ?? false });
  const models = flags.models.split(',').map((s) => s.trim()).filter(Boolean);
  if (models.length === 0) throw new ConfigError('give at least one model', '--models');
  // bad specs, --param and --rerank values fail before the data is read
  const specs = parseModelSpecs(models);
  const params = parseParams(flags.param);
  for (const [name, given] of Object.entries(params)) {
    if (!specs.some((s) => s.model === name)) throw new ConfigError(`a parameter for "${name}", which is not in --models (${models.join(',')})`, '--param');
    createModel(name, given);
  }
  for (const s of specs) createModel(s.model, { ...params[s.model], ...s.fixed });
  parseRerankSpec(flags.rerank);
  if (flags.folds !== undefined) {
    checkFolds(flags.protocol, flags.folds);
    if (flags.split) throw new ConfigError('a saved split is one split; folds are made from --data', '--folds');
    if (flags.on === 'validation') throw new ConfigError('folds evaluate on TEST; --on validation is for a single split', '--folds');
  }
  const log = await loadLog(flags, progress);
  const made = flags.folds !== undefined ? makeFolds(log, { protocol: flags.protocol, minRating: flags.minRating, seed: flags.seed, folds: flags.folds }) : null;
  const folds = made && flags.social ? made.map((s) => attachSocialFile(s, flags.social!)) : made;
  const full = folds ? folds[0]! : splitFor(log, flags);
  const split = flags.on === 'validation' ? validationSplit(full) : full;
  if (flags.on === 'validation') progress.log('evaluating on the validation split (TRAIN only; TEST is not used)');
  if (folds) folds.forEach((s, f) => progress.log(`fold ${f + 1}/${folds.length}: ${describeSplit(s)}`));
  else progress.log(describeSplit(split));
  const options: Parameters<typeof runExperiment>[1] = {
    models,
    ks: flags.k,
    seed: flags.seed,
    seeds: flags.seeds,
    tune: flags.tune ?? false,
    threads: flags.threads,
    params,
    rerank: flags.rerank,
    fidelityUsers: flags.fidelityUsers,
    onProgress: (e) => progress.update(`${e.model} ${e.stage}`, e.done, e.total, e.detail),
    ...(flags.saveModels
      ? {
          onFitted: (name, model) => {
            mkdirSync(flags.saveModels!, { recursive: true });
            saveArtifact(join(flags.saveModels!, `${name.replace(/[^\w.=-]/g, '_')}.model`), model.toArtifact());
          },
        }
      : {}),
  };
  const experiment = folds ? (await runFolds(folds, options)).result : await runExperiment(split, options);
  progress.stop();
  const json = buildResultsJson(split, experiment, { path: resolve(flags.data), ks: flags.k, seed: flags.seed, startedAt, threads: flags.threads, rerank: flags.rerank, evaluatedOn: flags.on });
  if (folds) json.folds = { k: folds.length, protocol: flags.protocol, splits: folds.map((s, f) => foldSplitJson(s, f + 1)) };
  // extra per-model fields (PROTOCOL.md allows them): slices, explanation fidelity, persona diagnostics
  json.models.forEach((m, i) => {
    const r = experiment.models[i]!;
    Object.assign(m, {
      ...(r.slices ? { slices: r.slices } : {}),
      ...(r.explanationFidelity ? { explanationFidelity: r.explanationFidelity } : {}),
      ...(r.personaDiagnostics ? { personaDiagnostics: r.personaDiagnostics } : {}),
    });
  });
  const kMax = Math.max(...flags.k);
  const personaLines = experiment.models
    .filter((r) => r.explanationFidelity)
    .flatMap((r) => [
      slicesMarkdown(r.name, r.slices ?? {}, kMax),
      '',
      fidelityLine(r.name, r.explanationFidelity!),
      '',
      ...(r.personaDiagnostics ? [personaDiagnosticsLine(r.name, r.personaDiagnostics, kMax), ''] : []),
    ]);
  process.stdout.write(`\n${splitSummary(json)}\n\n${markdownTables(json)}\n${personaLines.length ? `${personaLines.join('\n')}\n` : ''}`);
  if (flags.out) writeOutput(flags.out, `${JSON.stringify(json, null, 2)}\n`, 'results');
  if (flags.perUser) writeOutput(flags.perUser, perUserCsv(split, experiment), 'per-user values');
  if (flags.report) writeOutput(flags.report, htmlReport(json), 'report');
  return json;
}

function writeOutput(path: string, text: string, what: string): void {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  writeFileSync(path, text);
  process.stderr.write(`wrote ${what} to ${path}\n`);
}
