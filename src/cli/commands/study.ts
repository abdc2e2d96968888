/**
 * `personae study <name>`: runs one claim's study on the embedded world (default) or on --data,
 * prints its Markdown table and verdict, writes its JSON (--out) and its HTML report (--report; by
 * default beside --out with .html for .json, and nowhere when neither is given).
 */
import { Command, Option } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ConfigError } from '../../errors.js';
import { defaultThreads } from '../../math/pool.js';
import { findStudy, studyNames } from '../../study/index.js';
import { studyHtml } from '../../study/report.js';
import { executeStudy, studyText } from '../../study/run.js';
import type { StudyJson } from '../../study/types.js';
import { createProgress } from '../progress.js';
import { addDataOptions, loadLog, parseInteger, type DataFlags } from '../shared.js';

interface StudyFlags extends Partial<DataFlags> {
  seed: number;
  out?: string;
  report?: string;
  threads: number;
  quick?: boolean;
  quiet?: boolean;
}

function write(file: string, text: string): string {
  const path = resolve(file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

export function studyCommand(): Command {
  const cmd = new Command('study')
    .description(`check one of the product's claims with numbers: ${studyNames().join(', ')}`)
    .argument('<name>', `the study (${studyNames().join(', ')})`);
  addDataOptions(cmd, { requireData: false })
    .option('--out <file>', 'write the study JSON')
    .option('--report <file>', 'write the HTML report here (default: beside --out, F.json -> F.html)')
    .option('--quick', 'small sizes (for tests and smoke runs); the verdict logic is unchanged')
    .addOption(new Option('--threads <n>', 'worker threads (results do not depend on it)').argParser(parseInteger('--threads', 1)).default(defaultThreads()))
    .option('--quiet', 'no progress output')
    .action(async (name: string, flags: StudyFlags) => {
      await runStudy(name, flags);
    });
  return cmd;
}

/** Where the HTML report goes: --report, else beside --out (F.json -> F.html), else nowhere. */
export function studyReportPath(flags: Pick<StudyFlags, 'out' | 'report'>): string | undefined {
  if (flags.report) return flags.report;
  if (!flags.out) return undefined;
  return /\.json$/i.test(flags.out) ? flags.out.replace(/\.json$/i, '.html') : `${flags.out}.html`;
}

export async function runStudy(name: string, flags: StudyFlags): Promise<StudyJson> {
  const study = findStudy(name);
  if (!study) throw new ConfigError(`unknown study "${name}"; known studies: ${studyNames().join(', ')}`, 'study');
  const t0 = performance.now();
  const progress = createProgress({ quiet: flags.quiet ?? false });
  const log = flags.data ? await loadLog(flags as DataFlags, progress) : null;
  const json = await executeStudy(study, {
    seed: flags.seed,
    threads: flags.threads,
    log,
    dataLabel: flags.data ?? null,
    quick: flags.quick ?? false,
    ...(flags.protocol ? { protocol: flags.protocol } : {}),
    ...(flags.minRating !== undefined ? { minRating: flags.minRating } : {}),
    onProgress: (stage, done, total, detail) => progress.update(stage, done, total, detail),
  });
  progress.stop();
  json.seconds = (performance.now() - t0) / 1000; // including reading the data
  const lines = [studyText(json)];
  if (flags.out) lines.push(`json: ${write(flags.out, `${JSON.stringify(json, null, 2)}\n`)}`);
  const report = studyReportPath(flags);
  if (report) lines.push(`report: ${write(report, studyHtml(json))}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return json;
}
