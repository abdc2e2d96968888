/** The optional item-category file: CSV / TSV or JSONL, item -> categories (and titles). */
import { DataError } from '../../errors.js';
import type { LogBuilder } from '../dataset.js';
import { badRow, CATEGORY_COLUMNS, chooseDelimiter, DEFAULT_COLUMNS, findColumn, own, quoteList, readTable, requireColumn, splitCategories, TITLE_COLUMNS, type ReadContext } from './generic.js';
import { describe, findKey, forEachJsonObject, isJsonlPath, jsonId } from './jsonl.js';

/**
 * Reads an item-category file: CSV / TSV with an item column and a `categories` (or `category`,
 * `genres`, `genre`) column of `|`-separated names and an optional `title` column, or JSONL
 * objects `{"item": ..., "categories": [...]}` (a `|`-separated string is accepted too). Items
 * not seen in the interactions are added to the item map; an empty list means "(none)".
 */
export async function readCategoryFile(
  builder: LogBuilder,
  file: string,
  ctx: ReadContext,
  options: { itemColumn?: string; delimiter?: string } = {},
): Promise<void> {
  const itemCandidates = options.itemColumn !== undefined ? [options.itemColumn, ...DEFAULT_COLUMNS.item] : DEFAULT_COLUMNS.item;
  if (isJsonlPath(file)) {
    await readJsonlCategories(builder, file, ctx, itemCandidates);
    return;
  }
  const delimiter = await chooseDelimiter(file, options.delimiter);
  let ii = 0;
  let ci = 0;
  let ti = -1;
  let names: readonly string[] = [];
  await readTable(
    file,
    ctx,
    builder,
    { delimiter, quotes: true },
    (header, line) => {
      ii = requireColumn(header, itemCandidates, 'item', file, line);
      ci = requireColumn(header, CATEGORY_COLUMNS, 'categories', file, line);
      ti = findColumn(header, TITLE_COLUMNS);
      names = header;
    },
    (f, _line, bad) => {
      const item = f[ii]!;
      if (item.length === 0) {
        bad('empty item id', names[ii]);
        return false;
      }
      builder.setCategories(own(item), splitCategories(f[ci]!));
      if (ti >= 0) {
        const title = f[ti]!.trim();
        if (title.length > 0) builder.setTitle(item, own(title));
      }
      return true;
    },
  );
}

async function readJsonlCategories(
  builder: LogBuilder,
  file: string,
  ctx: ReadContext,
  itemCandidates: readonly string[],
): Promise<void> {
  let itemKey: string | null = null;
  let catKey: string | null = null;
  let good = 0;
  const bad = (message: string, line: number, field?: string): void =>
    badRow(ctx, builder, message, field === undefined ? { file, line } : { file, line, field });
  await forEachJsonObject(
    file,
    ctx,
    bad,
    () => 'expected a JSON object',
    (obj, line) => {
      if (itemKey === null || catKey === null) {
        itemKey = findKey(obj, itemCandidates);
        catKey = findKey(obj, CATEGORY_COLUMNS);
        const found = quoteList(Object.keys(obj)) || 'none';
        if (itemKey === null) {
          throw new DataError(`no item field: expected one of ${quoteList(itemCandidates)} (found keys: ${found})`, {
            file,
            line,
            field: 'item',
          });
        }
        if (catKey === null) {
          throw new DataError(`no categories field: expected one of ${quoteList(CATEGORY_COLUMNS)} (found keys: ${found})`, {
            file,
            line,
            field: 'categories',
          });
        }
      }
      const item = jsonId(obj[itemKey]);
      if (item === undefined) {
        bad(`item id is ${describe(obj[itemKey])}; expected a non-empty string or a number`, line, itemKey);
        return;
      }
      const raw = obj[catKey];
      let cats: string[];
      if (typeof raw === 'string') cats = splitCategories(raw);
      else if (Array.isArray(raw) && raw.every((c) => typeof c === 'string')) {
        cats = (raw as string[]).map((c) => c.trim()).filter((c) => c.length > 0);
      } else if (raw === null || raw === undefined) cats = [];
      else {
        bad(`categories are ${JSON.stringify(raw)}; expected an array of strings or a "|"-separated string`, line, catKey);
        return;
      }
      builder.setCategories(item, cats);
      const title = obj['title'];
      if (typeof title === 'string' && title.trim().length > 0) builder.setTitle(item, title.trim());
      good++;
    },
  );
  if (good === 0) throw new DataError('no rows: every line is malformed', { file });
}
