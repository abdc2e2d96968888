/**
 * The package as a user gets it: `npm pack`, install the tarball into a fresh project with
 * production dependencies only, then type-check and run examples/library.ts (the README's "Use it
 * as a library" code) against the installed copy, and list what `import('personae')` exports.
 *
 * Choices, so the test stays honest and near a minute on two shared cores:
 * - Packing runs `prepare` (the full build: WebAssembly kernels and tsc) unless dist/ and
 *   build/wasm/ are already newer than every source file, in which case it packs those with
 *   --ignore-scripts (same tarball, without rebuilding what is current).
 * - The install skips dependencies' install scripts (--ignore-scripts): the only one is
 *   better-sqlite3's native build (`prebuild-install || node-gyp rebuild`), several minutes of C
 *   compilation when no prebuilt binary can be downloaded, and needed only by the service's SQLite
 *   store. The library entry never loads it; personae itself has no install script (`prepare` does
 *   not run for a tarball), so nothing the library needs is skipped.
 * - The temporary project has no TypeScript of its own (production install), so the example (and
 *   examples/client.ts, the typed client's snippet in docs/service.md) is type-checked and compiled with this repository's tsc against the *installed* package: its
 *   `exports` map and the .d.ts files in the tarball. The compiled JavaScript then runs with
 *   plain Node, resolving `personae` from the temporary project's node_modules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** npm_config_* settings inherited from an outer `npm test` that would redirect a nested npm. */
const LOCATION_SETTINGS = ['prefix', 'local_prefix', 'global', 'workspace', 'workspaces', 'include_workspace_root', 'omit', 'include', 'dry_run', 'ignore_scripts', 'json'];
function npmEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (LOCATION_SETTINGS.includes(key.toLowerCase().replace(/^npm_config_/, '')) && key.toLowerCase().startsWith('npm_config_')) delete env[key];
  }
  return env;
}

