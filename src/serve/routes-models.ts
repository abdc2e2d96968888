/**
 * The model routes: the served model and its evaluation, training jobs (start, progress, cancel).
 * Training itself runs in schedule.ts and training.ts.
 */
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../errors.js';
import { modelNames, parseModelSpec, parseModelSpecs } from '../models/registry.js';
import { HttpError } from './http-errors.js';
import { json, parse } from './http.js';
import { trainWork } from './schedule.js';
import { leaseHolder, startUnderLease } from './train-lease.js';
import { IdParams, TrainBody } from './schemas.js';
import type { ServiceState } from './service-state.js';
import { checkTrainParams, JOB_HEARTBEAT_MS } from './training.js';

export function registerModelRoutes(app: FastifyInstance, s: ServiceState): void {
  // ---- models, jobs, evaluation, keys
  app.get('/v1/models', { config: { auth: 'read' } }, async () => {
    const e = s.engine;
    if (!e) return { active: null };
    const r = e.loaded.record;
    return { active: { name: r.name, version: r.version, trainedAt: r.trainedAt, params: r.params } };
  });
  app.get('/v1/evaluation', { config: { auth: 'read' } }, async (_req, reply) => {
    const text = s.engine?.loaded.record.evaluation;
    if (!text) throw new NotFoundError('the served model has no evaluation');
    return json(reply, text);
  });
  app.post('/v1/models/train', { config: { auth: 'admin' } }, async (req, reply) => {
    const body = parse(TrainBody, req.body ?? {}, 'body');
    const model = body.model ?? s.train.model;
    if (!modelNames().includes(model)) throw new HttpError(400, 'invalid_input', `body.model: unknown model "${model}"; known: ${modelNames().join(', ')}`);
    // evaluate takes model specs, as `evaluate --models` does (e.g. "personas:k=1")
    for (const [r, m] of (body.evaluate ?? []).entries()) {
      try {
        parseModelSpec(m);
      } catch (err) {
        throw new HttpError(400, 'invalid_input', `body.evaluate[${r}]: ${err instanceof Error ? err.message.replace(/^--models: /, '') : String(err)}`);
      }
    }
    if (body.evaluate) {
      try {
        parseModelSpecs([model, ...body.evaluate.filter((m) => m !== model)]);
      } catch (err) {
        throw new HttpError(400, 'invalid_input', `body.evaluate: ${err instanceof Error ? err.message.replace(/^--models: /, '') : String(err)}`);
      }
    }
    const params = body.params ?? (model === s.train.model ? s.train.params : {});
    // every parameter is checked (and bounded) before the job is accepted
    checkTrainParams(model, params, body.params ? 'body.params' : 'params');
    if (s.jobs.busy) throw new HttpError(409, 'busy', 'a training job is already running');
    // one job across the replicas sharing the store: the one that takes the training lease
    const started = await startUnderLease(s, trainWork(s, { model, params, seed: body.seed, evaluate: body.evaluate ?? null, tune: body.tune }));
    if ('held' in started) throw new HttpError(409, 'busy', `a training job is already running: ${leaseHolder(started.held)}`);
    if (!('job' in started)) throw new HttpError(409, 'busy', 'a training job is already running');
    return reply.code(202).send(started.job);
  });
  app.get('/v1/jobs/:id', { config: { auth: 'admin' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    const job = await s.jobs.find(id);
    if (!job) throw new NotFoundError(`job "${id}" does not exist`);
    return job;
  });
  app.delete('/v1/jobs/:id', { config: { auth: 'admin' } }, async (req) => {
    const { id } = parse(IdParams, req.params, 'path');
    if (s.jobs.cancel(id)) return s.jobs.settled(id);
    const job = await s.jobs.find(id);
    if (!job) throw new NotFoundError(`job "${id}" does not exist`);
    if (job.state !== 'running') throw new HttpError(409, 'not_running', `job "${id}" is ${job.state}; only a running job can be cancelled`);
    throw new HttpError(409, 'other_replica', `job "${id}" runs on another replica (last seen within ${(3 * JOB_HEARTBEAT_MS) / 1000} s); cancel it there`);
  });
}
