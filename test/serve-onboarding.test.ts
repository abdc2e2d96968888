/**
 * Onboarding sessions in the store, on SQLite and PostgreSQL (PERSONAE_TEST_PG): a session
 * continues after a restart exactly as it would have without one, and `POST .../complete` with a
 * user id turns its answers into that user's feedback (liked items as like, rejected as dislike),
 * once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startService, type RunningService, type ServiceOptions } from '../src/serve/index.js';
import { storeCases } from './service-stores.js';

const dir = mkdtempSync(join(tmpdir(), 'personae-onboarding-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const WORLD = { users: 40, items: 80, categories: 4, meanInteractions: 15, seed: 21 };
const KEY = 'onboarding-admin-key';

async function call(svc: RunningService, method: string, path: string, body?: unknown, key: string | null = KEY): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(svc.url + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

interface State {
  id: string;
  answered: number;
  question: { a: { id: string }; b: { id: string } } | null;
  items: { id: string }[];
}
const ANSWERS = ['a', 'neither', 'both', 'b'] as const;

for (const sc of storeCases(dir, 'onb')) {
  describe(`onboarding sessions (${sc.name})`, () => {
    it('a session continues after a restart as it would have without one; complete records its answers once', async () => {
      const tag = 'sessions';
      const base: ServiceOptions = { port: 0, db: sc.db(tag), ...sc.schema(tag), modelsDir: join(dir, `models-${sc.name}`), apiKey: KEY, quiet: true, syncIntervalMs: 0, threads: 1, modelParams: { epochs: 4, warmEpochs: 2, dim: 8 } };
      try {
        const a = await startService({ ...base, data: 'world', world: WORLD });
        await a.ready;
        const s1 = (await call(a, 'POST', '/v1/onboarding', { n: 8, seed: 3 })).json as unknown as State;
        const s2 = (await call(a, 'POST', '/v1/onboarding', { n: 8, seed: 3 })).json as unknown as State;
        assert.deepEqual(s1.question, s2.question, 'the same seed asks the same first question');
        const questions: State['question'][] = [s1.question];
        for (const answer of ANSWERS.slice(0, 3)) {
          const r1 = (await call(a, 'POST', `/v1/onboarding/${s1.id}/answers`, { answer, n: 8 })).json as unknown as State;
          const r2 = (await call(a, 'POST', `/v1/onboarding/${s2.id}/answers`, { answer, n: 8 })).json as unknown as State;
          assert.deepEqual(r1.items, r2.items);
          questions.push(r1.question);
        }
        // s2 goes on without a restart
        const uninterrupted = (await call(a, 'POST', `/v1/onboarding/${s2.id}/answers`, { answer: 'b', n: 8 })).json as unknown as State;
        assert.equal(uninterrupted.answered, 4);
        // completing needs a write key and an answer
        const empty = (await call(a, 'POST', '/v1/onboarding', { n: 8 })).json as unknown as State;
        const none = await call(a, 'POST', `/v1/onboarding/${empty.id}/complete`, { user: 'nobody' });
        assert.equal(none.status, 409);
        assert.equal((none.json.error as { code: string }).code, 'nothing_answered');
        await a.close();

        // after a restart, s1 is read from the store and answers as s2 did
        const b = await startService(base);
        await b.ready;
        const resumed = (await call(b, 'POST', `/v1/onboarding/${s1.id}/answers`, { answer: 'b', n: 8 })).json as unknown as State;
        assert.deepEqual({ ...resumed, id: s2.id }, uninterrupted);
        assert.equal((await call(b, 'POST', '/v1/onboarding/not-a-session/answers', { answer: 'a' })).status, 404);

        // complete: the answers become the user's feedback
        const readKey = String((await call(b, 'POST', '/v1/keys', { scope: 'read' })).json.key);
        assert.equal((await call(b, 'POST', `/v1/onboarding/${s1.id}/complete`, { user: 'newcomer' }, readKey)).status, 403);
        assert.equal((await call(b, 'POST', `/v1/onboarding/${s1.id}/complete`, { user: '' })).status, 400);
        const done = await call(b, 'POST', `/v1/onboarding/${s1.id}/complete`, { user: 'newcomer' });
        assert.equal(done.status, 200, JSON.stringify(done.json));
        const { liked, rejected, accepted, seqs } = done.json as { liked: string[]; rejected: string[]; accepted: number; seqs: number[] };
        // answers a, neither, both, b: the chosen a, the chosen b, both of the third pair; the second pair rejected
        const q = questions as NonNullable<State['question']>[];
        assert.deepEqual([...liked].sort(), [q[0]!.a.id, q[2]!.a.id, q[2]!.b.id, q[3]!.b.id].sort());
        assert.deepEqual([...rejected].sort(), [q[1]!.a.id, q[1]!.b.id].sort());
        assert.equal(accepted, 6);
        assert.equal(seqs.length, 6);
        const fb = (await call(b, 'GET', '/v1/users/newcomer/feedback')).json.feedback as { item: string; type: string }[];
        assert.deepEqual(fb.filter((f) => f.type === 'like').map((f) => f.item).sort(), [...liked].sort());
        assert.deepEqual(fb.filter((f) => f.type === 'dislike').map((f) => f.item).sort(), [...rejected].sort());
        // the new user's recommendations come from the liked items and hold none of the answered ones
        const recs = (await call(b, 'GET', '/v1/users/newcomer/recommendations?n=20')).json as { coldStart: boolean; items: { id: string }[] };
        assert.equal(recs.coldStart, false);
        for (const it of recs.items) assert.ok(!liked.includes(it.id) && !rejected.includes(it.id), it.id);
        // once only, also after a restart
        await b.close();
        const c = await startService(base);
        await c.ready;
        const again = await call(c, 'POST', `/v1/onboarding/${s1.id}/complete`, { user: 'someone-else' });
        assert.equal(again.status, 409);
        assert.match((again.json.error as { message: string }).message, /already recorded for user "newcomer"/);
        await c.close();
      } finally {
        await sc.cleanup(tag);
      }
    });
  });
}
