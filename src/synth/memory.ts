/** A small world in memory: its InteractionLog and its planted truth, row-aligned. */
import { LogBuilder, type InteractionLog } from '../data/dataset.js';
import type { WorldConfigInput } from './config.js';
import { World, type UserTruth } from './model.js';

/**
 * The planted truth of a world in memory: the world's config, its items' popularity weights and
 * polarities (by item index of the log, the item ID minus 1), and:
 */
export interface WorldTruth extends Pick<World, 'config' | 'itemPopularity' | 'itemPolarity'> {
  readonly categories: readonly string[];
  /** Planted persona of every log row (-1 = noise), aligned with the log's rows. */
  readonly rowPersona: Int8Array;
  /** By user index of the log (which is the user ID minus 1). */
  readonly users: readonly UserTruth[];
  /**
   * Split populations: the side (0 = A, 1 = B) whose view of the contested items produced each
   * log row (a bridging user's rows follow their persona's side); -1 for noise rows and mixed
   * populations. Aligned with the log's rows.
   */
  readonly rowSide: Int8Array;
  /** By user index: 0 = group A, 1 = group B, 2 = bridging (holds both sides), -1 = mixed population. */
  readonly userGroup: Int8Array;
}

/**
 * A small world in memory: the log (item index = item ID - 1, user index = user ID - 1, ratings
 * and timestamps set, categories and titles attached) and its truth.
 */
export function worldToLog(config: WorldConfigInput | World = {}): { log: InteractionLog; truth: WorldTruth } {
  const world = config instanceof World ? config : new World(config);
  const cfg = world.config;
  const b = new LogBuilder(`world-${cfg.seed}`);
  const itemIds: string[] = [];
  for (let i = 0; i < world.nItems; i++) {
    const id = String(i + 1);
    itemIds.push(id);
    b.setCategories(id, Array.from(world.itemCategories(i), (c) => world.categoryNames[c]!));
    b.setTitle(id, world.titles[i]!);
  }
  let rowPersona = new Int8Array(1 << 16);
  let rowSide = new Int8Array(1 << 16);
  const users: UserTruth[] = [];
  const userGroup = new Int8Array(cfg.users);
  const rows = world.newRows();
  for (let u = 0; u < cfg.users; u++) {
    const plan = world.generateUser(u, rows);
    users.push(world.userTruth(u, plan));
    userGroup[u] = plan.group;
    const id = String(u + 1);
    b.users.intern(id); // user index = u even for a user whose rows all failed to draw
    if (b.length + rows.length > rowPersona.length) {
      const grown = new Int8Array(Math.max(rowPersona.length * 2, b.length + rows.length));
      grown.set(rowPersona);
      rowPersona = grown;
      const grownSide = new Int8Array(grown.length);
      grownSide.set(rowSide);
      rowSide = grownSide;
    }
    for (let r = 0; r < rows.length; r++) {
      rowPersona[b.length] = rows.persona[r]!;
      rowSide[b.length] = rows.side[r]!;
      b.add(id, itemIds[rows.item[r]!]!, rows.rating[r]!, rows.timestamp[r]!);
    }
  }
  const log = b.build();
  return {
    log,
    truth: {
      config: cfg,
      categories: world.categoryNames,
      rowPersona: rowPersona.slice(0, log.length),
      rowSide: rowSide.slice(0, log.length),
      users,
      userGroup,
      itemPopularity: world.itemPopularity,
      itemPolarity: world.itemPolarity,
    },
  };
}

