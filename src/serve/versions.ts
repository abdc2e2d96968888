/**
 * Model versions and rollback: which kept version the service serves. A rollback (activating an
 * older version) swaps the engine at once and pins the version in the store, with the newest
 * version recorded at that moment: a restart serves the pinned version while no newer version has
 * been trained since; a training (from any process) makes the pin lapse, and the new version serves.
 */
import { Engine } from './engine.js';
import { readTrainPositives } from './stored-train.js';
import { loadModel } from './model-file.js';
import type { ModelRecord, Store } from '../store/types.js';

/** The store setting holding the pin: {"version": v, "newest": the newest version when pinned}. */
export const PIN_KEY = 'model.pin';

export interface ModelPin {
  version: number;
  newest: number;
}

export async function readPin(store: Store): Promise<ModelPin | null> {
  const raw = await store.getSetting(PIN_KEY);
  if (raw === null) return null;
  try {
    const p = JSON.parse(raw) as Partial<ModelPin>;
    return Number.isInteger(p.version) && Number.isInteger(p.newest) ? { version: p.version!, newest: p.newest! } : null;
  } catch {
    return null;
  }
}

/** The pinned version when the pin still holds for these records (newest first): no version newer than the pin's `newest`. */
export function pinHolds(pin: ModelPin | null, models: readonly ModelRecord[]): number | null {
  if (!pin || models.length === 0) return null;
  if (models[0]!.version !== pin.newest) return null;
  return models.some((m) => m.version === pin.version) ? pin.version : null;
}

/** Records newest first, with the pinned version (if the pin holds) moved to the front: the order a start tries to load them. */
export async function loadOrder(store: Store, models: readonly ModelRecord[]): Promise<ModelRecord[]> {
  const pinned = pinHolds(await readPin(store), models);
  if (pinned === null) return [...models];
  return [...models.filter((m) => m.version === pinned), ...models.filter((m) => m.version !== pinned)];
}

/**
 * Loads `record` into a new engine over `live`, warmed, ready to be swapped in. Pins it (or clears
 * the pin when it is the newest version) so that a restart serves it too.
 */
export async function activate(store: Store, record: ModelRecord, live: Engine['live']): Promise<{ engine: Engine; pinned: boolean }> {
  const loaded = loadModel(record);
  await readTrainPositives(store, live, loaded);
  const engine = new Engine(loaded, live);
  engine.warm();
  const newest = (await store.listModels())[0]?.version ?? record.version;
  const pinned = record.version !== newest;
  await store.setSetting(PIN_KEY, pinned ? JSON.stringify({ version: record.version, newest } satisfies ModelPin) : null);
  return { engine, pinned };
}
