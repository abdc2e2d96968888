/**
 * How far the sampled softmax estimate of the posterior (src/onboard `catalogueChoiceSet`: above
 * CHOICE_SAMPLE_ABOVE items, the normaliser and the moments of each Newton step come from a fixed
 * uniform sample of CHOICE_SAMPLE items) moves the posterior spread of the user confidence
 * (src/confidence `posteriorSpread`), against the exact fit over every catalogue item, and what
 * each fit costs. A world is generated (seeded), the persona model fitted on it, and the spread
 * of every 7th training user's history fitted both ways.
 *
 *   node --import tsx bench/posterior-sample.ts [--users 8000] [--items 40000] [--epochs 5] [--fits 300]
 *
 * Prints the catalogue size, the absolute and relative differences of the spread (mean, p50, p99,
 * max) and the mean milliseconds of a fit each way (timing: only on a quiet machine).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDataset } from '../src/data/readers/index.js';
import { makeSplit } from '../src/data/split.js';
import { Rng } from '../src/math/rng.js';
import { createModel } from '../src/models/registry.js';
import { asPersonaModel, onboardingBasis } from '../src/onboard/basis.js';
import { catalogueChoiceSet } from '../src/onboard/index.js';
import { LaplacePosterior, type ChoiceSet } from '../src/onboard/posterior.js';
import { writeWorld } from '../src/synth/files.js';

const argv = process.argv.slice(2);
const num = (name: string, def: number): number => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const dir = mkdtempSync(join(tmpdir(), 'personae-posterior-'));
try {
  await writeWorld({ users: num('--users', 8000), items: num('--items', 40000), categories: 12, meanInteractions: 40, seed: 5 }, dir);
  const split = makeSplit(await readDataset(dir));
  const m = createModel('personas', { epochs: num('--epochs', 5) });
  await m.fit(split.train, { rng: new Rng(1).derive('model', 'personas'), threads: 2 });
  const basis = onboardingBasis(asPersonaModel(m), split.train, { size: 16 });
  const cs = catalogueChoiceSet(basis);
  if (!cs.set.estimate) throw new Error(`${cs.set.n} catalogue items: at or below the size where the estimate starts; use more --items`);
  const exactSet: ChoiceSet = { n: cs.set.n, x: cs.set.x, offset: cs.set.offset };
  const M = basis.size;
  const fit = (set: ChoiceSet, rows: readonly number[]): { spread: number; ms: number } => {
    const p = new LaplacePosterior(new Float64Array(M), 1);
    p.choiceSet = set;
    for (const r of rows) p.choices.push({ index: r, c: 1 });
    const t = performance.now();
    p.refit();
    return { spread: Math.sqrt(p.trace() / M), ms: performance.now() - t };
  };
  const { indptr, indices } = split.train.userItems;
  const abs: number[] = [];
  const rel: number[] = [];
  let msExact = 0;
  let msSampled = 0;
  for (let u = 0; u < split.train.nUsers && abs.length < num('--fits', 300); u += 7) {
    const rows: number[] = [];
    for (let x = indptr[u]!; x < indptr[u + 1]!; x++) if (cs.rowOf[indices[x]!]! >= 0) rows.push(cs.rowOf[indices[x]!]!);
    if (rows.length === 0) continue;
    const a = fit(exactSet, rows);
    const b = fit(cs.set, rows);
    msExact += a.ms;
    msSampled += b.ms;
    abs.push(Math.abs(a.spread - b.spread));
    rel.push(Math.abs(a.spread - b.spread) / a.spread);
  }
  const n = abs.length;
  const stats = (v: number[]): string => {
    const s = v.slice().sort((x, y) => x - y);
    return `mean ${(s.reduce((x, y) => x + y, 0) / n).toFixed(4)}, p50 ${s[Math.floor(n / 2)]!.toFixed(4)}, p99 ${s[Math.floor(0.99 * n)]!.toFixed(4)}, max ${s[n - 1]!.toFixed(4)}`;
  };
  console.log(`catalogue ${cs.set.n} items, sample ${cs.set.estimate.n}; ${n} users`);
  console.log(`spread |exact - sampled|: ${stats(abs)}`);
  console.log(`relative: ${stats(rel)}`);
  console.log(`ms per fit: exact ${(msExact / n).toFixed(1)}, sampled ${(msSampled / n).toFixed(1)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
