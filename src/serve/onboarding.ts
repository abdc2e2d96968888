/**
 * Onboarding over HTTP (src/onboard, docs/onboarding.md): a new user answers "which of these two
 * do you prefer?" questions and gets recommendations after each answer. Every session is stored
 * (its options, answers and open question, items by id) after each change, so it survives a
 * restart and can be continued on another replica; the newest 1,000 are also kept in memory, bound
 * to the engine they started on (a session restored from the store runs on the engine served now,
 * its answers replayed by item id). `POST .../complete` turns a session's answers into a user's
 * feedback. Sessions not changed for 7 days are deleted.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ConfigError, NotFoundError } from '../errors.js';
import { ANSWERS, createOnboarding, OnboardingSession, type Answer, type OnboardingState as SessionState, type Question } from '../onboard/index.js';
import type { Engine } from './engine.js';
import type { FeedbackPolicy } from './live.js';
import { OnboardingAnswerBody, OnboardingCompleteBody, OnboardingStartBody, text, type OnboardingState } from './schemas.js';
import type { FeedbackRecord, Store } from '../store/types.js';

interface Entry {
  engine: Engine;
  session: OnboardingSession;
  pending: Question | null;
  /** The user the answers were recorded for (POST .../complete), or null. */
  completedBy: string | null;
}

/** A session as stored: items by id, so that it can be replayed on another model. */
interface StoredSession {
  version: 1;
  options: SessionState['options'];
  answers: { a: string; b: string; answer: Answer }[];
  pending: { a: string; b: string } | null;
  completedBy: string | null;
}

const MAX_SESSIONS = 1000;
/** Sessions not changed for this long are deleted (checked at most once an hour). */
const SESSION_TTL_MS = 7 * 24 * 3600 * 1000;

export interface OnboardingDeps {
  engine: () => Engine;
  parse: <S extends z.ZodType>(schema: S, data: unknown, where: string) => z.output<S>;
  /** An error answered with this status and code (e.g. 409 for a valid request the state refuses). */
  httpError: (status: number, code: string, message: string) => Error;
  store: () => Store;
  policy: () => FeedbackPolicy;
  /** Records feedback as POST /v1/feedback does (durable, then the live mirror); returns the seqs. */
  addFeedback: (events: FeedbackRecord[]) => Promise<number[]>;
}

