/** The catalogue of models, by name. Each model file exports its `ModelSpec`; this file lists them. */
import { ConfigError } from '../errors.js';
import type { ModelArtifact, ModelSpec, Recommender } from './model.js';
import { bprSpec } from './bpr.js';
import { easeSpec } from './ease.js';
import { ialsSpec } from './ials.js';
import { itemKnnSpec } from './itemknn.js';
import { personasSpec } from './personas.js';
import { popSpec } from './pop.js';

const ALL: readonly ModelSpec[] = [popSpec, itemKnnSpec, easeSpec, bprSpec, ialsSpec, personasSpec];

const specs = new Map<string, ModelSpec>(ALL.map((s) => [s.name, s]));

export function modelNames(): string[] {
  return [...specs.keys()];
}

export function modelSpec(name: string): ModelSpec {
  const spec = specs.get(name);
  if (!spec) throw new ConfigError(`unknown model "${name}"; known models: ${modelNames().join(', ')}`, '--models');
  return spec;
}

/** Validates params against the model's schema; every issue is listed with its field path. */
export function createModel(name: string, params: Record<string, unknown> = {}): Recommender {
  const spec = modelSpec(name);
  const parsed = spec.schema.safeParse(params);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${name}.${i.path.join('.') || '(params)'}: ${i.message}`).join('; ');
    throw new ConfigError(issues, `${name} params`);
  }
  return spec.create(parsed.data);
}

export function modelFromArtifact(artifact: ModelArtifact): Recommender {
  return modelSpec(artifact.kind).fromArtifact(artifact);
}
