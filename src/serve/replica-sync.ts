/**
 * How a replica learns of other processes' writes to the store it shares.
 *
 * With a change feed (PostgreSQL: Store.changeFeed, store/postgres-notify.ts) it is pushed: one
 * LISTEN connection receives a notification after each committed write, and the replica re-reads
 * what changed: feedback and erasures (LiveData.catchUp), items, persona settings, keys (the key
 * cache is emptied), and model versions and the rollback pin (the version to serve is loaded and
 * swapped in). Every (re)connection catches up on everything since the last change applied (the
 * change log's seq, the feedback seq, the erasure generation), so nothing committed while the
 * connection was down is missed; a slow safety poll (`pollMs`, default 30 s) does the same in case
 * a notification is lost without the connection ending. Catch-ups run one at a time; signals that
 * arrive meanwhile are merged into one more.
 *
 * Without a feed (SQLite, memory) the replica polls feedback and erasures every `pollMs` (default
 * 1 s), as before: items, persona settings and model versions written by another process are seen
 * after a restart.
 */
import type { ChangeFeed, ChangeSignal, StoreChange } from '../store/types.js';
import { storeFailure } from '../store/errors.js';
import { Engine } from './engine.js';
import { readTrainPositives } from './stored-train.js';
import { loadModel, type LoadedModel } from './model-file.js';
import type { ServiceState } from './service-state.js';
import { loadOrder } from './versions.js';

export interface ReplicaSyncOptions {
  /** Listen for pushed changes when the store has a feed (default true). */
  push?: boolean;
  /** The safety poll (ms; 0 = none): default 30,000 with push, 1000 without. */
  pollMs?: number;
  /** Changes older than this are pruned from the store's change log (ms, default a day). */
  keepChangesMs?: number;
  say: (line: string) => void;
}

interface Wanted {
  feedback: boolean;
  changes: boolean;
  model: boolean;
}

const BATCH = 1000;

export class ReplicaSync {
  readonly feed: ChangeFeed | null;
  readonly pollMs: number;
  /** Times the LISTEN connection was established (the first time and every reconnection). */
  connects = 0;
  /** Notifications received. */
  signals = 0;
  /** The highest change seq applied. */
  private cursor = 0;
  private want: Wanted = { feedback: false, changes: false, model: false };
  private running: Promise<number> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private booted = false;
  private closed = false;
  private down = false;
  private prunedAt = 0;
  /** Versions whose artifact failed to load here (not tried again). */
  private readonly unloadable = new Set<number>();

  constructor(
    private readonly s: ServiceState,
    private readonly opts: ReplicaSyncOptions,
  ) {
    this.feed = opts.push === false ? null : (s.store.changeFeed?.() ?? null);
    this.pollMs = opts.pollMs ?? (this.feed ? 30_000 : 1000);
  }

  /** Before the live mirror loads: changes from here on are applied (some twice, which changes nothing). */
  async begin(): Promise<void> {
    if (this.feed) this.cursor = await this.feed.head();
  }

  /** Once the live mirror is loaded: listen (or poll) for feedback and changes. */
  start(): void {
    if (this.closed || this.timer) return;
    this.feed?.listen({
      signal: (sig) => this.onSignal(sig),
      connected: () => {
        this.connects++;
        if (this.down) this.opts.say('push: the LISTEN connection is back; catching up');
        this.down = false;
        void this.kick({ feedback: true, changes: true, model: true });
      },
      lost: (err, retryMs) => {
        if (!this.down) this.opts.say(`push: the LISTEN connection failed (${err.message}); reconnecting (next try in ${retryMs} ms), polling every ${this.pollMs / 1000} s meanwhile`);
        this.down = true;
      },
    });
    if (this.pollMs > 0) {
      this.timer = setInterval(() => void this.kick({ feedback: true, changes: true, model: true }), this.pollMs);
      this.timer.unref();
    }
  }

  /** Once a model was loaded or trained at start: versions recorded by other replicas are followed from here on. */
  bootDone(): void {
    this.booted = true;
    if (this.feed) void this.kick({ model: true });
  }

  private onSignal(sig: ChangeSignal): void {
    this.signals++;
    // this replica's own writes (and rows a catch-up read already) need nothing: a statement's rows
    // commit together, so when its highest seq is applied, all of them are
    if (sig.kind === 'feedback' && this.s.live.applied(sig.seq)) return;
    if (sig.kind === 'erasure' && sig.seq <= this.s.live.erasureGen) return;
    if (sig.kind === 'feedback' || sig.kind === 'erasure') void this.kick({ feedback: true });
    else void this.kick({ changes: true });
  }

  /** Catches up on everything now (feedback and erasures; with a feed also changes and the model); resolves with the new feedback events. */
  sync(): Promise<number> {
    return this.kick({ feedback: true, changes: true, model: true }, true);
  }

  private kick(w: Partial<Wanted>, rethrow = false): Promise<number> {
    if (this.closed || !this.s.liveReady) return Promise.resolve(0);
    this.want = { feedback: this.want.feedback || !!w.feedback, changes: this.want.changes || !!w.changes, model: this.want.model || !!w.model };
    this.running ??= this.drain();
    return rethrow ? this.running : this.running.catch(() => 0);
  }

