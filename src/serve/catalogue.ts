/**
 * The catalogue as a served model sees it: titles, categories, the live candidates, the cold-start
 * order and the explanation context, in the model's item index space, kept in step with the live
 * items. A new title is patched in place (cached answers are re-rendered); new categories, a new or
 * deleted model item rebuild it (labels, candidates and the cold-start order; cached profiles and
 * answers follow). Items the model does not know change nothing here. Persona sets, scores and
 * confidences never depend on it.
 */
import { buildCategories, categoriesOf, tasteDistribution, type ItemCategories } from '../data/categories.js';
import type { IdMap } from '../data/ids.js';
import type { ExplainContext } from '../explain/explain.js';
import { popularDiverseOrder } from '../rank/cold-start.js';
import type { LiveData } from './live.js';

export interface CatalogueView {
  /** The LiveData.itemsVersion this view reflects. */
  version: number;
  /** Increases when categories or the set of live items change (labels, candidates, cold order). */
  catalogue: number;
  /** Increases with any change an answer shows (titles included). */
  answers: number;
  titles: string[];
  catNames: string[];
  cats: ItemCategories;
  itemCats: string[][];
  /** Model candidates still in the catalogue, ascending. */
  candidates: Int32Array;
  byCategory: Map<string, Int32Array>;
  /** Popular-but-diverse order of the candidates (cold start, rank/cold-start.ts). */
  coldOrder: Int32Array;
  coldScores: Float32Array;
  explain: ExplainContext;
}

export class Catalogue {
  private view: CatalogueView | null = null;

  constructor(
    private readonly items: IdMap,
    private readonly live: LiveData,
    /** 1 for the model's candidates (items with training popularity). */
    private readonly isCandidate: Uint8Array,
    private readonly popularity: Int32Array,
    private readonly itemRanks: Int32Array,
    /** Called when the view is rebuilt (caches keyed by catalogue content drop then). */
    private readonly onRebuild: () => void,
  ) {}

  /** The view for the live items now. */
  current(): CatalogueView {
    const m = this.view;
    if (m && m.version === this.live.itemsVersion) return m;
    if (m) {
      const changes = this.live.itemChangesSince(m.version);
      let rebuild = changes === null;
      let titles = false;
      for (const c of changes ?? []) {
        const i = this.items.lookup(c.id);
        if (i < 0) continue; // not in the model: nothing served changes
        if (c.kind === 'catalogue') rebuild = true;
        else {
          m.titles[i] = this.live.items.get(c.id)?.title || c.id;
          titles = true;
        }
      }
      if (!rebuild) {
        m.version = this.live.itemsVersion;
        if (titles) m.answers++;
        return m;
      }
    }
    this.view = this.build(m);
    this.onRebuild();
    return this.view;
  }

  private build(m: CatalogueView | null): CatalogueView {
    const n = this.items.size;
    const titles: string[] = new Array<string>(n);
    const itemCats: string[][] = new Array<string[]>(n);
    const alive: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = this.items.id(i);
      const rec = this.live.items.get(id);
      titles[i] = rec?.title || id;
      itemCats[i] = rec?.categories ?? [];
      if (rec && this.isCandidate[i]) alive.push(i);
    }
    const cats = buildCategories(n, (i) => itemCats[i]!);
    const candidates = Int32Array.from(alive);
    const byCategory = new Map<string, Int32Array>();
    cats.names.forEach((name, ci) => byCategory.set(name, candidates.filter((i) => categoriesOf(cats, i).includes(ci))));
    // the population's taste mix (labels are contrasted with it): popularity-weighted categories
    const baseline = new Float64Array(cats.names.length);
    const weighted: number[] = [];
    for (const i of candidates) for (let r = 0; r < Math.min(this.popularity[i]!, 1000); r++) weighted.push(i);
    if (cats.names.length > 0) tasteDistribution(Int32Array.from(weighted), cats, baseline);
    const { order, scores } = popularDiverseOrder(candidates, cats, this.popularity, this.itemRanks);
    const items = this.items;
    return {
      version: this.live.itemsVersion,
      catalogue: (m?.catalogue ?? 0) + 1,
      answers: (m?.answers ?? 0) + 1,
      titles,
      catNames: cats.names.slice(),
      cats,
      itemCats,
      candidates,
      byCategory,
      coldOrder: order,
      coldScores: scores,
      explain: { nItems: n, categories: cats.names.length > 0 ? cats : null, titles, itemName: (i) => items.id(i), baseline, anchors: 3 },
    };
  }
}
