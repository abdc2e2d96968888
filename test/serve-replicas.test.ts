/**
 * Two service processes sharing one store (replicas): feedback written through one reaches the
 * other's answers once it catches up (sync), for SQLite and PostgreSQL (PERSONAE_TEST_PG; push off
 * here, test/serve-push.test.ts covers it).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startService, type RunningService } from '../src/serve/index.js';
import { PgStore } from '../src/store/postgres.js';

const dir = mkdtempSync(join(tmpdir(), 'personae-replicas-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const WORLD = { users: 40, items: 60, categories: 4, meanInteractions: 15, seed: 5 };

async function replicas(name: string, db: string, pgSchema?: string): Promise<void> {
  const common = { port: 0, db, modelsDir: join(dir, `models-${name}`), model: 'pop', quiet: true, syncIntervalMs: 0, push: false, apiKey: 'k', ...(pgSchema ? { pgSchema } : {}) };
  const a: RunningService = await startService({ ...common, data: 'world', world: WORLD });
  await a.ready;
  const b: RunningService = await startService(common);
  try {
    await b.ready;
    const recs = async (s: RunningService): Promise<{ coldStart: boolean; items: { id: string }[] }> =>
      (await (await fetch(`${s.url}/v1/users/replica-user/recommendations?n=5`, { headers: { authorization: 'Bearer k' } })).json()) as { coldStart: boolean; items: { id: string }[] };
    assert.equal((await recs(b)).coldStart, true);
    const liked = (await recs(a)).items[0]!.id;
    const r = await fetch(`${a.url}/v1/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
      body: JSON.stringify({ feedback: [{ user: 'replica-user', item: liked, type: 'like' }] }),
    });
    assert.equal(r.status, 200);
    assert.equal((await recs(a)).coldStart, false);
    // b has not caught up yet; after sync it answers from the new like, and only once
    assert.equal((await recs(b)).coldStart, true);
    assert.equal(await b.sync(), 1);
    assert.equal(await b.sync(), 0);
    const after = await recs(b);
    assert.equal(after.coldStart, false);
    assert.ok(after.items.every((i) => i.id !== liked));
    // a's own write is not applied twice when a catches up
    assert.equal(await a.sync(), 0);
  } finally {
    await b.close();
    await a.close();
  }
}

describe('replicas sharing a store', () => {
  it('sqlite: feedback through one replica reaches the other after sync', async () => {
    await replicas('sqlite', join(dir, 'shared.db'));
  });
  const pg = process.env.PERSONAE_TEST_PG;
  if (pg) {
    it('postgres: feedback through one replica reaches the other after sync', async () => {
      const schema = `replicas_${process.pid}_${Date.now()}`;
      try {
        await replicas('pg', pg, schema);
      } finally {
        const s = new PgStore(pg, schema);
        await s.dropSchema();
        await s.close();
      }
    });
  } else {
    it('postgres: SKIPPED, PERSONAE_TEST_PG is not set (run `source scripts/test-services.sh` first)', { skip: 'PERSONAE_TEST_PG is not set' }, () => {});
  }
});
