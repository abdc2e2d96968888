/**
 * The training lease: replicas sharing a store run one training job at a time across all of them.
 * A job starts only once its replica holds the store's "train" lease (Store.acquireLease: an atomic
 * take of a free or expired lease), renews it while it trains (every third of the TTL) and releases
 * it when the job ends, after the new version is recorded and swapped in here; the other replicas
 * load that version when its notification arrives (replica-sync.ts). A replica that dies holding the
 * lease stops renewing it, and it can be taken once it expires. A job that finds the lease taken by
 * another (its renewal failed for longer than the TTL, e.g. the store was unreachable) stops as
 * failed, naming the holder.
 */
import type { Lease, Store } from '../store/types.js';
import { randomUUID } from 'node:crypto';
import { ModelFitError } from '../errors.js';
import type { Job } from './schemas.js';
import type { Jobs } from './training.js';

/** What a training job runs (schedule.ts `trainWork`). */
export type TrainWork = Parameters<Jobs['start']>[0];

/** The lease's name in the store. */
export const TRAIN_LEASE = 'train';

/** How long a lease lasts without renewal (ms): a dead holder's lease is free after this. */
export const TRAIN_LEASE_TTL_MS = 30_000;

export interface LeaseHost {
  store: Store;
  jobs: Jobs;
  replicaId: string;
}

export type LeasedStart = { job: Job } | { held: Lease } | { skipped: true };

/** "job J on replica R", for messages. */
export const leaseHolder = (l: Lease): string => (l.holder === '' ? 'another replica' : `job ${l.job} on replica ${l.holder}`);

/** A lease this replica holds: renewed every third of its TTL until released. */
interface Held {
  /** Aborted when a renewal finds the lease taken by another. */
  lost: AbortSignal;
  /** Who took it, once lost. */
  lostTo(): Lease | null;
  release(): Promise<void>;
}

function hold(s: LeaseHost, id: string, ttl: number): Held {
  const lost = new AbortController();
  let lostTo: Lease | null = null;
  const renew = setInterval(() => {
    s.store.acquireLease(TRAIN_LEASE, s.replicaId, id, ttl).then(
      (l) => {
        if ((l.holder !== s.replicaId || l.job !== id) && !lostTo) {
          lostTo = l;
          lost.abort();
        }
      },
      () => undefined, // the store is unreachable: keep training; the lease lapses only after the TTL
    );
  }, Math.max(10, Math.floor(ttl / 3)));
  renew.unref();
  return {
    lost: lost.signal,
    lostTo: () => lostTo,
    release: async () => {
      clearInterval(renew);
      await s.store.releaseLease(TRAIN_LEASE, s.replicaId, id).catch(() => false);
    },
  };
}

/** Runs `fn` with the lease held (renewed), then releases it; a lost lease aborts its signal and fails it naming the new holder. */
async function underLease<T>(s: LeaseHost, id: string, ttl: number, signal: AbortSignal | null, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const held = hold(s, id, ttl);
  try {
    return await fn(signal ? AbortSignal.any([signal, held.lost]) : held.lost);
  } catch (err) {
    const to = held.lostTo();
    if (to) throw new ModelFitError(`lost the training lease to ${leaseHolder(to)}`);
    throw err;
  } finally {
    await held.release();
  }
}

/**
 * Starts `work` as a job once this replica holds the training lease: `{held}` (and no job) when
 * another holds it; `{skipped}` when `stillDue` (asked with the lease held, e.g. "no newer version
 * was recorded meanwhile") says no, and the lease is given back.
 */
export async function startUnderLease(s: LeaseHost, work: TrainWork, opts: { stillDue?: () => Promise<boolean>; ttlMs?: number } = {}): Promise<LeasedStart> {
  const ttl = opts.ttlMs ?? TRAIN_LEASE_TTL_MS;
  const id = randomUUID();
  const lease = await s.store.acquireLease(TRAIN_LEASE, s.replicaId, id, ttl);
  if (lease.holder !== s.replicaId || lease.job !== id) return { held: lease };
  const release = (): Promise<unknown> => s.store.releaseLease(TRAIN_LEASE, s.replicaId, id).catch(() => false);
  try {
    if (s.jobs.busy || (opts.stillDue && !(await opts.stillDue()))) {
      await release();
      return { skipped: true };
    }
  } catch (err) {
    await release();
    throw err;
  }
  return { job: s.jobs.start((progress, signal) => underLease(s, id, ttl, signal, (both) => work(progress, both)), id) };
}

/**
 * The training at start when no recorded version loads: under the lease, like a job. When this
 * replica follows versions recorded by others (`canWait`: PostgreSQL with push), it does not train
 * while another replica holds the lease: it looks again every second until a version is recorded
 * (`stillNeeded` says no; then it returns why it waits, and serves that version on its
 * notification) or the lease is free (a holder that died: then it trains). Without `canWait`
 * (SQLite) it trains anyway, as it did before leases. `waiting` is told who holds the lease.
 */
export async function trainAtStart<T>(
  s: LeaseHost & { closing: boolean },
  canWait: boolean,
  stillNeeded: () => Promise<boolean>,
  train: (signal: AbortSignal | undefined) => Promise<T>,
  waiting: (holder: string) => void = () => undefined,
): Promise<T | { wait: string }> {
  const id = `start-${randomUUID()}`;
  for (;;) {
    const lease = await s.store.acquireLease(TRAIN_LEASE, s.replicaId, id, TRAIN_LEASE_TTL_MS);
    if (lease.holder === s.replicaId && lease.job === id) {
      return underLease(s, id, TRAIN_LEASE_TTL_MS, null, async (signal) => {
        if (canWait && !(await stillNeeded())) return { wait: 'another replica recorded a version; loading it' };
        return train(signal);
      });
    }
    if (!canWait) return train(undefined);
    waiting(leaseHolder(lease));
    await new Promise((r) => setTimeout(r, 1000));
    if (s.closing) return { wait: 'the service is closing' };
    if (!(await stillNeeded())) return { wait: `${leaseHolder(lease)} recorded a version; loading it` };
  }
}
