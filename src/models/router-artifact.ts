/**
 * The router's artifact parts: the routing table it persists (config `table`) and the nesting of
 * the base model's and each specialist's artifact under a prefix (see router.ts's file comment).
 */
import { ConfigError } from '../errors.js';
import type { ModelArtifact, ParamValue } from './model.js';
import type { RouteEntry } from './router-config.js';

/** Puts `art` into `arrays`/`config` under `prefix` (see the file comment). */
export function nest(prefix: string, art: ModelArtifact, arrays: Record<string, Float32Array | Int32Array>, config: Record<string, ParamValue>): void {
  config[`${prefix}/.kind`] = art.kind;
  config[`${prefix}/.version`] = art.version;
  for (const [k, v] of Object.entries(art.config)) config[`${prefix}/${k}`] = v;
  for (const [k, v] of Object.entries(art.arrays)) arrays[`${prefix}/${k}`] = v;
}

/** The artifact nested under `prefix`. */
export function unnest(prefix: string, art: ModelArtifact): ModelArtifact {
  const p = `${prefix}/`;
  const config: Record<string, ParamValue> = {};
  const arrays: Record<string, Float32Array | Int32Array> = {};
  for (const [k, v] of Object.entries(art.config)) if (k.startsWith(p) && !k.startsWith(`${p}.`)) config[k.slice(p.length)] = v;
  for (const [k, v] of Object.entries(art.arrays)) if (k.startsWith(p)) arrays[k.slice(p.length)] = v;
  const kind = art.config[`${p}.kind`];
  if (typeof kind !== 'string') throw new ConfigError(`router artifact has no nested model under "${prefix}"`, 'artifact');
  return { kind, version: Number(art.config[`${p}.version`]), config, arrays };
}

/** The persisted routing table (config `table`). */
export interface TableJson {
  /** Specialists, index j = artifact prefix `s<j>`: candidate label and cluster (-1 = global). */
  specialists: { candidate: string; cluster: number }[];
  /** Specialist index of each cluster. */
  route: number[];
  routes: RouteEntry[];
  dim: number;
}
