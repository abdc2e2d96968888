/**
 * The floors of src/ (docs/architecture.md): every import in src/ (static, dynamic, re-export,
 * type-only alike) points to the same folder or to a lower floor, there is no import circle, and
 * no file is over 400 lines unless it is listed below with the reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The floor of each top-level folder (and root file) of src/. A file may import its own folder and
 * any folder on a LOWER floor; folders sharing a floor are siblings and never import each other.
 */
const FLOORS: Readonly<Record<string, number>> = {
  'errors.ts': 0, // the error taxonomy and schema-issue wording
  'version.ts': 0,
  math: 1, // seeded RNG, top-K, dense kernels, worker pool, k-means, apportionment
  data: 2, // readers, ID maps, CSR, the log, TrainSet, splits, category tables and taste maths
  models: 3, // the Recommender interface, the models and their registry
  synth: 3, // synthetic worlds (data only: they never fit a model)
  rank: 4, // the select pipeline, rerankers, taste spaces, hedging
  explain: 4, // explanations, their wording and when to withhold them
  store: 4, // the service's storage: the Store interface (types only), the backends, the scheme map
  eval: 5, // metrics, evaluation, statistics, reports
  onboard: 5, // the onboarding questions and posterior
  api: 5, // the high-level Recommender over string IDs (the library's front door)
  confidence: 6, // user confidence (needs onboard) and calibration (needs eval)
  sim: 6, // feedback-loop simulation on planted worlds (fits, selects, measures)
  study: 7, // the studies (use eval, onboard, confidence, rank, synth)
  serve: 8, // the service: HTTP, engine, training jobs, dashboard
  cli: 9, // the command line (starts the service, runs studies)
  client: 9, // the typed HTTP client (types only from serve/)
  web: 9, // the dashboard, browser TypeScript (types only from serve/schemas.ts)
  'index.ts': 10, // the package's public exports: re-exports every floor
};

/**
 * Files allowed over 400 lines, and why (none today): only a kernel file whose loops cannot be
 * cut without splitting one computation. Everything else splits before it gets there.
 */
const LONG_FILES: Readonly<Record<string, string>> = {};
const MAX_LINES = 400;

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
/** Imports of files that are not TypeScript sources: the dashboard's vendored browser modules (copied at build). */
const NOT_SOURCE = /^web\/vendor\//;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [relative(SRC, path).split(sep).join('/')] : [];
  });
}

/** file -> the src/ files it imports (relative specifiers, `.js` mapped back to `.ts`). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const info = ts.preProcessFile(readFileSync(join(SRC, file), 'utf8'), true, true);
    const targets: string[] = [];
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith('.')) continue; // packages and node: built-ins
      const target = posix.normalize(posix.join(posix.dirname(file), fileName)).replace(/\.js$/, '.ts');
      if (!NOT_SOURCE.test(target)) targets.push(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

const floorName = (file: string): string => (file.includes('/') ? file.slice(0, file.indexOf('/')) : file);

const graph = importGraph();

test('the import graph sees every file and import (a known edge and a dynamic import are found)', () => {
  assert.ok(graph.size > 50, `${graph.size} files`);
  assert.ok(graph.get('rank/pipeline.ts')?.includes('math/topk.ts'));
  assert.ok(graph.get('store/open.ts')?.includes('store/sqlite.ts'), 'dynamic import() is an edge too');
  for (const targets of graph.values()) for (const t of targets) assert.ok(graph.has(t), `import of a missing file ${t}`);
});

test('every top-level folder and root file of src/ has a floor', () => {
  const missing = [...new Set([...graph.keys()].map(floorName))].filter((f) => FLOORS[f] === undefined);
  assert.deepEqual(missing, [], 'add the new folder to FLOORS here and in docs/architecture.md');
});

test('imports point to the same folder or a lower floor', () => {
  const violations: string[] = [];
  for (const [file, targets] of graph) {
    const from = floorName(file);
    for (const t of targets) {
      const to = floorName(t);
      if (to === from) continue;
      if (!(FLOORS[to]! < FLOORS[from]!)) violations.push(`${file} (${from}, floor ${FLOORS[from]}) imports ${t} (${to}, floor ${FLOORS[to]})`);
    }
  }
  assert.deepEqual(violations, []);
});

test('no import circle', () => {
  // Tarjan's strongly connected components; any component with two or more files is a circle
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)!.includes(v)) circles.push(component.sort());
    }
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  assert.deepEqual(circles, []);
});

test(`no file in src/ over ${MAX_LINES} lines except the listed ones`, () => {
  const long = [...graph.keys()].filter((f) => readFileSync(join(SRC, f), 'utf8').split('\n').length - 1 > MAX_LINES);
  assert.deepEqual(long.filter((f) => LONG_FILES[f] === undefined), [], 'split the file, or list it with the reason');
  // an exception that is no longer needed is removed from the list
  assert.deepEqual(Object.keys(LONG_FILES).filter((f) => !long.includes(f)), []);
});

test('the store interface file holds types only (the backends load on demand through store/open.ts)', () => {
  const text = readFileSync(join(SRC, 'store/types.ts'), 'utf8');
  assert.deepEqual(text.match(/^export (const|let|function|class|enum|default)\b.*$/gm) ?? [], []);
  assert.ok(/^import type /m.test(text) && !/^import (?!type )/m.test(text), 'only type imports');
});

test('no script with top-level side effects in src/: only the CLI entry and workers run on import', () => {
  // a module that reads process.argv at top level is a script; scripts live in scripts/ or bench/
  const scripts = [...graph.keys()].filter((f) => /^(const|let|await)\b.*process\.argv/m.test(readFileSync(join(SRC, f), 'utf8')));
  assert.deepEqual(scripts, []);
});
