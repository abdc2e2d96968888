/**
 * The SQLite store's feedback writer: group commit off the event loop. better-sqlite3 is
 * synchronous, and a commit with synchronous=FULL waits for the disk (fsync), so committing on the
 * main thread stalls every request behind it. Instead, feedback requests are queued (GroupCommit)
 * and handed to one worker thread (sqlite-writer-worker.ts) with its own connection, which commits
 * everything queued in one transaction (each request in a savepoint) and replies after COMMIT.
 * A request resolves with its seqs only then: an acknowledged write is on disk. The main thread
 * keeps its own connection for reads and the other writes (WAL: readers never wait for the writer;
 * two writers wait for each other through busy_timeout).
 *
 * The worker starts when the store opens (`start`) and is unreferenced while idle (it never keeps the process
 * alive). If it dies, the writes in flight fail (503 store_unavailable) and the next write starts
 * a new one.
 *
 * The worker's reply (on its own MessagePort) would wait for the event loop's next turn, which
 * under read load is long (every ready connection's request runs first); `poll()` takes it at
 * once, synchronously (receiveMessageOnPort): the service calls it at the start of every request,
 * so an acknowledgement waits for at most the request running when the commit finished.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { GroupCommit, type Outcome } from './group-commit.js';
import type { FeedbackRecord } from './types.js';

/** A message to the worker: one group (or the request to close). */
export interface WriterRequest {
  id: number;
  requests: readonly (readonly FeedbackRecord[])[];
  close?: true;
}

/** An error carried across the thread boundary (its code decides the 503 kind, errors.ts). */
export interface WriterError {
  message: string;
  code: string | null;
  name: string;
}

/** The worker's reply: one outcome per request, or `error` when the whole group failed. */
export interface WriterReply {
  id: number;
  outcomes: ({ ok: true; value: number[] } | { ok: false; error: WriterError })[];
  error: WriterError | null;
}

function toError(e: WriterError): Error {
  const err = new Error(e.message) as Error & { code?: string };
  err.name = e.name;
  if (e.code !== null) err.code = e.code;
  return err;
}

function startWorker(file: string, replies: MessagePort): Worker {
  const data = { file, replies };
  const transferList = [replies];
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./sqlite-writer-worker.js', import.meta.url), { workerData: data, transferList });
  // running from TypeScript sources (tests, tsx): register tsx in the worker before the entry loads
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./sqlite-writer-worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: data, transferList });
}

export class SqliteFeedbackWriter {
  private worker: Worker | null = null;
  /** Where the worker's replies arrive. */
  private replies: MessagePort | null = null;
  private nextId = 1;
  /** The group in the worker (at most one: GroupCommit commits one group at a time). */
  private inFlight: { id: number; resolve: (r: WriterReply) => void; reject: (e: unknown) => void } | null = null;
  private readonly groups: GroupCommit<readonly FeedbackRecord[], number[]>;
  private closed = false;

  constructor(readonly file: string) {
    this.groups = new GroupCommit((group) => this.commit(group), { weight: (events) => events.length, maxWeight: 10_000 });
  }

  /**
   * Starts the worker now rather than at the first write (loading it takes a while: the first
   * writes would wait for it).
   */
  start(): void {
    if (!this.closed) this.ensureWorker();
  }

  /** Appends the events in the next group commit; resolves with their seqs once they are on disk. */
  add(events: readonly FeedbackRecord[]): Promise<number[]> {
    if (this.closed) return Promise.reject(Object.assign(new Error('the store writer is closed: database connection is not open'), { code: 'SQLITE_MISUSE' }));
    return this.groups.submit(events);
  }

  /** Groups committed and requests in them (how much batching happened). */
  stats(): { groups: number; requests: number } {
    return { groups: this.groups.groups, requests: this.groups.requests };
  }

  /** Commits what is queued, then stops the worker. */
  async close(): Promise<void> {
    this.closed = true;
    await this.groups.idle();
    const w = this.worker;
    if (!w) return;
    this.worker = null;
    this.replies?.close();
    this.replies = null;
    await new Promise<void>((resolve) => {
      w.once('exit', () => resolve());
      w.ref();
      w.postMessage({ id: 0, requests: [], close: true } satisfies WriterRequest);
    });
  }

  /** Takes the worker's replies that are waiting, now (instead of at the event loop's next turn). */
  poll(): void {
    while (this.inFlight && this.replies) {
      const m = receiveMessageOnPort(this.replies);
      if (!m) return;
      this.onReply(m.message as WriterReply);
    }
  }

  private onReply(reply: WriterReply): void {
    const f = this.inFlight;
    if (!f || f.id !== reply.id) return;
    this.inFlight = null;
    this.replies?.unref();
    f.resolve(reply);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const { port1, port2 } = new MessageChannel();
    const w = startWorker(this.file, port2);
    w.unref();
    port1.on('message', (reply: WriterReply) => this.onReply(reply));
    port1.unref();
    const stopped = (why: string): void => {
      if (this.worker !== w) return;
      this.worker = null;
      this.replies = null;
      port1.close();
      const f = this.inFlight;
      this.inFlight = null;
      // the group's fate is unknown: it was not acknowledged (the client retries)
      f?.reject(Object.assign(new Error(`the store writer thread stopped (${why}): database connection is not open`), { code: 'SQLITE_IOERR' }));
    };
    w.on('error', (err) => stopped(err.message));
    w.on('exit', (code) => stopped(`exit code ${code}`));
    this.worker = w;
    this.replies = port1;
    return w;
  }

  private async commit(group: readonly (readonly FeedbackRecord[])[]): Promise<Outcome<number[]>[]> {
    const w = this.ensureWorker();
    const id = this.nextId++;
    const reply = await new Promise<WriterReply>((resolve, reject) => {
      this.inFlight = { id, resolve, reject };
      this.replies!.ref();
      w.postMessage({ id, requests: group } satisfies WriterRequest);
    });
    if (reply.error) throw toError(reply.error);
    return reply.outcomes.map((o) => (o.ok ? o : { ok: false, error: toError(o.error) }));
  }
}
