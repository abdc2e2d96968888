#!/usr/bin/env node
// Compiles the dashboard (src/web/*.ts, tsconfig.web.json) to browser ES modules in dist/web and
// copies its static files (index.html, style.css, icon.svg) next to them. Run by
// `npm run build:web` (and so by `npm run build` and `prepare`), and by test/dashboard.test.ts
// before it serves the page.
//
// This is tsc through its API, for one reason: the program includes src/serve/schemas.ts (the
// dashboard's API types are `import type`s of the server's zod schemas), and tsc would write that
// file's JavaScript too. Only the outputs of src/web are written; type errors anywhere fail the build.
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src', 'web');
const outDir = join(root, 'dist', 'web');
const STATIC = ['.html', '.css', '.svg'];

const configPath = join(root, 'tsconfig.web.json');
const read = ts.readConfigFile(configPath, ts.sys.readFile);
if (read.error) fail([read.error]);
const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, root, { noEmit: false }, configPath);
if (parsed.errors.length > 0) fail(parsed.errors);
const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, projectReferences: parsed.projectReferences });
const pre = ts.getPreEmitDiagnostics(program);
if (pre.length > 0) fail(pre);

rmSync(outDir, { recursive: true, force: true });
let written = 0;
const emitted = program.emit(undefined, (file, text) => {
  // outDir is dist/ with rootDir src/: src/web/x.ts -> dist/web/x.js; anything else is not ours
  const rel = relative(outDir, file);
  if (rel.startsWith('..') || rel.startsWith(sep)) return;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  written++;
});
if (emitted.diagnostics.length > 0) fail(emitted.diagnostics);

let copied = 0;
for (const name of readdirSync(srcDir)) {
  if (!STATIC.some((ext) => name.endsWith(ext))) continue;
  copyFileSync(join(srcDir, name), join(outDir, name));
  copied++;
}
if (!process.argv.includes('--quiet')) console.log(`build-web: ${written} compiled files and ${copied} static files in ${relative(root, outDir)}`);

/** @param {readonly ts.Diagnostic[]} diagnostics */
function fail(diagnostics) {
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
  console.error(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  process.exit(1);
}