  private async drain(): Promise<number> {
    let n = 0;
    try {
      while (!this.closed && (this.want.feedback || this.want.changes || this.want.model)) {
        const take = this.want;
        this.want = { feedback: false, changes: false, model: false };
        try {
          n += await this.once(take);
        } catch (err) {
          this.failed(err);
          // tried again shortly (the safety poll and reconnections do too)
          if (!this.retry && !this.closed) {
            this.retry = setTimeout(() => {
              this.retry = null;
              void this.kick(take);
            }, 1000);
            this.retry.unref();
          }
          throw err;
        }
      }
    } finally {
      this.running = null;
    }
    return n;
  }

  private failed(err: unknown): void {
    const f = storeFailure(err);
    if (f) this.s.storeHealth.note(f, `sync: ${err instanceof Error ? err.message : String(err)}`, false);
    else this.opts.say(`sync failed: ${err instanceof Error ? err.message : String(err)}`);
  }

  private async once(take: Wanted): Promise<number> {
    const { store, live } = this.s;
    let model = take.model && this.feed !== null;
    if (take.changes && this.feed) model = (await this.applyChanges(this.feed)) || model;
    const n = take.feedback ? await live.catchUp(store) : 0;
    if (model) await this.followModel();
    if (this.feed && Date.now() - this.prunedAt > 3_600_000) {
      this.prunedAt = Date.now();
      await this.feed.prune(Date.now() - (this.opts.keepChangesMs ?? 86_400_000));
    }
    return n;
  }

  /** Applies the change log since the cursor; returns whether the served version may have changed. */
  private async applyChanges(feed: ChangeFeed): Promise<boolean> {
    let model = false;
    for (;;) {
      const rows = await feed.since(this.cursor, BATCH);
      if (rows === null) {
        // pruned past the cursor (down for longer than the log is kept): re-read everything
        const head = await feed.head();
        await this.applyAll();
        this.cursor = head;
        return true;
      }
      if (rows.length === 0) return model;
      model = (await this.apply(rows)) || model;
      this.cursor = rows[rows.length - 1]!.seq;
      if (rows.length < BATCH) return model;
    }
  }

  private async apply(rows: readonly StoreChange[]): Promise<boolean> {
    const { store, live } = this.s;
    const of = (kind: StoreChange['kind']): (string | null)[] => [...new Set(rows.filter((r) => r.kind === kind).map((r) => r.ref))];
    const items = of('item');
    if (items.includes(null)) await this.reloadItems();
    else {
      for (const id of items as string[]) {
        const it = await store.getItem(id);
        if (it) live.upsertItems([it]);
        else if (live.items.has(id)) live.deleteItem(id);
      }
    }
    const personas = of('persona');
    for (const id of personas.includes(null) ? [...live.users].filter(([, u]) => u.overrides).map(([id]) => id) : (personas as string[])) {
      if (live.users.get(id)?.overrides) live.replaceOverrides(id, await store.overridesOf(id));
    }
    for (const id of personas) live.cache?.settingsChanged(id); // user cache: a user's read in flight reads them again
    if (of('key').length > 0) await this.keysChanged();
    return of('model').length > 0 || of('setting').some((k) => k === null || k === 'model.pin');
  }

  private async applyAll(): Promise<void> {
    const { store, live } = this.s;
    await this.reloadItems();
    for (const [id, u] of live.users) if (u.overrides) live.replaceOverrides(id, await store.overridesOf(id));
    live.cache?.settingsChanged(null);
    await this.keysChanged();
  }

  private async reloadItems(): Promise<void> {
    const all = await this.s.store.allItems();
    this.s.live.upsertItems(all);
    const kept = new Set(all.map((it) => it.id));
    for (const id of [...this.s.live.items.keys()]) if (!kept.has(id)) this.s.live.deleteItem(id);
  }

  private async keysChanged(): Promise<void> {
    const s = this.s;
    s.forgetKeys?.();
    // the first key, created through another replica, closes a service open for lack of keys
    if (s.open && !s.insecureOpen && (await s.store.countApiKeys()) > 0) {
      s.open = false;
      s.readNeedsKey = !s.publicReads;
    }
  }

  /**
   * Serves the version a start would (versions.ts loadOrder: the rollback pin while it holds, else
   * the newest that loads) when it is not the one served. Not while this replica trains: its job
   * swaps its own version in.
   */
  private async followModel(): Promise<void> {
    const s = this.s;
    if (!this.booted || s.jobs.busy || s.closing) return;
    const order = await loadOrder(s.store, await s.store.listModels());
    const current = s.engine?.loaded.record.version ?? null;
    let loaded: LoadedModel | null = null;
    for (const rec of order) {
      if (rec.version === current) return;
      if (this.unloadable.has(rec.version)) continue;
      try {
        loaded = loadModel(rec);
        break;
      } catch (err) {
        // said once: e.g. its file is not in this replica's models folder (share the folder)
        this.unloadable.add(rec.version);
        this.opts.say(`skipping model v${rec.version} (${rec.name}): ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (!loaded || s.jobs.busy || s.closing) return;
    await readTrainPositives(s.store, s.live, loaded);
    const engine = new Engine(loaded, s.live);
    engine.warm();
    s.engine = engine;
    s.ready = true;
    s.status = 'ready';
    this.opts.say(`serving model ${loaded.record.name} v${loaded.record.version} (recorded by another replica)`);
  }

  async stop(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.retry) clearTimeout(this.retry);
    this.timer = this.retry = null;
    await this.running?.catch(() => undefined);
    await this.feed?.close();
  }
}