function run(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: npmEnv(), maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed in ${cwd}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Every file under `dir` whose name ends in `ext`, as paths relative to `dir`. */
function filesUnder(dir: string, ext: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = join(prefix, e.name);
    if (e.isDirectory()) out.push(...filesUnder(dir, ext, rel));
    else if (e.name.endsWith(ext) && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

const mtime = (path: string): number => (existsSync(path) ? statSync(path).mtimeMs : -Infinity);

/**
 * Whether dist/ and build/wasm/ were built after the last change to their sources: every
 * src/**.ts has its dist/**.js, every assembly/*.ts its build/wasm/*.wasm, each newer than the
 * newest source (and the tsconfig files).
 */
function buildIsCurrent(): boolean {
  const src = join(ROOT, 'src');
  const sources = filesUnder(src, '.ts');
  const newestSource = Math.max(...sources.map((f) => mtime(join(src, f))), mtime(join(ROOT, 'tsconfig.json')), mtime(join(ROOT, 'tsconfig.build.json')));
  const compiled = sources.every((f) => mtime(join(ROOT, 'dist', f.replace(/\.ts$/, '.js'))) > newestSource);
  const kernels = filesUnder(join(ROOT, 'assembly'), '.ts');
  const newestKernel = Math.max(...kernels.map((f) => mtime(join(ROOT, 'assembly', f))));
  const wasm = kernels.every((f) => mtime(join(ROOT, 'build', 'wasm', f.replace(/\.ts$/, '.wasm'))) > newestKernel);
  return compiled && wasm;
}

test('npm pack, install with production dependencies, run the README example', { timeout: 15 * 60_000 }, (t) => {
  let last = performance.now();
  /** Reports how long the phase since the previous call took (a diagnostic, never asserted). */
  const lap = (phase: string): void => {
    const now = performance.now();
    t.diagnostic(`${phase}: ${((now - last) / 1000).toFixed(1)} s`);
    last = now;
  };
  const work = mkdtempSync(join(tmpdir(), 'personae-pack-'));
  try {
    // 1. pack
    const current = buildIsCurrent();
    const packArgs = ['pack', '--json', '--pack-destination', work, ...(current ? ['--ignore-scripts'] : [])];
    const packed = run(NPM, packArgs, ROOT);
    lap(current ? 'npm pack (build current, --ignore-scripts)' : 'npm pack (with prepare: full build)');
    // with prepare, the build's output precedes npm's JSON on stdout
    const json = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('\n[') >= 0 ? packed.stdout.indexOf('\n[') + 1 : packed.stdout.indexOf('['))) as {
      filename: string;
      files: { path: string }[];
    }[];
    const info = json[0]!;
    const files = info.files.map((f) => f.path);
    for (const f of ['package.json', 'README.md', 'LICENSE', 'bin/personae.js', 'dist/index.js', 'dist/index.d.ts', 'dist/api/recommender.js', 'dist/serve/index.js', 'dist/client/index.js', 'dist/client/index.d.ts', 'dist/math/pool-worker.js', 'build/wasm/dense.wasm', 'build/wasm/factors.wasm', 'build/wasm/personas.wasm', 'build/wasm/persona-grad.wasm', 'build/wasm/exp-rows.wasm', 'dist/web/index.html', 'dist/web/app.js', 'dist/web/pages/users.js', 'dist/web/style.css']) {
      assert.ok(files.includes(f), `the tarball holds ${f}`);
    }
    for (const f of files) {
      assert.ok(!/^(test|bench|scripts|assembly|examples|docs)\//.test(f), `the tarball leaves out ${f}`);
      assert.ok(!f.endsWith('.map') && !(f.startsWith('src/') && f.endsWith('.ts')), `no source maps or TypeScript sources: ${f}`);
    }

    // 2. install into a fresh project, production dependencies only
    const project = join(work, 'consumer');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2));
    run(NPM, ['install', join(work, info.filename), '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', '--no-package-lock'], project);
    lap('npm install of the tarball');
    const installed = join(project, 'node_modules', 'personae');
    assert.ok(existsSync(join(installed, 'build', 'wasm', 'dense.wasm')));
    for (const dev of ['typescript', 'tsx', 'assemblyscript', 'fast-check']) assert.ok(!existsSync(join(project, 'node_modules', dev)), `${dev} (a devDependency) is not installed`);

    // 3. type-check and compile the example against the installed package, run it with Node
    copyFileSync(join(ROOT, 'examples', 'library.ts'), join(project, 'library.ts'));
    copyFileSync(join(ROOT, 'examples', 'client.ts'), join(project, 'client.ts')); // type-checked only (it needs a server)
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2022'],
          strict: true,
          noUncheckedIndexedAccess: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
          skipLibCheck: true,
          outDir: 'out',
        },
        files: ['library.ts', 'client.ts'],
      }),
    );
    run(process.execPath, [TSC, '-p', join(project, 'tsconfig.json')], project);
    lap('type-check and compile the example');
    const example = run(process.execPath, [join(project, 'out', 'library.js')], project).stdout;
    assert.match(example, /taste 1: .+% of the history\)/);
    assert.match(example, /taste 2: /);
    assert.match(example, /because of your .+ taste \(\d+%\)/);
    assert.match(example, /^new user: .+; .+; .+$/m);
    assert.match(example, /loaded: same answers/);
    lap('run the example');

    // 4. the public API as a fresh project sees it; the service entry; the command
    const listed = run(process.execPath, ['-e', "import('personae').then((m) => console.log(JSON.stringify(Object.keys(m))))"], project).stdout;
    const names = JSON.parse(listed) as string[];
    for (const n of ['Recommender', 'registerModel', 'createModel', 'readDataset', 'makeSplit', 'buildReranker', 'ndcgAt', 'giniIndex', 'bootstrapCI', 'executeStudy', 'worldToLog']) {
      assert.ok(names.includes(n), `import('personae') lists ${n}`);
    }
    const serve = run(process.execPath, ['-e', "import('personae/serve').then((m) => console.log(typeof m.startService))"], project).stdout;
    assert.equal(serve.trim(), 'function');
    const client = run(process.execPath, ['-e', "import('personae/client').then((m) => console.log(typeof m.createClient))"], project).stdout;
    assert.equal(client.trim(), 'function');
    const deep = spawnSync(process.execPath, ['-e', "import('personae/dist/index.js')"], { cwd: project, encoding: 'utf8' });
    assert.match(deep.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/, 'only the exports map is public');
    const version = run(join(project, 'node_modules', '.bin', 'personae'), ['--version'], project).stdout;
    assert.match(version, /^\d+\.\d+\.\d+/);

    // 5. both WebAssembly kernels load from the installed copy (ease: dense.wasm, ials: factors.wasm)
    const kernels = run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { Recommender, worldToLog } from 'personae';
         const { log } = worldToLog({ users: 120, items: 80, categories: 4, meanInteractions: 20, seed: 1 });
         for (const model of ['ease', 'ials']) {
           const r = await Recommender.fit(log, { model, seed: 1, threads: 2 });
           console.log(model, r.recommend('1', { n: 3 }).items.length);
         }`,
      ],
      project,
    ).stdout;
    assert.equal(kernels.trim(), 'ease 3\nials 3');
    lap('imports, command, kernels');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
