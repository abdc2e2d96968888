// personae as a library: fit on a small generated world, explained recommendations, a new user
// from a few item ids, save, load, same answers. test/package.test.ts runs this file against the
// packed and installed package.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Recommender, worldToLog } from 'personae';

// A small synthetic world: users with planted tastes over 6 categories, items with titles.
// Your own data: an array of { user, item, rating?, timestamp? } with string ids, or readDataset(path).
const { log } = worldToLog({ users: 300, items: 240, categories: 6, meanInteractions: 30, seed: 7 });

// Fit the persona model; the same seed gives the same model.
const recommender = await Recommender.fit(log, { model: 'personas', seed: 42 });

// A user with two or more tastes, their top 5, and which taste each item serves.
const user = recommender.users().find((u) => (recommender.tastes(u)?.length ?? 0) >= 2) ?? '1';
const recs = recommender.recommend(user, { n: 5, explain: true });
for (const t of recs.tastes ?? []) {
  console.log(`user ${user}, taste ${t.taste + 1}: ${t.label} (${Math.round(100 * t.share)}% of the history)`);
}
for (const item of recs.items) {
  console.log(`  ${item.title}: ${item.explanation?.sentence ?? `(${item.withheld})`}`);
}

// A new user from a few item ids, without refitting (unknown ids are ignored and listed).
const guest = recommender.foldIn(['3', '17', '42']);
console.log('new user:', guest.recommend({ n: 3 }).items.map((i) => i.title).join('; '));

// Save (one versioned, checksummed file), load, and get the same answers.
const file = join(mkdtempSync(join(tmpdir(), 'personae-example-')), 'model.personae');
await recommender.save(file);
const loaded = await Recommender.load(file);
const same = JSON.stringify(loaded.recommend(user, { n: 5, explain: true })) === JSON.stringify(recs);
if (!same) throw new Error('the loaded model answers differently');
console.log(`saved to ${file}; loaded: same answers`);
