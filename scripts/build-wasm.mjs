#!/usr/bin/env node
// Compiles the AssemblyScript kernels in assembly/ into build/wasm/*.wasm (SIMD, shared imported
// memory so worker threads can run kernels over one matrix). Run by `npm run build:wasm` (and so
// by `npm run build` and `prepare`).
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'assembly');
const outDir = join(root, 'build', 'wasm');
mkdirSync(outDir, { recursive: true });

const sources = readdirSync(srcDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
let failed = false;
for (const file of sources) {
  const name = file.slice(0, -3);
  const out = join(outDir, `${name}.wasm`);
  const args = [
    join(srcDir, file),
    '--outFile', out,
    '-O3', '--noAssert',
    '--runtime', 'stub',
    '--enable', 'simd', '--enable', 'threads',
    '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536',
    '--use', 'abort=',
  ];
  const { error, stderr } = await asc.main(args, { stdout: process.stdout, stderr: process.stderr });
  if (error) {
    failed = true;
    console.error(`build-wasm: ${file} failed: ${error.message}\n${stderr.toString()}`);
  } else {
    console.log(`build-wasm: ${out}`);
  }
}
if (failed) process.exit(1);
