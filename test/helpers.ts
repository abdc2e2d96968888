/** Shared test fixtures: the real ml-latest-small (read from ../shared/data, never copied). */
import { fileURLToPath } from 'node:url';
import type { InteractionLog } from '../src/data/dataset.js';
import { readDataset } from '../src/data/readers/index.js';

export const ML_SMALL = fileURLToPath(new URL('../../shared/data/ml-latest-small', import.meta.url));

let cached: Promise<InteractionLog> | null = null;

/** ml-latest-small, read once per test process. */
export function mlSmall(): Promise<InteractionLog> {
  cached ??= readDataset(ML_SMALL, { format: 'auto' });
  return cached;
}
