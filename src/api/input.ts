/** Checking what callers give the library front door: string ids, logs given as objects, counts. */
import { LogBuilder, type InteractionLog } from '../data/dataset.js';
import { IdMap } from '../data/ids.js';
import { ConfigError, DataError } from '../errors.js';
import type { Interaction, ItemInfo } from './types.js';

export function isInteractionLog(x: unknown): x is InteractionLog {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && (x as Partial<InteractionLog>).users instanceof IdMap;
}

/** A non-empty string id (a DataError names `field` otherwise). */
export function checkId(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new DataError(`expected a non-empty string id, got ${JSON.stringify(value) ?? String(value)}`, { field });
  return value;
}

/** An InteractionLog from objects, checking every row (a DataError names the row and field). */
export function logFromInteractions(rows: readonly Interaction[], items: readonly ItemInfo[] = [], name = 'interactions'): InteractionLog {
  if (!Array.isArray(rows)) throw new DataError('expected an array of {user, item, rating?, timestamp?}', { field: 'log' });
  const b = new LogBuilder(name);
  rows.forEach((r, k) => {
    const at = `log[${k}]`;
    if (typeof r !== 'object' || r === null) throw new DataError('expected an object {user, item, rating?, timestamp?}', { field: at });
    const user = checkId(r.user, `${at}.user`);
    const item = checkId(r.item, `${at}.item`);
    let rating = Number.NaN;
    if (r.rating !== undefined) {
      if (typeof r.rating !== 'number' || !Number.isFinite(r.rating)) throw new DataError(`expected a finite number, got ${String(r.rating)}`, { field: `${at}.rating` });
      rating = r.rating;
    }
    let time = Number.NaN;
    if (r.timestamp !== undefined) {
      time = r.timestamp instanceof Date ? r.timestamp.getTime() / 1000 : r.timestamp;
      if (typeof time !== 'number' || !Number.isFinite(time)) throw new DataError(`expected a finite number or a valid Date, got ${String(r.timestamp)}`, { field: `${at}.timestamp` });
    }
    b.add(user, item, rating, time);
  });
  if (b.length === 0) throw new DataError('the log is empty', { field: 'log' });
  items.forEach((info, k) => {
    const at = `items[${k}]`;
    const id = checkId(info?.item, `${at}.item`);
    if (info.title !== undefined) {
      if (typeof info.title !== 'string') throw new DataError('expected a string', { field: `${at}.title` });
      b.setTitle(id, info.title);
    }
    if (info.categories !== undefined) {
      if (!Array.isArray(info.categories) || !info.categories.every((c) => typeof c === 'string' && c.length > 0)) {
        throw new DataError('expected an array of non-empty strings', { field: `${at}.categories` });
      }
      b.setCategories(id, info.categories);
    }
  });
  return b.build();
}

export function checkPositiveInteger(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`expected a positive integer, got ${value}`, field);
  return value;
}
