/**
 * `npm run bench:user-cache`: the memory of the service's live data (src/serve/live.ts) against
 * the size of the store. Synthetic SQLite stores with the same users and catalogue and more events
 * per user (BENCH_USERS users, default 20,000; BENCH_ITEMS items, default 5,000; BENCH_EVENTS, a
 * comma list of store sizes, default 500000,2000000), written straight into the store's tables.
 * For each size and each mode (the user cache of BENCH_CACHE users, default 1,000, and the mirror
 * of every user, `--user-cache 0`), a fresh process loads the live data as `personae serve` does,
 * then reads BENCH_READS users (default 5,000) the way a request does (`ensureUser`), and reports
 * the V8 heap and RSS after a full GC at both points, with the load and read times.
 *
 * With the cache, the heap after the load holds the items, the ids of the users with feedback and
 * the per-item positive counts: it does not grow with the number of events; the mirror's does.
 * Times on a loaded machine are not figures.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { DEFAULT_FEEDBACK_TYPES, LiveData } from '../src/serve/live.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { Rng } from '../src/math/rng.js';

const USERS = Number(process.env.BENCH_USERS ?? 20_000);
const ITEMS = Number(process.env.BENCH_ITEMS ?? 5_000);
const SIZES = (process.env.BENCH_EVENTS ?? '500000,2000000').split(',').map(Number);
const CACHE = Number(process.env.BENCH_CACHE ?? 1_000);
const READS = Number(process.env.BENCH_READS ?? 5_000);

const MB = (b: number): number => Math.round(b / 2 ** 20);

/** A store of `events` events: user u's events spread evenly, items by a skewed draw, 60% likes, 40% views. */
async function fill(file: string, events: number): Promise<void> {
  const s = new SqliteStore(file, { writerThread: false });
  await s.init();
  await s.close();
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const rng = new Rng(7);
  db.transaction(() => {
    const item = db.prepare('INSERT INTO items (id, title, categories) VALUES (?, ?, ?)');
    for (let i = 0; i < ITEMS; i++) item.run(`i${i}`, `Item ${i}`, JSON.stringify([`c${i % 20}`]));
    const user = db.prepare("INSERT INTO users (id, attributes) VALUES (?, '{}')");
    for (let u = 0; u < USERS; u++) user.run(`u${u}`);
    const fb = db.prepare('INSERT INTO feedback (user_id, item_id, type, value, ts) VALUES (?, ?, ?, ?, ?)');
    for (let e = 0; e < events; e++) {
      const i = Math.floor(ITEMS * rng.next() ** 2);
      fb.run(`u${e % USERS}`, `i${i}`, rng.next() < 0.6 ? 'like' : 'view', 1, 1_600_000_000_000 + e);
    }
  })();
  db.close();
}

function heap(): { heapMB: number; rssMB: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { heapMB: MB(m.heapUsed), rssMB: MB(m.rss) };
}

/** One measurement in this process: load the live data of `file`, read users, report as JSON. */
async function measure(file: string, cache: number): Promise<void> {
  const store = new SqliteStore(file, { writerThread: false });
  await store.init();
  const base = heap();
  const t0 = performance.now();
  const live = await LiveData.load(store, DEFAULT_FEEDBACK_TYPES, { userCache: cache });
  const loadMs = performance.now() - t0;
  const loaded = heap();
  const rng = new Rng(11);
  const t1 = performance.now();
  let events = 0;
  for (let r = 0; r < READS; r++) events += (await live.ensureUser(store, `u${Math.floor(rng.next() * USERS)}`))?.events ?? 0;
  const readMs = performance.now() - t1;
  const read = heap();
  await store.close();
  process.stdout.write(
    JSON.stringify({
      mode: cache > 0 ? `cache ${cache}` : 'mirror',
      events: live.feedbackCount,
      cachedUsers: live.users.size,
      heapBaseMB: base.heapMB,
      heapAfterLoadMB: loaded.heapMB,
      heapAfterReadsMB: read.heapMB,
      rssAfterReadsMB: read.rssMB,
      loadMs: Math.round(loadMs),
      readUsPerUser: Math.round((readMs * 1000) / READS),
      eventsRead: events,
    }) + '\n',
  );
}

const self = fileURLToPath(import.meta.url);
if (process.argv[2] === '--measure') {
  await measure(process.argv[3]!, Number(process.argv[4]));
} else {
  const rows: Record<string, unknown>[] = [];
  for (const size of SIZES) {
    const file = join(tmpdir(), `personae-user-cache-${process.pid}-${size}.db`);
    try {
      await fill(file, size);
      for (const cache of [CACHE, 0]) {
        const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', self, '--measure', file, String(cache)], { encoding: 'utf8', maxBuffer: 1 << 24 });
        if (r.status !== 0) throw new Error(`measurement failed: ${r.stderr}`);
        rows.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>);
        process.stderr.write(`${JSON.stringify(rows[rows.length - 1])}\n`);
      }
    } finally {
      for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) rmSync(f);
    }
  }
  console.log(`users ${USERS}, items ${ITEMS}, reads ${READS}`);
  console.table(rows);
}
