/** The streaming API of the generator: a world written into a sink, item by item, user by user. */
import type { WorldConfigInput } from './config.js';
import { World, type Group, type PlantedPersona } from './model.js';

/** Receives a world as it is generated: every item first, then user by user in time order. */
export interface WorldSink {
  item(id: string, title: string, categories: readonly string[]): void;
  interaction(user: string, item: string, rating: number, timestamp: number, persona: number): void;
  user?(id: string, personas: readonly PlantedPersona[], group?: Group): void;
}

export interface GenerateOptions {
  /** First user index to generate (default 0). */
  from?: number;
  /** One past the last user index (default config.users). */
  to?: number;
  /** Whether to emit the items (default true). */
  items?: boolean;
}

export interface WorldSummary {
  users: number;
  items: number;
  interactions: number;
  positives: number;
}

/**
 * Generates a world into `sink`, streaming: items, then each user's truth and rows. Generating the
 * users [0, n) in any split into ranges gives the same rows. Returns the counts.
 */
export function generateWorld(config: WorldConfigInput | World, sink: WorldSink, options: GenerateOptions = {}): WorldSummary {
  const world = config instanceof World ? config : new World(config);
  const cfg = world.config;
  const from = options.from ?? 0;
  const to = Math.min(options.to ?? cfg.users, cfg.users);
  if (options.items ?? true) {
    for (let i = 0; i < world.nItems; i++) {
      sink.item(String(i + 1), world.titles[i]!, Array.from(world.itemCategories(i), (c) => world.categoryNames[c]!));
    }
  }
  const itemIds = Array.from({ length: world.nItems }, (_, i) => String(i + 1));
  const rows = world.newRows();
  let interactions = 0;
  let positives = 0;
  for (let u = from; u < to; u++) {
    const plan = world.generateUser(u, rows);
    const id = String(u + 1);
    if (sink.user) {
      const t = world.userTruth(u, plan);
      sink.user(id, t.personas, t.group);
    }
    for (let r = 0; r < rows.length; r++) {
      sink.interaction(id, itemIds[rows.item[r]!]!, rows.rating[r]!, rows.timestamp[r]!, rows.persona[r]!);
      if (rows.rating[r]! >= 4) positives++;
    }
    interactions += rows.length;
  }
  return { users: Math.max(0, to - from), items: world.nItems, interactions, positives };
}
