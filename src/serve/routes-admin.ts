/**
 * The operator routes the dashboard's overview, jobs, item and model-version pages read
 * (schemas-admin.ts has their shapes, docs/service.md and docs/dashboard.md describe them):
 *
 * - GET  /v1/overview                             counts, the served model, events per hour
 * - GET  /v1/jobs                                 training jobs, newest first (admin)
 * - GET  /v1/models/versions                      the kept versions, their evaluation, which serves
 * - POST /v1/models/versions/{version}/activate   serve a kept version: rollback (admin)
 * - GET  /v1/items/{id}/audience                  users whose history holds the item, and the persona it belongs to
 * - GET  /v1/feedback/export                      feedback as JSONL, one POST /v1/feedback entry a line (admin)
 *
 * Import needs no route of its own: a JSONL file of those lines goes to POST /v1/feedback in
 * batches (the dashboard does that).
 */
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { NotFoundError } from '../errors.js';
import type { EvaluationJson } from '../eval/results.js';
import { audienceRow, audienceUsers } from './item-audience.js';
import { IdParams, MAX_TIMESTAMP_S } from './schemas.js';
import { AudienceQuery, ExportQuery, JobsQuery, OverviewQuery, TIMELINE_EVENTS, VersionParams, type ModelVersions, type Overview } from './schemas-admin.js';
import type { ModelRecord, StoredFeedback } from '../store/types.js';
import type { ServiceState } from './service-state.js';
import { activate, pinHolds, readPin } from './versions.js';

type Parse = <S extends z.ZodType>(schema: S, data: unknown, where: string) => z.output<S>;

/** The part of the service's state these routes read and write. */
export type AdminState = Pick<ServiceState, 'store' | 'live' | 'liveReady' | 'engine' | 'ready' | 'status' | 'jobs' | 'keepModels'>;

export interface AdminDeps {
  parse: Parse;
  /** An error answered with this status and code (http-errors.ts HttpError). */
  fail: (status: number, code: string, message: string) => Error;
}

const HOUR_MS = 3_600_000;

/**
 * Events per hour over `hours` hours ending with the hour of the newest event in `events` (by
 * their own time): counts[h] holds the events of hour h; `before` counts those earlier.
 */
export function hourlyTimeline(events: readonly { ts: number }[], hours: number): Overview['timeline'] {
  if (events.length === 0) return { start: null, hours, counts: Array.from({ length: hours }, () => 0), read: 0, before: 0 };
  let newest = -Infinity;
  for (const e of events) if (e.ts > newest) newest = e.ts;
  const end = (Math.floor(newest / HOUR_MS) + 1) * HOUR_MS;
  const start = end - hours * HOUR_MS;
  const counts = new Array<number>(hours).fill(0);
  let before = 0;
  for (const e of events) {
    if (e.ts < start) before++;
    else counts[Math.floor((e.ts - start) / HOUR_MS)]!++;
  }
  return { start: new Date(Math.max(-8.64e15, start)).toISOString(), hours, counts, read: events.length, before };
}

