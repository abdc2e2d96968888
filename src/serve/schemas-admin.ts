/**
 * Schemas of the operator routes (routes-admin.ts): the overview, the job list, model versions and
 * their activation (rollback), an item's audience, and the feedback export. Same rules as
 * schemas.ts: strict objects, errors name the field, and the routes are in /openapi.json
 * (ADMIN_ROUTES, passed to `openApiDocument`).
 */
import { z } from 'zod';
import { intParam, Job, MAX_ID, text, type RouteDoc } from './schemas.js';

/** Longest timeline of the overview, in hours (30 days). */
export const MAX_TIMELINE_HOURS = 720;
/** How many of the newest events (by arrival order) the overview's timeline reads at most. */
export const TIMELINE_EVENTS = 50_000;

export const OverviewQuery = z.object({ hours: intParam(1, MAX_TIMELINE_HOURS).default(48) }).strict();

const ModelSummary = z.object({ name: z.string(), version: z.number().int(), trainedAt: z.string() });

/** GET /v1/overview. */
export const Overview = z.object({
  users: z.number().int(),
  items: z.number().int(),
  /** Feedback events of every type. */
  events: z.number().int(),
  /** The version answering requests now, or null before the first model. */
  model: ModelSummary.nullable(),
  /** How many model versions the store keeps. */
  versions: z.number().int(),
  /**
   * Events per hour (by the events' own time, `timestamp` of POST /v1/feedback) over the `hours`
   * hours that end with the hour of the newest event read; only the newest TIMELINE_EVENTS events
   * (by arrival) are read, so `read` < `events` on a large store.
   */
  timeline: z.object({
    /** ISO 8601 start of the first hour; null when there are no events. */
    start: z.string().nullable(),
    hours: z.number().int(),
    counts: z.array(z.number().int()),
    /** Events read (the newest by arrival, at most TIMELINE_EVENTS). */
    read: z.number().int(),
    /** Events read that fall before the window. */
    before: z.number().int(),
  }),
  /** The items with the most events among those read (at most 10), most first. */
  topItems: z.array(z.object({ id: z.string(), title: z.string(), events: z.number().int() })),
  /** The newest events by arrival (at most 10), newest first. */
  recent: z.array(z.object({ user: z.string(), item: z.string(), title: z.string(), type: z.string(), value: z.number(), ts: z.string() })),
});

export const JobsQuery = z.object({ limit: intParam(1, 200).default(20) }).strict();
/** GET /v1/jobs: the newest jobs first (this process's and, from the store, earlier ones and other replicas'). */
export const JobList = z.object({ jobs: z.array(Job) });

const MetricSummary = z.object({ mean: z.number().nullable(), ci95: z.tuple([z.number(), z.number()]).nullable(), n: z.number().int() });

/** One recorded model version. */
export const ModelVersion = z.object({
  version: z.number().int(),
  name: z.string(),
  trainedAt: z.string(),
  params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
  /** The version answering requests on this process. */
  active: z.boolean(),
  /** Kept by a rollback: served (also after a restart) until a newer version is trained. */
  pinned: z.boolean(),
  /**
   * The version's own row of its evaluation (the model evaluated with the training job's
   * `evaluate` list), null when it was trained without one.
   */
  evaluation: z
    .object({
      dataset: z.string(),
      testUsers: z.number().int(),
      protocol: z.string(),
      /** By metric name (`ndcg@20`, ...). */
      metrics: z.record(z.string(), MetricSummary),
    })
    .nullable(),
});
export const ModelVersions = z.object({ versions: z.array(ModelVersion), keep: z.number().int() });

export const VersionParams = z.object({ version: intParam(1, 2_147_483_647) }).strict();

/** POST /v1/models/versions/{version}/activate. */
export const Activated = z.object({ active: ModelSummary, previous: ModelSummary.nullable(), pinned: z.boolean() });

export const AudienceQuery = z.object({ n: intParam(1, 200).default(20), offset: intParam(0, 100_000).default(0) }).strict();

/** GET /v1/items/{id}/audience: the users whose history holds the item, and the persona of each it belongs to. */
export const ItemAudience = z.object({
  item: z.object({ id: z.string(), title: z.string(), categories: z.array(z.string()) }),
  /** Users with the item among the positives the served model was trained on. */
  total: z.number().int(),
  users: z.array(
    z.object({
      user: z.string(),
      /** The persona the item belongs to (the highest attention or persona weight), null for a model without personas. */
      persona: z
        .object({ index: z.number().int(), label: z.string(), weight: z.number(), share: z.number(), muted: z.boolean(), personas: z.number().int() })
        .nullable(),
    }),
  ),
  model: z.object({ name: z.string(), version: z.number().int() }),
});

export const ExportQuery = z.object({ user: text(MAX_ID, 1).optional() }).strict();

export const ADMIN_ROUTES: readonly RouteDoc[] = [
  { method: 'get', path: '/v1/overview', summary: 'counts, the model in service and events per hour (dashboard overview)', auth: 'read', query: OverviewQuery, response: Overview },
  { method: 'get', path: '/v1/jobs', summary: 'training jobs, newest first, with their progress', auth: 'admin', query: JobsQuery, response: JobList },
  { method: 'get', path: '/v1/models/versions', summary: 'the kept model versions with their evaluation; which one is served', auth: 'read', response: ModelVersions },
  { method: 'post', path: '/v1/models/versions/{version}/activate', summary: 'serve a kept version (rollback); kept across restarts until a newer version is trained', auth: 'admin', response: Activated },
  { method: 'get', path: '/v1/items/{id}/audience', summary: "users whose history holds the item, with the persona of theirs it belongs to", auth: 'read', query: AudienceQuery, response: ItemAudience },
  { method: 'get', path: '/v1/feedback/export', summary: 'every feedback event (or one user\'s) as JSONL, one POST /v1/feedback entry a line', auth: 'admin', query: ExportQuery },
];

export type Overview = z.infer<typeof Overview>;
export type ModelVersions = z.infer<typeof ModelVersions>;
