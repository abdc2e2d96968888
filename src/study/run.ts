/** Runs a study and wraps its result in the full StudyJson (seed, timing, manifest). */
import { performance } from 'node:perf_hooks';
import { VERSION } from '../version.js';
import type { Study, StudyContext, StudyJson } from './types.js';

export async function executeStudy(study: Study, ctx: StudyContext): Promise<StudyJson> {
  const startedAt = new Date();
  const t0 = performance.now();
  const r = await study.run(ctx);
  return {
    study: r.study,
    claim: r.claim,
    verdict: r.verdict,
    verdictReason: r.verdictReason,
    data: r.data,
    seed: ctx.seed,
    results: r.results,
    table: r.table,
    charts: r.charts,
    seconds: (performance.now() - t0) / 1000,
    manifest: { personae: VERSION, node: process.version, startedAt: startedAt.toISOString(), threads: ctx.threads },
  };
}

/** The text `personae study` prints: claim, data, table, verdict and reason. */
export function studyText(json: StudyJson): string {
  return [`## study ${json.study}`, '', `claim: ${json.claim}`, `data: ${json.data}`, '', json.table, '', `verdict: ${json.verdict}`, json.verdictReason, `(${json.seconds.toFixed(1)} s)`].join('\n');
}