/** The `n` items with the most events (ties: the item first seen first), with their counts. */
export function topItems(events: readonly { item: string }[], n: number): [string, number][] {
  const counts = new Map<string, number>();
  for (const e of events) counts.set(e.item, (counts.get(e.item) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, n);
}

/** The evaluation row of a version's own model (its spec is the model's name), else the first row. */
export function versionEvaluation(record: Pick<ModelRecord, 'name' | 'evaluation'>): ModelVersions['versions'][number]['evaluation'] {
  if (!record.evaluation) return null;
  let ev: EvaluationJson;
  try {
    ev = JSON.parse(record.evaluation) as EvaluationJson;
  } catch {
    return null;
  }
  const row = ev.models?.find((m) => m.name === record.name) ?? ev.models?.[0];
  if (!row) return null;
  const metrics = Object.fromEntries(Object.entries(row.metrics).map(([k, m]) => [k, { mean: m.mean ?? null, ci95: m.ci95 ?? null, n: m.n }]));
  return { dataset: ev.dataset.name, testUsers: ev.dataset.testUsers, protocol: ev.protocol.name, metrics };
}

/** One line of the export: the entry POST /v1/feedback takes (seconds since the epoch when in its range). */
export function exportLine(f: StoredFeedback): string {
  const s = f.ts / 1000;
  const timestamp = s >= 0 && s <= MAX_TIMESTAMP_S ? { timestamp: s } : {};
  return JSON.stringify({ user: f.user, item: f.item, type: f.type, value: f.value, ...timestamp });
}

export function registerAdminRoutes(app: FastifyInstance, s: AdminState, deps: AdminDeps): void {
  const { parse, fail } = deps;
  const engineOf = () => {
    if (!s.engine) throw fail(503, 'not_ready', `no model is loaded yet (${s.status})`);
    return s.engine;
  };
  const summary = (r: ModelRecord) => ({ name: r.name, version: r.version, trainedAt: r.trainedAt });

  app.get('/v1/overview', { config: { auth: 'read' } }, async (req): Promise<Overview> => {
    const q = parse(OverviewQuery, req.query, 'query');
    const from = Math.max(0, s.live.maxSeq - TIMELINE_EVENTS);
    const events = s.liveReady ? await s.store.feedbackSince(from, TIMELINE_EVENTS) : [];
    const versions = (await s.store.listModels()).length;
    return {
      users: s.live.userCount,
      items: s.live.items.size,
      events: s.live.feedbackCount,
      model: s.engine ? summary(s.engine.loaded.record) : null,
      versions,
      timeline: hourlyTimeline(events, q.hours),
      topItems: topItems(events, 10).map(([id, n]) => ({ id, title: s.live.items.get(id)?.title ?? id, events: n })),
      recent: events
        .slice(-10)
        .reverse()
        .map((f) => ({ user: f.user, item: f.item, title: s.live.items.get(f.item)?.title ?? f.item, type: f.type, value: f.value, ts: new Date(Math.max(-8.64e15, Math.min(8.64e15, f.ts))).toISOString() })),
    };
  });

  app.get('/v1/jobs', { config: { auth: 'admin' } }, async (req) => {
    const q = parse(JobsQuery, req.query, 'query');
    const stored = await s.store.listJobs(q.limit);
    // a job of this process is newer in memory than its last save
    const jobs = await Promise.all(stored.map(async (j) => (await s.jobs.find(j.id)) ?? j));
    return { jobs };
  });

  app.get('/v1/models/versions', { config: { auth: 'read' } }, async () => {
    const models = await s.store.listModels();
    const pinned = pinHolds(await readPin(s.store), models);
    const active = s.engine?.loaded.record.version ?? null;
    const versions = models.map((m) => ({
      version: m.version,
      name: m.name,
      trainedAt: m.trainedAt,
      params: m.params,
      active: m.version === active,
      pinned: m.version === pinned,
      evaluation: versionEvaluation(m),
    }));
    return { versions, keep: s.keepModels };
  });

  app.post('/v1/models/versions/:version/activate', { config: { auth: 'admin' } }, async (req) => {
    const { version } = parse(VersionParams, req.params, 'path');
    const record = (await s.store.listModels()).find((m) => m.version === version);
    if (!record) throw new NotFoundError(`path.version: no kept model version ${version} (GET /v1/models/versions lists them)`);
    if (!s.liveReady) throw fail(503, 'not_ready', `the service is starting (${s.status}); retry shortly`);
    const previous = s.engine ? summary(s.engine.loaded.record) : null;
    let result;
    try {
      result = await activate(s.store, record, s.live);
    } catch (err) {
      throw fail(422, 'load_failed', `model version ${version} does not load: ${err instanceof Error ? err.message : String(err)}`);
    }
    s.engine = result.engine; // the atomic swap, as after a training
    s.ready = true;
    s.status = 'ready';
    return { active: summary(record), previous, pinned: result.pinned };
  });

  app.get('/v1/items/:id/audience', { config: { auth: 'read' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    const q = parse(AudienceQuery, req.query, 'query');
    const item = s.live.items.get(id);
    if (!item) throw new NotFoundError(`item "${id}" does not exist`);
    const engine = engineOf();
    const all = audienceUsers(engine, id);
    const page = all.slice(q.offset, q.offset + q.n);
    const users = [];
    for (const u of page) {
      await s.live.overrides(s.store, u.id);
      users.push(audienceRow(engine, u));
    }
    return { item: { id: item.id, title: item.title, categories: item.categories }, total: all.length, users, model: engine.info };
  });

  app.get('/v1/feedback/export', { config: { auth: 'admin' } }, async (req, reply) => {
    const q = parse(ExportQuery, req.query, 'query');
    const rows = q.user !== undefined ? await s.store.feedbackOf(q.user) : await s.store.allFeedback();
    const name = q.user !== undefined ? `feedback-${q.user.replace(/[^A-Za-z0-9_.-]/g, '_')}.jsonl` : 'feedback.jsonl';
    const body = rows.map(exportLine).join('\n') + (rows.length > 0 ? '\n' : '');
    return reply.type('application/x-ndjson; charset=utf-8').header('content-disposition', `attachment; filename="${name}"`).send(body);
  });
}
