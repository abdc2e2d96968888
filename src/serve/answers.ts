/**
 * The JSON shapes of the engine's answers (src/serve/schemas.ts): items, explanations and personas,
 * with the service's rounding.
 */
import type { ItemExplanation, PersonaProfile } from '../explain/explain.js';
import { tasteDistribution } from '../data/categories.js';
import type { CatalogueView } from './catalogue.js';
import type { Explanation, Personas } from './schemas.js';
import type { PersonaSetting } from './user-state.js';

/** 4 decimals (shares, weights, confidences). */
export const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

export interface ItemJson {
  id: string;
  title: string;
  score: number;
  categories: string[];
}

/** What the shapes read of the model's item space. */
export interface ItemNames {
  id(i: number): string;
}

/** An item with its score (6 decimals; 0 for a non-finite score). */
export function itemJson(items: ItemNames, meta: CatalogueView, i: number, score: number): ItemJson {
  return { id: items.id(i), title: meta.titles[i]!, score: Number.isFinite(score) ? Math.round(score * 1e6) / 1e6 : 0, categories: meta.itemCats[i]! };
}

export function explanationJson(items: ItemNames, meta: CatalogueView, e: ItemExplanation): Explanation {
  return {
    persona: e.persona,
    label: e.label ?? `taste #${e.persona + 1}`,
    weights: e.weights.map(round4),
    anchors: e.anchors.map((a) => ({ id: items.id(a), title: meta.titles[a]! })),
  };
}

/** A user's personas with their settings (mute, boost). */
export function personasJson(items: ItemNames, meta: CatalogueView, userId: string, profile: PersonaProfile | null, overrides: ReadonlyMap<number, PersonaSetting>, confidence: number): Personas {
  const personas = (profile?.personaInfo ?? []).map((p) => {
    const o = overrides.get(p.persona);
    return {
      index: p.persona,
      share: round4(p.share),
      label: p.label ?? `taste #${p.persona + 1}`,
      anchors: p.anchors.map((a) => ({ id: items.id(a), title: meta.titles[a]! })),
      muted: o?.muted ?? false,
      boost: o?.boost ?? 1,
    };
  });
  return { user: userId, confidence: round4(confidence), personas };
}

/** A user's taste mix: the category shares (4 decimals) of the history and of the list (empty without categories). */
export function tasteMixJson(history: Int32Array, list: Int32Array, meta: CatalogueView): { categories: string[]; history: number[]; list: number[] } {
  const nc = meta.catNames.length;
  const h = new Float64Array(nc);
  const l = new Float64Array(nc);
  if (nc > 0) {
    tasteDistribution(history, meta.cats, h);
    tasteDistribution(list, meta.cats, l);
  }
  const r = (x: number): number => Math.round(x * 1e4) / 1e4;
  return { categories: meta.catNames, history: Array.from(h, r), list: Array.from(l, r) };
}
