/**
 * A small persistent pool of worker threads for the numeric hot paths. A task names a module (by
 * URL) and an exported function; the worker imports the module once and calls the function with the
 * given arguments. Typed arrays over SharedArrayBuffer are shared, not copied, so kernels write
 * their slice of a shared result in place. Results never depend on the number of workers: callers
 * split work into deterministic pieces (e.g. user ranges) whose outputs do not interact.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * The worker's entry. Running from TypeScript sources (tests, tsx), a worker does not inherit the
 * tsx loader in time for its entry module, so it starts from a tiny script that registers tsx first.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./pool-worker.js', import.meta.url));
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./pool-worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true });
}

export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

export class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: { task: unknown; pending: Pending }[] = [];
  private readonly inflight = new Map<Worker, Pending>();
  private closed = false;

  constructor(readonly size: number = defaultThreads()) {
    for (let i = 0; i < size; i++) {
      const w = startWorker();
      w.unref();
      w.on('message', (msg: { ok: boolean; value?: unknown; error?: string }) => {
        const p = this.inflight.get(w);
        this.inflight.delete(w);
        if (p) (msg.ok ? p.resolve(msg.value) : p.reject(new Error(msg.error)));
        this.dispatch(w);
      });
      w.on('error', (err) => {
        const p = this.inflight.get(w);
        this.inflight.delete(w);
        p?.reject(err);
      });
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  /** Runs `fn` exported by `moduleUrl` in a worker with `args` (structured-cloned; SABs shared). */
  run<T>(moduleUrl: string, fn: string, args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(new Error('WorkerPool: the pool is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ task: { moduleUrl, fn, args }, pending: { resolve: resolve as (v: unknown) => void, reject } });
      const w = this.idle.pop();
      if (w) this.dispatch(w);
    });
  }

  private dispatch(w: Worker): void {
    const next = this.queue.shift();
    if (!next) {
      if (!this.idle.includes(w)) this.idle.push(w);
      return;
    }
    this.inflight.set(w, next.pending);
    w.postMessage(next.task);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Splits [0, n) into `parts` contiguous ranges of near-equal size (deterministic). */
export function splitRange(n: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  const p = Math.max(1, Math.min(parts, n));
  for (let i = 0; i < p; i++) out.push([Math.floor((i * n) / p), Math.floor(((i + 1) * n) / p)]);
  return out;
}

/** A Float32Array over shared memory, visible to every worker without copying. */
export function sharedFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * 4));
}

export function sharedInt32(length: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(length * 4));
}

/** Copies an array into shared memory (no-op when it already is shared). */
export function toShared<T extends Float32Array | Int32Array>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const s = (a instanceof Float32Array ? sharedFloat32(a.length) : sharedInt32(a.length)) as T;
  s.set(a);
  return s;
}
