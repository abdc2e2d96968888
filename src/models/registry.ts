/**
 * The catalogue of models, by name. Each model file exports its `ModelSpec`; this file lists them.
 * Code outside the repository adds its own models with `registerModel` (docs: README, "Use it as a
 * library"); a registered model is then known to `createModel`, `modelFromArtifact` (so its saved
 * artifacts load), the experiment runner and the high-level `Recommender`.
 */
import { z } from 'zod';
import { ConfigError, issueMessages } from '../errors.js';
import type { ModelArtifact, ModelParams, ModelSpec, ParamValue, Recommender } from './model.js';
import { bprSpec } from './bpr.js';
import { dinSpec } from './din.js';
import { socialSpec } from './social.js';
import { easeSpec } from './ease.js';
import { ialsSpec } from './ials.js';
import { itemKnnSpec } from './itemknn.js';
import { multVaeSpec } from './multvae.js';
import { personasSpec } from './personas.js';
import { popSpec } from './pop.js';
import { sparseEaseSpec } from './sparse-ease.js';
import { bindRouterRegistry, routerSpec } from './router.js';

const ALL: readonly ModelSpec[] = [popSpec, itemKnnSpec, easeSpec, sparseEaseSpec, bprSpec, ialsSpec, multVaeSpec, personasSpec, dinSpec, socialSpec, routerSpec];

const specs = new Map<string, ModelSpec>(ALL.map((s) => [s.name, s]));

/**
 * A model name: a letter, then letters, digits, '-' or '_' (at most 64). The CLI splits model
 * lists on ',', model specs on ':' (`name:key=value`) and parameters on '.' and '='
 * (`--param name.key=value`), so none of those appear in a name.
 */
export const MODEL_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/**
 * Adds a model to the catalogue. The spec is checked (a valid, new name; a zod schema; `create`
 * and `fromArtifact` functions; a tuning grid) and a ConfigError says what is wrong. Names are
 * never replaced: registering a name twice, or a built-in name, is an error.
 */
export function registerModel(spec: ModelSpec): void {
  const where = 'registerModel';
  if (typeof spec !== 'object' || spec === null) throw new ConfigError('expected a ModelSpec object', where);
  if (typeof spec.name !== 'string' || !MODEL_NAME.test(spec.name)) {
    throw new ConfigError(`invalid model name ${JSON.stringify(spec.name)}: use a letter then letters, digits, '-' or '_' (at most 64)`, `${where}.name`);
  }
  if (specs.has(spec.name)) throw new ConfigError(`a model named "${spec.name}" is already registered`, `${where}.name`);
  if (typeof spec.schema?.safeParse !== 'function') throw new ConfigError(`model "${spec.name}": schema must be a zod schema`, `${where}.schema`);
  if (typeof spec.create !== 'function') throw new ConfigError(`model "${spec.name}": create must be a function`, `${where}.create`);
  if (typeof spec.fromArtifact !== 'function') throw new ConfigError(`model "${spec.name}": fromArtifact must be a function`, `${where}.fromArtifact`);
  if (!Array.isArray(spec.tuningGrid)) throw new ConfigError(`model "${spec.name}": tuningGrid must be an array (may be empty)`, `${where}.tuningGrid`);
  if (typeof spec.description !== 'string') throw new ConfigError(`model "${spec.name}": description must be a string`, `${where}.description`);
  specs.set(spec.name, spec);
}

/** Whether `name` is one of the models that ship with personae (they cannot be replaced). */
export function isBuiltInModel(name: string): boolean {
  return ALL.some((s) => s.name === name);
}

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
    throw new ConfigError(issueMessages(parsed.error.issues, name).join('; '), `${name} params`);
  }
  return spec.create(parsed.data);
}

export function modelFromArtifact(artifact: ModelArtifact): Recommender {
  return modelSpec(artifact.kind).fromArtifact(artifact);
}

/**
 * A model as named in a model list: `name[:key=value...]`, e.g. `personas:k=1` or
 * `ease:lambda=200`. The text is the row's name in every output; the inline parameters are fixed
 * (tuning never changes them).
 */
export interface ParsedModelSpec {
  /** The spec as given (trimmed), e.g. "personas:k=1": the row's name. */
  readonly spec: string;
  /** The registered model, e.g. "personas". */
  readonly model: string;
  /** The inline parameters, coerced to the schema's types and validated by it. */
  readonly fixed: ModelParams;
}

