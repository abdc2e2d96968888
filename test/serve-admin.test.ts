/**
 * The operator routes (src/serve/routes-admin.ts): the overview's counts and hourly timeline, the
 * job list, model versions with rollback (the served version changes at once and stays after a
 * restart until a newer version is trained), an item's audience (users and the persona it belongs
 * to), and the feedback export that POST /v1/feedback takes back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isPositive, DEFAULT_FEEDBACK_TYPES } from '../src/serve/live.js';
import { startService, type RunningService } from '../src/serve/index.js';
import { exportLine, hourlyTimeline, topItems, versionEvaluation } from '../src/serve/routes-admin.js';
import { FeedbackInput } from '../src/serve/schemas.js';
import { ItemAudience, JobList, ModelVersions, Overview } from '../src/serve/schemas-admin.js';
import type { WorldConfigInput } from '../src/synth/world.js';
import { caller } from './service-helpers.js';

const KEY = 'admin-routes-key';
const WORLD: WorldConfigInput = { users: 120, items: 150, categories: 6, meanInteractions: 25, seed: 11 };
const dir = mkdtempSync(join(tmpdir(), 'personae-admin-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const call = caller(KEY);

async function start(db: string): Promise<RunningService> {
  const svc = await startService({ port: 0, db, data: 'world', world: WORLD, modelParams: { epochs: 10, warmEpochs: 3, dim: 16 }, apiKey: KEY, publicReads: true, quiet: true, threads: 1, seed: 5, syncIntervalMs: 0 });
  await svc.ready;
  return svc;
}

async function trainAndWait(svc: RunningService, body: unknown): Promise<{ name: string; version: number }> {
  const started = await call(svc, 'POST', '/v1/models/train', body);
  assert.equal(started.status, 202, started.text);
  for (;;) {
    const job = (await call(svc, 'GET', `/v1/jobs/${started.json.id as string}`)).json as { state: string; model: { name: string; version: number } | null; error: string | null };
    if (job.state === 'done') return job.model!;
    assert.equal(job.state, 'running', job.error ?? '');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('hourly timeline (hand-computed)', () => {
  it('counts events per hour over the hours ending with the newest event', () => {
    const h = 3_600_000;
    const t0 = Date.UTC(2026, 0, 2, 10); // 10:00
    const events = [t0 + 5, t0 + 10 * 60_000, t0 - 1, t0 - h - 1, t0 - 5 * h].map((ts) => ({ ts }));
    const t = hourlyTimeline(events, 3);
    // window 08:00-11:00: 10:xx holds 2, 09:xx 1 (t0 - 1), 08:xx 1 (t0 - h - 1); 05:00 is before
    assert.deepEqual(t, { start: new Date(t0 - 2 * h).toISOString(), hours: 3, counts: [1, 1, 2], read: 5, before: 1 });
    assert.deepEqual(hourlyTimeline([], 2), { start: null, hours: 2, counts: [0, 0], read: 0, before: 0 });
  });
  it('top items: most events first, ties in first-seen order', () => {
    assert.deepEqual(topItems(['a', 'b', 'b', 'c', 'a', 'b'].map((item) => ({ item })), 2), [['b', 3], ['a', 2]]);
    assert.deepEqual(topItems(['x', 'y'].map((item) => ({ item })), 5), [['x', 1], ['y', 1]]);
  });
  it('an export line is an entry POST /v1/feedback accepts, with seconds', () => {
    const line = exportLine({ user: 'u1', item: 'i2', type: 'rating', value: 4.5, ts: 1_500_000_000_000, seq: 3 });
    assert.deepEqual(JSON.parse(line), { user: 'u1', item: 'i2', type: 'rating', value: 4.5, timestamp: 1_500_000_000 });
    assert.ok(FeedbackInput.safeParse(JSON.parse(line)).success);
    // a time out of the accepted range is left out (the server then stamps the import time)
    assert.equal(JSON.parse(exportLine({ user: 'u', item: 'i', type: 'like', value: 1, ts: -5, seq: 1 })).timestamp, undefined);
  });
  it("a version's evaluation is its own model's row", () => {
    const ev = { dataset: { name: 'd', testUsers: 9 }, protocol: { name: 'temporal-user' }, models: [{ name: 'pop', metrics: { 'ndcg@20': { mean: 0.1, ci95: [0.05, 0.15], n: 9 } } }, { name: 'personas', metrics: { 'ndcg@20': { mean: 0.3, ci95: [0.2, 0.4], n: 9 } } }] };
    assert.deepEqual(versionEvaluation({ name: 'personas', evaluation: JSON.stringify(ev) }), { dataset: 'd', testUsers: 9, protocol: 'temporal-user', metrics: { 'ndcg@20': { mean: 0.3, ci95: [0.2, 0.4], n: 9 } } });
    assert.equal(versionEvaluation({ name: 'personas', evaluation: null }), null);
  });
});

describe('operator routes on a service', () => {
  it('overview, jobs, audience, export; rollback serves the old version, also after a restart, until a newer one is trained', async () => {
    const db = join(dir, 'admin.db');
    let svc = await start(db);
    try {
      // overview: the live counts and a timeline whose counts add up to the events read in the window
      const ov = Overview.parse((await call(svc, 'GET', '/v1/overview?hours=24', undefined, null)).json);
      assert.equal(ov.users, svc.state.live.userCount);
      assert.equal(ov.items, 150);
      assert.equal(ov.events, svc.state.live.feedbackCount);
      assert.deepEqual(ov.model && { name: ov.model.name, version: ov.model.version }, { name: 'personas', version: 1 });
      assert.equal(ov.timeline.counts.length, 24);
      assert.equal(ov.timeline.read, ov.events); // a small store: every event is read
      assert.equal(ov.timeline.counts.reduce((a, b) => a + b, 0) + ov.timeline.before, ov.timeline.read);
      assert.ok(ov.timeline.counts[23]! > 0, 'the last hour holds the newest event');
      assert.equal((await call(svc, 'GET', '/v1/overview?hours=0')).status, 400);
      // the most active items and the newest events, from the same read
      const all = await svc.state.store.allFeedback();
      const count = (id: string): number => all.filter((f) => f.item === id).length;
      assert.equal(ov.topItems.length, 10);
      for (const t of ov.topItems) assert.equal(t.events, count(t.id));
      assert.equal(ov.topItems[0]!.events, Math.max(...all.map((f) => count(f.item))));
      assert.deepEqual(ov.recent.map((r) => r.item), all.slice(-10).reverse().map((f) => f.item));

      // audience of the most popular item: exactly the users with a positive on it, each with a persona
      const positives = new Map<string, Set<string>>();
      for (const f of await svc.state.store.allFeedback()) {
        if (!isPositive(DEFAULT_FEEDBACK_TYPES, f.type, f.value)) continue;
        if (!positives.has(f.item)) positives.set(f.item, new Set());
        positives.get(f.item)!.add(f.user);
      }
      const [item, holders] = [...positives].sort((a, b) => b[1].size - a[1].size)[0]!;
      const aud = ItemAudience.parse((await call(svc, 'GET', `/v1/items/${item}/audience?n=200`, undefined, null)).json);
      assert.equal(aud.total, holders.size);
      assert.deepEqual(new Set(aud.users.map((u) => u.user)), holders);
      for (const u of aud.users) {
        assert.ok(u.persona, `${u.user} has personas`);
        assert.ok(u.persona.index >= 0 && u.persona.index < u.persona.personas);
        assert.ok(u.persona.weight > 0 && u.persona.weight <= 1);
      }
      // the label and setting are the user's persona's, as /personas has them; a mute shows
      const first = aud.users[0]!;
      const patched = await call(svc, 'PATCH', `/v1/users/${first.user}/personas/${first.persona!.index}`, { muted: true });
      assert.equal(patched.status, 200);
      const p = (patched.json.personas as { index: number; label: string }[]).find((x) => x.index === first.persona!.index)!;
      const again = ItemAudience.parse((await call(svc, 'GET', `/v1/items/${item}/audience?n=1`, undefined, null)).json);
      assert.deepEqual(again.users[0]!.persona, { ...first.persona!, label: p.label, muted: true });
      assert.equal((await call(svc, 'GET', '/v1/items/nope/audience')).status, 404);

      // export: one line per event, each one POST /v1/feedback takes
      const exp = await call(svc, 'GET', '/v1/feedback/export');
      assert.equal(exp.status, 200);
      const lines = exp.text.trim().split('\n');
      assert.equal(lines.length, svc.state.live.feedbackCount);
      for (const l of lines.slice(0, 50)) assert.ok(FeedbackInput.safeParse(JSON.parse(l)).success, l);
      assert.equal((await call(svc, 'GET', '/v1/feedback/export', undefined, null)).status, 401);
      const one = await call(svc, 'GET', `/v1/feedback/export?user=${first.user}`);
      assert.ok(one.text.trim().split('\n').every((l) => (JSON.parse(l) as { user: string }).user === first.user));
      // re-importing a user's lines through the batch route is accepted
      const back = await call(svc, 'POST', '/v1/feedback', { feedback: one.text.trim().split('\n').map((l) => JSON.parse(l) as unknown) });
      assert.equal(back.status, 200, back.text);

      // a second version, then the list: newest first, v2 served, both with their own fields
      const v2 = await trainAndWait(svc, { model: 'pop' });
      assert.deepEqual(v2, { name: 'pop', version: 2 });
      let versions = ModelVersions.parse((await call(svc, 'GET', '/v1/models/versions', undefined, null)).json);
      assert.deepEqual(versions.versions.map((v) => [v.version, v.name, v.active, v.pinned]), [[2, 'pop', true, false], [1, 'personas', false, false]]);
      const jobs = JobList.parse((await call(svc, 'GET', '/v1/jobs')).json);
      assert.equal(jobs.jobs[0]!.state, 'done');
      assert.deepEqual(jobs.jobs[0]!.model, v2);
      assert.equal((await call(svc, 'GET', '/v1/jobs', undefined, null)).status, 401);

      // roll back to v1: served at once
      assert.equal((await call(svc, 'POST', '/v1/models/versions/1/activate', undefined, null)).status, 401);
      assert.equal((await call(svc, 'POST', '/v1/models/versions/9/activate')).status, 404);
      const act = await call(svc, 'POST', '/v1/models/versions/1/activate');
      assert.equal(act.status, 200, act.text);
      assert.deepEqual(act.json.previous && { ...(act.json.previous as object), trainedAt: 'x' }, { name: 'pop', version: 2, trainedAt: 'x' });
      assert.equal(act.json.pinned, true);
      assert.deepEqual(((await call(svc, 'GET', '/v1/models', undefined, null)).json.active as { version: number }).version, 1);
      const recs = (await call(svc, 'GET', `/v1/users/${first.user}/recommendations?n=5`, undefined, null)).json as { model: { name: string; version: number } };
      assert.deepEqual(recs.model, { name: 'personas', version: 1 });
      versions = ModelVersions.parse((await call(svc, 'GET', '/v1/models/versions', undefined, null)).json);
      assert.deepEqual(versions.versions.map((v) => [v.version, v.active, v.pinned]), [[2, false, false], [1, true, true]]);
    } finally {
      await svc.close();
    }

    // a restart serves the pinned version
    svc = await start(db);
    try {
      assert.deepEqual(svc.state.engine?.info, { name: 'personas', version: 1 });
      // a newer training ends the pin: v3 serves, and a restart keeps serving it
      assert.deepEqual(await trainAndWait(svc, { model: 'pop' }), { name: 'pop', version: 3 });
      const versions = ModelVersions.parse((await call(svc, 'GET', '/v1/models/versions', undefined, null)).json);
      assert.deepEqual(versions.versions.map((v) => [v.version, v.active, v.pinned]), [[3, true, false], [2, false, false], [1, false, false]]);
      // activating the newest version clears the pin
      const act = await call(svc, 'POST', '/v1/models/versions/3/activate');
      assert.equal(act.json.pinned, false);
    } finally {
      await svc.close();
    }
    svc = await start(db);
    try {
      assert.deepEqual(svc.state.engine?.info, { name: 'pop', version: 3 });
    } finally {
      await svc.close();
    }
  });
});
