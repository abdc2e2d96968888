/**
 * The live catalogue (LiveData's items, live.ts): every item of the store in memory, and the
 * latest item changes with a version, so that the engines' views catch up without a rebuild.
 */
import type { ItemRecord } from '../store/types.js';

/** What an item upsert or deletion changed (LiveData.itemChangesSince). */
export interface ItemChange {
  /** The itemsVersion the change made. */
  version: number;
  id: string;
  /** 'title': only the title; 'catalogue': categories, a new item or a deletion. */
  kind: 'title' | 'catalogue';
}

/** Item changes kept for the engines to catch up on (more than this: they rebuild). */
const MAX_ITEM_CHANGES = 10_000;

export class LiveItems {
  readonly items = new Map<string, ItemRecord>();
  /** Increases with every item upsert or deletion that changed something. */
  itemsVersion = 0;
  /** The latest item changes, oldest first (at most MAX_ITEM_CHANGES). */
  protected itemChanges: ItemChange[] = [];

  /**
   * Upserts items. Only real changes count: an unchanged item changes nothing, a new title is a
   * 'title' change, new categories or a new item a 'catalogue' change (ItemChange).
   */
  upsertItems(items: readonly ItemRecord[]): void {
    let changed = false;
    for (const it of items) {
      const old = this.items.get(it.id);
      this.items.set(it.id, it);
      let kind: ItemChange['kind'] | null = null;
      if (!old || old.categories.length !== it.categories.length || old.categories.some((c, j) => c !== it.categories[j])) kind = 'catalogue';
      else if (old.title !== it.title) kind = 'title';
      if (kind === null) continue;
      if (!changed) this.itemsVersion++;
      changed = true;
      this.noteItemChange({ version: this.itemsVersion, id: it.id, kind });
    }
  }

  protected noteItemChange(c: ItemChange): void {
    this.itemChanges.push(c);
    if (this.itemChanges.length > 2 * MAX_ITEM_CHANGES) this.itemChanges = this.itemChanges.slice(-MAX_ITEM_CHANGES);
  }

  /**
   * The item changes after `version`, oldest first, or null when some of them are no longer kept
   * (the caller then rebuilds from the items).
   */
  itemChangesSince(version: number): ItemChange[] | null {
    if (version >= this.itemsVersion) return [];
    const first = this.itemChanges[0];
    if (!first || first.version > version + 1) return null;
    let a = this.itemChanges.length;
    while (a > 0 && this.itemChanges[a - 1]!.version > version) a--;
    return this.itemChanges.slice(a);
  }
}