type FieldKind = 'number' | 'boolean' | 'string' | 'other';

/** The type of a config field (through defaults and optionals), or null for an unknown key. */
function fieldKind(schema: z.ZodType, key: string): FieldKind | null {
  if (!(schema instanceof z.ZodObject)) return 'other';
  let field = (schema.shape as Record<string, z.ZodType | undefined>)[key];
  if (!field) return null;
  for (;;) {
    const def = field._zod.def as { type: string; innerType?: z.ZodType };
    if ((def.type === 'default' || def.type === 'optional' || def.type === 'nullable' || def.type === 'prefault') && def.innerType) {
      field = def.innerType;
      continue;
    }
    if (def.type === 'number' || def.type === 'int') return 'number';
    if (def.type === 'boolean') return 'boolean';
    if (def.type === 'string' || def.type === 'enum' || def.type === 'literal') return 'string';
    return 'other';
  }
}

function coerce(text: string, key: string, raw: string, kind: FieldKind): ParamValue {
  const bad = (what: string): ConfigError => new ConfigError(`"${text}": ${key} must be ${what}, got "${raw}"`, '--models');
  const num = raw.trim() === '' ? NaN : Number(raw);
  if (kind === 'number') {
    if (!Number.isFinite(num)) throw bad('a number');
    return num;
  }
  if (kind === 'boolean') {
    if (raw !== 'true' && raw !== 'false') throw bad('true or false');
    return raw === 'true';
  }
  if (kind === 'string') return raw;
  // a field of another type: the same guesses as --param
  return raw === 'true' ? true : raw === 'false' ? false : Number.isFinite(num) ? num : raw;
}

/**
 * Parses one `name[:key=value...]` spec. Values are coerced by the type of the schema field
 * (number, boolean `true`/`false`, string or enum) and the whole set is validated by the model's
 * schema; every error names the spec and the field.
 */
export function parseModelSpec(text: string): ParsedModelSpec {
  const spec = text.trim();
  const [name = '', ...parts] = spec.split(':');
  if (name === '') throw new ConfigError(`"${text}": expected a model name, e.g. personas or personas:k=1`, '--models');
  const entry = modelSpec(name);
  const fixed: Record<string, ParamValue> = {};
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    if (eq <= 0 || eq === part.length - 1) throw new ConfigError(`"${spec}": expected key=value after "${name}:", got "${part}"`, '--models');
    const kind = fieldKind(entry.schema, key);
    if (kind === null) {
      const known = entry.schema instanceof z.ZodObject ? Object.keys(entry.schema.shape as object).join(', ') : '';
      throw new ConfigError(`"${spec}": ${name} has no parameter "${key}"${known ? `; its parameters: ${known}` : ''}`, '--models');
    }
    if (key in fixed) throw new ConfigError(`"${spec}": ${key} is set twice`, '--models');
    fixed[key] = coerce(spec, key, part.slice(eq + 1), kind);
  }
  const parsed = entry.schema.safeParse(fixed);
  if (!parsed.success) {
    throw new ConfigError(`"${spec}": ${issueMessages(parsed.error.issues, '').join('; ')}`, '--models');
  }
  return { spec, model: name, fixed };
}

/** The same parameters in a canonical order: equal texts mean equal settings. */
export function paramsKey(params: ModelParams): string {
  return JSON.stringify(Object.keys(params).sort().map((k) => [k, params[k]]));
}

/**
 * Parses a model list (`ease,personas,personas:k=1`). A spec listed twice, or two specs with the
 * same model and the same inline parameters (`personas:k=1`, `personas:k=1.0`), is an error.
 */
export function parseModelSpecs(specs: readonly string[]): ParsedModelSpec[] {
  const out: ParsedModelSpec[] = [];
  const seen = new Map<string, string>();
  for (const text of specs) {
    const p = parseModelSpec(text);
    if (out.some((q) => q.spec === p.spec)) throw new ConfigError(`"${p.spec}" is listed twice`, '--models');
    const key = `${p.model} ${paramsKey(p.fixed)}`;
    const same = seen.get(key);
    if (same !== undefined) throw new ConfigError(`"${p.spec}" is the same model as "${same}"`, '--models');
    seen.set(key, p.spec);
    out.push(p);
  }
  if (out.length === 0) throw new ConfigError('give at least one model', '--models');
  return out;
}
// the router builds its specialists through the registry, which lists the router itself
bindRouterRegistry({ createModel, modelFromArtifact, modelNames });
