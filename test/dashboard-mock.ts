/**
 * A tiny stand-in for the personae API (the shapes of src/serve/schemas.ts) with fixed fixtures,
 * so the dashboard can be developed and tested without training a model. The real service is
 * used by test/dashboard.test.ts when it is available; this mock is its fallback.
 */
import Fastify from 'fastify';
import type { EvaluationJson } from '../src/eval/results.js';
import type { Recommendations } from '../src/serve/schemas.js';
import { registerDashboard } from '../src/serve/dashboard/index.js';

const CATEGORIES = ['Space Opera', 'Courtroom Drama', 'Heist', 'Time Travel', 'Western', 'Romcom'];

/** The mock's low-confidence user, and what the service says about its list. */
export const HEDGED_USER = 'u3';
export const HEDGE_REASONS = ['short history', 'two personas are hard to tell apart'];
export const WITHHELD = 'explanation withheld: the persona behind this item is uncertain';

interface MockItem {
  id: string;
  title: string;
  categories: string[];
}

interface MockPersona {
  index: number;
  share: number;
  label: string;
  anchors: { id: string; title: string }[];
  muted: boolean;
  boost: number;
}

/** Items: 4 per category; one title carries markup to prove the page escapes it. */
function catalogue(): MockItem[] {
  const items: MockItem[] = [];
  CATEGORIES.forEach((c, ci) => {
    for (let j = 0; j < 4; j++) {
      const id = `i${ci * 4 + j}`;
      const title = ci === 2 && j === 0 ? '<b>Tom & "Jerry"</b> Heist' : `${c.split(' ')[0]} Story ${j + 1}`;
      items.push({ id, title, categories: j === 3 ? [c, CATEGORIES[(ci + 1) % CATEGORIES.length]!] : [c] });
    }
  });
  return items;
}

export interface MockService {
  url: string;
  close(): Promise<void>;
  /** PATCH bodies received, in order. */
  patches: { user: string; index: number; body: unknown }[];
  /** /readyz answers 503 ("training") until this is called. */
  setReady(): void;
  /** /v1/evaluation answers 404 while hidden (the default: shown). */
  hideEvaluation(hidden: boolean): void;
}

export async function startMockService(): Promise<MockService> {
  const items = catalogue();
  const users = Array.from({ length: 30 }, (_, u) => ({ id: `u${u + 1}`, interactions: 10 + ((u * 7) % 23) }));
  const personasOf = new Map<string, MockPersona[]>();
  const patches: MockService['patches'] = [];
  const personas = (user: string): MockPersona[] => {
    let ps = personasOf.get(user);
    if (!ps) {
      ps = [
        { index: 0, share: 0.62, label: 'Space Opera', anchors: [items[0]!, items[1]!].map(({ id, title }) => ({ id, title })), muted: false, boost: 1 },
        { index: 1, share: 0.38, label: 'Heist / Courtroom Drama', anchors: [items[8]!, items[4]!].map(({ id, title }) => ({ id, title })), muted: false, boost: 1 },
      ];
      personasOf.set(user, ps);
    }
    return ps;
  };
  const knownUser = (id: string): boolean => users.some((u) => u.id === id);
  const notFound = { error: { status: 404, code: 'not_found', message: 'unknown user' } };

  let ready = false;
  const app = Fastify({ logger: false });
  await registerDashboard(app);

  app.get('/readyz', async (_req, reply) => (ready ? { ready: true } : reply.code(503).send({ ready: false, status: 'training: fit 3/20' })));
  app.get('/v1/users', async (req) => {
    const q = req.query as { limit?: string; offset?: string };
    const limit = Number(q.limit ?? 100);
    const offset = Number(q.offset ?? 0);
    // the stores page in the text order of the ids (u1, u10, u11, ..., u2, u20, ...), as this mock does
    const byText = [...users].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { users: byText.slice(offset, offset + limit), total: users.length };
  });
  app.get('/v1/users/:id/feedback', async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!knownUser(id)) return reply.code(404).send(notFound);
    const history = [0, 1, 2, 8, 9, 4].map((i, t) => ({ item: items[i]!.id, title: items[i]!.title, categories: items[i]!.categories, type: 'rating', value: 5 - (t % 2), ts: new Date(Date.UTC(2024, 0, 1 + t)).toISOString() }));
    return { user: id, feedback: history };
  });
  app.get('/v1/users/:id/personas', async (req) => {
    const { id } = req.params as { id: string };
    // like the service: an unknown user has no personas yet
    if (!knownUser(id)) return { user: id, confidence: 0, personas: [] };
    return { user: id, personas: personas(id) };
  });
  app.patch('/v1/users/:id/personas/:index', async (req, reply) => {
    const { id, index } = req.params as { id: string; index: string };
    if (!knownUser(id)) return reply.code(404).send(notFound);
    const body = req.body as { muted?: boolean; boost?: number };
    const p = personas(id)[Number(index)];
    if (!p) return reply.code(404).send({ error: { status: 404, code: 'not_found', message: `persona ${index}` } });
    patches.push({ user: id, index: Number(index), body });
    if (body.muted !== undefined) p.muted = body.muted;
    if (body.boost !== undefined) p.boost = body.boost;
    return { user: id, personas: personas(id) };
  });
  app.get('/v1/users/:id/recommendations', async (req): Promise<Recommendations> => {
    const { id } = req.params as { id: string };
    const q = req.query as { n?: string; rerank?: string; explain?: string };
    const rerank = q.rerank ?? 'none';
    if (!knownUser(id)) {
      // like the service: a cold-start list is never reranked, whatever was asked
      return { user: id, coldStart: true, hedged: false, confidence: 0, rerank: 'none', model: { name: 'personas', version: 3 }, items: items.slice(0, 5).map((it, i) => ({ ...it, score: 1 - i / 10 })) };
    }
    const ps = personas(id);
    // persona 0 owns Space Opera + Time Travel items, persona 1 the rest; calibration interleaves more of persona 1
    const candidates = items.filter((it) => !['i0', 'i1', 'i2', 'i8', 'i9', 'i4'].includes(it.id));
    const owner = (it: MockItem): number => (['Space Opera', 'Time Travel'].includes(it.categories[0]!) ? 0 : 1);
    const ranked = candidates
      .filter((it) => !ps[owner(it)]!.muted)
      .map((it, i) => ({ it, score: (owner(it) === 0 ? 2 : 1) * ps[owner(it)]!.boost - i / 100 }))
      .sort((a, b) => b.score - a.score);
    const list = rerank === 'none' ? ranked : [...ranked.filter((_, i) => i % 2 === 1), ...ranked.filter((_, i) => i % 2 === 0)];
    const n = Math.min(Number(q.n ?? 10), list.length);
    const explain = q.explain === 'true';
    // u3 is a low-confidence user: the list is hedged and persona 1's explanations are withheld
    const hedged = id === HEDGED_USER;
    return {
      user: id,
      coldStart: false,
      hedged,
      confidence: hedged ? 0.31 : 0.82,
      ...(hedged ? { hedgeReasons: HEDGE_REASONS } : {}),
      rerank,
      model: { name: 'personas', version: 3 },
      items: list.slice(0, n).map(({ it, score }) => {
        const p = ps[owner(it)]!;
        if (explain && hedged && p.index === 1) return { ...it, score, explanation: null, explanationWithheld: WITHHELD };
        return {
          ...it,
          score,
          ...(explain ? { explanation: { persona: p.index, label: p.label, weights: p.index === 0 ? [0.8, 0.2] : [0.3, 0.7], anchors: p.anchors } } : {}),
        };
      }),
    };
  });
  app.get('/v1/users/:id/taste-mix', async (req) => {
    const { id } = req.params as { id: string };
    // like the service: an unknown user's history is empty; the list is the cold-start one (i0-i4)
    if (!knownUser(id)) return { categories: CATEGORIES, history: [0, 0, 0, 0, 0, 0], list: [0.5, 0.5, 0, 0, 0, 0] };
    const rerank = (req.query as { rerank?: string }).rerank ?? 'none';
    const history = [0.45, 0.1, 0.3, 0.15, 0, 0];
    const list = rerank === 'none' ? [0.7, 0.05, 0.1, 0.15, 0, 0] : [0.44, 0.12, 0.28, 0.14, 0.02, 0];
    return { categories: CATEGORIES, history, list };
  });
  app.get('/v1/models', async () => ({ active: { name: 'personas', version: 3, trainedAt: '2026-01-01T00:00:00.000Z', params: { k: 4, dim: 64, seed: 42 } } }));
  let evaluationHidden = false;
  app.get('/v1/evaluation', async (_req, reply) =>
    evaluationHidden ? reply.code(404).send({ error: { status: 404, code: 'not_found', message: 'the served model has no evaluation' } }) : evaluationFixture(),
  );

  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    patches,
    setReady: () => {
      ready = true;
    },
    hideEvaluation: (hidden) => {
      evaluationHidden = hidden;
    },
    close: () => app.close(),
  };
}

