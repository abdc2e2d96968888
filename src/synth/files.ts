/** Writing a world folder (the formats the readers load), streamed with back-pressure. */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { join } from 'node:path';
import type { WorldConfigInput } from './config.js';
import type { WorldSummary } from './generate.js';
import { World } from './model.js';

export const WORLD_FILES = {
  ratings: 'ratings.csv',
  items: 'items.csv',
  truth: 'truth.jsonl',
  interactionsTruth: 'interactions-truth.csv',
  itemsTruth: 'items-truth.csv',
  manifest: 'world.json',
} as const;

export interface WorldProgress {
  users: number;
  totalUsers: number;
  interactions: number;
}

/**
 * A write stream fed from a byte buffer that rows are formatted into directly (no per-row
 * strings: at 50M rows string building costs more than generating). A full buffer is handed to the
 * stream and replaced; when the stream asks for a pause, `wait()` returns a promise for 'drain'.
 */
class ByteWriter {
  private readonly stream: WriteStream;
  private buf: Buffer;
  private pos = 0;
  private mustDrain = false;
  private error: Error | null = null;

  constructor(
    path: string,
    private readonly size = 1 << 20,
  ) {
    this.stream = createWriteStream(path, { highWaterMark: 4 * size });
    this.stream.on('error', (err) => (this.error ??= err));
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Makes room for `n` more bytes. */
  room(n: number): void {
    if (this.pos + n > this.size) this.handOver();
  }

  byte(c: number): void {
    this.buf[this.pos++] = c;
  }

  /** A non-negative integer in decimal. */
  uint(n: number): void {
    const b = this.buf;
    if (n > 0x7fffffff) {
      const s = String(n);
      for (let k = 0; k < s.length; k++) b[this.pos++] = s.charCodeAt(k);
      return;
    }
    let v = n | 0;
    const digits =
      v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : v < 100000 ? 5 : v < 1000000 ? 6 : v < 10000000 ? 7 : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10;
    let p = (this.pos += digits);
    while (v >= 10) {
      const q = (v / 10) | 0;
      b[--p] = 48 + v - q * 10;
      v = q;
    }
    b[--p] = 48 + v;
  }

  int(n: number): void {
    if (n < 0) {
      this.byte(45);
      n = -n;
    }
    this.uint(n);
  }

  /** Any text (UTF-8). */
  text(s: string): void {
    const n = Buffer.byteLength(s);
    if (n > this.size) {
      this.handOver();
      this.mustDrain = !this.stream.write(s) || this.mustDrain;
      return;
    }
    this.room(n);
    this.pos += this.buf.write(s, this.pos);
  }

  private handOver(): void {
    if (this.pos === 0) return;
    const ok = this.stream.write(this.buf.subarray(0, this.pos));
    this.buf = Buffer.allocUnsafe(this.size);
    this.pos = 0;
    if (!ok) this.mustDrain = true;
  }

  /** A promise to await before producing more, when the stream's buffer is full. */
  wait(): Promise<void> | undefined {
    if (this.error) throw this.error;
    if (!this.mustDrain) return undefined;
    this.mustDrain = false;
    return once(this.stream, 'drain').then(() => undefined);
  }

  async close(): Promise<void> {
    this.handOver();
    await this.wait();
    this.stream.end();
    await finished(this.stream);
    if (this.error) throw this.error;
  }
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Writes a world to `dir` (created if missing): ratings.csv (user,item,rating,timestamp), items.csv
 * (item,title,categories with '|' between categories), truth.jsonl (one line per user:
 * {user, group?, personas: [{persona, weight, categories}]}), interactions-truth.csv
 * (user,item,persona; -1 = noise), items-truth.csv (item,popularity,polarity) and world.json (the
 * resolved config and the counts). Streams with back-pressure: memory does not grow with the rows.
 */
export async function writeWorld(
  config: WorldConfigInput | World,
  dir: string,
  onProgress?: (p: WorldProgress) => void,
): Promise<WorldSummary> {
  const world = config instanceof World ? config : new World(config);
  const cfg = world.config;
  mkdirSync(dir, { recursive: true });

  const items = new ByteWriter(join(dir, WORLD_FILES.items));
  const itemsTruth = new ByteWriter(join(dir, WORLD_FILES.itemsTruth));
  items.text('item,title,categories\n');
  itemsTruth.text('item,popularity,polarity\n');
  for (let i = 0; i < world.nItems; i++) {
    const cats = Array.from(world.itemCategories(i), (c) => world.categoryNames[c]!).join('|');
    items.text(`${i + 1},${csvField(world.titles[i]!)},${csvField(cats)}\n`);
    itemsTruth.text(`${i + 1},${world.itemPopularity[i]!.toPrecision(6)},${world.itemPolarity[i]!}\n`);
    const p1 = items.wait();
    const p2 = itemsTruth.wait();
    if (p1 || p2) await Promise.all([p1, p2]);
  }
  await Promise.all([items.close(), itemsTruth.close()]);

  const ratings = new ByteWriter(join(dir, WORLD_FILES.ratings));
  const rowTruth = new ByteWriter(join(dir, WORLD_FILES.interactionsTruth));
  const truth = new ByteWriter(join(dir, WORLD_FILES.truth));
  ratings.text('user,item,rating,timestamp\n');
  rowTruth.text('user,item,persona\n');
  const rows = world.newRows();
  let interactions = 0;
  let positives = 0;
  const every = Math.max(1, Math.floor(cfg.users / 100));
  for (let u = 0; u < cfg.users; u++) {
    const plan = world.generateUser(u, rows);
    const id = u + 1;
    for (let r = 0; r < rows.length; r++) {
      const item = rows.item[r]! + 1;
      const rating = rows.rating[r]!;
      ratings.room(64);
      ratings.uint(id);
      ratings.byte(44);
      ratings.uint(item);
      ratings.byte(44);
      ratings.uint(rating);
      ratings.byte(44);
      ratings.uint(rows.timestamp[r]!);
      ratings.byte(10);
      rowTruth.room(48);
      rowTruth.uint(id);
      rowTruth.byte(44);
      rowTruth.uint(item);
      rowTruth.byte(44);
      rowTruth.int(rows.persona[r]!);
      rowTruth.byte(10);
      if (rating >= 4) positives++;
    }
    interactions += rows.length;
    truth.text(`${world.userTruthJson(u, plan)}\n`);
    const p1 = ratings.wait();
    const p2 = rowTruth.wait();
    const p3 = truth.wait();
    if (p1 || p2 || p3) await Promise.all([p1, p2, p3]);
    if (onProgress && ((u + 1) % every === 0 || u + 1 === cfg.users)) onProgress({ users: u + 1, totalUsers: cfg.users, interactions });
  }
  await Promise.all([ratings.close(), rowTruth.close(), truth.close()]);

  const summary: WorldSummary = { users: cfg.users, items: world.nItems, interactions, positives };
  const manifest = new ByteWriter(join(dir, WORLD_FILES.manifest));
  manifest.text(`${JSON.stringify({ config: cfg, categories: world.categoryNames, ...summary }, null, 2)}\n`);
  await manifest.close();
  return summary;
}
