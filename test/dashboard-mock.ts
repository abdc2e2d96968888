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
/** The friend u7's first recommendation came through (its `via`): an id that is markup. */
export const VIA_FRIEND = '<i>bo</i>';
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
  /** The version served now (changed by POST /v1/models/versions/{v}/activate). */
  activeVersion(): number;
  /** Feedback events received by POST /v1/feedback, in order. */
  imported: unknown[];
  /** Jobs cancelled (DELETE /v1/jobs/{id}) and trainings started (POST /v1/models/train bodies). */
  cancelled: string[];
  trained: unknown[];
}

/** The mock's model versions: v1 pop, v2 ease, v3 personas (served first), with evaluations of their own row. */
export const MOCK_VERSIONS = [
  { version: 3, name: 'personas', ndcg: 0.33 },
  { version: 2, name: 'ease', ndcg: 0.31 },
  { version: 1, name: 'pop', ndcg: 0.11 },
] as const;

/** Events per hour of the mock's overview (48 hours, the last one holds the newest event). */
export const MOCK_TIMELINE = Array.from({ length: 48 }, (_, h) => (h * 7) % 11 + (h === 47 ? 3 : 0));
export const MOCK_TIMELINE_START = '2026-01-02T00:00:00.000Z';

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
  let active = 3;
  const imported: unknown[] = [];
  const cancelled: string[] = [];
  const trained: unknown[] = [];
  const modelRef = () => ({ name: MOCK_VERSIONS.find((v) => v.version === active)!.name, version: active });
  type MockJob = { id: string; kind: 'train'; state: 'running' | 'done' | 'failed' | 'cancelled'; progress: { stage: string; done: number; total: number }; startedAt: string; finishedAt: string | null; error: string | null; model: { name: string; version: number } | null };
  const jobs: MockJob[] = [
    { id: 'job-running', kind: 'train', state: 'running', progress: { stage: 'personas fit', done: 3, total: 10 }, startedAt: '2026-01-03T10:00:00.000Z', finishedAt: null, error: null, model: null },
    { id: 'job-failed', kind: 'train', state: 'failed', progress: { stage: 'fit', done: 1, total: 10 }, startedAt: '2026-01-02T10:00:00.000Z', finishedAt: '2026-01-02T10:01:00.000Z', error: 'no positive feedback to train on', model: null },
    { id: 'job-done', kind: 'train', state: 'done', progress: { stage: 'fit', done: 10, total: 10 }, startedAt: '2026-01-01T10:00:00.000Z', finishedAt: '2026-01-01T10:05:00.000Z', error: null, model: { name: 'personas', version: 3 } },
  ];
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
      return { user: id, coldStart: true, hedged: false, confidence: 0, rerank: 'none', model: modelRef(), items: items.slice(0, 5).map((it, i) => ({ ...it, score: 1 - i / 10 })) };
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
      model: modelRef(),
      items: list.slice(0, n).map(({ it, score }, r) => {
        const p = ps[owner(it)]!;
        if (explain && hedged && p.index === 1) return { ...it, score, explanation: null, explanationWithheld: WITHHELD };
        return {
          ...it,
          score,
          // u7's first item came through friends too (what the social model says), with a name that is markup
          ...(explain && id === 'u7' && r === 0 ? { via: { friend: VIA_FRIEND, friends: 3, contribution: 0.42 } } : {}),
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
  app.get('/v1/models', async () => ({ active: { ...modelRef(), trainedAt: '2026-01-01T00:00:00.000Z', params: { k: 4, dim: 64, seed: 42 } } }));
  app.get('/v1/overview', async (req) => {
    const hours = Number((req.query as { hours?: string }).hours ?? 48);
    const counts = hours === 48 ? MOCK_TIMELINE : Array.from({ length: hours }, (_, h) => (h === hours - 1 ? 5 : h % 3));
    const start = new Date(Date.parse(MOCK_TIMELINE_START) + (48 - hours) * 3_600_000).toISOString();
    return {
      users: users.length,
      items: items.length,
      events: 400,
      model: { ...modelRef(), trainedAt: '2026-01-01T00:00:00.000Z' },
      versions: MOCK_VERSIONS.length,
      timeline: { start, hours, counts, read: 400, before: 400 - counts.reduce((a, b) => a + b, 0) },
      topItems: [items[8]!, items[0]!, items[5]!].map((it, r) => ({ id: it.id, title: it.title, events: 30 - 5 * r })),
      recent: [0, 1, 2].map((r) => ({ user: `u${r + 1}`, item: items[r]!.id, title: items[r]!.title, type: 'rating', value: 5 - r, ts: '2026-01-03T23:5' + r + ':00.000Z' })),
    };
  });
  app.get('/v1/jobs', async () => {
    // the running job advances a step per read, and is done at 10/10
    const run = jobs.find((j) => j.id === 'job-running')!;
    if (run.state === 'running') {
      run.progress = { ...run.progress, done: Math.min(10, run.progress.done + 1) };
      if (run.progress.done === 10) Object.assign(run, { state: 'done', finishedAt: '2026-01-03T10:03:00.000Z', model: { name: 'personas', version: 4 } });
    }
    return { jobs };
  });
  app.delete('/v1/jobs/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    const job = jobs.find((j) => j.id === id);
    if (!job || job.state !== 'running') return reply.code(409).send({ error: { status: 409, code: 'not_running', message: `job "${id}" is not running` } });
    cancelled.push(id);
    Object.assign(job, { state: 'cancelled', error: 'cancelled', finishedAt: '2026-01-03T10:02:00.000Z' });
    return job;
  });
  app.post('/v1/models/train', async (req, reply) => {
    trained.push(req.body);
    const job: MockJob = { id: `job-${jobs.length + 1}`, kind: 'train', state: 'running', progress: { stage: 'queued', done: 0, total: 1 }, startedAt: '2026-01-04T00:00:00.000Z', finishedAt: null, error: null, model: null };
    jobs.unshift(job);
    return reply.code(202).send(job);
  });
  app.get('/v1/models/versions', async () => {
    const ev = evaluationFixture();
    return {
      keep: 3,
      versions: MOCK_VERSIONS.map((v) => ({
        version: v.version,
        name: v.name,
        trainedAt: `2026-01-0${v.version}T00:00:00.000Z`,
        params: {},
        active: v.version === active,
        pinned: v.version === active && active !== 3,
        evaluation: v.version === 1 ? null : { dataset: ev.dataset.name, testUsers: ev.dataset.testUsers, protocol: ev.protocol.name, metrics: { 'ndcg@20': { mean: v.ndcg, ci95: [v.ndcg - 0.01, v.ndcg + 0.01], n: 500 }, 'recall@20': { mean: v.ndcg + 0.05, ci95: [v.ndcg + 0.04, v.ndcg + 0.06], n: 500 } } },
      })),
    };
  });
  app.post('/v1/models/versions/:version/activate', async (req, reply) => {
    const version = Number((req.params as { version: string }).version);
    if (!MOCK_VERSIONS.some((v) => v.version === version)) return reply.code(404).send({ error: { status: 404, code: 'not_found', message: `no version ${version}` } });
    const previous = { ...modelRef(), trainedAt: '2026-01-01T00:00:00.000Z' };
    active = version;
    return { active: { ...modelRef(), trainedAt: '2026-01-01T00:00:00.000Z' }, previous, pinned: version !== 3 };
  });
  const itemById = (id: string): MockItem | undefined => items.find((it) => it.id === id);
  app.get('/v1/items/:id', async (req, reply) => {
    const it = itemById((req.params as { id: string }).id);
    return it ?? reply.code(404).send({ error: { status: 404, code: 'not_found', message: 'unknown item' } });
  });
  app.get('/v1/items/:id/similar', async (req, reply) => {
    const { id } = req.params as { id: string };
    const it = itemById(id);
    if (!it) return reply.code(404).send({ error: { status: 404, code: 'not_found', message: 'unknown item' } });
    const n = Number((req.query as { n?: string }).n ?? 10);
    const same = items.filter((x) => x.id !== id && x.categories.some((c) => it.categories.includes(c)));
    return { item: id, items: [...same, ...items.filter((x) => x.id !== id && !same.includes(x))].slice(0, n).map((x, r) => ({ ...x, score: 1 - r / 20 })) };
  });
  app.get('/v1/items/:id/audience', async (req, reply) => {
    const { id } = req.params as { id: string };
    const it = itemById(id);
    if (!it) return reply.code(404).send({ error: { status: 404, code: 'not_found', message: 'unknown item' } });
    const q = req.query as { n?: string; offset?: string };
    const n = Number(q.n ?? 20);
    const offset = Number(q.offset ?? 0);
    // every user holds i8 (persona 1, "Heist / Courtroom Drama"); others are held by u1..u5 through persona 0
    const holders = id === 'i8' ? users : users.slice(0, 5);
    const index = id === 'i8' ? 1 : 0;
    return {
      item: it,
      total: holders.length,
      users: holders.slice(offset, offset + n).map((u) => {
        const p = personas(u.id)[index]!;
        return { user: u.id, persona: { index, label: p.label, weight: 0.8, share: p.share, muted: p.muted, personas: 2 } };
      }),
      model: modelRef(),
    };
  });
  app.get('/v1/feedback/export', async (req, reply) => {
    const user = (req.query as { user?: string }).user;
    const lines = (user ? [user] : ['u1', 'u2']).flatMap((u) => [0, 1].map((i) => JSON.stringify({ user: u, item: items[i]!.id, type: 'rating', value: 5, timestamp: 1_700_000_000 + i })));
    return reply.type('application/x-ndjson; charset=utf-8').send(`${lines.join('\n')}\n`);
  });
  app.post('/v1/feedback', async (req, reply) => {
    const body = req.body as { feedback: { item: string }[] };
    const bad = body.feedback.findIndex((f) => !itemById(f.item));
    if (bad >= 0) return reply.code(404).send({ error: { status: 404, code: 'not_found', message: `body.feedback[${bad}].item: unknown item "${body.feedback[bad]!.item}" (create it with POST /v1/items first)` } });
    imported.push(...body.feedback);
    return { accepted: body.feedback.length, seqs: body.feedback.map((_, r) => imported.length - body.feedback.length + r + 1) };
  });
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
    activeVersion: () => active,
    imported,
    cancelled,
    trained,
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

/** A study JSON as `personae study feedback-loop --out` writes it (the fields the dashboard reads), with two line charts over 3 rounds. */
export function studyFixture(): Record<string, unknown> {
  return {
    study: 'feedback-loop',
    claim: 'Without a guardrail, personalised models narrow coverage; calibration holds it.',
    verdict: 'mixed',
    verdictReason: 'coverage narrows for personas (-0.041 [-0.060, -0.022]); the guardrail costs 12% of ndcg@10.',
    data: 'planted world split:51/49,bridge:0.15',
    seed: 42,
    results: {},
    table: '',
    charts: [
      { title: 'taste coverage over rounds', kind: 'line', x: [1, 2, 3], xLabel: 'round', yLabel: 'taste coverage', series: [{ name: 'pop', y: [0.41, 0.4, 0.4] }, { name: 'personas', y: [0.62, 0.6, 0.58] }, { name: 'personas+calibrated', y: [0.7, 0.7, 0.69] }] },
      { title: 'ndcg@10 over rounds', kind: 'line', x: [1, 2, 3], xLabel: 'round', yLabel: 'ndcg@10', series: [{ name: 'pop', y: [0.1, 0.1, null] }, { name: 'personas', y: [0.3, 0.31, 0.32] }, { name: 'personas+calibrated', y: [0.27, 0.28, 0.28] }] },
      { title: 'a bar chart the page skips', kind: 'bar', x: ['a'], xLabel: '', yLabel: '', series: [{ name: 's', y: [1] }] },
    ],
    seconds: 1,
    manifest: { personae: '0.1.0', node: 'v20', startedAt: '2026-01-01T00:00:00.000Z', threads: 1 },
  };
}
