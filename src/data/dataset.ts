/**
 * An interaction log as read from disk: one row per event, string IDs mapped to dense indices,
 * columns in typed arrays (a 25M-row log is a few hundred MB, not 25M objects). Readers fill a
 * `LogBuilder`; `build()` freezes it into an `InteractionLog`.
 */
import { buildCategories, type ItemCategories } from './categories.js';
import { IdMap } from './ids.js';

export { categoriesOf, type ItemCategories } from './categories.js';

export interface InteractionLog {
  readonly name: string;
  readonly users: IdMap;
  readonly items: IdMap;
  readonly length: number;
  readonly user: Int32Array;
  readonly item: Int32Array;
  /** Explicit ratings, or null for implicit data (every row is then a positive). */
  readonly rating: Float32Array | null;
  /** Seconds since the epoch (or any increasing clock), or null when the data has no time. */
  readonly timestamp: Float64Array | null;
  /** Categories by item index, or null when the data has none (category metrics are then null). */
  readonly categories: ItemCategories | null;
  /** Titles by item index (undefined where unknown), or null. */
  readonly titles: readonly (string | undefined)[] | null;
  /** Rows a reader skipped with --skip-bad-rows, with the first few reasons. */
  readonly skipped: { count: number; examples: string[] };
}

const NONE_CATEGORY = '(none)';

/** Growable column store filled row by row. */
export class LogBuilder {
  readonly users = new IdMap();
  readonly items = new IdMap();
  private capacity = 1024;
  private n = 0;
  private userCol = new Int32Array(this.capacity);
  private itemCol = new Int32Array(this.capacity);
  private ratingCol: Float32Array | null = new Float32Array(this.capacity);
  private timeCol: Float64Array | null = new Float64Array(this.capacity);
  private itemCats = new Map<number, string[]>();
  private itemTitles = new Map<number, string>();
  private hasRating = false;
  private hasTime = false;
  private skippedCount = 0;
  private skippedExamples: string[] = [];

  constructor(readonly name: string) {}

  /** Adds one event. `rating` / `timestamp` may be NaN when the source has no such column. */
  add(userId: string, itemId: string, rating = Number.NaN, timestamp = Number.NaN): void {
    if (this.n === this.capacity) this.grow();
    const k = this.n++;
    this.userCol[k] = this.users.intern(userId);
    this.itemCol[k] = this.items.intern(itemId);
    this.ratingCol![k] = rating;
    this.timeCol![k] = timestamp;
    if (!Number.isNaN(rating)) this.hasRating = true;
    if (!Number.isNaN(timestamp)) this.hasTime = true;
  }

  /** Sets an item's categories (an empty list means "(none)"). The item is added to the ID map. */
  setCategories(itemId: string, categories: readonly string[]): void {
    this.itemCats.set(this.items.intern(itemId), categories.length > 0 ? [...categories] : [NONE_CATEGORY]);
  }

  setTitle(itemId: string, title: string): void {
    this.itemTitles.set(this.items.intern(itemId), title);
  }

  skip(reason: string): void {
    this.skippedCount++;
    if (this.skippedExamples.length < 5) this.skippedExamples.push(reason);
  }

  get length(): number {
    return this.n;
  }

  private grow(): void {
    this.capacity *= 2;
    const u = new Int32Array(this.capacity);
    u.set(this.userCol);
    this.userCol = u;
    const it = new Int32Array(this.capacity);
    it.set(this.itemCol);
    this.itemCol = it;
    const r = new Float32Array(this.capacity);
    r.set(this.ratingCol!);
    this.ratingCol = r;
    const t = new Float64Array(this.capacity);
    t.set(this.timeCol!);
    this.timeCol = t;
  }

  build(): InteractionLog {
    const n = this.n;
    const categories = this.itemCats.size > 0 ? buildCategories(this.items.size, (i) => this.itemCats.get(i) ?? [NONE_CATEGORY]) : null;
    let titles: (string | undefined)[] | null = null;
    if (this.itemTitles.size > 0) {
      titles = new Array<string | undefined>(this.items.size);
      for (const [i, t] of this.itemTitles) titles[i] = t;
    }
    return {
      name: this.name,
      users: this.users,
      items: this.items,
      length: n,
      user: this.userCol.subarray(0, n),
      item: this.itemCol.subarray(0, n),
      rating: this.hasRating ? this.ratingCol!.subarray(0, n) : null,
      timestamp: this.hasTime ? this.timeCol!.subarray(0, n) : null,
      categories,
      titles,
      skipped: { count: this.skippedCount, examples: this.skippedExamples.slice() },
    };
  }
}
