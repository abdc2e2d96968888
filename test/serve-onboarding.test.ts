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
import { createClient, type OnboardingState, type PersonaeClient, type Result } from '../src/client/index.js';
import { startService, type RunningService, type ServiceOptions } from '../src/serve/index.js';
import { storeCases } from './service-stores.js';
import { caller } from './service-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'personae-onboarding-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const WORLD = { users: 40, items: 80, categories: 4, meanInteractions: 15, seed: 21 };
const KEY = 'onboarding-admin-key';

const call = caller(KEY);

type State = OnboardingState;
const api = (svc: RunningService, key = KEY): PersonaeClient => createClient({ url: svc.url, apiKey: key });
/** The value of a call that must succeed. */
function ok<T>(r: Result<T>): T {
  if (!r.ok) assert.fail(`${r.error.kind}: ${r.error.message}`);
  return r.value;
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
        const A = api(a);
        const s1 = ok(await A.startOnboarding({ n: 8, seed: 3 }));
        const s2 = ok(await A.startOnboarding({ n: 8, seed: 3 }));
        assert.deepEqual(s1.question, s2.question, 'the same seed asks the same first question');
        const questions: State['question'][] = [s1.question];
        for (const answer of ANSWERS.slice(0, 3)) {
          const r1 = ok(await A.answerOnboarding(s1.id, { answer, n: 8 }));
          const r2 = ok(await A.answerOnboarding(s2.id, { answer, n: 8 }));
          assert.deepEqual(r1.items, r2.items);
          questions.push(r1.question);
        }
        // s2 goes on without a restart
        const uninterrupted = ok(await A.answerOnboarding(s2.id, { answer: 'b', n: 8 }));
        assert.equal(uninterrupted.answered, 4);
        // completing needs a write key and an answer
        const empty = ok(await A.startOnboarding({ n: 8 }));
        const none = await A.completeOnboarding(empty.id, { user: 'nobody' });
        assert.ok(!none.ok && none.error.kind === 'http');
        assert.deepEqual([none.error.status, none.error.code], [409, 'nothing_answered']);
        await a.close();

        // after a restart, s1 is read from the store and answers as s2 did
        const b = await startService(base);
        await b.ready;
        const B = api(b);
        const resumed = ok(await B.answerOnboarding(s1.id, { answer: 'b', n: 8 }));
        assert.deepEqual({ ...resumed, id: s2.id }, uninterrupted);
        assert.equal((await call(b, 'POST', '/v1/onboarding/not-a-session/answers', { answer: 'a' })).status, 404);

        // complete: the answers become the user's feedback
        const readKey = ok(await B.createApiKey({ scope: 'read' })).key;
        const denied = await api(b, readKey).completeOnboarding(s1.id, { user: 'newcomer' });
        assert.ok(!denied.ok && denied.error.kind === 'http' && denied.error.status === 403);
        assert.equal((await call(b, 'POST', `/v1/onboarding/${s1.id}/complete`, { user: '' })).status, 400);
        assert.equal((await call(b, 'POST', `/v1/onboarding/${s1.id}/complete`, { user: 'x', extra: 1 })).status, 400);
        const { liked, rejected, accepted, seqs } = ok(await B.completeOnboarding(s1.id, { user: 'newcomer' }));
        // answers a, neither, both, b: the chosen a, the chosen b, both of the third pair; the second pair rejected
        const q = questions as NonNullable<State['question']>[];
        assert.deepEqual([...liked].sort(), [q[0]!.a.id, q[2]!.a.id, q[2]!.b.id, q[3]!.b.id].sort());
        assert.deepEqual([...rejected].sort(), [q[1]!.a.id, q[1]!.b.id].sort());
        assert.equal(accepted, 6);
        assert.equal(seqs.length, 6);
        const fb = ok(await B.feedbackOf('newcomer')).feedback;
        assert.deepEqual(fb.filter((f) => f.type === 'like').map((f) => f.item).sort(), [...liked].sort());
        assert.deepEqual(fb.filter((f) => f.type === 'dislike').map((f) => f.item).sort(), [...rejected].sort());
        // the new user's recommendations come from the liked items and hold none of the answered ones
        const recs = ok(await B.recommend('newcomer', { n: 20 }));
        assert.equal(recs.coldStart, false);
        for (const it of recs.items) assert.ok(!liked.includes(it.id) && !rejected.includes(it.id), it.id);
        // once only, also after a restart
        await b.close();
        const c = await startService(base);
        await c.ready;
        const again = await api(c).completeOnboarding(s1.id, { user: 'someone-else' });
        assert.ok(!again.ok && again.error.kind === 'http');
        assert.equal(again.error.status, 409);
        assert.match(again.error.message, /already recorded for user "newcomer"/);
        await c.close();
      } finally {
        await sc.cleanup(tag);
      }
    });
  });
}