export function registerOnboarding(app: FastifyInstance, deps: OnboardingDeps): void {
  const sessions = new Map<string, Entry>();
  let pruned = 0;

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
  const remember = (id: string, entry: Entry): void => {
    sessions.delete(id);
    sessions.set(id, entry);
    if (sessions.size > MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
  };
  const save = async (id: string, entry: Entry): Promise<void> => {
    const e = entry.engine;
    const state = entry.session.toJSON();
    const stored: StoredSession = {
      version: 1,
      options: state.options,
      answers: state.answers.map((a) => ({ a: e.items.id(a.a), b: e.items.id(a.b), answer: a.answer })),
      pending: entry.pending ? { a: e.items.id(entry.pending.a), b: e.items.id(entry.pending.b) } : null,
      completedBy: entry.completedBy,
    };
    const now = Date.now();
    await deps.store().saveOnboarding({ id, state: JSON.stringify(stored), updatedAt: now });
    if (now - pruned > 3600_000) {
      pruned = now;
      await deps.store().pruneOnboarding(now - SESSION_TTL_MS);
    }
  };
  /** The session from memory, else from the store replayed on the engine served now. */
  const find = async (id: string): Promise<Entry> => {
    const hit = sessions.get(id);
    if (hit) return hit;
    const rec = await deps.store().getOnboarding(id);
    if (!rec) throw new NotFoundError(`path.id: onboarding session "${id}" does not exist (or expired)`);
    const stored = JSON.parse(rec.state) as StoredSession;
    const engine = deps.engine();
    const index = (item: string): number => engine.items.lookup(item);
    // answers on items the served model does not know are left out
    const answers = stored.answers.filter((a) => index(a.a) >= 0 && index(a.b) >= 0 && ANSWERS.includes(a.answer)).map((a) => ({ a: index(a.a), b: index(a.b), answer: a.answer }));
    const session = OnboardingSession.restore(engine.model, engine.trainSet(), { version: 1, options: stored.options, answers });
    const pending = stored.pending && index(stored.pending.a) >= 0 && index(stored.pending.b) >= 0 ? { a: index(stored.pending.a), b: index(stored.pending.b) } : session.next();
    const entry: Entry = { engine, session, pending, completedBy: stored.completedBy };
    remember(id, entry);
    return entry;
  };
  // no NUL or lone surrogate: the id is looked up in the store (PostgreSQL refuses NUL)
  const SessionParams = z.object({ id: text(64, 1) }).strict();

  app.post('/v1/onboarding', { config: { auth: 'read' } }, async (req) => {
    const body = deps.parse(OnboardingStartBody, req.body ?? {}, 'body');
    const engine = deps.engine();
    let session: OnboardingSession;
    try {
      session = createOnboarding(engine.model, engine.trainSet(), body.seed !== undefined ? { seed: body.seed } : {});
    } catch (err) {
      // nothing in the request is wrong: the served model has no personas
      if (err instanceof ConfigError && err.field === 'onboarding') throw deps.httpError(409, 'unsupported_model', err.message.replace(/^onboarding: /, 'onboarding: the served '));
      throw err;
    }
    const id = randomUUID();
    const entry: Entry = { engine, session, pending: session.next(), completedBy: null };
    await save(id, entry);
    remember(id, entry);
    return answerJson(id, entry, body.n);
  });

  app.post('/v1/onboarding/:id/answers', { config: { auth: 'read' } }, async (req) => {
    const { id } = deps.parse(SessionParams, req.params, 'path');
    const body = deps.parse(OnboardingAnswerBody, req.body, 'body');
    const entry = await find(id);
    if (!entry.pending) throw deps.httpError(409, 'no_question', `onboarding session "${id}" has no open question`);
    entry.session.answer(entry.pending, body.answer as Answer);
    entry.pending = entry.session.next();
    try {
      await save(id, entry);
    } catch (err) {
      // the store refused the answer: forget the changed copy, the next request reads the stored one
      sessions.delete(id);
      throw err;
    }
    return answerJson(id, entry, body.n);
  });

  app.post('/v1/onboarding/:id/complete', { config: { auth: 'write' } }, async (req) => {
    const { id } = deps.parse(SessionParams, req.params, 'path');
    const { user } = deps.parse(OnboardingCompleteBody, req.body, 'body');
    const entry = await find(id);
    if (entry.completedBy !== null) throw deps.httpError(409, 'already_completed', `onboarding session "${id}" was already recorded for user "${entry.completedBy}"`);
    if (entry.session.answered === 0) throw deps.httpError(409, 'nothing_answered', `onboarding session "${id}" has no answers yet`);
    const policy = deps.policy();
    // liked items become the positive type "like" (or the first other positive type taking value 1)
    const likeType = policy.like?.positive && (policy.like.minValue ?? 1) <= 1 ? 'like' : Object.entries(policy).find(([, r]) => r.positive && (r.minValue ?? 1) <= 1)?.[0];
    if (likeType === undefined) throw deps.httpError(409, 'no_positive_type', 'no feedback type is positive at value 1, so liked items cannot be recorded');
    const dislikeType = policy.dislike && !policy.dislike.positive ? 'dislike' : null;
    const e = entry.engine;
    const live = (i: number): boolean => e.live.items.has(e.items.id(i));
    const liked = Array.from(entry.session.liked()).filter(live).map((i) => e.items.id(i));
    const rejected = dislikeType ? Array.from(entry.session.rejected()).filter(live).map((i) => e.items.id(i)) : [];
    const ts = Date.now();
    const events: FeedbackRecord[] = [
      ...liked.map((item) => ({ user, item, type: likeType, value: 1, ts })),
      ...rejected.map((item) => ({ user, item, type: dislikeType!, value: 1, ts })),
    ];
    // the session is marked first: a retry after a failed write finds it not completed
    const done: Entry = { ...entry, completedBy: user };
    await save(id, done);
    let seqs: number[];
    try {
      seqs = events.length > 0 ? await deps.addFeedback(events) : [];
    } catch (err) {
      await save(id, entry).catch(() => undefined);
      throw err;
    }
    entry.completedBy = user;
    return { id, user, liked, rejected, accepted: events.length, seqs };
  });
}
