#!/usr/bin/env node
// Entry point of the `personae` command: runs the compiled CLI (built by `npm install` via `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/cli/index.js', import.meta.url);
if (!existsSync(fileURLToPath(compiled))) {
  process.stderr.write('personae: the compiled CLI is missing (dist/). Run `npm install` or `npm run build` in the project root.\n');
  process.exit(1);
}
const { main } = await import(compiled.href);
await main(process.argv);
