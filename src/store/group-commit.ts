/**
 * Group commit: write requests that arrive while a commit is in flight are committed together in
 * the next transaction, which starts as soon as the previous one has finished. There is no timer:
 * a request that finds the queue idle commits at once; under load each group holds what arrived
 * during one commit (natural batching), so the cost of a commit (the fsync) is shared.
 *
 * Each request gets its own outcome (a failing request does not fail the others of its group:
 * the backend runs each request in a savepoint, or retries them one by one). Groups commit one
 * after another and the outcomes of a group are delivered in queue order, in one synchronous pass,
 * so the callers' continuations run in commit order.
 */

/** The outcome of one request of a group. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

interface Pending<Q, R> {
  req: Q;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

export interface GroupCommitOptions<Q> {
  /** A request's size (e.g. its number of events); default 1. */
  weight?: (req: Q) => number;
  /** A group stops taking requests once their weights reach this (one request always goes); default 10,000. */
  maxWeight?: number;
}

export class GroupCommit<Q, R> {
  private queue: Pending<Q, R>[] = [];
  private running: Promise<void> | null = null;
  private readonly weight: (req: Q) => number;
  private readonly maxWeight: number;
  /** Groups committed and requests in them (tests, metrics). */
  groups = 0;
  requests = 0;

  /**
   * `commit(group)` commits the requests of one group in one transaction and returns one outcome
   * per request, in order; when it throws, every request of the group fails with that error
   * (nothing of the group is durable).
   */
  constructor(
    private readonly commit: (group: readonly Q[]) => Promise<Outcome<R>[]>,
    opts: GroupCommitOptions<Q> = {},
  ) {
    this.weight = opts.weight ?? (() => 1);
    this.maxWeight = opts.maxWeight ?? 10_000;
  }

  /** Queues a request; resolves with its value once its group has committed. */
  submit(req: Q): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
      this.running ??= this.drain();
    });
  }

  /** Resolves once every request queued so far has committed or failed. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private takeGroup(): Pending<Q, R>[] {
    let n = 0;
    let w = 0;
    while (n < this.queue.length && (n === 0 || w + this.weight(this.queue[n]!.req) <= this.maxWeight)) w += this.weight(this.queue[n++]!.req);
    return this.queue.splice(0, n);
  }

  private async drain(): Promise<void> {
    // one microtask first: `running` is set before anything below can finish, and the requests
    // submitted in the same tick go in the first group
    await Promise.resolve();
    try {
      while (this.queue.length > 0) {
        const group = this.takeGroup();
        let outcomes: Outcome<R>[];
        try {
          outcomes = await this.commit(group.map((p) => p.req));
          if (outcomes.length !== group.length) throw new Error(`group commit: ${outcomes.length} outcomes for ${group.length} requests`);
        } catch (err) {
          for (const p of group) p.reject(err);
          continue;
        }
        this.groups++;
        this.requests += group.length;
        for (let k = 0; k < group.length; k++) {
          const o = outcomes[k]!;
          if (o.ok) group[k]!.resolve(o.value);
          else group[k]!.reject(o.error);
        }
      }
    } finally {
      this.running = null;
    }
  }
}
