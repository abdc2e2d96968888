/** The types of the library front door (api/recommender.ts): what goes in and what comes out. */
import type { ItemCategories } from '../data/dataset.js';
import type { IdMap } from '../data/ids.js';
import type { ModelParams, ProgressEvent, Recommender as Model, TrainSet } from '../models/model.js';

/** One event of an interaction log given as objects. */
export interface Interaction {
  readonly user: string;
  readonly item: string;
  /** Explicit rating; rows under `minRating` are not positives. Omit for implicit data. */
  readonly rating?: number;
  /** Seconds since the epoch (or any increasing clock), or a Date. */
  readonly timestamp?: number | Date;
}

/** Optional item metadata: titles and categories (used by explanations' taste labels). */
export interface ItemInfo {
  readonly item: string;
  readonly title?: string;
  readonly categories?: readonly string[];
}

export interface FitOptions {
  /** A registered model name (default 'personas'). */
  readonly model?: string;
  /** The model's parameters (validated by its schema; unknown keys are errors). */
  readonly params?: ModelParams;
  /** Root seed of every random stream (default 42, as the CLI). Same seed, same model. */
  readonly seed?: number;
  /** Worker threads for fitting (default 1); results do not depend on it. */
  readonly threads?: number;
  /** Ratings at or above are positives when the log has ratings (default 4, as the CLI). */
  readonly minRating?: number;
  /** Titles and categories of items, for a log given as objects. */
  readonly items?: readonly ItemInfo[];
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: ProgressEvent) => void;
}

export interface RecommendOptions {
  /** How many items (default 10). */
  readonly n?: number;
  /** Explain each item by the persona (taste) that carries it; needs a model with personas. */
  readonly explain?: boolean;
  /** More item ids to leave out (the user's own positives are always left out). */
  readonly exclude?: readonly string[];
}

/** A taste of a user: one persona, what it stands for and how much of the history it explains. */
export interface Taste {
  /** 0-based persona index. */
  readonly taste: number;
  /** e.g. "Sci-Fi / Thriller"; null when the data has no categories. */
  readonly label: string | null;
  /** Share of the user's history this persona explains best. */
  readonly share: number;
  /** History items belonging to it. */
  readonly size: number;
  /** The user's own items that stand for it (ids), most typical first. */
  readonly anchors: readonly string[];
  readonly anchorTitles: readonly string[];
}

export interface Explanation {
  /** The persona that carries the item (index into `tastes`). */
  readonly taste: number;
  readonly label: string | null;
  /** Its weight for the item (the weights of all personas sum to 1). */
  readonly weight: number;
  readonly weights: readonly number[];
  /** The persona's share of the history. */
  readonly share: number;
  readonly anchors: readonly string[];
  /** e.g. "because of your Sci-Fi taste (72%), like Alien and The Matrix". */
  readonly sentence: string;
}

export interface RecommendedItem {
  readonly item: string;
  readonly score: number;
  readonly title: string | null;
  readonly categories: readonly string[];
  /** With `explain`: the explanation, or null with `withheld` saying why. */
  readonly explanation?: Explanation | null;
  readonly withheld?: string;
}

export interface Recommendations {
  /** The user id, or null for a folded-in history. */
  readonly user: string | null;
  readonly model: string;
  readonly items: readonly RecommendedItem[];
  /** With `explain`: the user's tastes. */
  readonly tastes?: readonly Taste[];
}

/** A history folded into the model without refitting (a new or anonymous user). */
export interface FoldedUser {
  /** The history's items known to the model, ascending by index. */
  readonly history: readonly string[];
  /** Item ids of the history the model does not know (ignored). */
  readonly ignored: readonly string[];
  recommend(opts?: RecommendOptions): Recommendations;
  /** The tastes of the history (null for a model without personas or an empty history). */
  tastes(): readonly Taste[] | null;
}

/**
 * A fitted model with its training set and id spaces: what `Recommender.fitted` exposes to code
 * below the high-level interface (the CLI's recommend and batch score with it).
 */
export interface FittedModel {
  readonly model: Model;
  readonly modelName: string;
  readonly train: TrainSet;
  readonly users: IdMap;
  readonly items: IdMap;
  readonly titles: readonly (string | undefined)[] | null;
  readonly categories: ItemCategories | null;
  readonly minRating: number;
  readonly seed: number;
}
