/** `personae world`: write a seeded synthetic world with planted personas to a folder. */
import { Command, Option } from 'commander';
import { resolveWorldConfig, WORLD_PRESETS, writeWorld, type WorldConfigInput } from '../../synth/world.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FRIENDS_FILE, friendsCsv, interactionsTruthCsv, parseFriends, plantFriends, ratingsCsv } from '../../synth/social.js';
import { WORLD_FILES, worldToLog } from '../../synth/world.js';
import { createProgress } from '../progress.js';
import { parseInteger } from '../shared.js';

interface WorldFlags {
  out: string;
  preset: keyof typeof WORLD_PRESETS;
  seed?: number;
  users?: number;
  items?: number;
  categories?: number;
  population?: string;
  friends?: string;
  quiet?: boolean;
}

export function worldCommand(): Command {
  return new Command('world')
    .description('generate a synthetic world with planted personas (interactions, item categories, ground truth)')
    .requiredOption('--out <dir>', 'folder to write ratings.csv, items.csv, truth.jsonl, interactions-truth.csv, world.json')
    .addOption(new Option('--preset <name>', 'size preset').choices(Object.keys(WORLD_PRESETS)).default('default'))
    .option('--seed <n>', 'root seed', parseInteger('--seed'))
    .option('--users <n>', 'number of users', parseInteger('--users', 1))
    .option('--items <n>', 'number of items', parseInteger('--items', 1))
    .option('--categories <n>', 'number of taste categories', parseInteger('--categories', 1))
    .option('--population <spec>', "'mixed', 'split:51/49' (two opposed groups) or 'split:51/49,bridge:0.15' (plus a share of users holding both sides)")
    .option('--friends <spec>', "plant a friend graph: 'N[,diff:<share>][,influence:<share>]' (N friends per user, a share with different tastes, the share of persona rows that come through a friend); writes friends.csv and a friend column in interactions-truth.csv")
    .option('--quiet', 'no progress output')
    .action(async (flags: WorldFlags) => {
      const input: WorldConfigInput = {
        ...WORLD_PRESETS[flags.preset],
        ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
        ...(flags.users !== undefined ? { users: flags.users } : {}),
        ...(flags.items !== undefined ? { items: flags.items } : {}),
        ...(flags.categories !== undefined ? { categories: flags.categories } : {}),
        ...(flags.population !== undefined ? { population: flags.population } : {}),
      };
      const friends = flags.friends !== undefined ? parseFriends(flags.friends) : null;
      const config = resolveWorldConfig(input);
      const progress = createProgress({ quiet: flags.quiet ?? false });
      const summary = await writeWorld(config, flags.out, (p) => progress.update('world', p.users, p.totalUsers, `${p.interactions} interactions`));
      progress.stop();
      if (friends) {
        // the friend graph needs every user's rows: plant it in memory and rewrite the row files
        const w = plantFriends(worldToLog(config), friends, config.seed);
        writeFileSync(join(flags.out, WORLD_FILES.ratings), ratingsCsv(w));
        writeFileSync(join(flags.out, WORLD_FILES.interactionsTruth), interactionsTruthCsv(w));
        writeFileSync(join(flags.out, FRIENDS_FILE), friendsCsv(w));
        const through = w.rowFriend.reduce((n, f) => n + (f >= 0 ? 1 : 0), 0);
        process.stdout.write(`${JSON.stringify({ friends, edges: w.edges.user.length, rowsThroughFriends: through })}\n`);
      }
      process.stdout.write(`${JSON.stringify(summary)}\nwrote ${flags.out}\n`);
    });
}
