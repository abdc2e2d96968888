/**
 * `personae serve --model-file m.model` (src/serve/saved-model.ts): a model saved by
 * `personae train` / `Recommender.save` is served as it is, no training at start; an empty store is
 * filled from the file; a restart with the same file serves the same version; a missing, corrupt
 * or foreign file is refused with one line naming it, before anything is created.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Recommender } from '../src/api/recommender.js';
import { startService, type RunningService } from '../src/serve/index.js';
import { worldToLog } from '../src/synth/world.js';

const dir = mkdtempSync(join(tmpdir(), 'personae-model-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const WORLD = { users: 40, items: 60, categories: 4, meanInteractions: 15, seed: 3 };
const modelPath = join(dir, 'm.model');
let saved: Recommender;

before(async () => {
  const { log } = worldToLog(WORLD);
  saved = await Recommender.fit(log, { model: 'personas', params: { epochs: 4, warmEpochs: 2, dim: 8 }, seed: 7, threads: 1 });
  await saved.save(modelPath);
});

async function get(svc: RunningService, path: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(svc.url + path);
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

describe('serve --model-file', () => {
  it('serves the saved model without training, fills an empty store from it, and serves the same version after a restart', async () => {
    const db = join(dir, 'a.db');
    const opts = { port: 0, db, modelFile: modelPath, modelsDir: join(dir, 'models-a'), quiet: true, syncIntervalMs: 0, threads: 1 };
    const a = await startService(opts);
    try {
      await a.ready;
      const f = saved.fitted;
      // the store holds the file's items, users and training positives (as likes)
      assert.equal(await a.state.store.countItems(), f.items.size);
      assert.equal((await a.state.store.listUsers(1, 0)).total, f.users.size);
      assert.equal(await a.state.store.countFeedback(), f.train.userItems.indices.length);
      const models = await a.state.store.listModels();
      assert.equal(models.length, 1);
      assert.match(models[0]!.path, /personas-\d+-file-[0-9a-f]{16}\.model$/);
      assert.deepEqual((await get(a, '/v1/models')).json.active && ((await get(a, '/v1/models')).json.active as { name: string; version: number }).version, 1);
      // the served model is the file's: the same item scores for a trained user as the saved model
      const user = f.users.id(0);
      const mine = saved.recommend(user, { n: 10 }).items.map((i) => i.item);
      const served = (await get(a, `/v1/users/${encodeURIComponent(user)}/recommendations?n=10&hedge=false`)).json;
      assert.deepEqual((served.items as { id: string }[]).map((i) => i.id), mine);
      // user vectors equal to the file's (the artifact was re-written, not refitted)
      const loaded = a.state.engine!.loaded.model.toArtifact().arrays;
      const original = f.model.toArtifact().arrays;
      for (const [name, arr] of Object.entries(original)) assert.deepEqual(loaded[name], arr, `array ${name}`);
    } finally {
      await a.close();
    }
    const b = await startService(opts);
    try {
      await b.ready;
      assert.equal((await b.state.store.listModels()).length, 1, 'the same file is the same version');
      assert.equal(b.state.engine!.info.version, 1);
    } finally {
      await b.close();
    }
  });

  it('refuses a missing, corrupt or foreign file with one line naming it, before the store is created', async () => {
    const db = join(dir, 'never.db');
    const base = { port: 0, db, quiet: true };
    await assert.rejects(startService({ ...base, modelFile: join(dir, 'nope.model') }), /^ConfigError: --model-file: no such file: .*nope\.model$/m);
    const corrupt = join(dir, 'corrupt.model');
    copyFileSync(modelPath, corrupt);
    const bytes = readFileSync(corrupt);
    bytes[bytes.length - 5]! ^= 0xff;
    writeFileSync(corrupt, bytes);
    await assert.rejects(startService({ ...base, modelFile: corrupt }), (err: Error) => {
      assert.match(err.message, /^--model-file: .*corrupt\.model: artifact checksum mismatch/);
      assert.ok(!err.message.includes('\n'), 'one line');
      return true;
    });
    const text = join(dir, 'text.model');
    writeFileSync(text, 'user,item\n1,2\n');
    await assert.rejects(startService({ ...base, modelFile: text }), /--model-file: .*text\.model: not a personae model artifact/);
    assert.equal(existsSync(db), false, 'no store was created');

    // the command line: exit 2, one line, no stack
    const entry = fileURLToPath(new URL('./fixtures/cli.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', entry, 'serve', '--port', '0', '--db', db, '--model-file', corrupt, '--quiet'], { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^personae: --model-file: .*corrupt\.model: artifact checksum mismatch/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(existsSync(db), false);
  });
});
