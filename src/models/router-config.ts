/**
 * The router's configuration and routing rule: its zod schema (checked against the registry it is
 * bound to), the candidate specialists in cost order, the choice among their validation scores, and
 * the routing table's entries. The model itself is router.ts.
 */
import { z } from 'zod';
import type { ModelArtifact, Recommender } from './model.js';

/** What the router needs from the registry (bound by registry.ts, which lists the router itself). */
export interface RegistryApi {
  createModel(name: string, params?: Record<string, unknown>): Recommender;
  modelFromArtifact(artifact: ModelArtifact): Recommender;
  modelNames(): string[];
}
let registry: RegistryApi | null = null;
/** Called once by registry.ts after the catalogue is built (breaks the import cycle). */
export function bindRouterRegistry(api: RegistryApi): void {
  registry = api;
}
/** The bound registry (an Error when registry.ts has not been loaded). */
export function routerRegistry(): RegistryApi {
  if (!registry) throw new Error('router: the model registry is not loaded (import models/registry.js)');
  return registry;
}

export const RouterConfig = z
  .object({
    /** Model whose fold-in vectors cluster the users (must fold histories in). */
    base: z.string().default('ials'),
    /** Number of user clusters. */
    clusters: z.number().int().min(1).max(256).default(4),
    /** Candidate specialists, comma-separated registered model names, cheapest first. */
    candidates: z.string().default('pop,itemknn,ials'),
    /** Where candidates are fitted: on each cluster's users, on everyone, or both. */
    scope: z.enum(['both', 'cluster', 'global']).default('both'),
    /** Relative ndcg tolerance: route to the cheapest candidate within (1 - tolerance) x the best. */
    tolerance: z.number().min(0).max(1).default(0),
    /** How candidates' costs are ranked (see the file comment). */
    cost: z.enum(['order', 'measured']).default('order'),
    validationShare: z.number().gt(0).lt(1).default(0.2),
    minValidationPositives: z.number().int().min(2).default(5),
    /** Validation users scored per cluster (a seeded sample). */
    validationUsers: z.number().int().min(1).default(300),
    /** Cut-off of the validation ndcg. */
    at: z.number().int().min(1).default(20),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!registry) return;
    const known = registry.modelNames();
    for (const name of [c.base, ...candidateNames(c.candidates)]) {
      if (name === 'router') ctx.addIssue({ code: 'custom', path: [name === c.base ? 'base' : 'candidates'], message: 'a router cannot route to a router' });
      else if (!known.includes(name)) ctx.addIssue({ code: 'custom', path: [name === c.base ? 'base' : 'candidates'], message: `unknown model "${name}"; known: ${known.join(', ')}` });
    }
  });
export type RouterConfig = z.infer<typeof RouterConfig>;

function candidateNames(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
}

/** A candidate: a model name and where it is fitted. */
export interface Candidate {
  model: string;
  scope: 'global' | 'cluster';
}

/** One candidate's validation result in one cluster. */
export interface CandidateScore {
  candidate: string;
  ndcg: number;
  /** Measured CPU seconds of the validation fit; global candidates' fit is shared by every cluster. */
  fitSeconds?: number;
  /** Measured CPU milliseconds of scoring, per validation user of the cluster. */
  scoreMsPerUser?: number;
}

export interface RouteEntry {
  cluster: number;
  /** Training users in the cluster. */
  users: number;
  /** Validation users scored. */
  validationUsers: number;
  /** The specialist the cluster is routed to (`model@global` or `model@cluster`). */
  chosen: string;
  /** The candidate with the best validation ndcg. */
  best: string;
  scores: CandidateScore[];
}

export const candidateLabel = (c: Candidate): string => `${c.model}@${c.scope}`;

/** The candidates of a config in cost order (each model's global specialist before its per-cluster ones). */
export function routerCandidates(cfg: Pick<RouterConfig, 'candidates' | 'scope'>): Candidate[] {
  const out: Candidate[] = [];
  for (const model of candidateNames(cfg.candidates)) {
    if (cfg.scope !== 'cluster') out.push({ model, scope: 'global' });
    if (cfg.scope !== 'global') out.push({ model, scope: 'cluster' });
  }
  return out;
}

/**
 * The routing rule: the best validation ndcg, or with tolerance > 0 the cheapest candidate (lowest
 * `cost`) whose ndcg is at least (1 - tolerance) x the best; ties go to the lower cost, then the
 * earlier candidate.
 */
export function chooseCandidate(ndcg: readonly number[], cost: readonly number[], tolerance: number): number {
  let best = 0;
  for (let j = 1; j < ndcg.length; j++) if (ndcg[j]! > ndcg[best]!) best = j;
  const floor = ndcg[best]! * (1 - tolerance);
  let chosen = -1;
  for (let j = 0; j < ndcg.length; j++) {
    if (!(ndcg[j]! >= floor)) continue;
    if (chosen < 0 || cost[j]! < cost[chosen]!) chosen = j;
  }
  return chosen < 0 ? best : chosen;
}