function summary(mean: number, half: number, n = 500): { mean: number; ci95: [number, number]; n: number } {
  return { mean, ci95: [mean - half, mean + half], n };
}

/** An EvaluationJson with four rows, one of them a spec (the type keeps the fixture honest). */
export function evaluationFixture(): EvaluationJson {
  const model = (name: string, ndcg: number, recall: number, ckl: number, minority: number): EvaluationJson['models'][number] => ({
    name,
    model: name.split(':')[0]!,
    params: name.startsWith('personas') ? { k: name === 'personas' ? 4 : 1 } : {},
    usesCategories: name.startsWith('personas'),
    fitSeconds: 1,
    evalSeconds: 1,
    metrics: {
      'ndcg@20': summary(ndcg, 0.01),
      'recall@20': summary(recall, 0.012),
      'ckl@20': summary(ckl, 0.03),
      'minorityRecall@20': summary(minority, 0.02, 310),
      'ndcg@10': summary(ndcg * 0.9, 0.01),
    },
  });
  return {
    dataset: {
      name: 'mock-world',
      trainUsers: 500,
      candidates: 400,
      trainPositives: 20000,
      testUsers: 500,
      testPositives: 5000,
      testNotCandidates: 0,
      positives: 25000,
      splitHash: '0',
      trainPairsSha256: '0',
      testPairsSha256: '0',
      hasCategories: true,
      skippedRows: 0,
    },
    protocol: { name: 'temporal-user', minRating: 4, k: [10, 20], seed: 42, rerank: 'none' },
    models: [model('pop', 0.11, 0.14, 0.9, 0.03), model('ease', 0.31, 0.36, 0.62, 0.12), model('personas', 0.33, 0.38, 0.41, 0.19), model('personas:k=1', 0.32, 0.37, 0.45, 0.16)],
    comparisons: [{ a: 'personas', b: 'ease', metric: 'ndcg@20', mean: 0.02, ci95: [0.01, 0.03], pValue: 0.001, wilcoxonPValue: 0.002, n: 500 }],
    manifest: { personae: '0.1.0', node: 'v20', seed: 42, startedAt: '2026-01-01T00:00:00.000Z', threads: 2, platform: 'linux-x64', cpu: 'mock' },
  };
}
