/**
 * Onboarding over HTTP (src/onboard, docs/onboarding.md): a new user answers "which of these two
 * do you prefer?" questions and gets recommendations after each answer. Sessions live in memory
 * (bounded; the oldest are dropped) and are bound to the engine they started on.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ConfigError, NotFoundError } from '../errors.js';
import { createOnboarding, type Answer, type OnboardingSession, type Question } from '../onboard/index.js';
import type { Engine } from './engine.js';
import { OnboardingAnswerBody, OnboardingStartBody, type OnboardingState } from './schemas.js';

interface Entry {
  engine: Engine;
  session: OnboardingSession;
  pending: Question | null;
}

const MAX_SESSIONS = 1000;
export function registerOnboarding(
  app: FastifyInstance,
  deps: {
    engine: () => Engine;
    parse: <S extends z.ZodType>(schema: S, data: unknown, where: string) => z.output<S>;
    /** The error for a request that is valid but that the served model cannot answer (409). */
    unsupported: (message: string) => Error;
  },
): void {
  const sessions = new Map<string, Entry>();

  const itemOf = (e: Engine, i: number): { id: string; title: string; categories: string[] } => {
    const id = e.items.id(i);
    const rec = e.live.items.get(id);
    return { id, title: rec?.title ?? id, categories: rec?.categories ?? [] };
  };
  const answerJson = (id: string, entry: Entry, n: number): OnboardingState => {
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
    let session: OnboardingSession;
    try {
      session = createOnboarding(engine.model, engine.trainSet(), body.seed !== undefined ? { seed: body.seed } : {});
    } catch (err) {
      // nothing in the request is wrong: the served model has no personas
      if (err instanceof ConfigError && err.field === 'onboarding') throw deps.unsupported(err.message.replace(/^onboarding: /, 'onboarding: the served '));
      throw err;
    }
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
