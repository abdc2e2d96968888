/**
 * Onboarding over HTTP (src/onboard, docs/onboarding.md): a new user answers "which of these two
 * do you prefer?" questions and gets recommendations after each answer. Sessions live in memory
 * (bounded; the oldest are dropped) and are bound to the engine they started on.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { columnCounts, csrFromPairs, transpose } from '../data/csr.js';
import { NotFoundError } from '../errors.js';
import type { TrainSet } from '../models/model.js';
import { createOnboarding, type Answer, type OnboardingSession, type Question } from '../onboard/index.js';
import type { Engine } from './engine.js';
import { OnboardingAnswerBody, OnboardingStartBody } from './schemas.js';

interface Entry {
  engine: Engine;
  session: OnboardingSession;
  pending: Question | null;
}

const MAX_SESSIONS = 1000;
const trainSets = new WeakMap<Engine, TrainSet>();

/** The engine's training data rebuilt from the live positives it was trained on. */
function trainSetOf(engine: Engine): TrainSet {
  let t = trainSets.get(engine);
  if (t) return t;
  const cut = engine.loaded.meta.feedbackSeq;
  const us: number[] = [];
  const is: number[] = [];
  for (let u = 0; u < engine.users.size; u++) {
    const live = engine.live.users.get(engine.users.id(u));
    if (!live) continue;
    for (const p of live.positives) {
      if (p.seq > cut) continue;
      const i = engine.items.lookup(p.item);
      if (i >= 0) {
        us.push(u);
        is.push(i);
      }
    }
  }
  const userItems = csrFromPairs(engine.users.size, engine.nItems, Int32Array.from(us), Int32Array.from(is));
  const pop = columnCounts(userItems);
  const candidates: number[] = [];
  for (let i = 0; i < engine.nItems; i++) if (engine.loaded.popularity[i]! > 0) candidates.push(i);
  t = {
    nUsers: engine.users.size,
    nItems: engine.nItems,
    userItems,
    itemUsers: transpose(userItems),
    itemPopularity: pop,
    candidates: Int32Array.from(candidates),
    itemRanks: engine.itemRanks,
    categories: null,
  };
  trainSets.set(engine, t);
  return t;
}

export function registerOnboarding(app: FastifyInstance, deps: { engine: () => Engine; parse: <S extends z.ZodType>(schema: S, data: unknown, where: string) => z.output<S> }): void {
  const sessions = new Map<string, Entry>();

  const itemOf = (e: Engine, i: number): { id: string; title: string; categories: string[] } => {
    const id = e.items.id(i);
    const rec = e.live.items.get(id);
    return { id, title: rec?.title ?? id, categories: rec?.categories ?? [] };
  };
  const answerJson = (id: string, entry: Entry, n: number): Record<string, unknown> => {
    const e = entry.engine;
    const q = entry.pending;
    return {
      id,
      answered: entry.session.answered,
      question: q ? { a: itemOf(e, q.a), b: itemOf(e, q.b) } : null,
      items: entry.session.answered > 0 ? Array.from(entry.session.recommend(n), (i) => itemOf(e, i)) : [],
      model: e.info,
    };
  };

  app.post('/v1/onboarding', { config: { auth: 'read' } }, async (req) => {
    const body = deps.parse(OnboardingStartBody, req.body ?? {}, 'body');
    const engine = deps.engine();
    const session = createOnboarding(engine.model, trainSetOf(engine), body.seed !== undefined ? { seed: body.seed } : {});
    const id = randomUUID();
    const entry: Entry = { engine, session, pending: session.next() };
    sessions.set(id, entry);
    if (sessions.size > MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
    return answerJson(id, entry, body.n);
  });

  app.post('/v1/onboarding/:id/answers', { config: { auth: 'read' } }, async (req) => {
    const { id } = deps.parse(z.object({ id: z.string().min(1).max(64) }).strict(), req.params, 'path');
    const body = deps.parse(OnboardingAnswerBody, req.body, 'body');
    const entry = sessions.get(id);
    if (!entry) throw new NotFoundError(`onboarding session "${id}" does not exist (or expired)`);
    if (!entry.pending) throw new NotFoundError(`onboarding session "${id}" has no open question`);
    entry.session.answer(entry.pending, body.answer as Answer);
    entry.pending = entry.session.next();
    return answerJson(id, entry, body.n);
  });
}
