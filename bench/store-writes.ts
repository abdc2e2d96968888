/**
 * `npm run bench:store-writes`: the store's feedback write alone, no HTTP. BENCH_WRITERS closed-loop
 * writers (default 4) each append one like at a time for BENCH_SECONDS (default 5) to a fresh store:
 * writes/s, latency, and how long the event loop was busy per write (performance
 * .eventLoopUtilization: what a write costs the requests that share the main thread).
 *
 * BENCH_STORE: `sqlite` (default: a file in the temp folder, group commit on the writer thread),
 * `sqlite-inline` (the same file, every write committed on the main thread), or a `postgres://` URL
 * (a schema created and dropped for the run).
 */
import { rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgStore } from '../src/store/postgres.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { Store } from '../src/store/types.js';

const kind = process.env.BENCH_STORE ?? 'sqlite';
const WRITERS = Number(process.env.BENCH_WRITERS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const file = join(tmpdir(), `personae-store-writes-${process.pid}.db`);

let store: Store;
if (kind.startsWith('postgres')) store = new PgStore(kind, `bench_writes_${process.pid}`);
else if (kind === 'sqlite' || kind === 'sqlite-inline') store = new SqliteStore(file, { writerThread: kind === 'sqlite' });
else throw new Error(`BENCH_STORE: expected sqlite, sqlite-inline or a postgres:// URL, got "${kind}"`);
await store.init();
try {
  await store.addFeedback([{ user: 'warm', item: 'i', type: 'like', value: 1, ts: 1 }]);
  const latency: number[] = [];
  const elu0 = performance.eventLoopUtilization();
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      for (let k = 0; performance.now() < end; k++) {
        const t0 = performance.now();
        await store.addFeedback([{ user: `u${w}`, item: `i${k}`, type: 'like', value: 1, ts: 1 }]);
        latency.push(performance.now() - t0);
      }
    }),
  );
  const elu = performance.eventLoopUtilization(elu0);
  latency.sort((a, b) => a - b);
  const q = (p: number): number => +latency[Math.min(latency.length - 1, Math.floor(p * latency.length))]!.toFixed(2);
  const groups = store instanceof SqliteStore ? store.writerStats() : null;
  process.stdout.write(
    `${JSON.stringify({
      store: kind.startsWith('postgres') ? 'postgres' : kind,
      writers: WRITERS,
      seconds: SECONDS,
      loadAverage: +loadavg()[0]!.toFixed(2),
      writesPerSec: Math.round(latency.length / SECONDS),
      p50ms: q(0.5),
      p99ms: q(0.99),
      eventLoopMsPerWrite: +(elu.active / latency.length).toFixed(3),
      ...(groups ? { groups: groups.groups, requestsPerGroup: +(groups.requests / groups.groups).toFixed(2) } : {}),
    })}\n`,
  );
} finally {
  if (store instanceof PgStore) await store.dropSchema();
  await store.close();
  for (const ext of ['', '-wal', '-shm']) rmSync(file + ext, { force: true });
}
